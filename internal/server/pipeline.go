package server

import (
	"time"

	"github.com/zkd/zkd/internal/jute"
	"github.com/zkd/zkd/internal/proto"
	"github.com/zkd/zkd/internal/tree"
	"github.com/zkd/zkd/internal/txn"
)

// digestMismatch reports a txn whose TxnDigest is not the digest of the
// tree after applying it (DataTree.compareDigest): this replica and the
// one that prepared the txn have diverged. It is counted in
// digest_mismatches_count and logged, the first time and then at most once
// a second with the number left unlogged meanwhile (a diverged replica
// mismatches on every txn after); the server goes on, as ZooKeeper's does.
// It runs on the apply step only.
func (s *Server) digestMismatch(zxid, expected, actual int64) {
	s.metrics.DigestMismatches.Add(1)
	now := s.now()
	if !s.mismatchLogged.IsZero() && now.Sub(s.mismatchLogged) < time.Second {
		s.mismatchesUnlogged++
		return
	}
	s.log.Error("digest mismatch: the tree after this txn is not the one its TxnDigest names", "zxid", hexZxid(zxid),
		"expected", expected, "actual", actual, "unlogged", s.mismatchesUnlogged)
	s.mismatchLogged, s.mismatchesUnlogged = now, 0
}

// Log is the persist step of the write pipeline, as the driver uses it.
// The durable implementation appends entries to the transaction log and
// fsyncs them in batches (group commit); the in-memory one completes at once.
//
// Implementations must call done exactly once per Append, in the order of
// the Append calls, and only after the entry is as durable as Durable
// promises; done must not block. Append may block while too much is queued
// (the backpressure of a slow disk), so it is called with no lock held. An
// error means the entry may not be durable: the server stops.
type Log interface {
	Append(zxid int64, entry []byte, done func(error))
	// WriteEpochs writes acceptedEpoch and then currentEpoch (each skipped
	// when -1), durably, before it returns.
	WriteEpochs(accepted, current int64) error
	// Durable reports whether acknowledged entries survive a crash.
	Durable() bool
	Close() error
}

// MemoryLog keeps nothing: data lives only in the tree.
type MemoryLog struct{}

var _ Log = MemoryLog{}

// Append completes at once.
func (MemoryLog) Append(_ int64, _ []byte, done func(error)) { done(nil) }

// WriteEpochs does nothing.
func (MemoryLog) WriteEpochs(_, _ int64) error { return nil }

// Durable is false.
func (MemoryLog) Durable() bool { return false }

// Close does nothing.
func (MemoryLog) Close() error { return nil }

// request is one client (or server-generated) request on its way through
// the pipeline or waiting its turn in a connection's reply queue.
type request struct {
	conn    *conn // nil for server-generated requests (expiry, containers, TTL)
	session int64
	xid     int32
	op      proto.OpCode
	body    jute.Record
	ids     []proto.ID
	timeout int32 // createSession
	start   time.Time
	// owner is the server the request came through, as the leader's
	// session owners name it (ownerSelf: this server's own client).
	owner int64
	// moved: the session is another server's; the connection closes in
	// the request's turn, without a reply (FinalRequestProcessor's
	// SessionMovedException).
	moved bool

	// Set by the driver.
	txn *txn.Txn
	// multiTypes are the types a multi's ops were prepared as.
	multiTypes []proto.OpCode

	// Set by prep (err) and apply.
	zxid   int64
	err    proto.Code
	result tree.Result
	// completed is set (under the connection's fifo lock) once the write
	// has been applied, or for reads once they may run.
	completed bool
	reply     []byte
	// done runs on the apply goroutine after the txn is applied (or the
	// sync committed).
	done func(*request)
	// closeAfter closes the connection once the reply is written.
	closeAfter bool
}

// viaPipeline: goes through prep/propose/persist/apply (sync goes through
// the pipe too, without a txn, so it waits for every write before it). A
// request a leader refused as moved does not (a write found moved once
// applied is done with it too): only its turn to close is left.
func (r *request) viaPipeline() bool {
	return !r.moved && (r.op.IsWrite() || r.op == proto.OpSync)
}

// submit hands a write to the driver. It blocks while the driver's queue
// is full; a server that is stopping fails the request with ConnectionLoss.
func (s *Server) submit(r *request) { s.ens.submit(r) }

// committed is one entry the driver hands to the apply step: a txn to
// apply (tx, with the local request that asked for it, if any) or a
// committed sync (req only).
type committed struct {
	zxid int64
	tx   *txn.Txn
	req  *request
}

// applyLoop applies committed txns in zxid order, triggers watches and
// completes the requests.
func (s *Server) applyLoop() {
	defer close(s.applyDone)
	for {
		var batch []committed
		select {
		case batch = <-s.applyCh:
		case <-s.stopping:
			return
		}
		for i := range batch {
			c := &batch[i]
			if c.tx != nil {
				s.apply(c)
			}
			if r := c.req; r != nil {
				if r.done != nil {
					r.done(r)
				}
				s.inPipeline.Add(-1)
			}
		}
	}
}

// apply applies one committed txn. The same path serves a txn this server
// prepared (c.req set) and one it only learnt of (a follower's commits).
func (s *Server) apply(c *committed) {
	tx := c.tx
	s.applyMu.Lock()
	s.dbMu.Lock()
	res := s.tree.Apply(tx)
	actual := s.tree.Digest()
	for _, ev := range res.Events {
		s.deliverEvent(ev, c.zxid)
	}
	s.recordDigest(c.zxid)
	s.dbMu.Unlock()
	if g := tx.Digest; g != nil && g.Version == txn.DigestVersion && s.cfg.DigestEnabled && g.TreeDigest != actual {
		s.digestMismatch(c.zxid, g.TreeDigest, actual)
	}
	// Sessions change here and only here (and by liveness): the table
	// holds a session exactly when its createSession is applied, which a
	// snapshot (taken under applyMu) relies on.
	switch b := tx.Body.(type) {
	case *txn.CreateSession:
		s.sessMu.Lock()
		s.sessions.Add(tx.Header.ClientID, b.TimeOut, s.now().UnixMilli())
		s.sessMu.Unlock()
	case *txn.CloseSession:
		s.sessMu.Lock()
		s.sessions.Remove(tx.Header.ClientID)
		s.sessMu.Unlock()
	}
	s.applied.Store(c.zxid)
	s.applyMu.Unlock()
	if tx.Header.Type != proto.OpError && tx.Header.Type != proto.OpMulti && res.Err != proto.OK {
		// Prep validated this txn against the pending tree, so the tree
		// refusing it means the two disagree: a bug, not a client error.
		s.log.Error("applying txn failed", "zxid", hexZxid(c.zxid), "op", tx.Header.Type.String(), "err", res.Err.Error())
	}
	if r := c.req; r != nil {
		r.result = res
		if r.err == proto.OK && tx.Header.Type == proto.OpError {
			if e, ok := tx.Body.(*txn.Error); ok {
				r.err = e.Err
			}
		}
	}
	s.stats.txnApplied()
	if s.snap != nil {
		s.snap.applied()
	}
}
