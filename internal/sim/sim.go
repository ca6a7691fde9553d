package sim

import (
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/zkd/zkd/internal/storage"
	"github.com/zkd/zkd/internal/zab"
)

// Config is one simulated run.
type Config struct {
	Seed uint64
	// Voters and Observers are the ensemble's sids.
	Voters, Observers []int64
	// FaultTicks is how long faults are injected; then the network heals,
	// every server restarts and the ensemble must converge.
	FaultTicks int
	// Clients is the number of clients (each with one op at a time).
	Clients int
	// Bugs are handed to every peer (tests of the simulation itself).
	Bugs zab.Bugs
	// LocalReads: reads go to any serving server and are answered from
	// its own state at once, without a sync: ZooKeeper's ordinary reads,
	// which are not linearizable (a test that the check fails on them).
	LocalReads bool
	// Trace, when set, gets every event line as it happens.
	Trace io.Writer
}

// Result sums up a run that passed.
type Result struct {
	Ticks, Events     int
	Committed         int // txns committed
	Leaders           int // epochs established
	Ops, OpenOps      int // client ops in the history, and those left open
	Crashes, Restarts int
	TornTails         int
}

// Failure is an invariant the run broke.
type Failure struct {
	Seed uint64
	Tick int
	What string
	// Tail are the last events before the failure, one per line.
	Tail   []string
	States string
}

func (f *Failure) Error() string {
	return fmt.Sprintf("seed %d, tick %d: %s\nservers: %s\nlast events:\n%s", f.Seed, f.Tick, f.What, f.States, strings.Join(f.Tail, "\n"))
}

// Timing of the simulated servers, in ticks of the simulated clock (a
// ZooKeeper tick is tickTime simulated ticks).
const (
	tickTime     = 4
	initLimit    = 5
	syncLimit    = 3
	finalizeWait = 2
	maxNotifWait = 32
	commitLogs   = 20
	keys         = 3
	tailLines    = 300
)

type pendingSync struct {
	at    int
	zxid  int64
	marks map[string]int
}

type server struct {
	id   int64
	disk *disk
	peer *zab.Peer
	up   bool
	// boot counts starts: gen is boot<<32 | the peer's generation, so a
	// connection of an earlier life never matches.
	boot  uint64
	gen   uint64
	state []applied
	kv    [keys]kv
	// checked: state[:checked] is known to be the committed history's
	// prefix; what follows is checked again after each apply.
	checked int
	// roleEpoch is the currentEpoch when the role began: a leader whose
	// currentEpoch moves past it has a quorum's ACKEPOCH for its epoch.
	roleEpoch int64
	syncs     []pendingSync
	// The leader's client work in this generation: proposals not yet
	// applied (prep's view), and the ops waiting for a commit.
	props   []proposal
	waiting map[int64]*op  // zxid -> write
	reads   map[uint64]*op // sync id -> read
}

type proposal struct {
	zxid int64
	t    txn
}

type sim struct {
	cfg     Config
	rng     *rand.Rand
	servers []*server // by sid order
	byID    map[int64]*server
	now     int
	events  int
	tail    []string
	net     network
	res     Result

	// committed is every txn the ensemble committed: zxid -> data, and
	// clog the zxids in order.
	committed map[int64]string
	clog      []int64
	// epochLeads: epoch -> the leader established in it; epochAcked:
	// epoch -> the leader a quorum acked that epoch to (ACKEPOCH).
	epochLeads, epochAcked map[int64]int64
	restartAt              map[int64]int

	clients []*client
	history []*op
	syncID  uint64
	quiet   bool // faults have stopped: no new ops
}

// Run runs one seed and returns its figures, or the *Failure.
func Run(cfg Config) (res Result, err error) {
	if cfg.FaultTicks == 0 {
		cfg.FaultTicks = 600
	}
	s := &sim{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, 0x5eed)), byID: map[int64]*server{},
		committed: map[int64]string{}, epochLeads: map[int64]int64{}, epochAcked: map[int64]int64{}, restartAt: map[int64]int{}}
	s.net.init(s)
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(*Failure)
			if !ok {
				panic(r)
			}
			err = f
		}
	}()
	ids := append(append([]int64(nil), cfg.Voters...), cfg.Observers...)
	slices.Sort(ids)
	for _, id := range ids {
		sv := &server{id: id, disk: newDisk()}
		s.servers = append(s.servers, sv)
		s.byID[id] = sv
	}
	for i := range cfg.Clients {
		s.clients = append(s.clients, &client{id: i})
	}
	for _, sv := range s.servers {
		s.start(sv)
	}
	s.run()
	s.res.Ticks, s.res.Events = s.now, s.events
	s.res.Committed, s.res.Leaders = len(s.clog), len(s.epochLeads)
	return s.res, nil
}

func (s *sim) logf(format string, args ...any) {
	s.events++
	line := fmt.Sprintf("t=%d ", s.now) + fmt.Sprintf(format, args...)
	if s.cfg.Trace != nil {
		fmt.Fprintln(s.cfg.Trace, line)
	}
	if len(s.tail) >= 2*tailLines {
		s.tail = append(s.tail[:0], s.tail[tailLines:]...)
	}
	s.tail = append(s.tail, line)
}

func (s *sim) fail(format string, args ...any) {
	tail := s.tail
	if len(tail) > tailLines {
		tail = tail[len(tail)-tailLines:]
	}
	panic(&Failure{Seed: s.cfg.Seed, Tick: s.now, What: fmt.Sprintf(format, args...),
		Tail: append([]string(nil), tail...), States: s.states()})
}

func (s *sim) states() string {
	var b strings.Builder
	for _, sv := range s.servers {
		if !sv.up {
			fmt.Fprintf(&b, "\n  %d: down", sv.id)
			continue
		}
		p := sv.peer
		fmt.Fprintf(&b, "\n  %d: %s leader %d epochs %d/%d logged 0x%x persisted 0x%x committed 0x%x serving %v applied %d",
			sv.id, p.Role(), p.Leader(), p.CurrentEpoch(), p.AcceptedEpoch(), uint64(p.LastLogged()),
			uint64(p.Persisted()), uint64(p.Committed()), p.Serving(), len(sv.state))
	}
	return b.String()
}

// start boots a server from what its disk holds.
func (s *sim) start(sv *server) {
	if err := sv.disk.open(); err != nil {
		s.fail("server %d: recovery fails: %v", sv.id, err)
	}
	r, err := sv.disk.recover()
	if err != nil {
		s.fail("server %d: reading its data fails: %v", sv.id, err)
	}
	sv.up = true
	sv.boot++
	sv.syncs = nil
	s.rebuild(sv, r)
	p, err := zab.NewPeer(zab.PeerConfig{
		Config: zab.Config{ID: sv.id, LastZxid: r.lastZxid, CurrentEpoch: r.current, AcceptedEpoch: r.accept,
			CurrentEpochTmp: r.currentTmp},
		Voters: s.cfg.Voters, Observers: s.cfg.Observers, History: r.log, HistoryBase: r.snapZxid,
		TickTime: tickTime, InitLimit: initLimit, SyncLimit: syncLimit, FinalizeWait: finalizeWait,
		MaxNotificationInterval: maxNotifWait, CommitLogCount: commitLogs, Bugs: s.cfg.Bugs,
	})
	if err != nil {
		s.fail("server %d does not start: %v", sv.id, err)
	}
	sv.peer = p
	sv.gen = sv.boot<<32 | p.Generation()
	sv.roleEpoch = p.CurrentEpoch()
	sv.props, sv.waiting, sv.reads = nil, map[int64]*op{}, map[uint64]*op{}
	s.logf("%d starts: last zxid 0x%x (snapshot 0x%x + %d logged), epochs %d/%d", sv.id, uint64(r.lastZxid),
		uint64(r.snapZxid), len(r.log), r.current, r.accept)
	s.handle(sv)
}

// rebuild sets the applied state from a recovered disk: a server applies
// its whole log at start, as ZooKeeper's loadDataBase does.
func (s *sim) rebuild(sv *server, r recovered) {
	sv.state = append([]applied(nil), r.snapState...)
	for _, e := range r.log {
		sv.state = append(sv.state, applied{e.Zxid, string(e.Data)})
	}
	sv.kv = [keys]kv{}
	for _, e := range sv.state {
		sv.applyKV(e)
	}
	sv.checked = 0
	s.checkPrefix(sv)
}

func (sv *server) applyKV(e applied) {
	if t := decodeTxn(e.data); t.ok {
		sv.kv[t.key] = kv{t.value, t.version}
	}
}

func (s *sim) crash(sv *server, why string) {
	sv.up = false
	sv.syncs = nil
	s.res.Crashes++
	torn := sv.disk.crash(s.rng)
	if torn != "" {
		s.res.TornTails++
	}
	s.logf("%d crashes (%s):%s", sv.id, why, torn)
	s.net.closed(sv, sv.gen)
	s.net.settle(sv)
}

// handle carries out a server's Ready, as the ensemble's driver does.
func (s *sim) handle(sv *server) {
	p := sv.peer
	for {
		s.checkGeneration(sv)
		if !p.HasReady() {
			break
		}
		rd := p.Ready()
		if rd.Snapshot != nil {
			zxid, st := int64(0), []applied(nil)
			if rd.Snapshot.Data != nil {
				zxid, st = decodeSnapshot(rd.Snapshot.Data)
			}
			if err := sv.disk.installSnapshot(zxid, st); err != nil {
				s.fail("server %d: installing snapshot 0x%x: %v", sv.id, uint64(zxid), err)
			}
			sv.syncs = nil
			s.rebuild(sv, recovered{snapZxid: zxid, snapState: st})
			s.logf("%d installs snapshot 0x%x (%d txns)", sv.id, uint64(zxid), len(st))
		}
		if rd.Truncate >= 0 {
			if err := sv.disk.truncate(rd.Truncate); err != nil {
				s.fail("server %d: truncating to 0x%x: %v", sv.id, uint64(rd.Truncate), err)
			}
			r, err := sv.disk.recover()
			if err != nil {
				s.fail("server %d: reading after TRUNC: %v", sv.id, err)
			}
			s.rebuild(sv, r)
			s.logf("%d truncates to 0x%x", sv.id, uint64(rd.Truncate))
		}
		if rd.AcceptedEpoch >= 0 {
			if err := sv.disk.writeEpoch(storage.AcceptedEpochFile, rd.AcceptedEpoch); err != nil {
				s.fail("server %d: acceptedEpoch: %v", sv.id, err)
			}
		}
		if rd.CurrentEpoch >= 0 {
			if err := sv.disk.writeEpoch(storage.CurrentEpochFile, rd.CurrentEpoch); err != nil {
				s.fail("server %d: currentEpoch: %v", sv.id, err)
			}
		}
		if len(rd.Entries) > 0 {
			marks, err := sv.disk.appendSync(rd.Entries)
			if err != nil {
				s.fail("server %d: append: %v", sv.id, err)
			}
			sv.syncs = append(sv.syncs, pendingSync{at: s.now + 1 + s.rng.IntN(6), zxid: rd.Entries[len(rd.Entries)-1].Zxid, marks: marks})
		}
		s.apply(sv, rd.Committed)
		for _, m := range rd.Messages {
			if m.Type == zab.MsgSnap {
				zxid := int64(0)
				if n := len(sv.state); n > 0 {
					zxid = sv.state[n-1].zxid
				}
				m.Zxid, m.Data = zxid, encodeSnapshot(zxid, sv.state)
			}
			s.net.sendQuorum(sv, m)
		}
		for _, n := range rd.Notifications {
			s.net.sendNote(sv, n)
		}
		p.Advance()
	}
	s.net.settle(sv)
	s.observeLeader(sv)
}

// checkGeneration: a role change closes every quorum connection and the
// leader's client connections (their ops stay open: a txn proposed may
// still commit).
func (s *sim) checkGeneration(sv *server) {
	g := sv.boot<<32 | sv.peer.Generation()
	if g == sv.gen {
		return
	}
	old := sv.gen
	sv.gen = g
	sv.roleEpoch = sv.peer.CurrentEpoch()
	sv.props = nil
	clear(sv.waiting)
	clear(sv.reads)
	p := sv.peer
	s.logf("%d becomes %s (leader %d, round %d)", sv.id, p.Role(), p.Leader(), p.Election().Clock())
	s.net.closed(sv, old)
}

// apply applies committed entries in order; on a leader that broadcasts,
// they are committed by the ensemble and their clients get replies.
func (s *sim) apply(sv *server, es []zab.Entry) {
	if len(es) == 0 {
		return
	}
	p := sv.peer
	leader := p.Role() == zab.Leading && p.Serving()
	for _, e := range es {
		if e.Type == zab.EntrySync {
			if o := sv.reads[e.ID]; o != nil && leader {
				delete(sv.reads, e.ID)
				v := sv.kv[o.key]
				s.reply(sv, o, result{ok: true, value: v.value, version: v.version})
			}
			continue
		}
		a := applied{e.Zxid, string(e.Data)}
		if n := len(sv.state); n > 0 && sv.state[n-1].zxid >= e.Zxid {
			s.fail("server %d applies 0x%x after 0x%x: zxids must increase", sv.id, uint64(e.Zxid), uint64(sv.state[n-1].zxid))
		}
		sv.state = append(sv.state, a)
		sv.applyKV(a)
		if leader {
			s.commit(a, fmt.Sprintf("leader %d", sv.id))
		}
		if len(sv.props) > 0 && sv.props[0].zxid == e.Zxid {
			sv.props = sv.props[1:]
		}
		if o := sv.waiting[e.Zxid]; o != nil && leader {
			delete(sv.waiting, e.Zxid)
			t := decodeTxn(a.data)
			s.reply(sv, o, result{ok: t.ok, version: t.version})
		}
	}
	s.checkPrefix(sv)
}

// commit records a txn the ensemble committed. Zxids are committed in
// order, once: a second txn at a zxid, or one below the newest committed,
// is a broken ZAB.
func (s *sim) commit(a applied, by string) {
	if old, ok := s.committed[a.zxid]; ok {
		if old != a.data {
			s.fail("zxid 0x%x committed as %s and as %s (%s)", uint64(a.zxid), decodeTxn(old), decodeTxn(a.data), by)
		}
		return
	}
	if n := len(s.clog); n > 0 && s.clog[n-1] > a.zxid {
		s.fail("0x%x (%s) committed after 0x%x (%s): out of order", uint64(a.zxid), decodeTxn(a.data), uint64(s.clog[n-1]), by)
	}
	s.committed[a.zxid] = a.data
	s.clog = append(s.clog, a.zxid)
}

// checkPrefix: what a server applied is the committed history's prefix,
// then possibly txns not known to be committed (logged and applied when
// its role ended, to be truncated if no leader has them); never a
// committed txn after one of those, nor a committed one missing.
func (s *sim) checkPrefix(sv *server) {
	tentative := int64(-1)
	for i := sv.checked; i < len(sv.state); i++ {
		e := sv.state[i]
		if i > 0 && e.zxid <= sv.state[i-1].zxid {
			s.fail("server %d: applied 0x%x after 0x%x", sv.id, uint64(e.zxid), uint64(sv.state[i-1].zxid))
		}
		d, ok := s.committed[e.zxid]
		if !ok {
			if tentative < 0 {
				tentative = e.zxid
			}
			continue
		}
		switch {
		case d != e.data:
			s.fail("server %d applied 0x%x as %s, committed as %s", sv.id, uint64(e.zxid), decodeTxn(e.data), decodeTxn(d))
		case tentative >= 0:
			s.fail("server %d applied committed 0x%x after 0x%x, which is not committed", sv.id, uint64(e.zxid), uint64(tentative))
		case i >= len(s.clog) || s.clog[i] != e.zxid:
			want := "nothing"
			if i < len(s.clog) {
				want = fmt.Sprintf("0x%x", uint64(s.clog[i]))
			}
			s.fail("server %d applied committed 0x%x as its txn #%d, where the committed history has %s: a commit lost or reordered",
				sv.id, uint64(e.zxid), i, want)
		}
		sv.checked = i + 1
	}
}

// observeLeader checks a leader that starts broadcasting: the only one of
// its epoch, holding every txn committed so far; what it holds is then
// committed (a quorum acked its NEWLEADER).
func (s *sim) observeLeader(sv *server) {
	p := sv.peer
	if p.Role() != zab.Leading {
		return
	}
	epoch := p.CurrentEpoch()
	if epoch > sv.roleEpoch {
		// Discovery's vote: a server acks an epoch to one leader only
		// (a second LEADERINFO of it gets -1), so two quorums of acks
		// for one epoch mean a server voted twice.
		if l, ok := s.epochAcked[epoch]; ok && l != sv.id {
			s.fail("epoch %d acked by a quorum to two leaders: %d and %d", epoch, l, sv.id)
		} else if !ok {
			s.epochAcked[epoch] = sv.id
			s.logf("%d has a quorum's ACKEPOCH for epoch %d", sv.id, epoch)
		}
	}
	if !p.Serving() {
		return
	}
	if l, ok := s.epochLeads[epoch]; ok {
		if l != sv.id {
			s.fail("epoch %d has two established leaders: %d and %d", epoch, l, sv.id)
		}
		return
	}
	s.epochLeads[epoch] = sv.id
	have := make(map[int64]string, len(sv.state))
	for _, e := range sv.state {
		have[e.zxid] = e.data
	}
	for _, z := range s.clog {
		if have[z] != s.committed[z] {
			s.fail("leader %d of epoch %d lacks committed 0x%x (%s)", sv.id, epoch, uint64(z), decodeTxn(s.committed[z]))
		}
	}
	for _, e := range sv.state {
		s.commit(e, fmt.Sprintf("new leader %d", sv.id))
	}
	s.checkPrefix(sv)
	s.logf("%d leads epoch %d at 0x%x", sv.id, epoch, uint64(p.LastLogged()))
}

// tick: fsyncs complete, due packets arrive, every server ticks, clients
// act.
func (s *sim) tick() {
	s.now++
	for _, sv := range s.servers {
		for sv.up && len(sv.syncs) > 0 && sv.syncs[0].at <= s.now {
			z := sv.syncs[0].zxid
			if err := sv.disk.completeSync(sv.syncs[0].marks); err != nil {
				s.fail("server %d: fsync: %v", sv.id, err)
			}
			sv.syncs = sv.syncs[1:]
			if z <= sv.peer.LastLogged() {
				sv.peer.Step(zab.Message{Type: zab.MsgPersisted, Zxid: z})
			}
			s.handle(sv)
		}
	}
	s.net.deliver()
	for _, sv := range s.servers {
		if sv.up {
			sv.peer.Tick()
			s.handle(sv)
		}
	}
	s.clientsAct()
}

// run drives the faults, then the quiet convergence, then the final checks.
func (s *sim) run() {
	for range s.cfg.FaultTicks {
		s.fault()
		s.net.healDue()
		for _, sv := range s.servers {
			if at, ok := s.restartAt[sv.id]; ok && at <= s.now {
				delete(s.restartAt, sv.id)
				if !sv.up {
					s.res.Restarts++
					s.start(sv)
				}
			}
		}
		s.tick()
	}
	s.logf("the faults stop")
	s.quiet = true
	s.net.healAll()
	clear(s.restartAt)
	for _, sv := range s.servers {
		if !sv.up {
			s.res.Restarts++
			s.start(sv)
		}
	}
	for i := 0; !s.converged() || s.clientsBusy(); i++ {
		if i > 5000 {
			s.fail("no convergence %d ticks after the faults stopped; %s", i, s.stateDiff())
		}
		s.tick()
	}
	s.finalChecks()
}

// fault injects at most one fault per tick.
func (s *sim) fault() {
	r := s.rng.IntN(1000)
	sv := s.servers[s.rng.IntN(len(s.servers))]
	switch {
	case r < 6: // a server crashes, and comes back a while later
		if sv.up {
			s.crash(sv, "kill")
			s.restartAt[sv.id] = s.now + 5 + s.rng.IntN(60)
		}
	case r < 8: // power failure: every server at once
		s.logf("power failure")
		for _, sv := range s.servers {
			if sv.up {
				s.crash(sv, "power")
			}
			s.restartAt[sv.id] = s.now + 1 + s.rng.IntN(40)
		}
	case r < 20:
		s.net.fault()
	}
}

// converged: every server up and serving from one leader, every log
// synced, every applied history equal.
func (s *sim) converged() bool {
	var leader *server
	for _, sv := range s.servers {
		if !sv.up || !sv.peer.Serving() || len(sv.syncs) > 0 {
			return false
		}
		if sv.peer.Role() == zab.Leading {
			if leader != nil {
				return false
			}
			leader = sv
		}
	}
	if leader == nil {
		return false
	}
	for _, sv := range s.servers {
		if sv.peer.Leader() != leader.id || !slices.Equal(sv.state, leader.state) {
			return false
		}
	}
	return true
}

// clientsBusy: some client still waits for a reply.
func (s *sim) clientsBusy() bool {
	for _, c := range s.clients {
		if c.cur != nil {
			return true
		}
	}
	return false
}

func (s *sim) stateDiff() string {
	ref := s.servers[0].state
	for _, sv := range s.servers[1:] {
		st := sv.state
		for i := range max(len(ref), len(st)) {
			if i >= len(ref) || i >= len(st) || ref[i] != st[i] {
				return fmt.Sprintf("server %d's applied history differs from %d's at #%d (%d vs %d txns)",
					sv.id, s.servers[0].id, i, len(st), len(ref))
			}
		}
	}
	return "applied histories equal"
}

// finalChecks: every write a client saw succeed is in the converged
// history, and the clients' history is linearizable.
func (s *sim) finalChecks() {
	final := s.servers[0].state
	have := make(map[int64]string, len(final))
	for _, e := range final {
		have[e.zxid] = e.data
	}
	for _, z := range s.clog {
		if have[z] != s.committed[z] {
			s.fail("committed 0x%x (%s) is not in the converged history", uint64(z), decodeTxn(s.committed[z]))
		}
	}
	for _, o := range s.history {
		if o.kind == opWrite && o.done && o.res.ok && o.zxid != 0 && have[o.zxid] == "" {
			s.fail("acknowledged write %s at 0x%x lost", o, uint64(o.zxid))
		}
	}
	ops, open := s.porcupineHistory()
	s.res.Ops, s.res.OpenOps = len(ops), open
	if ok, why := CheckLinearizable(ops); !ok {
		s.fail("the clients' history is not linearizable: %s", why)
	}
}
