package server

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/zkd/zkd/internal/jute"
	"github.com/zkd/zkd/internal/prep"
	"github.com/zkd/zkd/internal/proto"
	"github.com/zkd/zkd/internal/txn"
	"github.com/zkd/zkd/internal/zab"
)

// inboxSize bounds the writes waiting for the driver; submitters block
// behind it (globalOutstandingLimit bounds them first).
const inboxSize = 1024

// maxDrain is how many inbox requests one turn of the driver prepares
// before it hands their entries to the log: large enough to batch, small
// enough that the log starts on the first ones early.
const maxDrain = 256

// driver is the one loop around zab: it prepares writes (prep, in zxid
// order), proposes them, carries out each Ready (epoch files, appends
// through the log, committed entries to the apply step) and steps the
// log's fsync completions back into zab as the local ACK. It is the only
// goroutine that touches node and prep; it holds no lock while it waits on
// the log or the apply step.
type driver struct {
	s    *Server
	node *zab.Node
	prep *prep.State
	log  Log

	inbox chan *request
	ticks <-chan time.Time

	// Set by the log's completions (on its goroutine), read by the loop.
	persisted  atomic.Int64
	persistErr atomic.Pointer[error]
	wake       chan struct{}
	stepped    int64 // the last persisted zxid stepped into node

	// proposed are the local requests with txns in flight, in zxid order;
	// syncs the local syncs in flight by id.
	proposed []*request
	syncs    map[uint64]*request
	syncID   uint64

	enc *jute.Encoder
}

func newDriver(s *Server, node *zab.Node, log Log, ticks <-chan time.Time) *driver {
	d := &driver{
		s: s, node: node, log: log, ticks: ticks,
		prep: prep.New(prep.Config{MaxBuffer: s.maxBuffer, ExtendedTypes: s.cfg.ExtendedTypesEnabled,
			ReconfigEnabled: s.cfg.ReconfigEnabled, Digest: s.cfg.DigestEnabled}),
		inbox: make(chan *request, inboxSize),
		wake:  make(chan struct{}, 1),
		syncs: map[uint64]*request{},
		enc:   jute.NewEncoder(make([]byte, 0, 4096)),
	}
	d.persisted.Store(node.Committed())
	d.stepped = node.Committed()
	return d
}

// run is the loop; it returns when the server stops.
func (d *driver) run() {
	defer close(d.s.driverDone)
	s := d.s
	for {
		select {
		case <-s.stopping:
			return
		case r := <-d.inbox:
			d.propose(r)
		drain:
			for i := 1; i < maxDrain; i++ {
				select {
				case r = <-d.inbox:
					d.propose(r)
				default:
					break drain
				}
			}
		case <-d.wake:
		case now := <-d.ticks:
			d.node.Tick()
			d.tick(now)
		}
		if errp := d.persistErr.Load(); errp != nil {
			s.fatal("persisting a transaction failed, refusing further writes: %v", *errp)
			return
		}
		if p := d.persisted.Load(); p > d.stepped {
			d.stepped = p
			if err := d.node.Step(zab.Message{Type: zab.MsgPersisted, Zxid: p}); err != nil {
				s.fatal("%v", err)
				return
			}
		}
		for d.node.HasReady() {
			if !d.carryOut(d.node.Ready()) {
				return
			}
			d.node.Advance()
		}
	}
}

// propose prepares one write and proposes its txn (or a sync marker).
func (d *driver) propose(r *request) {
	if r.op == proto.OpSync {
		d.syncID++
		if err := d.node.Sync(d.syncID); err != nil {
			d.refuse(r, err)
			return
		}
		d.syncs[d.syncID] = r
		return
	}
	zxid, err := d.node.NextZxid()
	if err != nil {
		d.refuse(r, err)
		return
	}
	entry := d.s.prepare(d.prep, d.enc, r, zxid)
	if err := d.node.Propose(zab.Entry{Zxid: zxid, Data: entry}); err != nil {
		d.refuse(r, err)
		return
	}
	d.proposed = append(d.proposed, r)
}

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

// refuse completes a request zab would not take.
func (d *driver) refuse(r *request, err error) {
	d.s.log.Warn("write refused", "op", r.op.String(), "session", hexID(r.session), "err", err)
	r.err = proto.ErrConnectionLoss
	if errors.Is(err, zab.ErrNotLeader) {
		r.err = proto.ErrNotReadOnly
	}
	d.s.inPipeline.Add(-1)
	if r.done != nil {
		r.done(r)
	}
}

// carryOut does what a Ready says, in its order; false when the server is
// stopping or can no longer keep its promises.
func (d *driver) carryOut(rd zab.Ready) bool {
	s := d.s
	if rd.AcceptedEpoch >= 0 || rd.CurrentEpoch >= 0 {
		if err := d.log.WriteEpochs(rd.AcceptedEpoch, rd.CurrentEpoch); err != nil {
			s.fatal("writing the epoch files failed: %v", err)
			return false
		}
	}
	for _, e := range rd.Entries {
		zxid := e.Zxid
		d.log.Append(zxid, e.Data, func(err error) { d.persistedUpTo(zxid, err) })
	}
	if len(rd.Committed) == 0 {
		return true
	}
	batch := make([]committed, 0, len(rd.Committed))
	for _, e := range rd.Committed {
		switch e.Type {
		case zab.EntrySync:
			r := d.syncs[e.ID]
			delete(d.syncs, e.ID)
			if r != nil {
				batch = append(batch, committed{zxid: e.Zxid, req: r})
			}
		case zab.EntryTxn:
			c := committed{zxid: e.Zxid}
			if len(d.proposed) > 0 && d.proposed[0].zxid == e.Zxid {
				c.req = d.proposed[0]
				c.tx = c.req.txn
				d.proposed[0] = nil
				d.proposed = d.proposed[1:]
			} else {
				// A txn this server did not prepare (a follower's commit):
				// decode it from its log record.
				tx, err := txn.Unmarshal(e.Data, s.maxBuffer+max(1024, s.maxBuffer))
				if err != nil {
					s.fatal("committed txn 0x%x does not decode: %v", uint64(e.Zxid), err)
					return false
				}
				c.tx = tx
			}
			batch = append(batch, c)
		}
	}
	select {
	case s.applyCh <- batch:
		return true
	case <-s.stopping:
		// The txns are in the log and are replayed at the next start.
		return false
	}
}

// persistedUpTo runs on the log's goroutine as each append completes, in
// order; it must not block.
func (d *driver) persistedUpTo(zxid int64, err error) {
	if err != nil {
		d.persistErr.CompareAndSwap(nil, &err)
	} else {
		d.persisted.Store(zxid)
	}
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// tick expires sessions and, when due, removes empty containers and
// expired TTL nodes. Their closeSession and delete requests are proposed
// here, on the driver, rather than through the inbox it drains.
func (d *driver) tick(now time.Time) {
	s := d.s
	s.sessMu.Lock()
	expired := s.sessions.Expired(now.UnixMilli())
	s.sessMu.Unlock()
	for _, id := range expired {
		s.inPipeline.Add(1)
		d.propose(s.expire(id, now))
	}
	for _, p := range s.dueContainers(now) {
		s.inPipeline.Add(1)
		d.propose(&request{op: proto.OpDeleteContainer, body: &proto.PathRequest{Path: p}, start: now})
	}
}

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
