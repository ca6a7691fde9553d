package interop

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zkd/zkd/internal/jute"
	"github.com/zkd/zkd/internal/launch"
	"github.com/zkd/zkd/internal/proto"
)

// ownerPorts are the session-owner and new-leader tests' own ports.
var ownerPorts = &launch.Ports{Low: 28500, High: 28599}

var ownerOptions = Options{Ports: ownerPorts}

// Session ownership (ZOOKEEPER-710): the leader records which server each
// session is attached to, the learner that created or last revalidated it
// or the leader itself, and refuses a request that reaches it through
// another (SessionMoved). The scenario runs on an all-Apache ensemble, the
// reference, and on ensembles where zkd leads Apache followers, follows an
// Apache leader, and is every server.
func TestSessionMovedAllApache(t *testing.T) {
	e := StartApacheEnsemble(t, 3, ownerOptions)
	leader := mustLeader(t, e)
	f := followersOf(e, leader)
	compareMoved(t, e, movedSession(t, e, leader, f[0], f[1]))
}

func TestSessionMovedAllZkd(t *testing.T) {
	e := StartZkdEnsemble(t, 3, ownerOptions)
	leader := mustLeader(t, e)
	f := followersOf(e, leader)
	compareMoved(t, e, movedSession(t, e, leader, f[0], f[1]))
}

// zkd's server.3 leads (it is up long before the JVMs, and with empty logs
// the highest myid wins); the stale write comes through Apache's server.1.
func TestSessionMovedZkdLeader(t *testing.T) {
	e := StartMixedEnsemble(t, 3, ownerOptions, map[int]bool{3: true})
	leader := mustLeader(t, e)
	if leader != 2 {
		t.Fatalf("server.%d leads; the scenario needs zkd's server.3", leader+1)
	}
	compareMoved(t, e, movedSession(t, e, leader, 0, 1))
}

// One of Apache's servers 2 and 3 leads (3 unless 2's JVM was up first);
// the stale write comes through zkd's server.1, the session moves to the
// other Apache server.
func TestSessionMovedApacheLeader(t *testing.T) {
	e := StartMixedEnsemble(t, 3, ownerOptions, map[int]bool{1: true})
	leader := mustLeader(t, e)
	if leader == 0 {
		t.Fatal("zkd's server.1 leads; the scenario needs an Apache leader")
	}
	compareMoved(t, e, movedSession(t, e, leader, 0, 3-leader))
}

// movedWant is what the all-Apache ensemble does (TestSessionMovedAllApache
// checks it against Apache itself).
const movedWant = `new session through the old server: session=s1
create /moved through the old server: OK
reconnect through the new server: same session=true
setData /moved through the old server: connection closed without a reply
setData /moved through the new server: OK version=1
zxids between the create and the write through the new server: 2
getData /moved through the new server: OK "v1" version=1
reconnect through the leader: same session=true
getData /moved through the new server: OK "v1" version=1
setData /moved through the new server: connection closed without a reply
reconnect through the new server again: same session=true
exists /moved through the leader: connection closed without a reply
setData /moved through the new server again: OK version=2
reconnect through the old server: same session=true
multi (setData, check) through the new server: connection closed without a reply
sync through the old server: OK
getData /moved through the old server: OK "v2" version=2
`

func compareMoved(t *testing.T, e *Ensemble, got string) {
	t.Helper()
	t.Logf("%s ensemble:\n%s", e.Kind, got)
	if got = normalize(got); got != movedWant {
		t.Errorf("%s ensemble: a session moved between servers:\n%s\nwant (what an all-Apache ensemble does):\n%s\n%s",
			e.Kind, got, movedWant, e.LogTails(20))
	}
}

func mustLeader(t *testing.T, e *Ensemble) int {
	t.Helper()
	leader, err := e.Leader(60 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return leader
}

func followersOf(e *Ensemble, leader int) []int {
	var f []int
	for i := range e.Servers {
		if i != leader {
			f = append(f, i)
		}
	}
	return f
}

// movedSession moves a session from server index old to index new (both
// followers), then to the leader and back, and tries each connection it
// left behind.
func movedSession(t *testing.T, e *Ensemble, leader, old, new int) string {
	var tr transcript
	a := dialSession(t, e.Servers[old].Addr(), 0, nil)
	tr.printf("new session through the old server: session=0x%x", a.session)
	tr.printf("create /moved through the old server: %s", a.do(proto.OpCreate,
		&proto.CreateRequest{Path: "/moved", Data: []byte("v0"), ACL: []proto.ACL{{Perms: proto.PermAll, ID: proto.ID{Scheme: "world", ID: "anyone"}}}}))
	before := a.zxid // the create's
	b := dialSession(t, e.Servers[new].Addr(), a.session, a.passwd)
	tr.printf("reconnect through the new server: same session=%v", b.session == a.session)
	tr.printf("setData /moved through the old server: %s", a.do(proto.OpSetData, &proto.SetDataRequest{Path: "/moved", Data: []byte("stale"), Version: -1}))
	tr.printf("setData /moved through the new server: %s", b.do(proto.OpSetData, &proto.SetDataRequest{Path: "/moved", Data: []byte("v1"), Version: -1}))
	// The replies' zxids: the refused write took one between them.
	tr.printf("zxids between the create and the write through the new server: %d", b.zxid-before)
	tr.printf("getData /moved through the new server: %s", b.do(proto.OpGetData, &proto.PathWatchRequest{Path: "/moved"}))
	l := dialSession(t, e.Servers[leader].Addr(), a.session, a.passwd)
	tr.printf("reconnect through the leader: same session=%v", l.session == a.session)
	tr.printf("getData /moved through the new server: %s", b.do(proto.OpGetData, &proto.PathWatchRequest{Path: "/moved"}))
	tr.printf("setData /moved through the new server: %s", b.do(proto.OpSetData, &proto.SetDataRequest{Path: "/moved", Data: []byte("stale"), Version: -1}))
	b2 := dialSession(t, e.Servers[new].Addr(), a.session, a.passwd)
	tr.printf("reconnect through the new server again: same session=%v", b2.session == a.session)
	tr.printf("exists /moved through the leader: %s", l.do(proto.OpExists, &proto.PathWatchRequest{Path: "/moved"}))
	tr.printf("setData /moved through the new server again: %s", b2.do(proto.OpSetData, &proto.SetDataRequest{Path: "/moved", Data: []byte("v2"), Version: -1}))
	c := dialSession(t, e.Servers[old].Addr(), a.session, a.passwd)
	tr.printf("reconnect through the old server: same session=%v", c.session == a.session)
	tr.printf("multi (setData, check) through the new server: %s", b2.do(proto.OpMulti, &proto.MultiRequest{Ops: []proto.MultiOp{
		{Type: proto.OpSetData, SetData: &proto.SetDataRequest{Path: "/moved", Data: []byte("stale"), Version: -1}},
		{Type: proto.OpCheck, Version: &proto.PathVersionRequest{Path: "/moved", Version: 2}}}}))
	tr.printf("sync through the old server: %s", c.do(proto.OpSync, &proto.PathRequest{Path: "/"}))
	tr.printf("getData /moved through the old server: %s", c.do(proto.OpGetData, &proto.PathWatchRequest{Path: "/moved"}))
	return tr.String()
}

// rawSession is one client connection spoken byte by byte.
type rawSession struct {
	t       *testing.T
	nc      net.Conn
	session int64
	passwd  []byte
	xid     int32
	zxid    int64 // the last reply's
}

// dialSession connects to addr with a new session (0) or an existing one.
func dialSession(t *testing.T, addr string, session int64, passwd []byte) *rawSession {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	if passwd == nil {
		passwd = make([]byte, 16)
	}
	if err := sendConnect(nc, session, passwd, 30000); err != nil {
		t.Fatal(err)
	}
	a, err := readConnect(nc, 10*time.Second)
	if err != nil {
		t.Fatalf("connect to %s: %v", addr, err)
	}
	return &rawSession{t: t, nc: nc, session: a.session, passwd: a.passwd}
}

// do sends one request and says what came back: the reply's error and
// what the test reads of its body, or that the connection closed.
func (r *rawSession) do(op proto.OpCode, body jute.Record) string {
	r.xid++
	e := jute.NewEncoder(make([]byte, 4, 128))
	(&proto.RequestHeader{Xid: r.xid, Type: op}).Encode(e)
	body.Encode(e)
	b := e.Bytes()
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	if _, err := r.nc.Write(b); err != nil {
		return "connection closed before the request was sent"
	}
	r.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		var n [4]byte
		if _, err := io.ReadFull(r.nc, n[:]); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return "no reply within 10 s, connection open"
			}
			return "connection closed without a reply"
		}
		frame := make([]byte, binary.BigEndian.Uint32(n[:]))
		if _, err := io.ReadFull(r.nc, frame); err != nil {
			return "connection closed in a reply"
		}
		d := jute.NewDecoder(frame, 1<<20)
		var h proto.ReplyHeader
		h.Decode(d)
		if h.Xid != r.xid {
			continue // a notification
		}
		r.zxid = h.Zxid
		if h.Err != proto.OK {
			return "error " + h.Err.Error()
		}
		switch op {
		case proto.OpSetData, proto.OpExists:
			var st proto.Stat
			st.Decode(d)
			return fmt.Sprintf("OK version=%d", st.Version)
		case proto.OpGetData:
			var gd proto.GetDataResponse
			gd.Decode(d)
			return fmt.Sprintf("OK %q version=%d", gd.Data, gd.Stat.Version)
		}
		return "OK"
	}
}

// srvrZxid is the zxid srvr shows.
func srvrZxid(t *testing.T, addr string) int64 {
	t.Helper()
	out, err := FourLetterWord(addr, "srvr", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, "Zxid: "); ok {
			z, err := strconv.ParseInt(strings.TrimPrefix(strings.TrimSpace(v), "0x"), 16, 64)
			if err != nil {
				t.Fatalf("srvr Zxid %q: %v", v, err)
			}
			return z
		}
	}
	t.Fatalf("srvr of %s shows no Zxid:\n%s", addr, out)
	return 0
}
