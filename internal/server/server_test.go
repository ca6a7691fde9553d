package server

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkd/zkd/internal/config"
	"github.com/zkd/zkd/internal/jute"
	"github.com/zkd/zkd/internal/proto"
)

type testServer struct {
	*Server
	addr string
}

func startServer(t testing.TB, extra string) *testServer {
	t.Helper()
	return startServerWith(t, extra, nil)
}

// startServerLogged is startServer with every log line kept.
func startServerLogged(t testing.TB, extra string) (*testServer, *logRecorder) {
	t.Helper()
	logs := &logRecorder{}
	return startServerWith(t, extra, logs), logs
}

func startServerWith(t testing.TB, extra string, logs *logRecorder) *testServer {
	t.Helper()
	text := fmt.Sprintf("tickTime=200\ndataDir=%s\nclientPort=2181\n4lw.commands.whitelist=*\nmaxClientCnxns=0\n%s", t.TempDir(), extra)
	cfg, err := config.Parse(strings.NewReader(text), "test.cfg", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	// A fuzz target may not call f.Log, and the server logs from its own
	// goroutines while the target runs: fuzz servers stay quiet under -v.
	if _, fuzz := t.(*testing.F); testing.Verbose() && !fuzz {
		log = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if logs != nil {
		log = slog.New(teeHandler{logs.handler(), log.Handler()})
	}
	s, err := New(Options{Config: cfg, Logger: log, ContainerCheckInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return &testServer{Server: s, addr: serveOnLoopback(t, s)}
}

// serveOnLoopback starts s on a free loopback port until the test ends.
func serveOnLoopback(t testing.TB, s *Server) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	return l.Addr().String()
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

func connect(t testing.TB, addr string) (*zk.Conn, <-chan zk.Event) {
	t.Helper()
	c, ev, err := zk.Connect([]string{addr}, 4*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.After(5 * time.Second)
	for c.State() != zk.StateHasSession {
		select {
		case <-ev:
		case <-deadline:
			t.Fatalf("no session: state %v", c.State())
		}
	}
	t.Cleanup(c.Close)
	return c, ev
}

func TestCreateGetSetDeleteStats(t *testing.T) {
	s := startServer(t, "")
	c, _ := connect(t, s.addr)
	p, err := c.Create("/a", []byte("x"), 0, zk.WorldACL(zk.PermAll))
	if err != nil || p != "/a" {
		t.Fatalf("create: %q %v", p, err)
	}
	data, st, err := c.Get("/a")
	if err != nil || string(data) != "x" {
		t.Fatalf("get: %q %v", data, err)
	}
	if st.Version != 0 || st.Czxid != st.Mzxid || st.Czxid != st.Pzxid || st.DataLength != 1 || st.NumChildren != 0 {
		t.Fatalf("stat after create: %+v", st)
	}
	st2, err := c.Set("/a", []byte("yy"), 0)
	if err != nil || st2.Version != 1 || st2.Mzxid <= st.Mzxid || st2.Czxid != st.Czxid || st2.DataLength != 2 {
		t.Fatalf("set: %+v %v", st2, err)
	}
	if _, err := c.Set("/a", nil, 0); !errors.Is(err, zk.ErrBadVersion) {
		t.Fatalf("set with stale version: %v", err)
	}
	if _, err := c.Create("/a", nil, 0, zk.WorldACL(zk.PermAll)); !errors.Is(err, zk.ErrNodeExists) {
		t.Fatalf("create existing: %v", err)
	}
	if _, err := c.Create("/missing/b", nil, 0, zk.WorldACL(zk.PermAll)); !errors.Is(err, zk.ErrNoNode) {
		t.Fatalf("create without parent: %v", err)
	}
	if _, err := c.Create("/a/b", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete("/a", -1); !errors.Is(err, zk.ErrNotEmpty) {
		t.Fatalf("delete non-empty: %v", err)
	}
	_, pst, _ := c.Get("/a")
	if pst.NumChildren != 1 || pst.Cversion != 1 {
		t.Fatalf("parent stat: %+v", pst)
	}
	if err := c.Delete("/a/b", -1); err != nil {
		t.Fatal(err)
	}
	_, pst2, _ := c.Get("/a")
	// cversion counts creates and deletes as the client sees it.
	if pst2.NumChildren != 0 || pst2.Cversion != 2 || pst2.Pzxid <= pst.Pzxid || pst2.Mzxid != pst.Mzxid {
		t.Fatalf("parent stat after delete: %+v (before %+v)", pst2, pst)
	}
	if err := c.Delete("/a", 1); err != nil {
		t.Fatal(err)
	}
	if ok, _, err := c.Exists("/a"); ok || err != nil {
		t.Fatalf("exists after delete: %v %v", ok, err)
	}
}

func TestSequentialNamesFollowParentCversion(t *testing.T) {
	s := startServer(t, "")
	c, _ := connect(t, s.addr)
	c.Create("/q", nil, 0, zk.WorldACL(zk.PermAll))
	var got []string
	for i := 0; i < 3; i++ {
		p, err := c.Create("/q/n-", nil, zk.FlagSequence, zk.WorldACL(zk.PermAll))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p)
		if i == 1 {
			c.Delete(p, -1)
		}
	}
	want := []string{"/q/n-0000000000", "/q/n-0000000001", "/q/n-0000000002"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("got %v want %v", got, want)
	}
}

func TestEphemeralsGoWithTheSession(t *testing.T) {
	s := startServer(t, "")
	c1, _ := connect(t, s.addr)
	c2, _ := connect(t, s.addr)
	if _, err := c1.Create("/e", nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if _, err := c1.Create("/e/child", nil, 0, zk.WorldACL(zk.PermAll)); !errors.Is(err, zk.ErrNoChildrenForEphemerals) {
		t.Fatalf("child of ephemeral: %v", err)
	}
	_, st, err := c2.Get("/e")
	if err != nil || st.EphemeralOwner != c1.SessionID() {
		t.Fatalf("owner %x want %x (%v)", st.EphemeralOwner, c1.SessionID(), err)
	}
	_, _, ch, err := c2.ExistsW("/e")
	if err != nil {
		t.Fatal(err)
	}
	c1.Close()
	select {
	case ev := <-ch:
		if ev.Type != zk.EventNodeDeleted || ev.Path != "/e" {
			t.Fatalf("event %+v", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no NodeDeleted after the owner closed its session")
	}
}

func TestWatchEventsPrecedeReplies(t *testing.T) {
	s := startServer(t, "")
	c, _ := connect(t, s.addr)
	c.Create("/w", []byte("1"), 0, zk.WorldACL(zk.PermAll))
	_, _, dataCh, err := c.GetW("/w")
	if err != nil {
		t.Fatal(err)
	}
	_, _, childCh, err := c.ChildrenW("/w")
	if err != nil {
		t.Fatal(err)
	}
	c.Set("/w", []byte("2"), -1)
	select {
	case ev := <-dataCh:
		if ev.Type != zk.EventNodeDataChanged {
			t.Fatalf("data watch got %+v", ev)
		}
	default:
		t.Fatal("the data event must arrive before the reply to the set that caused it")
	}
	c.Create("/w/c", nil, 0, zk.WorldACL(zk.PermAll))
	select {
	case ev := <-childCh:
		if ev.Type != zk.EventNodeChildrenChanged || ev.Path != "/w" {
			t.Fatalf("child watch got %+v", ev)
		}
	default:
		t.Fatal("no child event before the create reply")
	}
}

func TestMultiIsAtomic(t *testing.T) {
	s := startServer(t, "")
	c, _ := connect(t, s.addr)
	c.Create("/m", nil, 0, zk.WorldACL(zk.PermAll))
	res, err := c.Multi(
		&zk.CreateRequest{Path: "/m/a", Acl: zk.WorldACL(zk.PermAll)},
		&zk.SetDataRequest{Path: "/m", Data: []byte("x"), Version: 5},
		&zk.CreateRequest{Path: "/m/b", Acl: zk.WorldACL(zk.PermAll)},
	)
	if err == nil {
		t.Fatal("multi with a bad version succeeded")
	}
	// go-zookeeper has no name for RuntimeInconsistency (-2).
	want := []string{"<nil>", zk.ErrBadVersion.Error(), "unknown error: -2"}
	if len(res) != 3 {
		t.Fatalf("results %v", res)
	}
	for i, r := range res {
		if got := fmt.Sprint(r.Error); got != want[i] {
			t.Fatalf("op %d: %v want %v", i, got, want[i])
		}
	}
	if ok, _, _ := c.Exists("/m/a"); ok {
		t.Fatal("failed multi left /m/a behind")
	}
	res, err = c.Multi(
		&zk.CreateRequest{Path: "/m/a", Acl: zk.WorldACL(zk.PermAll)},
		&zk.CreateRequest{Path: "/m/a/s-", Acl: zk.WorldACL(zk.PermAll), Flags: zk.FlagSequence},
		&zk.CheckVersionRequest{Path: "/m", Version: 0},
		&zk.DeleteRequest{Path: "/m/a/s-0000000000", Version: -1},
	)
	if err != nil {
		t.Fatalf("multi: %v %+v", err, res)
	}
	if res[1].String != "/m/a/s-0000000000" {
		t.Fatalf("sequential in multi: %+v", res[1])
	}
}

func TestDigestACLs(t *testing.T) {
	s := startServer(t, "")
	owner, _ := connect(t, s.addr)
	other, _ := connect(t, s.addr)
	if err := owner.AddAuth("digest", []byte("alice:secret")); err != nil {
		t.Fatal(err)
	}
	if _, err := owner.Create("/secret", []byte("s"), 0, zk.DigestACL(zk.PermAll, "alice", "secret")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := other.Get("/secret"); !errors.Is(err, zk.ErrNoAuth) {
		t.Fatalf("read without auth: %v", err)
	}
	if _, err := other.Set("/secret", nil, -1); !errors.Is(err, zk.ErrNoAuth) {
		t.Fatalf("write without auth: %v", err)
	}
	if _, err := owner.Create("/empty-acl", nil, 0, []zk.ACL{}); !errors.Is(err, zk.ErrInvalidACL) {
		t.Fatalf("empty ACL: %v", err)
	}
	if _, err := owner.Create("/auth", nil, 0, []zk.ACL{{Perms: zk.PermAll, Scheme: "auth"}}); err != nil {
		t.Fatalf("auth scheme: %v", err)
	}
	acl, _, err := owner.GetACL("/auth")
	if err != nil || len(acl) != 1 || acl[0].Scheme != "digest" || !strings.HasPrefix(acl[0].ID, "alice:") {
		t.Fatalf("auth expanded to %+v (%v)", acl, err)
	}
	if _, err := other.Create("/auth2", nil, 0, []zk.ACL{{Perms: zk.PermAll, Scheme: "auth"}}); !errors.Is(err, zk.ErrInvalidACL) {
		t.Fatalf("auth scheme without auth: %v", err)
	}
	if err := other.AddAuth("digest", []byte("alice:secret")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := other.Get("/secret"); err != nil {
		t.Fatalf("read after auth: %v", err)
	}
}

// rawConn speaks the wire protocol directly, for what clients never send.
type rawConn struct {
	t  testing.TB
	nc net.Conn
}

func dialRaw(t testing.TB, addr string) *rawConn {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	return &rawConn{t: t, nc: nc}
}

func (r *rawConn) send(recs ...jute.Record) {
	e := jute.NewEncoder(make([]byte, 4))
	for _, rec := range recs {
		rec.Encode(e)
	}
	b := e.Bytes()
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	if _, err := r.nc.Write(b); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rawConn) recv() ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r.nc, hdr[:]); err != nil {
		return nil, err
	}
	b := make([]byte, binary.BigEndian.Uint32(hdr[:]))
	_, err := io.ReadFull(r.nc, b)
	return b, err
}

// closeWithin bounds how long a refusing server may take to close: well
// under the 4 s sessions of startServer, whose expiry would close the
// connection anyway and so prove nothing.
const closeWithin = 3 * time.Second

// requireClosed fails unless the server closes the connection next, within
// closeWithin: EOF or a reset at a frame boundary. Another frame, a
// truncated one, or the deadline (a server gone silent with the socket
// open) all fail.
func (r *rawConn) requireClosed(what string) {
	r.t.Helper()
	r.nc.SetReadDeadline(time.Now().Add(closeWithin))
	b, err := r.recv()
	var ne net.Error
	switch {
	case err == nil:
		r.t.Fatalf("%s: got a %d-byte frame %x, want the connection closed", what, len(b), b)
	case errors.As(err, &ne) && ne.Timeout():
		r.t.Fatalf("%s: the connection stayed open and silent (%v), want it closed", what, err)
	case b != nil:
		r.t.Fatalf("%s: a truncated %d-byte frame (%v), want the connection closed after a whole frame", what, len(b), err)
	case !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET):
		r.t.Fatalf("%s: %v, want the connection closed (EOF or reset)", what, err)
	}
}

func (r *rawConn) handshake(readOnlyByte bool) proto.ConnectResponse {
	r.send(&proto.ConnectRequest{TimeOut: 4000, Passwd: make([]byte, 16), HasReadOnly: readOnlyByte})
	b, err := r.recv()
	if err != nil {
		r.t.Fatal(err)
	}
	want := 37
	if !readOnlyByte {
		want = 36
	}
	if len(b) != want {
		r.t.Fatalf("connect response is %d bytes, want %d", len(b), want)
	}
	var resp proto.ConnectResponse
	resp.Decode(jute.NewDecoder(b, 0))
	return resp
}

func TestConnectResponseForOldAndNewClients(t *testing.T) {
	s := startServer(t, "")
	resp := dialRaw(t, s.addr).handshake(false)
	if resp.TimeOut != 4000 || resp.SessionID == 0 || len(resp.Passwd) != 16 {
		t.Fatalf("old client: %+v", resp)
	}
	resp = dialRaw(t, s.addr).handshake(true)
	if resp.SessionID == 0 {
		t.Fatalf("new client: %+v", resp)
	}
}

func TestUnknownOpcodeGetsUnimplementedAndClose(t *testing.T) {
	s := startServer(t, "")
	for _, op := range []proto.OpCode{0, 13, 55, -42} {
		r := dialRaw(t, s.addr)
		r.handshake(true)
		r.send(&proto.RequestHeader{Xid: 7, Type: op})
		b, err := r.recv()
		if err != nil {
			t.Fatalf("op %d: %v", op, err)
		}
		// As UnimplementedRequestProcessor: (xid, -1, UNIMPLEMENTED), then close.
		var h proto.ReplyHeader
		d := jute.NewDecoder(b, 0)
		h.Decode(d)
		if h.Xid != 7 || h.Zxid != -1 || h.Err != proto.ErrUnimplemented || d.Remaining() != 0 {
			t.Fatalf("op %d: reply %+v with %d body bytes, want xid 7, zxid -1, Unimplemented and no body", op, h, d.Remaining())
		}
		r.requireClosed(fmt.Sprintf("op %d after its Unimplemented reply", op))
	}
}

func TestOversizedFrameClosesConnection(t *testing.T) {
	s := startServer(t, "jute.maxbuffer=1024\n")
	r := dialRaw(t, s.addr)
	r.handshake(true)
	// A body larger than the socket buffers: the client is still writing it
	// when the server refuses the length. Like ZooKeeper's, the client's
	// write completes and it then sees the connection close (EOF), not a
	// reset in the middle of its write.
	const n = 3 << 20
	frame := make([]byte, 4+n)
	binary.BigEndian.PutUint32(frame, n)
	if _, err := r.nc.Write(frame); err != nil {
		t.Fatalf("writing the refused frame: %v", err)
	}
	if _, err := r.recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("after a frame above jute.maxbuffer: %v, want the connection closed (EOF)", err)
	}
	// The server still serves others.
	c, _ := connect(t, s.addr)
	if _, err := c.Create("/still", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
}

func TestReconnectWithWrongPasswordIsRefused(t *testing.T) {
	s := startServer(t, "")
	first := dialRaw(t, s.addr).handshake(true)
	r := dialRaw(t, s.addr)
	r.send(&proto.ConnectRequest{TimeOut: 4000, SessionID: first.SessionID, Passwd: make([]byte, 16), HasReadOnly: true})
	b, err := r.recv()
	if err != nil {
		t.Fatal(err)
	}
	// As ZooKeeper's finishSessionInit(valid=false): timeOut 0, sessionId
	// 0, 16 zero password bytes, then the connection closes.
	var resp proto.ConnectResponse
	resp.Decode(jute.NewDecoder(b, 0))
	if len(b) != 37 || resp.SessionID != 0 || resp.TimeOut != 0 || !bytes.Equal(resp.Passwd, make([]byte, 16)) {
		t.Fatalf("wrong password: %d-byte connect response %+v, want 37 bytes with timeOut 0, sessionId 0, zero password", len(b), resp)
	}
	r.requireClosed("after refusing a reconnect with a wrong password")
	// The right password is accepted.
	r2 := dialRaw(t, s.addr)
	r2.send(&proto.ConnectRequest{TimeOut: 4000, SessionID: first.SessionID, Passwd: first.Passwd, HasReadOnly: true})
	b, err = r2.recv()
	if err != nil {
		t.Fatal(err)
	}
	resp.Decode(jute.NewDecoder(b, 0))
	if resp.SessionID != first.SessionID {
		t.Fatalf("reconnect: %+v", resp)
	}
}

func fourLetter(t testing.TB, addr, word string) string {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := nc.Write([]byte(word)); err != nil {
		t.Fatal(err)
	}
	// The answer ends when the server closes: a deadline is a failure
	// even when the expected text has arrived.
	b, err := io.ReadAll(nc)
	if err != nil {
		t.Fatalf("%s: %v after %q, want the connection closed", word, err, b)
	}
	return string(b)
}

func TestFourLetterWords(t *testing.T) {
	s := startServer(t, "")
	if got := fourLetter(t, s.addr, "ruok"); got != "imok" {
		t.Fatalf("ruok: %q", got)
	}
	srvr := fourLetter(t, s.addr, "srvr")
	var nodes int
	s.withTree(func(t *treeT) { nodes = t.NodeCount() })
	for _, want := range []string{"Zookeeper version: " + Version + ", built on ", "Mode: standalone\n", fmt.Sprintf("Node count: %d\n", nodes), "Zxid: 0x"} {
		if !strings.Contains(srvr, want) {
			t.Fatalf("srvr lacks %q:\n%s", want, srvr)
		}
	}
	if _, ok := zk.FLWSrvr([]string{s.addr}, time.Second); !ok {
		t.Fatal("go-zookeeper cannot parse srvr")
	}
	if got := fourLetter(t, s.addr, "isro"); got != "rw" {
		t.Fatalf("isro: %q", got)
	}
	if got := fourLetter(t, s.addr, "mntr"); !strings.HasPrefix(got, "zk_version\t"+Version) {
		t.Fatalf("mntr: %q", got)
	}
	if got := fourLetter(t, s.addr, "envi"); !strings.HasPrefix(got, "Environment:\nzookeeper.version="+Version+", built on ") {
		t.Fatalf("envi: %q", got)
	}
	if got := fourLetter(t, s.addr, "conf"); !strings.Contains(got, "\nzookeeper.version="+Version+", built on ") {
		t.Fatalf("conf lacks the version: %q", got)
	}
	limited := startServer(t, "4lw.commands.whitelist=ruok\n")
	if got := fourLetter(t, limited.addr, "mntr"); got != "mntr is not executed because it is not in the whitelist.\n" {
		t.Fatalf("mntr not whitelisted: %q", got)
	}
	if got := fourLetter(t, limited.addr, "srvr"); !strings.Contains(got, "Mode: standalone") {
		t.Fatalf("srvr is always whitelisted: %q", got)
	}
}
