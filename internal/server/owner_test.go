package server

import (
	"testing"

	"github.com/zkd/zkd/internal/jute"
	"github.com/zkd/zkd/internal/launch"
	"github.com/zkd/zkd/internal/proto"
	"github.com/zkd/zkd/internal/zab"
)

// The session-owner tests' own ports.
var ownerPorts = &launch.Ports{Low: 28450, High: 28499}

// rawDo sends one request on a raw connection and returns its reply
// header, or ok false when the connection closed without one.
func (r *rawConn) do(xid int32, op proto.OpCode, body jute.Record) (proto.ReplyHeader, bool) {
	r.send(&proto.RequestHeader{Xid: xid, Type: op}, body)
	for {
		b, err := r.recv()
		if err != nil {
			return proto.ReplyHeader{}, false
		}
		var h proto.ReplyHeader
		h.Decode(jute.NewDecoder(b, 0))
		if h.Xid == xid {
			return h, true
		}
	}
}

// A leader that loses a learner's connection keeps the sessions that
// learner owned attached to the lost connection (Apache's owner is the
// LearnerHandler object): the learner's next connection forwards a write
// of such a session and gets SessionMoved, its client's connection is
// closed, and the session revalidated through the learner works again.
func TestLeaderForgetsTheOwnerOfALostLearner(t *testing.T) {
	ms := startEnsembleOn(t, 3, ownerPorts, false)
	leader := waitModes(t, ms)
	var follower *member
	for _, m := range ms {
		if m != leader {
			follower = m
			break
		}
	}
	open := []proto.ACL{{Perms: proto.PermAll, ID: proto.ID{Scheme: "world", ID: "anyone"}}}
	a := dialRaw(t, follower.client)
	s := a.handshake(true)
	if h, ok := a.do(1, proto.OpCreate, &proto.CreateRequest{Path: "/owned", ACL: open}); !ok || h.Err != proto.OK {
		t.Fatalf("create through follower %d: %+v %v", follower.id, h, ok)
	}
	e := leader.srv.ens
	if !e.rep.Do(func(*zab.Peer) { e.LearnerGone(follower.id) }) {
		t.Fatal("the leader's driver stopped")
	}
	if h, ok := a.do(2, proto.OpSetData, &proto.SetDataRequest{Path: "/owned", Version: -1}); ok {
		t.Fatalf("a write of a session the lost connection owned: reply %+v, want the connection closed", h)
	}
	b := dialRaw(t, follower.client)
	b.send(&proto.ConnectRequest{TimeOut: 4000, SessionID: s.SessionID, Passwd: s.Passwd, HasReadOnly: true})
	if _, err := b.recv(); err != nil {
		t.Fatal(err)
	}
	if h, ok := b.do(1, proto.OpSetData, &proto.SetDataRequest{Path: "/owned", Version: -1}); !ok || h.Err != proto.OK {
		t.Fatalf("a write after the session was revalidated through follower %d: %+v %v", follower.id, h, ok)
	}
}
