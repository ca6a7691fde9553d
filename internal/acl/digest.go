package acl

import (
	"crypto/sha1"
	"encoding/base64"
	"strings"
	"unicode/utf8"
)

// Digest returns the digest identity of "user:password":
// "user:" + base64(SHA-1("user:password")), as
// DigestAuthenticationProvider.generateDigest with the default digestAlg.
// The user is everything before the first colon; without a colon the whole
// string is the user. Bytes that are not UTF-8 are first replaced the way
// Java's String constructor does, since ZooKeeper hashes the Java string.
func Digest(userPassword string) string {
	s := javaString([]byte(userPassword))
	user, _, _ := strings.Cut(s, ":")
	sum := sha1.Sum([]byte(s))
	return user + ":" + base64.StdEncoding.EncodeToString(sum[:])
}

// javaString decodes b as Java's new String(b, UTF_8) does: valid UTF-8 is
// kept, and each malformed sequence becomes one U+FFFD, where "sequence"
// follows the JDK decoder (sun.nio.cs.UTF_8), not Unicode's maximal subpart
// rule: for example an encoded surrogate ED A0 80 is one replacement, while
// an overlong E0 80 80 is three.
func javaString(b []byte) string {
	if utf8.Valid(b) { // Go and Java agree on what is valid (no surrogates, no overlongs)
		return string(b)
	}
	var sb strings.Builder
	for i := 0; i < len(b); {
		r, n := javaDecodeRune(b[i:])
		sb.WriteRune(r)
		i += n
	}
	return sb.String()
}

func isContinuation(b byte) bool { return b&0xC0 == 0x80 }

// javaDecodeRune decodes the first character of b (len(b) > 0) and returns
// it with the number of bytes consumed; malformed input yields U+FFFD and
// the length the JDK decoder reports as malformed.
func javaDecodeRune(b []byte) (rune, int) {
	b1 := b[0]
	rem := len(b)
	switch {
	case b1 < 0x80:
		return rune(b1), 1
	case b1>>5 == 0x6 && b1&0x1E != 0: // C2..DF
		if rem < 2 {
			return utf8.RuneError, rem // truncated at the end: one replacement
		}
		if !isContinuation(b[1]) {
			return utf8.RuneError, 1
		}
		return rune(b1&0x1F)<<6 | rune(b[1]&0x3F), 2
	case b1>>4 == 0xE: // E0..EF
		overlong := func(b2 byte) bool { return b1 == 0xE0 && b2&0xE0 == 0x80 }
		if rem < 3 {
			if rem > 1 && (overlong(b[1]) || !isContinuation(b[1])) {
				return utf8.RuneError, 1
			}
			return utf8.RuneError, rem
		}
		b2, b3 := b[1], b[2]
		if overlong(b2) || !isContinuation(b2) {
			return utf8.RuneError, 1
		}
		if !isContinuation(b3) {
			return utf8.RuneError, 2
		}
		r := rune(b1&0x0F)<<12 | rune(b2&0x3F)<<6 | rune(b3&0x3F)
		if r >= 0xD800 && r <= 0xDFFF {
			return utf8.RuneError, 3
		}
		return r, 3
	case b1>>3 == 0x1E: // F0..F7
		badSecond := func(b2 byte) bool {
			return b1 > 0xF4 || (b1 == 0xF0 && (b2 < 0x90 || b2 > 0xBF)) ||
				(b1 == 0xF4 && b2&0xF0 != 0x80) || !isContinuation(b2)
		}
		if rem < 4 {
			if b1 > 0xF4 || (rem > 1 && badSecond(b[1])) {
				return utf8.RuneError, 1
			}
			if rem > 2 && !isContinuation(b[2]) {
				return utf8.RuneError, 2
			}
			return utf8.RuneError, rem
		}
		b2, b3, b4 := b[1], b[2], b[3]
		r := rune(b1&0x07)<<18 | rune(b2&0x3F)<<12 | rune(b3&0x3F)<<6 | rune(b4&0x3F)
		if isContinuation(b2) && isContinuation(b3) && isContinuation(b4) && r >= 0x10000 && r <= 0x10FFFF {
			return r, 4
		}
		switch {
		case badSecond(b2):
			return utf8.RuneError, 1
		case !isContinuation(b3):
			return utf8.RuneError, 2
		default:
			return utf8.RuneError, 3
		}
	default: // stray continuation bytes, C0, C1, F8..FF
		return utf8.RuneError, 1
	}
}
