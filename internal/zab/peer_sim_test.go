package zab

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// A seeded simulation of whole ensembles of Peers: each server has a log
// whose tail is durable only after a simulated fsync, a snapshot, epoch
// files and an applied state; quorum connections are FIFO per link and
// die with a role change, a crash or a partition (TCP); notifications
// are delayed and reordered. Servers crash (losing what was not fsynced)
// and restart from what is durable, links are cut and healed, and a client
// proposes through whoever leads; now and then the power fails for all
// of them at once. Checked throughout: one leader per
// epoch, a leader that starts broadcasting holds every txn committed
// before, no two txns committed at one zxid; and at the end, once the
// faults stop, one leader followed by every server, all with the same
// applied history, holding every acknowledged write.

type simEntry struct {
	zxid int64
	data string
}

type simServer struct {
	id   int64
	peer *Peer
	up   bool
	// Durable storage.
	snapZxid  int64
	snapState []simEntry
	durable   []Entry
	accepted  int64
	current   int64
	// Volatile: appended, not yet fsynced.
	volatile []Entry
	syncs    []simSync
	// The applied state.
	state []simEntry
	gen   uint64
	// link changes when the server is cut off: its TCP connections die,
	// and nothing sent on them arrives afterwards.
	link uint64
}

type simSync struct {
	at   int
	zxid int64
}

type simMsg struct {
	at               int
	quorum           bool
	fromGen, toGen   uint64
	fromLink, toLink uint64
	msg              Message
	note             Notification
	from, to         int64
}

type peerSim struct {
	t        *testing.T
	seed     uint64
	rng      *rand.Rand
	servers  map[int64]*simServer
	voters   []int64
	obs      []int64
	now      int
	inflight []simMsg
	lastAt   map[[2]int64]int // FIFO per link
	cut      map[int64]bool   // servers cut off from all others
	log      []string

	committed  map[int64]string // zxid -> data of every committed txn
	acked      map[int64]string // writes the client saw acknowledged
	epochLeads map[int64]int64  // epoch -> the leader that broadcast in it
	proposed   int
	restartAt  map[int64]int
	bugs       peerBugs // deliberate mistakes every peer makes
}

func newPeerSim(t *testing.T, seed uint64, voters, observers []int64, bugs peerBugs) *peerSim {
	s := &peerSim{t: t, seed: seed, rng: rand.New(rand.NewPCG(seed, 7)), servers: map[int64]*simServer{},
		voters: voters, obs: observers, lastAt: map[[2]int64]int{}, cut: map[int64]bool{},
		committed: map[int64]string{}, acked: map[int64]string{}, epochLeads: map[int64]int64{}, restartAt: map[int64]int{}, bugs: bugs}
	for _, id := range append(append([]int64(nil), voters...), observers...) {
		s.servers[id] = &simServer{id: id, accepted: -1, current: -1}
		s.start(id)
	}
	return s
}

func (s *peerSim) ids() []int64 {
	var ids []int64
	for id := range s.servers {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func (s *peerSim) logf(format string, args ...any) {
	s.log = append(s.log, fmt.Sprintf("t=%d ", s.now)+fmt.Sprintf(format, args...))
}

func (s *peerSim) fail(format string, args ...any) {
	s.t.Helper()
	tail := s.log
	if len(tail) > 400 {
		tail = tail[len(tail)-400:]
	}
	msg := fmt.Sprintf("seed %d: %s\n%s\nlast events:\n%s", s.seed, fmt.Sprintf(format, args...), s.states(), strings.Join(tail, "\n"))
	if s.bugs != (peerBugs{}) {
		panic(simCaught{msg}) // a deliberate bug was caught: stop this run
	}
	s.t.Fatal(msg)
}

// simCaught ends a run with a deliberate bug once an invariant catches it.
type simCaught struct{ msg string }

func (s *peerSim) states() string {
	var b strings.Builder
	for _, id := range s.ids() {
		sv := s.servers[id]
		if !sv.up {
			fmt.Fprintf(&b, "%d:down ", id)
			continue
		}
		p := sv.peer
		fmt.Fprintf(&b, "%d:%s(leader %d, epoch %d/%d, logged 0x%x, committed 0x%x, serving %v, applied %d, volatile %d) ", id, p.Role(), p.Leader(),
			p.CurrentEpoch(), p.AcceptedEpoch(), uint64(p.LastLogged()), uint64(p.Committed()), p.Serving(), len(sv.state), len(sv.volatile))
	}
	return b.String()
}

// start boots a server from what its storage holds durably.
func (s *peerSim) start(id int64) {
	sv := s.servers[id]
	sv.up = true
	sv.volatile, sv.syncs = nil, nil
	sv.state = append([]simEntry(nil), sv.snapState...)
	last := sv.snapZxid
	for _, e := range sv.durable {
		sv.state = append(sv.state, simEntry{e.Zxid, string(e.Data)})
		last = e.Zxid
	}
	p, err := NewPeer(PeerConfig{
		Config: Config{ID: id, LastZxid: last, CurrentEpoch: sv.current, AcceptedEpoch: sv.accepted, CurrentEpochTmp: -1},
		Voters: s.voters, Observers: s.obs, History: append([]Entry(nil), sv.durable...), HistoryBase: sv.snapZxid,
		TickTime: 4, InitLimit: 5, SyncLimit: 3, FinalizeWait: 2, MaxNotificationInterval: 32, CommitLogCount: 20,
	})
	if err != nil {
		s.fail("server %d does not start: %v", id, err)
	}
	p.bugs = s.bugs
	sv.peer = p
	sv.gen = p.Generation()
	s.logf("%d starts at 0x%x epochs %d/%d", id, uint64(last), sv.current, sv.accepted)
	s.handle(sv)
}

func (s *peerSim) crash(id int64) {
	sv := s.servers[id]
	sv.up = false
	sv.volatile, sv.syncs = nil, nil
	s.logf("%d crashes (durable to 0x%x)", id, uint64(sv.lastDurable()))
	s.connectionsClosed(id)
}

func (sv *simServer) lastDurable() int64 {
	if len(sv.durable) > 0 {
		return sv.durable[len(sv.durable)-1].Zxid
	}
	return sv.snapZxid
}

// connectionsClosed tells every other server that id's quorum
// connections are gone.
func (s *peerSim) connectionsClosed(id int64) {
	for _, other := range s.ids() {
		if other != id {
			s.enqueue(simMsg{quorum: true, from: id, to: other, msg: Message{Type: MsgDisconnected, From: id, To: other}})
		}
	}
}

func (s *peerSim) enqueue(m simMsg) {
	if s.cut[m.from] || s.cut[m.to] {
		if m.msg.Type != MsgDisconnected {
			return
		}
	}
	link := [2]int64{m.from, m.to}
	at := s.now + 1 + s.rng.IntN(3)
	if m.quorum {
		at = max(at, s.lastAt[link]) // TCP: in order on one connection
		s.lastAt[link] = at
		m.fromGen = s.servers[m.from].gen
		m.toGen = s.servers[m.to].gen
		m.fromLink = s.servers[m.from].link
		m.toLink = s.servers[m.to].link
	}
	m.at = at
	s.inflight = append(s.inflight, m)
}

// handle carries out a server's Ready, as a driver does.
func (s *peerSim) handle(sv *simServer) {
	p := sv.peer
	for p.HasReady() {
		rd := p.Ready()
		if rd.Snapshot != nil {
			sv.snapZxid = rd.Snapshot.Zxid
			sv.snapState = decodeState(rd.Snapshot.Data)
			sv.state = append([]simEntry(nil), sv.snapState...)
			sv.durable, sv.volatile, sv.syncs = nil, nil, nil
			s.logf("%d installs snapshot 0x%x", sv.id, uint64(rd.Snapshot.Zxid))
		}
		if rd.Truncate >= 0 {
			if rd.Truncate < sv.snapZxid {
				s.fail("server %d: TRUNC to 0x%x below its snapshot 0x%x", sv.id, uint64(rd.Truncate), uint64(sv.snapZxid))
			}
			cut := func(es []Entry) []Entry {
				var keep []Entry
				for _, e := range es {
					if e.Zxid <= rd.Truncate {
						keep = append(keep, e)
					}
				}
				return keep
			}
			sv.durable, sv.volatile = cut(sv.durable), cut(sv.volatile)
			sv.state = append([]simEntry(nil), sv.snapState...)
			for _, e := range append(append([]Entry(nil), sv.durable...), sv.volatile...) {
				sv.state = append(sv.state, simEntry{e.Zxid, string(e.Data)})
			}
			s.logf("%d truncates to 0x%x", sv.id, uint64(rd.Truncate))
		}
		if rd.AcceptedEpoch >= 0 {
			sv.accepted = rd.AcceptedEpoch
		}
		if rd.CurrentEpoch >= 0 {
			sv.current = rd.CurrentEpoch
		}
		if len(rd.Entries) > 0 {
			sv.volatile = append(sv.volatile, rd.Entries...)
			sv.syncs = append(sv.syncs, simSync{at: s.now + 1 + s.rng.IntN(6), zxid: rd.Entries[len(rd.Entries)-1].Zxid})
		}
		leaderCommit := p.Role() == Leading && p.Serving()
		for _, e := range rd.Committed {
			if e.Type != EntryTxn {
				continue
			}
			if n := len(sv.state); n > 0 && sv.state[n-1].zxid >= e.Zxid {
				s.fail("server %d applies 0x%x after 0x%x", sv.id, uint64(e.Zxid), uint64(sv.state[n-1].zxid))
			}
			sv.state = append(sv.state, simEntry{e.Zxid, string(e.Data)})
			if leaderCommit {
				s.commit(e.Zxid, string(e.Data), fmt.Sprintf("leader %d", sv.id))
				if strings.HasPrefix(string(e.Data), "w") {
					s.acked[e.Zxid] = string(e.Data)
				}
			}
		}
		for _, m := range rd.Messages {
			if m.Type == MsgSnap {
				m.Data = encodeState(sv.state)
				if n := len(sv.state); n > 0 {
					m.Zxid = sv.state[n-1].zxid
				}
			}
			if m.Type == MsgDisconnected {
				s.enqueue(simMsg{quorum: true, from: sv.id, to: m.To, msg: Message{Type: MsgDisconnected, From: sv.id, To: m.To}})
				continue
			}
			s.enqueue(simMsg{quorum: true, from: sv.id, to: m.To, msg: m})
		}
		for _, n := range rd.Notifications {
			s.enqueue(simMsg{from: sv.id, to: n.To, note: n})
		}
		p.Advance()
	}
	if g := p.Generation(); g != sv.gen {
		sv.gen = g
		s.logf("%d becomes %s (leader %d, round %d)", sv.id, p.Role(), p.Leader(), p.Election().Clock())
		s.connectionsClosed(sv.id)
		s.observeRole(sv)
	}
	s.observeRole(sv)
}

// commit records a txn as committed by the ensemble and checks agreement.
func (s *peerSim) commit(zxid int64, data, by string) {
	if old, ok := s.committed[zxid]; ok && old != data {
		s.fail("zxid 0x%x committed as %q and as %q (%s)", uint64(zxid), old, data, by)
	}
	s.committed[zxid] = data
}

// observeRole checks a leader that starts broadcasting: the only one of
// its epoch, holding every txn committed so far; what it holds is then
// committed (its NEWLEADER was acked by a quorum).
func (s *peerSim) observeRole(sv *simServer) {
	p := sv.peer
	if p.Role() != Leading || !p.Serving() {
		return
	}
	epoch := p.CurrentEpoch()
	if l, ok := s.epochLeads[epoch]; ok {
		if l != sv.id {
			s.fail("epoch %d has two leaders: %d and %d", epoch, l, sv.id)
		}
		return
	}
	s.epochLeads[epoch] = sv.id
	have := map[int64]string{}
	for _, e := range sv.state {
		have[e.zxid] = e.data
	}
	for z, d := range s.committed {
		if have[z] != d {
			s.fail("leader %d of epoch %d lacks committed 0x%x (%q); it has %q", sv.id, epoch, uint64(z), d, have[z])
		}
	}
	for z, d := range have {
		s.commit(z, d, fmt.Sprintf("new leader %d", sv.id))
	}
	s.logf("%d leads epoch %d at 0x%x", sv.id, epoch, uint64(p.LastLogged()))
}

func encodeState(st []simEntry) []byte {
	var b bytes.Buffer
	for _, e := range st {
		binary.Write(&b, binary.BigEndian, e.zxid)
		binary.Write(&b, binary.BigEndian, int32(len(e.data)))
		b.WriteString(e.data)
	}
	return b.Bytes()
}

func decodeState(data []byte) []simEntry {
	var st []simEntry
	r := bytes.NewReader(data)
	for r.Len() > 0 {
		var z int64
		var n int32
		binary.Read(r, binary.BigEndian, &z)
		binary.Read(r, binary.BigEndian, &n)
		d := make([]byte, n)
		r.Read(d)
		st = append(st, simEntry{z, string(d)})
	}
	return st
}

// tick: fsyncs complete, due messages arrive (in random order across
// links, in order on one), every server ticks, the client writes.
func (s *peerSim) tick(clientRate float64) {
	s.now++
	for _, id := range s.ids() {
		sv := s.servers[id]
		for sv.up && len(sv.syncs) > 0 && sv.syncs[0].at <= s.now {
			z := sv.syncs[0].zxid
			sv.syncs = sv.syncs[1:]
			i := 0
			for ; i < len(sv.volatile) && sv.volatile[i].Zxid <= z; i++ {
			}
			sv.durable = append(sv.durable, sv.volatile[:i]...)
			sv.volatile = sv.volatile[i:]
			if z <= sv.peer.LastLogged() {
				sv.peer.Step(Message{Type: MsgPersisted, Zxid: min(z, sv.peer.LastLogged())})
			}
			s.handle(sv)
		}
	}
	var due, later []simMsg
	for _, m := range s.inflight {
		if m.at <= s.now {
			due = append(due, m)
		} else {
			later = append(later, m)
		}
	}
	s.inflight = later
	// In order on each link (due is in send order), links interleaved at
	// random.
	queues := map[[2]int64][]simMsg{}
	var links [][2]int64
	for _, m := range due {
		k := [2]int64{m.from, m.to}
		if !m.quorum {
			k = [2]int64{-m.from, -m.to - 1000} // notifications: their own lane
		}
		if len(queues[k]) == 0 {
			links = append(links, k)
		}
		queues[k] = append(queues[k], m)
	}
	due = due[:0]
	for len(links) > 0 {
		i := s.rng.IntN(len(links))
		k := links[i]
		due = append(due, queues[k][0])
		if queues[k] = queues[k][1:]; len(queues[k]) == 0 {
			links = append(links[:i], links[i+1:]...)
		}
	}
	for _, m := range due {
		to := s.servers[m.to]
		if !to.up {
			continue
		}
		if (s.cut[m.from] || s.cut[m.to]) && m.msg.Type != MsgDisconnected {
			continue
		}
		if !m.quorum {
			to.peer.StepNotification(m.note)
			s.handle(to)
			continue
		}
		from := s.servers[m.from]
		if m.fromLink != from.link || m.toLink != to.link {
			continue // sent on a connection a partition killed
		}
		if m.msg.Type != MsgDisconnected && (m.fromGen != from.gen || m.toGen != to.gen || !from.up) {
			continue // the connection it was sent on is gone
		}
		if m.msg.Type == MsgDisconnected && m.toGen != to.gen {
			continue
		}
		if m.msg.Type != MsgPing {
			s.logf("deliver %v", m.msg)
		}
		if err := to.peer.Step(m.msg); err != nil {
			s.fail("server %d: step %v: %v", m.to, m.msg, err)
		}
		s.handle(to)
	}
	for _, id := range s.ids() {
		if sv := s.servers[id]; sv.up {
			sv.peer.Tick()
			s.handle(sv)
		}
	}
	if s.rng.Float64() < clientRate {
		for _, id := range s.ids() {
			sv := s.servers[id]
			if !sv.up || sv.peer.Role() != Leading {
				continue
			}
			z, err := sv.peer.NextZxid()
			if err != nil {
				continue
			}
			s.proposed++
			data := fmt.Sprintf("w%d-%d", s.seed, s.proposed)
			if err := sv.peer.Propose(Entry{Zxid: z, Data: []byte(data)}); err != nil {
				continue
			}
			s.handle(sv)
		}
	}
}

// converged: every server up, one leader broadcasting, every other server
// serving from it, every log flushed and every applied history equal.
func (s *peerSim) converged() bool {
	var leader *simServer
	for _, id := range s.ids() {
		sv := s.servers[id]
		if !sv.up || !sv.peer.Serving() || len(sv.volatile) > 0 {
			return false
		}
		if sv.peer.Role() == Leading {
			if leader != nil {
				return false
			}
			leader = sv
		}
	}
	if leader == nil {
		return false
	}
	for _, id := range s.ids() {
		sv := s.servers[id]
		if sv.peer.Leader() != leader.id || !slices.Equal(sv.state, leader.state) {
			return false
		}
	}
	return true
}

// stateDiff names the first applied entry where a server differs from
// the first one.
func (s *peerSim) stateDiff() string {
	ids := s.ids()
	ref := s.servers[ids[0]].state
	for _, id := range ids[1:] {
		st := s.servers[id].state
		for i := 0; i < max(len(ref), len(st)); i++ {
			var a, b simEntry
			if i < len(ref) {
				a = ref[i]
			}
			if i < len(st) {
				b = st[i]
			}
			if a != b {
				return fmt.Sprintf("server %d differs from %d at #%d: 0x%x %q vs 0x%x %q", id, ids[0], i, uint64(b.zxid), b.data, uint64(a.zxid), a.data)
			}
		}
	}
	return "no difference"
}

func runPeerSim(t *testing.T, seed uint64, voters, observers []int64, faultTicks int) {
	s := newPeerSim(t, seed, voters, observers, peerBugs{})
	s.run(faultTicks)
}

// run drives the faults, then the quiet convergence, then the final checks.
func (s *peerSim) run(faultTicks int) {
	all := s.ids()
	for range faultTicks {
		switch r := s.rng.IntN(100); {
		case r < 2: // crash or restart a server
			id := all[s.rng.IntN(len(all))]
			if s.servers[id].up {
				s.crash(id)
			} else {
				s.start(id)
			}
		case r < 3 && s.rng.IntN(4) == 0: // power failure: every server at once
			s.logf("power failure")
			for _, id := range all {
				if s.servers[id].up {
					s.crash(id)
				}
			}
			for _, id := range all {
				s.restartAt[id] = s.now + s.rng.IntN(40) // back one by one
			}
		case r < 3: // cut a server off, or heal
			id := all[s.rng.IntN(len(all))]
			if s.cut[id] {
				delete(s.cut, id)
				s.logf("%d healed", id)
			} else {
				s.cut[id] = true
				s.servers[id].link++
				s.logf("%d cut off", id)
				s.connectionsClosed(id)
				for _, other := range all {
					if other != id {
						s.enqueue(simMsg{quorum: true, from: other, to: id, msg: Message{Type: MsgDisconnected, From: other, To: id}})
					}
				}
			}
		}
		for _, id := range all {
			if at, ok := s.restartAt[id]; ok && at <= s.now {
				delete(s.restartAt, id)
				if !s.servers[id].up {
					s.start(id)
				}
			}
		}
		s.tick(0.3)
	}
	// The faults stop.
	s.cut = map[int64]bool{}
	for _, id := range all {
		if !s.servers[id].up {
			s.start(id)
		}
	}
	for i := 0; !s.converged(); i++ {
		if i > 20000 {
			s.fail("no convergence after the faults stopped; %s", s.stateDiff())
		}
		s.tick(0)
	}
	leader := s.servers[s.servers[all[0]].peer.Leader()]
	have := map[int64]string{}
	for _, e := range leader.state {
		have[e.zxid] = e.data
	}
	for z, d := range s.acked {
		if have[z] != d {
			s.fail("acknowledged write 0x%x (%q) lost", uint64(z), d)
		}
	}
}

// TestPeerSimulation runs whole ensembles (three voters; five voters and
// an observer) through crashes, partitions and fsync delays.
func TestPeerSimulation(t *testing.T) {
	seeds := 200
	if testing.Short() {
		seeds = 30
	}
	for seed := range uint64(seeds) {
		runPeerSim(t, seed, []int64{1, 2, 3}, nil, 600)
		runPeerSim(t, seed, []int64{1, 2, 3, 4, 5}, []int64{6}, 600)
	}
}

// TestPeerEnsembleWithoutFaults: three servers elect, synchronise and
// broadcast; every write is applied everywhere in the same order.
func TestPeerEnsembleWithoutFaults(t *testing.T) {
	s := newPeerSim(t, 1, []int64{1, 2, 3}, nil, peerBugs{})
	for range 300 {
		s.tick(0.5)
	}
	for i := 0; !s.converged(); i++ {
		if i > 2000 {
			s.fail("no convergence")
		}
		s.tick(0)
	}
	if len(s.acked) < 50 {
		s.fail("only %d writes acknowledged in 300 ticks", len(s.acked))
	}
}

// TestPeerSimulationCatchesBugs: the simulation is only worth its seeds if
// it fails on the mistakes it exists to find. With every peer acking
// before its fsync, or a new leader keeping the accepted epoch (so that
// two leaders share one), some seed must break an invariant.
func TestPeerSimulationCatchesBugs(t *testing.T) {
	for _, c := range []struct {
		name string
		bugs peerBugs
	}{
		{"ack before fsync", peerBugs{ackBeforeFsync: true}},
		{"no new epoch", peerBugs{sameEpoch: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			for seed := range uint64(300) {
				if msg := catch(t, seed, c.bugs); msg != "" {
					t.Logf("caught at %s", strings.SplitN(msg, "\n", 2)[0])
					return
				}
			}
			t.Fatalf("300 seeds ran clean with the bug %q", c.name)
		})
	}
}

// catch runs one seed of the 3-voter simulation with bugs and returns the
// invariant that caught them ("" if none did).
func catch(t *testing.T, seed uint64, bugs peerBugs) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			c, ok := r.(simCaught)
			if !ok {
				panic(r)
			}
			msg = c.msg
		}
	}()
	newPeerSim(t, seed, []int64{1, 2, 3}, nil, bugs).run(600)
	return ""
}
