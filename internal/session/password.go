package session

import "crypto/subtle"

// passwordSecret is ZooKeeperServer's superSecret, XORed into the seed.
const passwordSecret = 0xB3415C00

// PasswordLen is the length of a session password.
const PasswordLen = 16

// java.util.Random's linear congruential generator (documented in its Javadoc).
const (
	randMultiplier = 0x5DEECE66D
	randAddend     = 0xB
	randMask       = 1<<48 - 1
)

// Password returns the 16-byte password of a session: java.util.Random seeded
// with sessionID^0xB3415C00, then nextBytes(16). Every server derives the same
// bytes, which is how a reconnect is validated by whichever server the client
// reaches. Only the low 48 bits of the seed matter, so ids that differ only in
// their top 16 bits share a password, exactly as in ZooKeeper.
func Password(sessionID int64) []byte {
	seed := (uint64(sessionID) ^ passwordSecret ^ randMultiplier) & randMask
	out := make([]byte, PasswordLen)
	for i := 0; i < len(out); {
		seed = (seed*randMultiplier + randAddend) & randMask
		r := uint32(seed >> 16) // nextInt(): the top 32 of the 48 bits
		// nextBytes uses each int least-significant byte first.
		for n := 0; n < 4 && i < len(out); n++ {
			out[i] = byte(r)
			r >>= 8
			i++
		}
	}
	return out
}

// CheckPassword reports whether passwd is the password of sessionID, as
// ZooKeeperServer.checkPasswd does (session 0 never matches).
func CheckPassword(sessionID int64, passwd []byte) bool {
	return sessionID != 0 && subtle.ConstantTimeCompare(passwd, Password(sessionID)) == 1
}
