package server

import (
	"github.com/zkd/zkd/internal/proto"
	"github.com/zkd/zkd/internal/session"
	"github.com/zkd/zkd/internal/zab"
)

// Session owners. A leader records which server each session is attached
// to, as Apache's SessionTrackerImpl keeps SessionImpl.owner: the learner
// connection that created the session or last revalidated it
// (REVALIDATE), or the leader itself for its own clients. A request that
// reaches the leader through another server is refused with SessionMoved
// (ZOOKEEPER-710: a client that moved on must not have a request it left
// behind on its old server applied after newer ones). The server that
// holds the client's connection then closes it without a reply, as
// FinalRequestProcessor does on SessionMovedException.
//
// An owner is a token: ownerSelf for this server's own clients, and one
// per learner connection (Apache's owner is the LearnerHandler object, so
// a learner that reconnects owns none of the sessions its old connection
// owned until they are revalidated through it).

// ownerSelf is the owner of the sessions of this server's own clients
// (Apache's ServerCnxn.me); learners' tokens are positive.
const ownerSelf int64 = 0

// ownerOf is the token of the learner's current connection; only the
// driver calls it.
func (e *replicated) ownerOf(sid int64) int64 {
	if o, ok := e.learnerOwners[sid]; ok {
		return o
	}
	if e.learnerOwners == nil {
		e.learnerOwners = map[int64]int64{}
	}
	e.nextOwner++
	e.learnerOwners[sid] = e.nextOwner
	return e.nextOwner
}

// LearnerGone: the leader lost a learner's connection. The sessions it
// owned stay owned by that connection, which no later request comes
// through: each is refused with SessionMoved until it is revalidated.
func (e *replicated) LearnerGone(sid int64) {
	delete(e.learnerOwners, sid)
}

// sessionCheck is what the session tracker's checkSession says of a
// write being prepared (prep raises it where ZooKeeper checks), with
// createSession's trackSession and setOwner. It runs on the driver.
func (s *Server) sessionCheck(r *request) proto.Code {
	switch r.op {
	case proto.OpCreateSession:
		s.sessMu.Lock()
		s.sessions.Claim(r.session, r.owner)
		s.sessMu.Unlock()
		return proto.OK
	case proto.OpCloseSession, proto.OpDeleteContainer:
		// The expiry and container checks are not the session's owner.
		return proto.OK
	case proto.OpMulti:
		if mr, ok := r.body.(*proto.MultiRequest); ok && len(mr.Ops) == 0 {
			return proto.OK // no op checks the session
		}
	}
	s.sessMu.Lock()
	err := s.sessions.CheckSession(r.session, r.owner)
	s.sessMu.Unlock()
	return sessionCode(err)
}

// sessionCode is the KeeperException of a checkSession error: a leader's
// tracker (LeaderSessionTracker, no local sessions) calls an unknown
// session expired too.
func sessionCode(err error) proto.Code {
	switch err {
	case nil:
		return proto.OK
	case session.ErrMoved:
		return proto.ErrSessionMoved
	}
	return proto.ErrSessionExpired
}

// movedHere reports whether a leader refuses a request of one of its own
// clients that is not a write (ZooKeeper's leader runs reads, pings and
// syncs through PrepRequestProcessor, whose checkSession refuses a
// session another server owns). Called with sessMu held.
func (s *Server) movedHere(id int64, op proto.OpCode) bool {
	if s.ens.standalone || op.IsWrite() || op == proto.OpAuth || op == proto.OpSASL {
		return false
	}
	if st := s.ens.status.Load(); st.role != zab.Leading || !st.serving {
		return false
	}
	return s.sessions.CheckSession(id, ownerSelf) == session.ErrMoved
}

// sessionMoved: a write's outcome is SessionMoved, which its client is
// not told: the connection closes.
func (r *request) sessionMoved() bool {
	if r.err == proto.ErrSessionMoved {
		return true
	}
	for _, m := range r.result.Multi {
		if m.Err == proto.ErrSessionMoved {
			return true
		}
	}
	return false
}
