package server

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkd/zkd/internal/jute"
	"github.com/zkd/zkd/internal/proto"
)

func waitGone(t *testing.T, c *zk.Conn, path string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if ok, _, err := c.Exists(path); err == nil && !ok {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s still exists after %v", path, within)
}

func TestEmptyContainerIsRemovedOnceItHadChildren(t *testing.T) {
	s := startServer(t, "")
	c, _ := connect(t, s.addr)
	if _, err := c.CreateContainer("/box", nil, proto.ModeContainer, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	_, st, _ := c.Get("/box")
	if st.EphemeralOwner != 0 {
		t.Fatalf("container shows ephemeralOwner %x, want 0", st.EphemeralOwner)
	}
	// A container that never had a child stays.
	time.Sleep(400 * time.Millisecond)
	if ok, _, _ := c.Exists("/box"); !ok {
		t.Fatal("never-used container removed")
	}
	c.Create("/box/item", nil, 0, zk.WorldACL(zk.PermAll))
	c.Delete("/box/item", -1)
	waitGone(t, c, "/box", 5*time.Second)
}

func TestTTLNodes(t *testing.T) {
	off := startServer(t, "")
	c, _ := connect(t, off.addr)
	if _, err := c.CreateTTL("/ttl", nil, zk.FlagTTL, zk.WorldACL(zk.PermAll), time.Second); err == nil || err.Error() != "unknown error: -6" {
		t.Fatalf("TTL without extendedTypesEnabled: %v, want Unimplemented (-6)", err)
	}
	s := startServer(t, "extendedTypesEnabled=true\n")
	c, _ = connect(t, s.addr)
	if _, err := c.CreateTTL("/ttl", nil, zk.FlagTTL, zk.WorldACL(zk.PermAll), 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateTTL("/bad", nil, 0, zk.WorldACL(zk.PermAll), time.Second); !errors.Is(err, zk.ErrBadArguments) && !errors.Is(err, zk.ErrInvalidFlags) {
		t.Fatalf("createTTL with a non-TTL mode: %v", err)
	}
	waitGone(t, c, "/ttl", 5*time.Second)
}

func TestClientAheadOfServerIsRefused(t *testing.T) {
	s := startServer(t, "")
	r := dialRaw(t, s.addr)
	r.send(&proto.ConnectRequest{LastZxidSeen: 1 << 40, TimeOut: 4000, Passwd: make([]byte, 16), HasReadOnly: true})
	// ZooKeeper throws CloseRequestException: no reply, the socket closes.
	r.requireClosed("connect request with a zxid the server has not seen")
}

func TestEventsNeedReadPermission(t *testing.T) {
	s := startServer(t, "")
	owner, _ := connect(t, s.addr)
	spy, _ := connect(t, s.addr)
	owner.AddAuth("digest", []byte("o:p"))
	owner.Create("/priv", nil, 0, zk.DigestACL(zk.PermAll, "o", "p"))
	_, _, ch, err := spy.ExistsW("/priv")
	if err != nil {
		t.Fatal(err)
	}
	owner.Set("/priv", []byte("new"), -1)
	owner.Sync("/")
	select {
	case ev := <-ch:
		t.Fatalf("watcher without READ got %+v", ev)
	case <-time.After(300 * time.Millisecond):
	}
}

func TestPersistentRecursiveWatch(t *testing.T) {
	s := startServer(t, "")
	c, _ := connect(t, s.addr)
	other, _ := connect(t, s.addr)
	// go-zookeeper 1.0.4 has no addWatch: speak it raw.
	r := dialRaw(t, s.addr)
	r.nc.SetDeadline(time.Now().Add(10 * time.Second))
	r.handshake(true)
	r.send(&proto.RequestHeader{Xid: 1, Type: proto.OpAddWatch}, &proto.PathTypeRequest{Path: "/r", Type: proto.AddWatchPersistentRecursive})
	b, err := r.recv()
	if err != nil {
		t.Fatal(err)
	}
	d := jute.NewDecoder(b, 0)
	var h proto.ReplyHeader
	h.Decode(d)
	if h.Err != proto.OK || d.Remaining() != 4 {
		t.Fatalf("addWatch reply %+v with %d body bytes, want OK and a 4-byte ErrorResponse", h, d.Remaining())
	}
	c.Create("/r", nil, 0, zk.WorldACL(zk.PermAll))
	other.Create("/r/a", nil, 0, zk.WorldACL(zk.PermAll))
	c.Set("/r/a", []byte("x"), -1)
	c.Delete("/r/a", -1)
	var got []string
	for len(got) < 4 {
		b, err := r.recv()
		if err != nil {
			t.Fatalf("after %v: %v", got, err)
		}
		d := jute.NewDecoder(b, 0)
		h.Decode(d)
		var ev proto.WatcherEvent
		ev.Decode(d)
		if h.Xid != proto.XidNotification {
			t.Fatalf("unexpected reply %+v", h)
		}
		got = append(got, ev.Type.String()+" "+ev.Path)
	}
	want := []string{"NodeCreated /r", "NodeCreated /r/a", "NodeDataChanged /r/a", "NodeDeleted /r/a"}
	if !slices.Equal(got, want) {
		t.Fatalf("recursive watch events %v, want %v (never NodeChildrenChanged)", got, want)
	}
	// removeWatches of the recursive watch, then checkWatches says it is gone.
	if h, _ := r.call(2, proto.OpRemoveWatches, &proto.PathTypeRequest{Path: "/r", Type: proto.WatcherPersistentRecursive}); h.Xid != 2 || h.Err != proto.OK {
		t.Fatalf("removeWatches: %+v, want xid 2 OK", h)
	}
	if h, _ := r.call(3, proto.OpCheckWatches, &proto.PathTypeRequest{Path: "/r", Type: proto.WatcherPersistentRecursive}); h.Xid != 3 || h.Err != proto.ErrNoWatcher {
		t.Fatalf("checkWatches after remove: %+v, want xid 3 NoWatcher", h)
	}
}

// rawCall sends one request and returns the reply header and body decoder.
func (r *rawConn) call(xid int32, op proto.OpCode, body jute.Record) (proto.ReplyHeader, *jute.Decoder) {
	r.t.Helper()
	if body != nil {
		r.send(&proto.RequestHeader{Xid: xid, Type: op}, body)
	} else {
		r.send(&proto.RequestHeader{Xid: xid, Type: op})
	}
	for {
		b, err := r.recv()
		if err != nil {
			r.t.Fatal(err)
		}
		d := jute.NewDecoder(b, 0)
		var h proto.ReplyHeader
		h.Decode(d)
		if h.Xid == proto.XidNotification {
			continue
		}
		return h, d
	}
}

func TestEphemeralsWhoAmIAndAllChildren(t *testing.T) {
	s := startServer(t, "")
	r := dialRaw(t, s.addr)
	r.handshake(true)
	for i, p := range []string{"/x", "/x/e1", "/x/e2", "/y"} {
		flags := proto.ModeEphemeral
		if p == "/x" {
			flags = proto.ModePersistent
		}
		if h, _ := r.call(int32(i+1), proto.OpCreate, &proto.CreateRequest{Path: p, ACL: proto.OpenACLUnsafe, Flags: flags}); h.Err != proto.OK {
			t.Fatalf("create %s: %v", p, h.Err)
		}
	}
	h, d := r.call(10, proto.OpGetEphemerals, &proto.PathRequest{Path: "/x"})
	var eph proto.ChildrenResponse
	eph.Decode(d)
	if h.Err != proto.OK || !slices.Equal(eph.Children, []string{"/x/e1", "/x/e2"}) {
		t.Fatalf("getEphemerals /x: %v %v", h.Err, eph.Children)
	}
	h, d = r.call(11, proto.OpGetEphemerals, &proto.PathRequest{Path: "/"})
	eph.Decode(d)
	if len(eph.Children) != 3 {
		t.Fatalf("getEphemerals /: %v", eph.Children)
	}
	h, d = r.call(12, proto.OpGetAllChildrenNumber, &proto.PathRequest{Path: "/x"})
	var n proto.IntResponse
	n.Decode(d)
	if h.Err != proto.OK || n.Value != 2 {
		t.Fatalf("getAllChildrenNumber /x: %v %d", h.Err, n.Value)
	}
	h, _ = r.call(13, proto.OpGetAllChildrenNumber, &proto.PathRequest{Path: "/nope"})
	if h.Err != proto.ErrNoNode {
		t.Fatalf("getAllChildrenNumber missing: %v", h.Err)
	}
	if h, _ := r.call(proto.XidAuth, proto.OpAuth, &proto.AuthPacket{Scheme: "digest", Auth: []byte("bob:pw")}); h.Xid != proto.XidAuth || h.Err != proto.OK {
		t.Fatalf("auth: %+v, want xid -4 OK", h)
	}
	h, d = r.call(14, proto.OpWhoAmI, nil)
	var who proto.WhoAmIResponse
	who.Decode(d)
	if len(who.ClientInfo) != 2 || who.ClientInfo[0] != (proto.ClientInfo{AuthScheme: "ip", User: "127.0.0.1"}) ||
		who.ClientInfo[1] != (proto.ClientInfo{AuthScheme: "digest", User: "bob"}) {
		t.Fatalf("whoAmI: %+v", who.ClientInfo)
	}
	// multiRead answers each op on its own.
	h, d = r.call(15, proto.OpMultiRead, &proto.MultiRequest{Ops: []proto.MultiOp{
		{Type: proto.OpGetData, Read: &proto.PathWatchRequest{Path: "/x"}},
		{Type: proto.OpGetChildren, Read: &proto.PathWatchRequest{Path: "/missing"}},
		{Type: proto.OpGetChildren, Read: &proto.PathWatchRequest{Path: "/x"}},
	}})
	var mr proto.MultiResponse
	mr.Decode(d)
	if h.Err != proto.OK || len(mr.Results) != 3 || mr.Results[0].Type != proto.OpGetData ||
		mr.Results[1].Type != proto.OpError || mr.Results[1].Err != proto.ErrNoNode || len(mr.Results[2].Children) != 2 {
		t.Fatalf("multiRead: %v %+v", h.Err, mr.Results)
	}
}

func TestSetWatchesFiresMissedEvents(t *testing.T) {
	s := startServer(t, "")
	c, _ := connect(t, s.addr)
	c.Create("/sw", nil, 0, zk.WorldACL(zk.PermAll))
	c.Create("/sw/gone", nil, 0, zk.WorldACL(zk.PermAll))
	_, st, _ := c.Get("/sw")
	rel := st.Mzxid
	c.Set("/sw", []byte("changed"), -1)
	c.Delete("/sw/gone", -1)
	c.Create("/sw/born", nil, 0, zk.WorldACL(zk.PermAll))
	r := dialRaw(t, s.addr)
	r.handshake(true)
	r.send(&proto.RequestHeader{Xid: proto.XidSetWatches, Type: proto.OpSetWatches2}, &proto.SetWatches{
		RelativeZxid: rel, Version2: true,
		DataWatches:  []string{"/sw", "/sw/gone"},
		ExistWatches: []string{"/sw/born", "/sw/unborn"},
		ChildWatches: []string{"/sw"},
	})
	var got []string
	for {
		b, err := r.recv()
		if err != nil {
			t.Fatal(err)
		}
		d := jute.NewDecoder(b, 0)
		var h proto.ReplyHeader
		h.Decode(d)
		if h.Xid == proto.XidSetWatches {
			break
		}
		var ev proto.WatcherEvent
		ev.Decode(d)
		got = append(got, ev.Type.String()+" "+ev.Path)
	}
	want := []string{"NodeDataChanged /sw", "NodeDeleted /sw/gone", "NodeCreated /sw/born", "NodeChildrenChanged /sw"}
	if !slices.Equal(got, want) {
		t.Fatalf("setWatches events %v, want %v", got, want)
	}
	// The exist watch on /sw/unborn was registered and fires on create.
	c.Create("/sw/unborn", nil, 0, zk.WorldACL(zk.PermAll))
	b, err := r.recv()
	if err != nil {
		t.Fatal(err)
	}
	d := jute.NewDecoder(b, 0)
	var h proto.ReplyHeader
	h.Decode(d)
	var ev proto.WatcherEvent
	ev.Decode(d)
	if ev.Type != proto.EventNodeCreated || ev.Path != "/sw/unborn" {
		t.Fatalf("registered exist watch: %+v", ev)
	}
}

func TestMaxClientCnxnsPerAddress(t *testing.T) {
	s := startServer(t, "maxClientCnxns=2\n")
	a := dialRaw(t, s.addr)
	a.handshake(true)
	b := dialRaw(t, s.addr)
	b.handshake(true)
	c := dialRaw(t, s.addr)
	c.send(&proto.ConnectRequest{TimeOut: 4000, Passwd: make([]byte, 16), HasReadOnly: true})
	// ZooKeeper closes a connection over the limit as it accepts it.
	c.requireClosed("third connection from one address with maxClientCnxns=2")
	// Closing one makes room again.
	a.nc.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		d := dialRaw(t, s.addr)
		d.send(&proto.ConnectRequest{TimeOut: 4000, Passwd: make([]byte, 16), HasReadOnly: true})
		if _, err := d.recv(); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no room after a connection closed")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
