package server

import (
	"time"

	"github.com/zkd/zkd/internal/jute"
	"github.com/zkd/zkd/internal/proto"
	"github.com/zkd/zkd/internal/tree"
	"github.com/zkd/zkd/internal/txn"
)

// Persister is the persist step of the write pipeline. The durable
// implementation appends entries to the transaction log and fsyncs them in
// batches; the in-memory one completes at once.
//
// Implementations must call done exactly once per Persist, in the order of
// the Persist calls, and only after the entry is as durable as the
// implementation promises. A nil entry persists nothing but still completes
// in order (it carries sync requests through the pipe). An error means the
// entry may not be durable: the server stops accepting writes.
type Persister interface {
	Persist(zxid int64, entry []byte, done func(error))
	// Durable reports whether acknowledged entries survive a crash.
	Durable() bool
	Close() error
}

// MemoryPersister keeps nothing: data lives only in the tree.
type MemoryPersister struct{}

var _ Persister = MemoryPersister{}

// Persist completes at once.
func (MemoryPersister) Persist(_ int64, _ []byte, done func(error)) { done(nil) }

// Durable is false.
func (MemoryPersister) Durable() bool { return false }

// Close does nothing.
func (MemoryPersister) Close() error { return nil }

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

	// Set by prep.
	txn *txn.Txn
	// multiTypes are the types a multi's ops were prepared as (see multiOp).
	multiTypes []proto.OpCode

	// Set by apply.
	zxid   int64
	err    proto.Code
	result tree.Result
	// completed is set (under the connection's fifo lock) once the write
	// has been applied, or for reads once they may run.
	completed bool
	reply     []byte
	// done runs on the apply goroutine after the txn is applied.
	done func(*request)
	// closeAfter closes the connection once the reply is written.
	closeAfter bool
}

// isWrite: goes through prep/persist/apply (sync goes through the pipe too,
// without a txn, so it waits for every write prepared before it).
func (r *request) viaPipeline() bool {
	return r.op.IsWrite() || r.op == proto.OpSync
}

// submit runs the prep and propose step on the caller's goroutine (a
// connection's reader, the ticker): it orders the write, gives it the next
// zxid, turns it into a txn and hands the entry to the persist step. Doing
// this inline rather than on a prep goroutine saves a goroutine hand-off per
// write. proposeMu keeps zxid order and persist order the same. Persist
// blocks when the log's queue is full, which is the backpressure on clients
// that write faster than the disk.
func (s *Server) submit(r *request) {
	s.proposeMu.Lock()
	defer s.proposeMu.Unlock()
	select {
	case <-s.stopping:
		r.err = proto.ErrConnectionLoss
		if r.done != nil {
			r.done(r)
		}
		return
	default:
	}
	s.inPipeline.Add(1)
	if r.op == proto.OpSync {
		s.persist.Persist(0, nil, func(err error) { s.commit(r, err) })
		return
	}
	s.prepMu.Lock()
	s.lastZxidPrepared++
	zxid := s.lastZxidPrepared
	t := s.prepare(r, zxid, time.Now().UnixMilli())
	s.prepMu.Unlock()
	r.txn = t
	r.zxid = zxid
	s.proposeEnc.Reset()
	t.Encode(s.proposeEnc)
	entry := append([]byte(nil), s.proposeEnc.Bytes()...)
	s.persist.Persist(zxid, entry, func(err error) { s.commit(r, err) })
}

// commit is the quorum step: a standalone server is a quorum of one, so a
// persisted txn is committed at once.
func (s *Server) commit(r *request, err error) {
	if err != nil {
		s.fatal("persisting zxid 0x%x failed, refusing further writes: %v", r.zxid, err)
		return
	}
	select {
	case s.applyCh <- r:
	case <-s.stopping:
		// The apply step has stopped; the txn is in the log and is
		// replayed at the next start.
	}
}

// applyLoop applies committed txns in zxid order, triggers watches and
// completes the requests.
func (s *Server) applyLoop() {
	defer close(s.applyDone)
	for {
		var r *request
		select {
		case r = <-s.applyCh:
		case <-s.stopping:
			return
		}
		if r.txn != nil {
			s.apply(r)
		}
		if r.done != nil {
			r.done(r)
		}
		s.inPipeline.Add(-1)
	}
}

func (s *Server) apply(r *request) {
	s.applyMu.Lock()
	s.dbMu.Lock()
	res := s.tree.Apply(r.txn)
	for _, ev := range res.Events {
		s.deliverEvent(ev, r.zxid)
	}
	s.recordDigest(r.zxid)
	s.dbMu.Unlock()
	s.applyMu.Unlock()
	r.result = res
	if r.txn.Header.Type != proto.OpError && r.op != proto.OpMulti && res.Err != proto.OK {
		// Prep validated this txn against the pending tree, so the tree
		// refusing it means the two disagree: a bug, not a client error.
		s.log.Error("applying txn failed", "zxid", hexZxid(r.zxid), "op", r.op.String(), "err", res.Err.Error())
	}
	if r.err == proto.OK && r.txn.Header.Type == proto.OpError {
		if e, ok := r.txn.Body.(*txn.Error); ok {
			r.err = e.Err
		}
	}
	switch r.op {
	case proto.OpCloseSession:
		s.sessMu.Lock()
		s.sessions.Remove(r.session)
		s.sessMu.Unlock()
	}
	s.dropChanges(r.zxid)
	s.stats.txnApplied(r)
	if s.snap != nil {
		s.snap.applied()
	}
}
