package server

import (
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/zkd/zkd/internal/jute"
	"github.com/zkd/zkd/internal/proto"
)

func frameOf(recs ...jute.Record) []byte {
	e := jute.NewEncoder(nil)
	for _, r := range recs {
		r.Encode(e)
	}
	return e.Bytes()
}

// FuzzRequestFrames sends one arbitrary request frame after a valid
// handshake. Whatever it holds, the server must answer or close that
// connection, never panic, and keep serving everyone else.
func FuzzRequestFrames(f *testing.F) {
	acl := proto.OpenACLUnsafe
	f.Add(frameOf(&proto.RequestHeader{Xid: 1, Type: proto.OpCreate}, &proto.CreateRequest{Path: "/f", ACL: acl}))
	f.Add(frameOf(&proto.RequestHeader{Xid: 1, Type: proto.OpCreateTTL}, &proto.CreateTTLRequest{Path: "/t", ACL: acl, Flags: 5, TTL: 10}))
	f.Add(frameOf(&proto.RequestHeader{Xid: 2, Type: proto.OpGetData}, &proto.PathWatchRequest{Path: "/", Watch: true}))
	f.Add(frameOf(&proto.RequestHeader{Xid: 3, Type: proto.OpMulti}, &proto.MultiRequest{Ops: []proto.MultiOp{
		{Type: proto.OpCreate, Create: &proto.CreateRequest{Path: "/m", ACL: acl}},
		{Type: proto.OpCheck, Version: &proto.PathVersionRequest{Path: "/m", Version: 0}},
	}}))
	f.Add(frameOf(&proto.RequestHeader{Xid: 4, Type: proto.OpMultiRead}, &proto.MultiRequest{Ops: []proto.MultiOp{
		{Type: proto.OpGetChildren, Read: &proto.PathWatchRequest{Path: "/"}},
	}}))
	f.Add(frameOf(&proto.RequestHeader{Xid: -8, Type: proto.OpSetWatches2}, &proto.SetWatches{DataWatches: []string{"/x"}, Version2: true}))
	f.Add(frameOf(&proto.RequestHeader{Xid: -4, Type: proto.OpAuth}, &proto.AuthPacket{Scheme: "digest", Auth: []byte("a:b")}))
	f.Add(frameOf(&proto.RequestHeader{Xid: 5, Type: proto.OpSetACL}, &proto.SetACLRequest{Path: "/", ACL: acl, Version: -1}))
	f.Add(frameOf(&proto.RequestHeader{Xid: 6, Type: proto.OpAddWatch}, &proto.PathTypeRequest{Path: "/", Type: 1}))
	f.Add(frameOf(&proto.RequestHeader{Xid: 7, Type: proto.OpReconfig}, &proto.ReconfigRequest{}))
	f.Add([]byte{0, 0, 0, 1})
	s := startServer(f, "extendedTypesEnabled=true\njute.maxbuffer=65536\n")
	// How long a connection that stays open is read from. Most seeds keep
	// theirs open, so under -short the wait shrinks to keep the seeds fast.
	quiet := 300 * time.Millisecond
	if testing.Short() {
		quiet = 30 * time.Millisecond
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		if len(frame) > 60000 {
			return
		}
		nc, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(5 * time.Second))
		hs := frameOf(&proto.ConnectRequest{TimeOut: 4000, Passwd: make([]byte, 16), HasReadOnly: true})
		out := binary.BigEndian.AppendUint32(nil, uint32(len(hs)))
		out = append(out, hs...)
		out = binary.BigEndian.AppendUint32(out, uint32(len(frame)))
		out = append(out, frame...)
		if _, err := nc.Write(out); err != nil {
			t.Fatal(err)
		}
		// Read replies until the server closes or goes quiet.
		nc.SetReadDeadline(time.Now().Add(quiet))
		io.Copy(io.Discard, nc)
		// Everyone else is still served.
		if got := fourLetter(t, s.addr, "ruok"); got != "imok" {
			t.Fatalf("server stopped answering after frame %x: %q", frame, got)
		}
	})
}
