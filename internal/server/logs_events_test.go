package server

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkd/zkd/internal/config"
	"github.com/zkd/zkd/internal/jute"
	"github.com/zkd/zkd/internal/proto"
)

// refusedOf matches the refused-client lines about one client socket.
func refusedOf(r *rawConn, reason string) func(logRec) bool {
	remote := r.nc.LocalAddr().String()
	return func(l logRec) bool {
		return l.attrs["remote"] == remote && strings.Contains(l.attrs["reason"], reason)
	}
}

func TestRefusedClientOverMaxClientCnxnsIsLogged(t *testing.T) {
	s, logs := startServerLogged(t, "maxClientCnxns=1\n")
	a := dialRaw(t, s.addr)
	a.handshake(true)
	b := dialRaw(t, s.addr)
	b.send(&proto.ConnectRequest{TimeOut: 4000, Passwd: make([]byte, 16), HasReadOnly: true})
	b.requireClosed("second connection with maxClientCnxns=1")
	l := logs.wait(t, 2*time.Second, refusedMsg, refusedOf(b, "maxClientCnxns"))
	if l.level != slog.LevelWarn || l.attrs["maxClientCnxns"] != "1" || l.attrs["suppressed"] != "" {
		t.Errorf("refused line: %s", l)
	}
}

func TestRefusedClientWithOversizedFrameIsLogged(t *testing.T) {
	s, logs := startServerLogged(t, "jute.maxbuffer=1024\n")
	r := dialRaw(t, s.addr)
	r.handshake(true)
	frame := make([]byte, 4+4096)
	binary.BigEndian.PutUint32(frame, 4096)
	if _, err := r.nc.Write(frame); err != nil {
		t.Fatal(err)
	}
	r.requireClosed("a frame above jute.maxbuffer")
	l := logs.wait(t, 2*time.Second, refusedMsg, refusedOf(r, "jute.maxbuffer"))
	if l.level != slog.LevelWarn || l.attrs["length"] != "4096" || l.attrs["jute.maxbuffer"] != "1024" {
		t.Errorf("refused line: %s", l)
	}
}

func TestRefusedClientWithBadConnectRequestIsLogged(t *testing.T) {
	s, logs := startServerLogged(t, "")
	r := dialRaw(t, s.addr)
	// A 3-byte first frame: not a ConnectRequest.
	if _, err := r.nc.Write([]byte{0, 0, 0, 3, 1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	r.requireClosed("a malformed connect request")
	l := logs.wait(t, 2*time.Second, refusedMsg, refusedOf(r, "malformed connect request"))
	if l.level != slog.LevelWarn || l.attrs["err"] == "" {
		t.Errorf("refused line: %s", l)
	}
}

// TestRefusedClientFloodIsRateLimited: a client address that is refused
// again and again gets at most one line a second; the lines held back are
// counted (suppressed=N) so that the lines and their counts add up to
// every refusal.
func TestRefusedClientFloodIsRateLimited(t *testing.T) {
	s, logs := startServerLogged(t, "maxClientCnxns=1\n")
	held := dialRaw(t, s.addr)
	held.handshake(true)
	const flood = 60
	start := time.Now()
	for i := range flood {
		r := dialRaw(t, s.addr)
		r.send(&proto.ConnectRequest{TimeOut: 4000, Passwd: make([]byte, 16), HasReadOnly: true})
		r.requireClosed(fmt.Sprintf("connection %d over maxClientCnxns=1", i))
		r.nc.Close()
	}
	took := time.Since(start)
	over := func(l logRec) bool { return strings.Contains(l.attrs["reason"], "maxClientCnxns") }
	count := func() (lines, total int) {
		for _, l := range append(logs.matching(refusedMsg, over), logs.matching(suppressedMsg, over)...) {
			lines++
			if l.msg == refusedMsg {
				total++ // the line's own refusal
			}
			if n := l.attrs["suppressed"]; n != "" {
				k, err := strconv.Atoi(n)
				if err != nil {
					t.Fatalf("suppressed=%q", n)
				}
				total += k
			}
		}
		return
	}
	// The held-back count arrives with the flush after the interval.
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, total := count(); total == flood {
			break
		}
		if time.Now().After(deadline) {
			lines, total := count()
			t.Fatalf("%d refusals, but %d lines count %d:\n%s", flood, lines, total, logs.dump())
		}
		time.Sleep(20 * time.Millisecond)
	}
	lines, _ := count()
	if most := int(took/refusalInterval) + 2; lines > most || lines < 2 {
		t.Errorf("%d lines for %d refusals in %v; want 2 to %d (one a second, and the held-back count)", lines, flood, took, most)
	}
	// Another address is not held back by this one's flood.
	other := dialRawFrom(t, "127.0.0.2", s.addr)
	other.nc.Write([]byte{0, 0, 0, 3, 1, 2, 3})
	other.requireClosed("a malformed connect request from 127.0.0.2")
	logs.wait(t, 2*time.Second, refusedMsg, refusedOf(other, "malformed connect request"))
}

// dialRawFrom is dialRaw from a given loopback address.
func dialRawFrom(t testing.TB, local, addr string) *rawConn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	return &rawConn{t: t, nc: nc}
}

func TestSessionExpiryIsLoggedWithTimeoutAndEphemerals(t *testing.T) {
	s, logs := startServerLogged(t, "")
	r := dialRaw(t, s.addr)
	r.send(&proto.ConnectRequest{TimeOut: 400, Passwd: make([]byte, 16), HasReadOnly: true})
	b, err := r.recv()
	if err != nil {
		t.Fatal(err)
	}
	var resp proto.ConnectResponse
	resp.Decode(jute.NewDecoder(b, 0))
	for i, p := range []string{"/e1", "/e2", "/e3"} {
		h, _ := r.call(int32(i+1), proto.OpCreate, &proto.CreateRequest{Path: p, ACL: []proto.ACL{{Perms: proto.PermAll, ID: proto.ID{Scheme: "world", ID: "anyone"}}}, Flags: proto.ModeEphemeral})
		if h.Err != proto.OK {
			t.Fatalf("create %s: %v", p, h.Err)
		}
	}
	r.nc.Close() // no closeSession: the session expires
	session := fmt.Sprintf("0x%x", uint64(resp.SessionID))
	l := logs.wait(t, 5*time.Second, "session expired", func(l logRec) bool { return l.attrs["session"] == session })
	if l.level != slog.LevelInfo || l.attrs["timeout_ms"] != strconv.Itoa(int(resp.TimeOut)) || l.attrs["ephemerals_removed"] != "3" {
		t.Errorf("expiry line: %s; want timeout_ms=%d ephemerals_removed=3", l, resp.TimeOut)
	}
}

// TestSnapshotAndLogRollAreLogged: each snapshot logs its file, zxid,
// znodes, bytes and duration; the log roll before it logs the new log
// file and its first zxid.
func TestSnapshotAndLogRollAreLogged(t *testing.T) {
	dir := t.TempDir()
	text := fmt.Sprintf("tickTime=200\ndataDir=%s\nclientPort=2181\nmaxClientCnxns=0\nsnapCount=20\n", dir)
	cfg, err := config.Parse(strings.NewReader(text), "test.cfg", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	logs := &logRecorder{}
	s, err := OpenDurable(cfg, logs.logger(), Options{ContainerCheckInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	addr := serveOnLoopback(t, s)
	c, _ := connect(t, addr)
	for i := range 40 {
		if _, err := c.Create(fmt.Sprintf("/n%d", i), []byte("data"), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	snap := logs.wait(t, 5*time.Second, "snapshot taken", nil)
	st, err := os.Stat(snap.attrs["file"])
	if err != nil {
		t.Fatalf("snapshot line %s: %v", snap, err)
	}
	if snap.attrs["bytes"] != strconv.FormatInt(st.Size(), 10) {
		t.Errorf("snapshot line bytes=%s, the file has %d", snap.attrs["bytes"], st.Size())
	}
	if want := "snapshot." + strings.TrimPrefix(snap.attrs["zxid"], "0x"); filepath.Base(snap.attrs["file"]) != want {
		t.Errorf("snapshot line zxid=%s, file %s", snap.attrs["zxid"], snap.attrs["file"])
	}
	if n, err := strconv.Atoi(snap.attrs["znodes"]); err != nil || n < 5 {
		t.Errorf("snapshot line znodes=%q", snap.attrs["znodes"])
	}
	if _, err := strconv.ParseInt(snap.attrs["ms"], 10, 64); err != nil {
		t.Errorf("snapshot line ms=%q", snap.attrs["ms"])
	}
	// The first log file, then the roll.
	rolls := logs.matching("storage: creating new log file", nil)
	if len(rolls) < 2 {
		t.Fatalf("%d log file lines, want the first and a roll:\n%s", len(rolls), logs.dump())
	}
	for _, l := range rolls {
		if want := "log." + strings.TrimPrefix(l.attrs["zxid"], "0x"); filepath.Base(l.attrs["file"]) != want || l.attrs["zxid"] == "0x0" {
			t.Errorf("log roll line %s: want zxid matching the file name", l)
		}
		if _, err := os.Stat(l.attrs["file"]); err != nil {
			t.Errorf("log roll line %s: %v", l, err)
		}
	}
}
