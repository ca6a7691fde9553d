package server

import (
	"time"

	"github.com/zkd/zkd/internal/jute"
	"github.com/zkd/zkd/internal/prep"
	"github.com/zkd/zkd/internal/txn"
)

// prepare runs prep for a write at zxid (on the loop that owns ps), sets
// the request's txn and error, and returns the txn's log record.
func (s *Server) prepare(ps *prep.State, enc *jute.Encoder, r *request, zxid int64) []byte {
	// Changes the tree already shows need not stay outstanding.
	ps.Applied(s.applied.Load())
	p := ps.Prepare(lockedView{s}, &prep.Request{Session: r.session, Cxid: r.xid, Op: r.op, Body: r.body,
		IDs: r.ids, Timeout: r.timeout, SessionErr: s.sessionCheck(r)}, zxid, s.now().UnixMilli())
	r.txn, r.err, r.multiTypes, r.zxid = p.Txn, p.Err, p.MultiTypes, zxid
	if testHookPrepared != nil {
		testHookPrepared(p.Txn)
	}
	enc.Reset()
	p.Txn.Encode(enc)
	return append([]byte(nil), enc.Bytes()...)
}

// testHookPrepared, set by tests only (before the server starts), sees
// every txn prepared before it is encoded and proposed; a test corrupts a
// TxnDigest with it.
var testHookPrepared func(*txn.Txn)

// dueContainers are the empty containers and expired TTL nodes to
// delete, when the check is due (on the driver).
func (s *Server) dueContainers(now time.Time) []string {
	if now.Sub(s.lastContainerCheck) < s.containerInterval {
		return nil
	}
	s.lastContainerCheck = now
	var paths []string
	s.dbMu.RLock()
	paths = append(paths, s.tree.Containers()...)
	if s.cfg.ExtendedTypesEnabled {
		paths = append(paths, s.tree.ExpiredTTLs(now.UnixMilli())...)
	}
	s.dbMu.RUnlock()
	return paths
}

// lockedView is the tree as prep reads it: one read lock per lookup, so
// that prep never holds the tree's lock across its own work.
type lockedView struct{ s *Server }

var _ prep.View = lockedView{}

func (v lockedView) Node(path string) (prep.Node, bool) {
	v.s.dbMu.RLock()
	defer v.s.dbMu.RUnlock()
	return prep.TreeView{Tree: v.s.tree}.Node(path)
}

func (v lockedView) Ephemerals(session int64) []string {
	v.s.dbMu.RLock()
	defer v.s.dbMu.RUnlock()
	return v.s.tree.Ephemerals(session)
}

func (v lockedView) TreeDigest() int64 {
	v.s.dbMu.RLock()
	defer v.s.dbMu.RUnlock()
	return v.s.tree.Digest()
}
