package server

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zkd/zkd/internal/admin"
	"github.com/zkd/zkd/internal/config"
	"github.com/zkd/zkd/internal/ensemble"
	"github.com/zkd/zkd/internal/jute"
	"github.com/zkd/zkd/internal/prep"
	"github.com/zkd/zkd/internal/proto"
	"github.com/zkd/zkd/internal/quorum"
	"github.com/zkd/zkd/internal/recovery"
	"github.com/zkd/zkd/internal/session"
	"github.com/zkd/zkd/internal/storage"
	"github.com/zkd/zkd/internal/tree"
	"github.com/zkd/zkd/internal/txn"
	"github.com/zkd/zkd/internal/zab"
)

// EnsembleOptions make a server a member of an ensemble.
type EnsembleOptions struct {
	Members map[int64]ensemble.Member
	Voters  []int64
	// Observers never vote.
	Observers []int64
	// QuorumConfig is the configuration text sent with notifications.
	QuorumConfig string
	// Tick is one tick of zab's clock (default 50ms); tickTime is a whole
	// number of them.
	Tick time.Duration
	// FinalizeWait and MaxNotificationInterval in ticks (defaults: 200ms
	// and 60s, FastLeaderElection's).
	FinalizeWait, MaxNotificationInterval int
	// ListenAll listens on every address for the quorum and election
	// ports (quorumListenOnAllIPs).
	ListenAll bool
	// CnxTimeout and ElectionBindTries are zoo.cfg's cnxTimeout and
	// electionPortBindRetry (zero: Apache's defaults, 5s and 3; negative
	// tries: no limit, electionPortBindRetry=0).
	CnxTimeout        time.Duration
	ElectionBindTries int
	// Unsynced: this observer keeps what it replicates in memory only
	// (syncEnabled=false).
	Unsynced bool
}

// replicated is the server's side of its zab peer: it runs on the
// replica's driver (every method is called there), prepares writes when
// this server leads and forwards them to the leader when it learns, and
// matches the committed txns to the requests of this server's clients.
// A standalone server runs it too, on an ensemble of one.
type replicated struct {
	// standalone: an ensemble of one that opens no quorum port and shows
	// itself as ZooKeeper's standalone mode.
	standalone bool
	// expiryEvery is how often the leader looks for expired sessions: half
	// a tickTime, as the standalone server's ticks came (0: every tick).
	expiryEvery time.Duration
	// diffsCounted, snapsCounted: the peer's syncs already added to the
	// diff_count and snap_count metrics.
	diffsCounted, snapsCounted int64
	// proposalSizes are the leader's proposal sizes for mntr and stat.
	proposalSizes bufferStats

	s    *Server
	rep  *ensemble.Replica
	prep *prep.State
	// voters is the number of voting members (mntr's zk_quorum_size).
	voters int
	enc    *jute.Encoder

	// Leader: requests with txns in flight in zxid order (a learner's
	// have no conn), and syncs by id.
	proposed []*request
	syncs    map[uint64]pendingSync
	syncID   uint64
	// Learner: the requests forwarded, per session in order, and the
	// forwarded syncs in order.
	forwarded map[int64][]*request
	fwdSyncs  []*request
	// Learner: the reconnects waiting for the leader's REVALIDATE answer,
	// per session in order.
	revalidating map[int64][]chan bool
	handed       int64 // the last zxid handed to the apply step
	// leadFrom is the last zxid handed when this server began to lead:
	// txns it did not prepare, which prep reads from the tree, so the
	// first proposals wait until they are applied.
	leadFrom   int64
	lastTick   time.Time
	wasServing bool
	wasLeading bool
	status     atomic.Pointer[ensembleStatus]
	// figures are the leader's learner counts as of the last tick (nil
	// when not leading), for mntr without a trip to the driver.
	figures atomic.Pointer[zab.LeaderFigures]

	electMu   sync.Mutex
	elections []admin.Election // the last few, oldest first
	lookedAt  time.Time        // when the current LOOKING began

	// Leader: the session owner token of each learner's connection
	// (owner.go), and the last token handed out.
	learnerOwners map[int64]int64
	nextOwner     int64
}

type pendingSync struct {
	req     *request // a local client's
	learner int64    // else the learner that forwarded it
}

// ensembleStatus is what the admin surface shows, set on the driver.
type ensembleStatus struct {
	role                        zab.Role
	leader                      int64
	serving                     bool
	currentEpoch, acceptedEpoch int64
	// since is when the peer took its role (a leader's uptime counts from
	// LEADING, as Apache's Leader.lead starts its clock).
	since time.Time
}

// ensembleLog adds the TRUNC a learner needs to the server's log.
type ensembleLog struct{ Log }

func (l ensembleLog) Truncate(zxid int64) error {
	if t, ok := l.Log.(interface{ Truncate(int64) error }); ok {
		return t.Truncate(zxid)
	}
	return errors.New("this log cannot be truncated (an in-memory server)")
}

// unsyncedLog is an observer's log with syncEnabled=false: a txn counts
// as logged at once and is not written, as Apache's observer then runs no
// SyncRequestProcessor. The epoch files and TRUNC still go to disk.
type unsyncedLog struct{ ensembleLog }

func (unsyncedLog) Append(zxid int64, entry []byte, done func(error)) { done(nil) }

// startReplicated starts the server's zab peer: a member of the ensemble
// o describes, or, with o nil, a standalone peer (an ensemble of one that
// opens no port, ticking every half tickTime).
func (s *Server) startReplicated(o *EnsembleOptions, cur, acc, tmp, snapZxid int64) error {
	cfg := s.cfg
	standalone := o == nil
	tickTime := time.Duration(cfg.TickTime) * time.Millisecond
	if tickTime <= 0 {
		tickTime = 2 * time.Second
	}
	if standalone {
		o = &EnsembleOptions{Voters: []int64{s.serverID}, Tick: tickTime / 2}
	}
	tick := o.Tick
	if tick <= 0 {
		tick = 50 * time.Millisecond
	}
	perTick := max(2, int(time.Duration(cfg.TickTime)*time.Millisecond/tick))
	fw, mni := o.FinalizeWait, o.MaxNotificationInterval
	if fw <= 0 {
		fw = max(1, int(time.Duration(cfg.FinalizeWait)*time.Millisecond/tick))
	}
	if mni <= 0 {
		mni = int(60 * time.Second / tick)
	}
	e := &replicated{s: s, standalone: standalone, voters: len(o.Voters), syncs: map[uint64]pendingSync{}, forwarded: map[int64][]*request{},
		revalidating: map[int64][]chan bool{}, enc: jute.NewEncoder(make([]byte, 0, 4096)), handed: s.applied.Load(),
		prep: prep.New(prep.Config{MaxBuffer: s.maxBuffer, ExtendedTypes: cfg.ExtendedTypesEnabled,
			ReconfigEnabled: cfg.ReconfigEnabled, Digest: cfg.DigestEnabled})}
	e.status.Store(&ensembleStatus{role: zab.Looking, leader: -1, since: s.now()})
	var log ensemble.Log = ensembleLog{s.persist}
	if o.Unsynced {
		log = unsyncedLog{ensembleLog{s.persist}}
		s.log.Info("observer with syncEnabled=false: replicated txns are applied, not logged; a restart syncs from the leader again")
	}
	rep, err := ensemble.Start(ensemble.Config{
		Peer: zab.PeerConfig{Config: zab.Config{ID: s.serverID, LastZxid: s.applied.Load(), CurrentEpoch: cur,
			AcceptedEpoch: acc, CurrentEpochTmp: tmp}, HistoryBase: snapZxid,
			Voters: o.Voters, Observers: o.Observers, TickTime: perTick, InitLimit: cfg.InitLimit, SyncLimit: cfg.SyncLimit,
			FinalizeWait: fw, MaxNotificationInterval: mni, Standalone: standalone},
		Members: o.Members, QuorumConfig: o.QuorumConfig, ListenAll: o.ListenAll, Log: log,
		ElectionTimeout: o.CnxTimeout, ElectionBindTries: o.ElectionBindTries,
		Apply: e.apply, Reload: e.reload, Snapshot: e.snapshot, Install: e.install, Host: e,
		Tick: tick, Ticks: s.ticks, Logger: s.log,
	})
	if err != nil {
		return err
	}
	if !standalone {
		e.expiryEvery = tickTime / 2
	}
	e.rep = rep
	s.ens = e
	return nil
}

// run waits for the replica to stop: a replica that stops on its own
// could not keep its log, and the server stops with it.
func (e *replicated) run() {
	defer close(e.s.driverDone)
	select {
	case <-e.s.stopping:
		e.rep.Close()
	case <-e.rep.Done():
		e.s.fatal("the zab driver stopped: its log or epoch files could not be written (see the log above)")
	}
}

// submit hands a write to the driver.
func (e *replicated) submit(r *request) {
	s := e.s
	s.inPipeline.Add(1)
	if !e.rep.Do(func(p *zab.Peer) { e.propose(p, r) }) {
		s.inPipeline.Add(-1)
		r.err = proto.ErrConnectionLoss
		if r.done != nil {
			r.done(r)
		}
	}
}

// propose prepares and proposes a write on the leader, or forwards it.
func (e *replicated) propose(p *zab.Peer, r *request) {
	if !p.Serving() {
		e.refuse(r, errors.New("not serving"))
		return
	}
	if p.Role() != zab.Leading {
		e.forward(p, r)
		return
	}
	if e.s.applied.Load() < e.leadFrom {
		// Prep checks versions and predicts the digest against the tree:
		// the previous epoch's last commits must be in it first.
		if err := e.waitApplied(); err != nil {
			e.refuse(r, err)
			return
		}
	}
	if r.op == proto.OpSync {
		e.syncID++
		if err := p.Sync(e.syncID); err != nil {
			e.refuse(r, err)
			return
		}
		e.syncs[e.syncID] = pendingSync{req: r, learner: -1}
		return
	}
	zxid, err := p.NextZxid()
	if err != nil {
		e.refuse(r, err)
		return
	}
	data := e.s.prepare(e.prep, e.enc, r, zxid)
	if err := p.Propose(zab.Entry{Zxid: zxid, Data: data}); err != nil {
		e.refuse(r, err)
		return
	}
	e.proposalSizes.record(int64(len(data)))
	e.proposed = append(e.proposed, r)
}

// forward sends a client's write (or sync) to the leader as REQUEST, as
// Learner.request does; the reply leaves once its commit is applied here.
func (e *replicated) forward(p *zab.Peer, r *request) {
	var body []byte
	switch {
	case r.op == proto.OpCreateSession:
		body = jute.Marshal(intRecord(r.timeout))
	case r.body != nil:
		body = jute.Marshal(r.body)
	}
	auth := make([]quorum.ID, 0, len(r.ids))
	for _, id := range r.ids {
		auth = append(auth, quorum.ID{Scheme: id.Scheme, ID: id.ID})
	}
	pkt := quorum.QuorumPacket{Type: quorum.PacketRequest, Zxid: -1, AuthInfo: auth,
		Data: quorum.EncodeRequest(quorum.Request{Session: r.session, Cxid: r.xid, Type: int32(r.op), Body: body})}
	if !e.rep.SendPacket(p.Leader(), pkt) {
		e.refuse(r, errors.New("no connection to the leader"))
		return
	}
	if r.op == proto.OpSync {
		e.fwdSyncs = append(e.fwdSyncs, r)
	} else {
		e.forwarded[r.session] = append(e.forwarded[r.session], r)
	}
}

type intRecord int32

func (v intRecord) Encode(enc *jute.Encoder) { enc.Int(int32(v)) }
func (v intRecord) Decode(d *jute.Decoder)   {}

// refuse completes a request that cannot be proposed now: the client
// gets ConnectionLoss and goes to another server.
func (e *replicated) refuse(r *request, err error) {
	e.s.log.Debug("write refused", "op", r.op.String(), "session", hexValue(r.session), "err", err)
	r.err = proto.ErrConnectionLoss
	e.s.inPipeline.Add(-1)
	if r.done != nil {
		r.done(r)
	}
}

// Request is a learner's forwarded client request (the leader prepares it
// as its own; the reply leaves from the learner).
func (e *replicated) Request(p *zab.Peer, from int64, q quorum.Request, auth []quorum.ID) {
	s := e.s
	op := proto.OpCode(q.Type)
	r := &request{session: q.Session, xid: q.Cxid, op: op, start: time.Now(), owner: e.ownerOf(from)}
	for _, id := range auth {
		r.ids = append(r.ids, proto.ID{Scheme: id.Scheme, ID: id.ID})
	}
	d := jute.NewDecoder(q.Body, s.maxBuffer)
	switch op {
	case proto.OpCreateSession:
		r.timeout = d.Int()
	case proto.OpCloseSession:
	default:
		body, known := decodeBody(op)
		if !known || !(op.IsWrite() || op == proto.OpSync) {
			s.log.Warn("a learner forwarded a request that is not a write; dropped", "sid", from, "op", op.String())
			return
		}
		if body != nil {
			body.Decode(d)
		}
		r.body = body
	}
	if d.Err() != nil {
		s.log.Warn("a learner forwarded a malformed request; dropped", "sid", from, "op", op.String(), "err", d.Err())
		return
	}
	if op == proto.OpSync {
		// PrepRequestProcessor checks a sync's session too: no refusal
		// reaches the learner (its sync is answered all the same), but a
		// session without an owner becomes the learner's.
		s.sessMu.Lock()
		s.sessions.CheckSession(r.session, r.owner)
		s.sessMu.Unlock()
		if p.Serving() {
			e.syncID++
			if p.Sync(e.syncID) == nil {
				e.syncs[e.syncID] = pendingSync{learner: from}
			}
		}
		return
	}
	if !p.Serving() {
		return
	}
	s.inPipeline.Add(1)
	e.propose(p, r)
}

// Synced: the leader answered the oldest forwarded sync; it completes
// behind every commit handed to the apply step before it.
func (e *replicated) Synced(p *zab.Peer) {
	if len(e.fwdSyncs) == 0 {
		return
	}
	r := e.fwdSyncs[0]
	e.fwdSyncs = e.fwdSyncs[1:]
	e.handTo([]committed{{zxid: e.handed, req: r}})
}

// Touches: a learner's clients kept these sessions alive.
func (e *replicated) Touches(from int64, ts []quorum.Touch) {
	s := e.s
	now := s.now().UnixMilli()
	s.sessMu.Lock()
	for _, t := range ts {
		s.sessions.Touch(t.Session, now)
	}
	s.sessMu.Unlock()
}

// PendingTouches hands out the sessions this server's clients touched
// since the last ping.
func (e *replicated) PendingTouches() []quorum.Touch {
	s := e.s
	s.sessMu.Lock()
	defer s.sessMu.Unlock()
	out := make([]quorum.Touch, 0, len(s.touched))
	for id, to := range s.touched {
		out = append(out, quorum.Touch{Session: id, Timeout: to})
	}
	clear(s.touched)
	return out
}

// Revalidate answers a learner whose client reconnected with a session
// (Leader.revalidateSession): a live session is touched and belongs to
// that learner from now on.
func (e *replicated) Revalidate(from, session int64, timeout int32) bool {
	return e.revalidateFor(e.ownerOf(from), session)
}

// revalidateFor touches a reconnecting session and makes owner its owner.
func (e *replicated) revalidateFor(owner, session int64) bool {
	s := e.s
	s.sessMu.Lock()
	defer s.sessMu.Unlock()
	if !s.sessions.Touch(session, s.now().UnixMilli()) {
		return false
	}
	return s.sessions.SetOwner(session, owner)
}

// revalidate asks whether a reconnecting session lives. The leader
// answers from its own table; a learner sends REVALIDATE to the leader
// and answers when Revalidated comes. The channel closes without an
// answer when this server is not serving or its role ends first.
func (e *replicated) revalidate(session int64, timeout int32) <-chan bool {
	ch := make(chan bool, 1)
	if !e.rep.Do(func(p *zab.Peer) {
		switch {
		case !p.Serving():
			close(ch)
		case p.Role() == zab.Leading:
			// LeaderZooKeeperServer.revalidateSession: the leader owns the
			// sessions of its own clients.
			ch <- e.revalidateFor(ownerSelf, session)
		default:
			pkt := quorum.QuorumPacket{Type: quorum.PacketRevalidate, Zxid: -1, Data: quorum.EncodeRevalidate(session, timeout)}
			if !e.rep.SendPacket(p.Leader(), pkt) {
				close(ch)
				return
			}
			e.revalidating[session] = append(e.revalidating[session], ch)
		}
	}) {
		close(ch)
	}
	return ch
}

// Revalidated: the leader's answer to the oldest REVALIDATE this learner
// sent for the session. A live session is touched here too, so that this
// server's next ping carries it.
func (e *replicated) Revalidated(session int64, valid bool) {
	q := e.revalidating[session]
	if len(q) == 0 {
		return
	}
	if len(q) == 1 {
		delete(e.revalidating, session)
	} else {
		e.revalidating[session] = q[1:]
	}
	if valid {
		s := e.s
		s.sessMu.Lock()
		s.sessions.Touch(session, s.now().UnixMilli())
		s.sessMu.Unlock()
	}
	q[0] <- valid
}

// RoleChanged: a server that stops serving drops its clients (they fail
// over to another server, as ZooKeeper's do) and every request in
// flight; one that starts serving takes clients again. A new leader
// restarts every session's timeout: liveness lived on the old leader.
func (e *replicated) RoleChanged(p *zab.Peer) {
	s := e.s
	serving, leading := p.Serving(), p.Role() == zab.Leading
	since := s.now()
	if prev := e.status.Load(); prev.role == p.Role() {
		since = prev.since
	}
	e.status.Store(&ensembleStatus{role: p.Role(), leader: p.Leader(), serving: serving,
		currentEpoch: p.CurrentEpoch(), acceptedEpoch: p.AcceptedEpoch(), since: since})
	if serving == e.wasServing && leading == e.wasLeading {
		return
	}
	e.wasServing, e.wasLeading = serving, leading
	s.epochZxid.Store(0)
	if serving && leading {
		s.epochZxid.Store(p.CurrentEpoch() << 32)
	}
	if !e.standalone {
		e.recordElection(p, serving)
	}
	e.prep.Reset()
	e.failPending()
	if !serving {
		s.serving.Store(false)
		s.closeClients()
		return
	}
	if leading {
		e.leadFrom = e.handed
		now := s.now().UnixMilli()
		s.sessMu.Lock()
		for id, to := range s.sessions.Snapshot() {
			s.sessions.Add(id, to, now)
		}
		// A new leader's tracker knows no owners: each session is the
		// first server's that sends one of its requests, or revalidates it.
		s.sessions.ClearOwners()
		s.sessMu.Unlock()
		e.learnerOwners = map[int64]int64{}
		e.lastTick = s.now()
	}
	s.serving.Store(true)
}

// recordElection keeps the last 10 elections for the admin surface and
// logs when serving starts (the round itself is logged by the driver).
func (e *replicated) recordElection(p *zab.Peer, serving bool) {
	now := e.s.now()
	e.electMu.Lock()
	defer e.electMu.Unlock()
	if !serving {
		if e.lookedAt.IsZero() {
			e.lookedAt = now
		}
		return
	}
	start := e.lookedAt
	if start.IsZero() {
		start = e.s.started
	}
	el := admin.Election{Start: start, Took: now.Sub(start), LeaderID: p.Leader(), Epoch: p.CurrentEpoch()}
	e.lookedAt = time.Time{}
	e.elections = append(e.elections, el)
	if len(e.elections) > 10 {
		e.elections = e.elections[len(e.elections)-10:]
	}
	e.s.log.Info("serving after election", "state", p.Role().String(), "leader", el.LeaderID, "epoch", el.Epoch,
		"zxid", hexZxid(p.LastLogged()), "took", el.Took.Round(time.Millisecond).String())
}

func (e *replicated) recentElections() []admin.Election {
	e.electMu.Lock()
	defer e.electMu.Unlock()
	return append([]admin.Election(nil), e.elections...)
}

// failPending ends the requests of a role that ended with ConnectionLoss.
func (e *replicated) failPending() {
	var all []*request
	all = append(all, e.proposed...)
	for _, rs := range e.forwarded {
		all = append(all, rs...)
	}
	all = append(all, e.fwdSyncs...)
	for _, ps := range e.syncs {
		if ps.req != nil {
			all = append(all, ps.req)
		}
	}
	for _, q := range e.revalidating {
		for _, ch := range q {
			close(ch)
		}
	}
	clear(e.revalidating)
	e.proposed, e.fwdSyncs = nil, nil
	clear(e.forwarded)
	clear(e.syncs)
	for _, r := range all {
		e.refuse(r, errors.New("the role ended"))
	}
}

// Tick keeps the leader's figures for mntr, and runs the leader's session
// expiry and container checks.
func (e *replicated) Tick(p *zab.Peer) {
	s := e.s
	if f, ok := p.LeaderFigures(); ok {
		e.figures.Store(&f)
	} else {
		e.figures.Store(nil)
	}
	diffs, snaps := p.SyncsSent()
	s.metrics.DiffCount.Add(diffs - e.diffsCounted)
	s.metrics.SnapCount.Add(snaps - e.snapsCounted)
	e.diffsCounted, e.snapsCounted = diffs, snaps
	if p.Role() != zab.Leading || !p.Serving() {
		return
	}
	now := s.now()
	if now.Sub(e.lastTick) < e.expiryEvery {
		return
	}
	e.lastTick = now
	s.sessMu.Lock()
	expired := s.sessions.Expired(now.UnixMilli())
	s.sessMu.Unlock()
	for _, id := range expired {
		s.inPipeline.Add(1)
		e.propose(p, s.expire(id, now))
	}
	for _, path := range s.dueContainers(now) {
		s.inPipeline.Add(1)
		e.propose(p, &request{op: proto.OpDeleteContainer, body: &proto.PathRequest{Path: path}, start: now})
	}
}

// apply matches committed entries with this server's requests and hands
// them to the apply step.
func (e *replicated) apply(entries []zab.Entry) {
	s := e.s
	batch := make([]committed, 0, len(entries))
	for _, en := range entries {
		if en.Type == zab.EntrySync {
			ps, ok := e.syncs[en.ID]
			delete(e.syncs, en.ID)
			switch {
			case !ok:
			case ps.req != nil:
				batch = append(batch, committed{zxid: en.Zxid, req: ps.req})
			default:
				e.rep.SendPacket(ps.learner, quorum.QuorumPacket{Type: quorum.PacketSync, Zxid: en.Zxid})
			}
			continue
		}
		c := committed{zxid: en.Zxid}
		if len(e.proposed) > 0 && e.proposed[0].zxid == en.Zxid {
			c.req = e.proposed[0]
			c.tx = c.req.txn
			e.proposed[0] = nil
			e.proposed = e.proposed[1:]
		} else {
			tx, err := txn.Unmarshal(en.Data, s.maxBuffer+max(1024, s.maxBuffer))
			if err != nil {
				s.fatal("committed txn 0x%x does not decode: %v", uint64(en.Zxid), err)
				return
			}
			c.tx = tx
			if q := e.forwarded[tx.Header.ClientID]; len(q) > 0 && q[0].xid == tx.Header.Cxid {
				c.req = q[0]
				c.req.txn, c.req.zxid = tx, en.Zxid
				if len(q) == 1 {
					delete(e.forwarded, tx.Header.ClientID)
				} else {
					e.forwarded[tx.Header.ClientID] = q[1:]
				}
			}
		}
		batch = append(batch, c)
	}
	e.handTo(batch)
}

func (e *replicated) handTo(batch []committed) {
	for _, c := range batch {
		if c.tx != nil {
			e.handed = max(e.handed, c.zxid)
		}
	}
	select {
	case e.s.applyCh <- batch:
	case <-e.s.stopping:
	}
}

// waitApplied waits until the apply step has applied everything handed.
func (e *replicated) waitApplied() error {
	for e.s.applied.Load() < e.handed {
		select {
		case <-e.s.stopping:
			return ErrStopped
		case <-time.After(time.Millisecond):
		}
	}
	return nil
}

// snapshot serializes the state for a learner's SNAP: sessions and tree
// as a snapshot file holds them, after every committed entry applied.
func (e *replicated) snapshot() (int64, []byte, error) {
	s := e.s
	if err := e.waitApplied(); err != nil {
		return 0, nil, err
	}
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	s.sessMu.Lock()
	sessions := s.sessions.Snapshot()
	s.sessMu.Unlock()
	enc := jute.NewEncoder(nil)
	storage.EncodeSessions(enc, sessions)
	s.dbMu.RLock()
	s.tree.Serialize(enc)
	zxid := s.tree.LastZxid()
	s.dbMu.RUnlock()
	return zxid, enc.Bytes(), nil
}

// install replaces the state with the leader's snapshot, durably: the
// snapshot file first, then the log cut after it, then the tree.
func (e *replicated) install(zxid int64, db []byte) error {
	s := e.s
	if err := e.waitApplied(); err != nil {
		return err
	}
	t, sessions := tree.New(), map[int64]int32{}
	if len(db) > 0 {
		d := jute.NewDecoder(db, s.maxBuffer+max(1024, s.maxBuffer))
		if sessions = storage.DecodeSessions(d); sessions == nil {
			return errors.New("the leader's snapshot: bad sessions section")
		}
		var err error
		if t, err = tree.Deserialize(d); err != nil {
			return fmt.Errorf("the leader's snapshot: %w", err)
		}
		if d.Err() != nil {
			return fmt.Errorf("the leader's snapshot: %w", d.Err())
		}
	}
	t.SetLastZxid(zxid)
	if s.persist.Durable() {
		if err := e.setAsideNewerSnapshots(zxid); err != nil {
			return err
		}
		snap := storage.Snapshot{Zxid: zxid, Sessions: sessions}
		if s.cfg.DigestEnabled {
			snap.Digest = &storage.ZxidDigest{Version: txn.DigestVersion, Zxid: zxid, Digest: t.Digest()}
		}
		if _, err := storage.WriteSnapshot(s.fsys, s.cfg.DataDir, snap, func(enc *jute.Encoder, flush func([]byte) error) error {
			return t.SerializeStream(enc, flush)
		}, storage.SnapshotOptions{Compression: s.cfg.SnapshotCompression, MaxEntrySize: s.cfg.JuteMaxBuffer, Logger: s.log}); err != nil {
			return fmt.Errorf("writing the leader's snapshot: %w", err)
		}
		if err := (ensembleLog{s.persist}).Truncate(zxid); err != nil {
			return fmt.Errorf("cutting the log after the leader's snapshot: %w", err)
		}
	}
	s.log.Info("installed the leader's snapshot", "zxid", hexZxid(zxid), "nodes", t.NodeCount(), "sessions", len(sessions))
	e.replaceState(t, sessions)
	return nil
}

// setAsideNewerSnapshots renames the snapshots newer than zxid (a history
// the leader does not have), so that recovery starts from the leader's.
func (e *replicated) setAsideNewerSnapshots(zxid int64) error {
	s := e.s
	dir := filepath.Join(s.cfg.DataDir, "version-2")
	names, err := s.fsys.ReadDir(dir)
	if err != nil {
		return nil // no directory yet: nothing to set aside
	}
	for _, n := range names {
		rest, ok := strings.CutPrefix(n, "snapshot.")
		if !ok {
			continue
		}
		if i := strings.IndexByte(rest, '.'); i >= 0 {
			continue // a compressed or already set aside file keeps its suffix; only plain names are ours
		}
		z, err := strconv.ParseUint(rest, 16, 64)
		if err != nil || int64(z) <= zxid {
			continue
		}
		if err := s.fsys.Rename(filepath.Join(dir, n), filepath.Join(dir, n+".diverged")); err != nil {
			return fmt.Errorf("setting aside snapshot %s: %w", n, err)
		}
		s.log.Warn("set aside a snapshot newer than the leader's", "path", filepath.Join(dir, n+".diverged"))
	}
	return s.fsys.SyncDir(dir)
}

// reload rebuilds the state from the data directory after a TRUNC.
func (e *replicated) reload(zxid int64) error {
	s := e.s
	if err := e.waitApplied(); err != nil {
		return err
	}
	if !s.persist.Durable() {
		return errors.New("an in-memory server cannot reload after a TRUNC")
	}
	rec, err := recovery.Read(s.fsys, recoveryDirs(s.cfg), s.log)
	if err != nil {
		return err
	}
	if got := rec.Tree.LastZxid(); got != zxid {
		return fmt.Errorf("after TRUNC to 0x%x the log ends at 0x%x", uint64(zxid), uint64(got))
	}
	s.log.Info("reloaded the state after TRUNC", "zxid", hexZxid(zxid))
	e.replaceState(rec.Tree, rec.Sessions)
	return nil
}

// replaceState swaps in a tree and sessions (no client is connected:
// the server is not serving while it syncs).
func (e *replicated) replaceState(t *tree.Tree, sessions map[int64]int32) {
	s := e.s
	now := s.now().UnixMilli()
	s.applyMu.Lock()
	s.dbMu.Lock()
	s.tree = t
	s.dbMu.Unlock()
	s.sessMu.Lock()
	s.sessions = session.NewTable(int64(s.cfg.TickTime), s.serverID, now)
	for id, to := range sessions {
		s.sessions.Add(id, to, now)
	}
	s.sessMu.Unlock()
	s.applied.Store(t.LastZxid())
	s.applyMu.Unlock()
	e.handed = t.LastZxid()
	e.prep.Reset()
}

// view is the admin surface's ensemble figures.
func (e *replicated) mode() string {
	st := e.status.Load()
	switch {
	case e.standalone:
		return "standalone"
	case !st.serving:
		return "looking"
	case st.role == zab.Leading:
		return "leader"
	case st.role == zab.Observing:
		return "observer"
	}
	return "follower"
}

// EnsembleFromConfig is the ensemble zoo.cfg's server.N lines describe,
// or nil for a standalone config. It refuses a server whose own address
// resolves to loopback while its peers' do not: its peers could never
// reach it (a common mistake with /etc/hosts mapping the host's own name
// to 127.0.1.1).
func EnsembleFromConfig(cfg *config.Config, resolve func(host string) ([]net.IP, error)) (*EnsembleOptions, error) {
	if cfg.Standalone() {
		return nil, nil
	}
	if resolve == nil {
		resolve = net.LookupIP
	}
	o := &EnsembleOptions{Members: map[int64]ensemble.Member{},
		ListenAll:  strings.EqualFold(strings.TrimSpace(cfg.Raw["quorumListenOnAllIPs"]), "true"),
		CnxTimeout: time.Duration(cfg.CnxTimeout) * time.Millisecond, ElectionBindTries: cfg.ElectionPortBindRetry}
	if cfg.ElectionPortBindRetry == 0 {
		o.ElectionBindTries = -1
	}
	var qc quorum.QuorumConfig
	loopback := func(host string) (bool, bool) {
		ips, err := resolve(host)
		if err != nil || len(ips) == 0 {
			return false, false // not resolvable yet (a pod not started): no verdict
		}
		for _, ip := range ips {
			if !ip.IsLoopback() {
				return false, true
			}
		}
		return true, true
	}
	selfLoop, peersElsewhere := false, false
	for _, sv := range cfg.Servers {
		o.Members[sv.ID] = ensemble.Member{Quorum: net.JoinHostPort(sv.Host, strconv.Itoa(sv.QuorumPort)),
			Election: net.JoinHostPort(sv.Host, strconv.Itoa(sv.ElectionPort)), Observer: sv.Observer}
		if sv.Observer {
			o.Observers = append(o.Observers, sv.ID)
		} else {
			o.Voters = append(o.Voters, sv.ID)
		}
		m := quorum.Member{ID: sv.ID, Observer: sv.Observer, ClientPort: sv.ClientPort,
			Addresses: []quorum.PeerAddress{{Host: sv.Host, QuorumPort: sv.QuorumPort, ElectionPort: sv.ElectionPort}}}
		if sv.ClientPort != 0 {
			m.ClientHost = sv.ClientAddress
			if m.ClientHost == "" {
				m.ClientHost = "0.0.0.0"
			}
		}
		qc.Members = append(qc.Members, m)
		isLoop, known := loopback(sv.Host)
		switch {
		case sv.ID == cfg.MyID:
			selfLoop = isLoop && known
		case known && !isLoop:
			peersElsewhere = true
		}
	}
	self, ok := o.Members[cfg.MyID]
	if !ok {
		return nil, fmt.Errorf("myid %d is not one of the server.N lines (check %s/myid, MYID or ZOO_MY_ID)", cfg.MyID, cfg.DataDir)
	}
	o.Unsynced = self.Observer && !cfg.SyncEnabled
	if selfLoop && peersElsewhere && !o.ListenAll {
		self := o.Members[cfg.MyID]
		return nil, fmt.Errorf("server.%d's address %s resolves to a loopback address while its peers' do not: they could never reach it; "+
			"give server.%d a name or address the peers can reach (check /etc/hosts), or set quorumListenOnAllIPs=true", cfg.MyID, self.Quorum, cfg.MyID)
	}
	sort.Slice(qc.Members, func(i, j int) bool { return qc.Members[i].ID < qc.Members[j].ID })
	o.QuorumConfig = qc.String()
	return o, nil
}
