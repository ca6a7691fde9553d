package launch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// A Probe tells whether the server on addr serves clients: nil when it
// does, an error saying what it saw when not yet.
type Probe func(addr string) error

// probeTimeout bounds one probe connection.
const probeTimeout = time.Second

var errNoSession = errors.New("launch: connected but no session granted")

// ProbeFourLetter is the default Probe. ruok must answer imok (or say that
// ruok is not in the whitelist, which shows four-letter words are served
// just as well), then srvr must answer "Zookeeper version:": Apache answers
// imok before it accepts sessions, and srvr says "not currently serving
// requests" until it does. Where srvr is not whitelisted either, a session
// handshake decides (ProbeSession).
func ProbeFourLetter(addr string) error {
	ruok, err := FourLetterWord(addr, "ruok", probeTimeout)
	if err != nil {
		return err
	}
	if ruok != "imok" && !notWhitelisted(ruok) {
		return fmt.Errorf("ruok answered %q", firstLine(ruok))
	}
	srvr, err := FourLetterWord(addr, "srvr", probeTimeout)
	switch {
	case err != nil:
		return err
	case strings.HasPrefix(srvr, "Zookeeper version:"):
		return nil
	case notWhitelisted(srvr):
		return ProbeSession(addr)
	}
	return fmt.Errorf("srvr answered %q", firstLine(srvr))
}

func notWhitelisted(reply string) bool { return strings.Contains(reply, "is not in the whitelist") }

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// ProbeSession is a Probe that asks for a session (a ConnectRequest of the
// client protocol) and closes it at once; a server grants none before it
// serves. Unlike four-letter words it writes to the server's log: a
// createSession and a closeSession transaction.
func ProbeSession(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, probeTimeout)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(probeTimeout)); err != nil {
		return err
	}
	// ConnectRequest: protocolVersion, lastZxidSeen, timeOut, sessionId,
	// passwd (a 16-byte buffer), readOnly; after its int32 length.
	const reqLen = 4 + 8 + 4 + 8 + 4 + 16 + 1
	req := make([]byte, 4+reqLen)
	binary.BigEndian.PutUint32(req[0:], reqLen)
	binary.BigEndian.PutUint32(req[16:], 30_000)
	binary.BigEndian.PutUint32(req[28:], 16)
	if _, err := conn.Write(req); err != nil {
		return err
	}
	// ConnectResponse: protocolVersion, timeOut, sessionId, passwd, ...
	var head [4]byte
	if _, err := io.ReadFull(conn, head[:]); err != nil {
		return fmt.Errorf("%w (%v)", errNoSession, err)
	}
	n := binary.BigEndian.Uint32(head[:])
	if n < 16 || n > 1<<10 {
		return fmt.Errorf("launch: connect response of %d bytes", n)
	}
	resp := make([]byte, n)
	if _, err := io.ReadFull(conn, resp); err != nil {
		return fmt.Errorf("%w (%v)", errNoSession, err)
	}
	if binary.BigEndian.Uint64(resp[8:16]) == 0 {
		return errNoSession
	}
	// closeSession (xid 1, type -11), so that the session does not live on
	// until it expires; its reply does not matter.
	closeReq := []byte{0, 0, 0, 8, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xf5}
	if _, err := conn.Write(closeReq); err == nil {
		_, _ = io.ReadFull(conn, head[:])
	}
	return nil
}

// FourLetterWord sends word on a fresh connection and returns everything the
// server writes until it closes the connection.
func FourLetterWord(addr, word string, timeout time.Duration) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		return "", err
	}
	if _, err := conn.Write([]byte(word)); err != nil {
		return "", err
	}
	data, err := io.ReadAll(conn)
	return string(data), err
}
