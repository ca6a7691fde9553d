package zab

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

// electionNet runs elections of several servers over a simulated network
// in which each notification takes 1..maxDelay ticks and may be dropped
// or held back by a partition; one seed decides everything.
type electionNet struct {
	t        testing.TB
	rng      *rand.Rand
	servers  map[int64]*Election
	down     map[int64]bool
	cut      map[[2]int64]bool // links that drop everything
	inflight []delayed
	now      int
	maxDelay int
	dropRate float64
	log      []string
}

type delayed struct {
	at int
	n  Notification
}

const (
	testFinalize = 4  // ticks: 200 ms at 50 ms a tick
	testMaxIdle  = 64 // ticks
)

func newElectionNet(t testing.TB, seed uint64, voters []int64, observers []int64) *electionNet {
	net := &electionNet{t: t, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		servers: map[int64]*Election{}, down: map[int64]bool{}, cut: map[[2]int64]bool{}, maxDelay: 1}
	for _, id := range append(append([]int64(nil), voters...), observers...) {
		net.servers[id] = NewElection(ElectionConfig{ID: id, Voters: voters, FinalizeWait: testFinalize, MaxNotificationInterval: testMaxIdle})
	}
	return net
}

func (net *electionNet) ids() []int64 {
	var ids []int64
	for id := range net.servers {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// start begins a round on a server with the given last zxid and epoch.
func (net *electionNet) start(id, zxid, epoch int64) {
	net.servers[id].Start(zxid, epoch)
	net.collect(id)
}

func (net *electionNet) collect(id int64) {
	for _, n := range net.servers[id].Messages() {
		if net.rng.Float64() < net.dropRate || net.cut[[2]int64{n.From, n.To}] {
			net.log = append(net.log, fmt.Sprintf("t=%d drop %s", net.now, n))
			continue
		}
		net.inflight = append(net.inflight, delayed{at: net.now + 1 + net.rng.IntN(net.maxDelay), n: n})
	}
}

// tick delivers what is due (in random order among equals), then ticks
// every server that is up.
func (net *electionNet) tick() {
	net.now++
	var due, later []delayed
	for _, d := range net.inflight {
		if d.at <= net.now {
			due = append(due, d)
		} else {
			later = append(later, d)
		}
	}
	net.inflight = later
	net.rng.Shuffle(len(due), func(i, j int) { due[i], due[j] = due[j], due[i] })
	for _, d := range due {
		if net.down[d.n.To] || net.down[d.n.From] {
			continue
		}
		net.servers[d.n.To].Step(d.n)
		net.collect(d.n.To)
	}
	for _, id := range net.ids() {
		if !net.down[id] {
			net.servers[id].Tick()
			net.collect(id)
		}
	}
}

// runUntil ticks until done holds, failing after limit ticks.
func (net *electionNet) runUntil(limit int, what string, done func() bool) {
	net.t.Helper()
	for i := 0; i < limit; i++ {
		if done() {
			return
		}
		net.tick()
	}
	if !done() {
		net.t.Fatalf("%s not reached in %d ticks; states: %s", what, limit, net.states())
	}
}

func (net *electionNet) states() string {
	var b strings.Builder
	for _, id := range net.ids() {
		e := net.servers[id]
		v, st, ok := e.Decided()
		switch {
		case net.down[id]:
			fmt.Fprintf(&b, "%d:down ", id)
		case ok:
			fmt.Fprintf(&b, "%d:%s->%d(round %d) ", id, st, v.Leader, e.Clock())
		default:
			fmt.Fprintf(&b, "%d:LOOKING proposing %d(round %d) ", id, e.Proposal().Leader, e.Clock())
		}
	}
	return b.String()
}

func (net *electionNet) allDecided(ids ...int64) bool {
	for _, id := range ids {
		if _, _, ok := net.servers[id].Decided(); !ok {
			return false
		}
	}
	return true
}

func (net *electionNet) leaderOf(id int64) int64 {
	v, _, _ := net.servers[id].Decided()
	return v.Leader
}

func TestVoteOrder(t *testing.T) {
	// "the most up-to-date server wins, ties go to the highest myid":
	// epoch first, then zxid, then sid.
	cases := []struct {
		a, b Vote
		want bool
	}{
		{Vote{1, 0x100000005, 2}, Vote{3, 0x200000001, 1}, true},  // newer epoch beats a newer zxid
		{Vote{1, 0x100000006, 1}, Vote{3, 0x100000005, 1}, true},  // same epoch: newer zxid
		{Vote{3, 0x100000005, 1}, Vote{2, 0x100000005, 1}, true},  // all equal: larger sid
		{Vote{2, 0x100000005, 1}, Vote{2, 0x100000005, 1}, false}, // a vote does not beat itself
	}
	for _, c := range cases {
		if got := c.a.Beats(c.b); got != c.want {
			t.Errorf("%v beats %v = %v, want %v", c.a, c.b, got, c.want)
		}
		if c.want && c.b.Beats(c.a) {
			t.Errorf("%v and %v beat each other", c.a, c.b)
		}
	}
	// Against a naive ordering: a total order, equal to comparing the
	// tuples.
	rapid.Check(t, func(t *rapid.T) {
		gen := rapid.Custom(func(t *rapid.T) Vote {
			return Vote{rapid.Int64Range(1, 5).Draw(t, "sid"), rapid.Int64Range(0, 4).Draw(t, "zxid"), rapid.Int64Range(0, 3).Draw(t, "epoch")}
		})
		a, b := gen.Draw(t, "a"), gen.Draw(t, "b")
		tuple := func(v Vote) []int64 { return []int64{v.PeerEpoch, v.Zxid, v.Leader} }
		want := slices.Compare(tuple(a), tuple(b)) > 0
		if a.Beats(b) != want {
			t.Fatalf("%v beats %v = %v, want %v", a, b, a.Beats(b), want)
		}
	})
}

// TestElectionElectsTheMostUpToDate: with every server starting together
// and notifications delayed (less than the finalize wait) and reordered,
// all agree on one leader, the best vote of all: newest epoch, then zxid,
// then largest sid.
func TestElectionElectsTheMostUpToDate(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		n := rapid.SampledFrom([]int{1, 3, 5}).Draw(rt, "servers")
		var voters []int64
		for i := 1; i <= n; i++ {
			voters = append(voters, int64(i))
		}
		net := newElectionNet(t, rapid.Uint64().Draw(rt, "seed"), voters, nil)
		net.maxDelay = rapid.IntRange(1, testFinalize-1).Draw(rt, "maxDelay")
		best := Vote{Leader: -1}
		for _, id := range voters {
			v := Vote{Leader: id, Zxid: rapid.Int64Range(0, 3).Draw(rt, "zxid"), PeerEpoch: rapid.Int64Range(0, 2).Draw(rt, "epoch")}
			if v.Beats(best) {
				best = v
			}
			net.start(id, v.Zxid, v.PeerEpoch)
		}
		net.runUntil(1000, "every server decided", func() bool { return net.allDecided(voters...) })
		for _, id := range voters {
			v, st, _ := net.servers[id].Decided()
			if v != best {
				rt.Fatalf("server %d elected %v, want %v; %s", id, v, best, net.states())
			}
			want := Following
			if id == best.Leader {
				want = Leading
			}
			if st != want {
				rt.Fatalf("server %d is %s, want %s", id, st, want)
			}
		}
	})
}

// TestLateJoinerFollowsTheEstablishedLeader: a server that starts after a
// quorum elected a leader follows it, even though its own vote is better
// (receivedFollowingNotification, checkLeader).
func TestLateJoinerFollowsTheEstablishedLeader(t *testing.T) {
	net := newElectionNet(t, 1, []int64{1, 2, 3}, nil)
	net.down[3] = true
	net.start(1, 0x100000004, 1)
	net.start(2, 0x100000004, 1)
	net.runUntil(200, "1 and 2 decided", func() bool { return net.allDecided(1, 2) })
	if net.leaderOf(1) != 2 || net.leaderOf(2) != 2 {
		t.Fatalf("states: %s", net.states())
	}
	delete(net.down, 3)
	net.start(3, 0x100000009, 1) // more txns than the leader
	net.runUntil(200, "3 decided", func() bool { return net.allDecided(3) })
	if v, st, _ := net.servers[3].Decided(); v.Leader != 2 || st != Following {
		t.Fatalf("late joiner: %s", net.states())
	}
	if net.servers[3].Clock() != net.servers[2].Clock() {
		t.Errorf("late joiner's round %d, the leader's %d", net.servers[3].Clock(), net.servers[2].Clock())
	}
}

// TestObserversNeverVote: an observer ends OBSERVING the voters' leader,
// and its notifications never count towards a quorum.
func TestObserversNeverVote(t *testing.T) {
	net := newElectionNet(t, 2, []int64{1, 2, 3}, []int64{9})
	net.down[2], net.down[3] = true, true
	net.start(1, 5, 1)
	net.start(9, 0, 0)
	for range 200 {
		net.tick()
	}
	if net.allDecided(1) || net.allDecided(9) {
		t.Fatalf("a voter and an observer decided without a quorum of voters: %s", net.states())
	}
	delete(net.down, 2)
	net.start(2, 5, 1)
	net.runUntil(500, "all decided", func() bool { return net.allDecided(1, 2, 9) })
	if v, st, _ := net.servers[9].Decided(); v.Leader != 2 || st != Observing {
		t.Fatalf("observer: %s", net.states())
	}
}

// TestNoQuorumBacksOff: a server alone keeps looking and resends its vote
// at doubling intervals (200 ms, 400 ms, ... capped at 60 s in ZooKeeper).
func TestNoQuorumBacksOff(t *testing.T) {
	e := NewElection(ElectionConfig{ID: 1, Voters: []int64{1, 2, 3}, FinalizeWait: 2, MaxNotificationInterval: 16})
	e.Start(0, 0)
	if got := len(e.Messages()); got != 2 {
		t.Fatalf("first round sent %d notifications, want 2 (one per other voter)", got)
	}
	var sends []int
	for tick := 1; tick <= 80; tick++ {
		e.Tick()
		if len(e.Messages()) > 0 {
			sends = append(sends, tick)
		}
	}
	want := []int{2, 6, 14, 30, 46, 62, 78} // intervals 2, 4, 8, 16, 16, ...
	if !slices.Equal(sends, want) {
		t.Fatalf("resent at ticks %v, want %v", sends, want)
	}
	if _, _, ok := e.Decided(); ok {
		t.Fatal("decided alone in an ensemble of three")
	}
}

// TestElectionSurvivesLossAndCrashes: with notifications dropped and
// delayed beyond the finalize wait, and servers crashing and restarting (a
// restart is a new process: its round starts from zero), FLE may elect
// two leaders; ZAB's discovery then sends a leader without a quorum of
// followers, and a follower without a leader, back to LOOKING. With that
// stand-in for discovery, once the faults stop every server settles on one
// leader, a voter that leads, followed by every voter and observed by the
// observer.
func TestElectionSurvivesLossAndCrashes(t *testing.T) {
	seeds := 300
	if testing.Short() {
		seeds = 50
	}
	for seed := range uint64(seeds) {
		runFaultySeed(t, seed)
	}
}

// discoveryLimit is how long (ticks) a leader may lack a quorum of
// followers, or a follower a leader, before it looks again (initLimit,
// syncLimit).
const discoveryLimit = 20

func runFaultySeed(t *testing.T, seed uint64) {
	voters := []int64{1, 2, 3, 4, 5}
	net := newElectionNet(t, seed, voters, []int64{6})
	net.maxDelay = 8
	net.dropRate = 0.2
	own := map[int64]Vote{}
	for _, id := range net.ids() {
		v := Vote{Leader: id, Zxid: int64(net.rng.IntN(3)), PeerEpoch: int64(net.rng.IntN(2))}
		own[id] = v
		net.start(id, v.Zxid, v.PeerEpoch)
	}
	restart := func(id int64) {
		delete(net.down, id)
		net.servers[id] = NewElection(net.servers[id].cfg)
		net.start(id, own[id].Zxid, own[id].PeerEpoch)
	}
	unsettled := map[int64]int{}
	discovery := func() {
		for _, id := range net.ids() {
			e := net.servers[id]
			v, st, ok := e.Decided()
			if !ok || net.down[id] {
				delete(unsettled, id)
				continue
			}
			good := false
			switch st {
			case Leading:
				followers := 1
				for _, f := range voters {
					if fv, fst, ok := net.servers[f].Decided(); f != id && ok && !net.down[f] && fst == Following && fv.Leader == id {
						followers++
					}
				}
				good = followers > len(voters)/2
			default:
				_, lst, ok := net.servers[v.Leader].Decided()
				good = ok && !net.down[v.Leader] && lst == Leading
			}
			if good {
				delete(unsettled, id)
				continue
			}
			if unsettled[id]++; unsettled[id] > discoveryLimit {
				delete(unsettled, id)
				net.log = append(net.log, fmt.Sprintf("t=%d %d looks again", net.now, id))
				e.Start(own[id].Zxid, own[id].PeerEpoch)
				net.collect(id)
			}
		}
	}
	for range 400 {
		if net.rng.IntN(40) == 0 {
			if id := int64(1 + net.rng.IntN(6)); net.down[id] {
				restart(id)
			} else {
				net.down[id] = true
			}
		}
		net.tick()
		discovery()
	}
	// Faults stop: everyone comes back, nothing is lost any more.
	net.dropRate = 0
	for _, id := range net.ids() {
		if net.down[id] {
			restart(id)
		}
	}
	stable := 0
	net.runUntil(20000, fmt.Sprintf("seed %d: one leader followed by all", seed), func() bool {
		discovery()
		leader, ok := int64(0), true
		for _, id := range net.ids() {
			v, _, decided := net.servers[id].Decided()
			if !decided || (leader != 0 && v.Leader != leader) {
				ok = false
				break
			}
			leader = v.Leader
		}
		if ok {
			stable++
		} else {
			stable = 0
		}
		return stable > 2*discoveryLimit
	})
	for _, id := range net.ids() {
		v, st, _ := net.servers[id].Decided()
		want := Following
		switch {
		case id == 6:
			want = Observing
		case id == v.Leader:
			want = Leading
		}
		if st != want || !net.servers[id].IsVoter(v.Leader) {
			t.Fatalf("seed %d: server %d is %s of %d, want %s; %s", seed, id, st, v.Leader, want, net.states())
		}
	}
}

// TestJoinerDoesNotFollowAGoneLeader: followers that have not noticed yet
// that their leader is gone still answer with it; a joiner needs the
// leader's own LEADING notification too before it follows (checkLeader).
// Here the leader restarted, cut off from its followers, and is LOOKING.
func TestJoinerDoesNotFollowAGoneLeader(t *testing.T) {
	net := newElectionNet(t, 3, []int64{1, 2, 3, 4, 5}, nil)
	net.down[5] = true
	for id := int64(1); id <= 4; id++ {
		net.start(id, 7, 1)
	}
	net.runUntil(200, "1..4 decided", func() bool { return net.allDecided(1, 2, 3, 4) })
	if net.leaderOf(1) != 4 {
		t.Fatalf("states: %s", net.states())
	}
	for _, f := range []int64{1, 2, 3} {
		net.cut[[2]int64{4, f}], net.cut[[2]int64{f, 4}] = true, true
	}
	net.servers[4] = NewElection(net.servers[4].cfg)
	net.start(4, 7, 1)
	delete(net.down, 5)
	net.start(5, 7, 1)
	for range 300 {
		net.tick()
	}
	if net.allDecided(5) {
		t.Fatalf("joiner followed a leader that is gone: %s", net.states())
	}
}

// TestLastRoundRecordsTheCountedVotes: a decided round keeps its round
// number, the votes counted (by sid) and the outcome, for the driver's one
// log line per round; a late joiner's round shows the settled servers'
// votes it adopted the leader from.
func TestLastRoundRecordsTheCountedVotes(t *testing.T) {
	net := newElectionNet(t, 1, []int64{1, 2, 3}, nil)
	net.down[3] = true
	if _, ok := net.servers[1].LastRound(); ok {
		t.Fatal("a round reported before any was decided")
	}
	net.start(1, 0x100000004, 1)
	net.start(2, 0x100000003, 1)
	net.runUntil(200, "1 and 2 decided", func() bool { return net.allDecided(1, 2) })
	r, ok := net.servers[2].LastRound()
	elected := Vote{Leader: 1, Zxid: 0x100000004, PeerEpoch: 1}
	if !ok || r.N != 1 || r.State != Leading && r.State != Following || r.Elected != elected || r.ElectionEpoch != net.servers[2].Clock() {
		t.Fatalf("server 2's round: %+v ok=%v", r, ok)
	}
	if r.State != Following {
		t.Errorf("server 2's new state %s, want FOLLOWING", r.State)
	}
	if len(r.Votes) != 2 || r.Votes[0].From != 1 || r.Votes[1].From != 2 {
		t.Fatalf("server 2's counted votes: %+v", r.Votes)
	}
	for _, v := range r.Votes {
		if v.Vote != elected || v.State != Looking || v.ElectionEpoch != r.ElectionEpoch {
			t.Errorf("vote of %d: %+v; want LOOKING %v in round %d", v.From, v, elected, r.ElectionEpoch)
		}
	}
	if r1, _ := net.servers[1].LastRound(); r1.State != Leading || r1.Elected != elected {
		t.Errorf("server 1's round: %+v", r1)
	}

	delete(net.down, 3)
	net.start(3, 0x100000009, 1)
	net.runUntil(200, "3 decided", func() bool { return net.allDecided(3) })
	r3, ok := net.servers[3].LastRound()
	if !ok || r3.State != Following || r3.Elected.Leader != 1 {
		t.Fatalf("late joiner's round: %+v", r3)
	}
	states := map[int64]Role{}
	for _, v := range r3.Votes {
		states[v.From] = v.State
	}
	if states[1] != Leading || states[2] != Following {
		t.Errorf("late joiner counted %+v; want server 1 LEADING and 2 FOLLOWING", r3.Votes)
	}

	// The next round gets the next number.
	net.start(2, 0x100000004, 1)
	net.runUntil(200, "2 decided again", func() bool { return net.allDecided(2) })
	if r, _ := net.servers[2].LastRound(); r.N != 2 {
		t.Errorf("second round numbered %d", r.N)
	}
}
