package server

import (
	"encoding/binary"
	"runtime"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkd/zkd/internal/jute"
	"github.com/zkd/zkd/internal/proto"
)

// frame encodes one request as it goes on the wire.
func frame(recs ...jute.Record) []byte {
	e := jute.NewEncoder(make([]byte, 4))
	for _, rec := range recs {
		rec.Encode(e)
	}
	b := e.Bytes()
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

// replyHeader decodes a reply's header.
func replyHeader(t *testing.T, b []byte) proto.ReplyHeader {
	t.Helper()
	var h proto.ReplyHeader
	d := jute.NewDecoder(b, 0)
	h.Decode(d)
	if d.Err() != nil {
		t.Fatalf("reply %x: %v", b, d.Err())
	}
	return h
}

// TestIdleConnectionsHoldOneGoroutineEach: a connection's writer runs only
// while it has something to write, so an idle session costs its reader
// alone (a goroutine stack less per session). Each connection here has had
// a write's reply go through its writer, and a ping answered.
func TestIdleConnectionsHoldOneGoroutineEach(t *testing.T) {
	s := startServer(t, "")
	c, _ := connect(t, s.addr)
	if _, err := c.Create("/w", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	c.Close()
	settled := func(want func(int) bool) int {
		n := runtime.NumGoroutine()
		for deadline := time.Now().Add(3 * time.Second); !want(n) && time.Now().Before(deadline); n = runtime.NumGoroutine() {
			time.Sleep(20 * time.Millisecond)
		}
		return n
	}
	time.Sleep(300 * time.Millisecond) // the closed client's session winds down
	base := runtime.NumGoroutine()

	const sessions = 40
	for i := range sessions {
		r := dialRaw(t, s.addr)
		r.handshake(true)
		r.send(&proto.RequestHeader{Xid: 1, Type: proto.OpSetData}, &proto.SetDataRequest{Path: "/w", Data: []byte{byte(i)}, Version: -1})
		r.send(&proto.RequestHeader{Xid: -2, Type: proto.OpPing})
		for _, want := range []int32{1, -2} {
			b, err := r.recv()
			if err != nil {
				t.Fatal(err)
			}
			if h := replyHeader(t, b); h.Xid != want || h.Err != proto.OK {
				t.Fatalf("session %d: reply %+v, want xid %d and no error", i, h, want)
			}
		}
	}
	// A few goroutines of slack for the server's own (the client's
	// session closing, timers); two per connection would be 40 more.
	const slack = 8
	if n := settled(func(n int) bool { return n-base <= sessions+slack }); n-base > sessions+slack {
		t.Errorf("%d goroutines for %d idle connections (%d before them), want about one each", n-base, sessions, base)
	}
}

// TestPipelinedRepliesKeepRequestOrder: writes (answered by the writer
// after the commit) and reads (answered by the reader when nothing is
// ahead of them) pipelined on one connection come back in request order.
func TestPipelinedRepliesKeepRequestOrder(t *testing.T) {
	s := startServer(t, "")
	c, _ := connect(t, s.addr)
	if _, err := c.Create("/o", []byte("x"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	r := dialRaw(t, s.addr)
	r.handshake(true)
	const requests = 300
	var burst []byte
	for xid := int32(1); xid <= requests; xid++ {
		hdr := &proto.RequestHeader{Xid: xid}
		switch xid % 3 {
		case 0:
			hdr.Type = proto.OpSetData
			burst = append(burst, frame(hdr, &proto.SetDataRequest{Path: "/o", Data: []byte{byte(xid)}, Version: -1})...)
		case 1:
			hdr.Type = proto.OpGetData
			burst = append(burst, frame(hdr, &proto.PathWatchRequest{Path: "/o"})...)
		default:
			hdr.Type = proto.OpExists
			burst = append(burst, frame(hdr, &proto.PathWatchRequest{Path: "/o"})...)
		}
	}
	if _, err := r.nc.Write(burst); err != nil {
		t.Fatal(err)
	}
	for want := int32(1); want <= requests; want++ {
		b, err := r.recv()
		if err != nil {
			t.Fatalf("after %d replies: %v", want-1, err)
		}
		if h := replyHeader(t, b); h.Xid != want || h.Err != proto.OK {
			t.Fatalf("reply %+v, want xid %d and no error: replies out of request order", h, want)
		}
	}
}
