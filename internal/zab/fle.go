package zab

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// NotificationVersion is the notification format ZooKeeper 3.5+ sends:
// with peerEpoch, version and the quorum config text.
const NotificationVersion = 2

// Default FLE timing (FastLeaderElection.finalizeWait and
// maxNotificationInterval), in milliseconds; ElectionConfig takes them in
// ticks of the driver's election clock.
const (
	DefaultFinalizeWaitMs            = 200
	DefaultMaxNotificationIntervalMs = 60000
)

// Vote is a proposed leader: FLE compares votes by the proposed leader's
// epoch, then its last zxid, then its sid.
type Vote struct {
	Leader    int64 // sid of the proposed leader
	Zxid      int64 // its last logged zxid
	PeerEpoch int64 // its current epoch
}

// Beats is FastLeaderElection.totalOrderPredicate for voters of weight one:
// a newer epoch wins, then a newer zxid, then the larger sid.
func (a Vote) Beats(b Vote) bool {
	if a.PeerEpoch != b.PeerEpoch {
		return a.PeerEpoch > b.PeerEpoch
	}
	if a.Zxid != b.Zxid {
		return a.Zxid > b.Zxid
	}
	return a.Leader > b.Leader
}

func (a Vote) String() string {
	return fmt.Sprintf("(%d, 0x%x, %d)", a.Leader, uint64(a.Zxid), a.PeerEpoch)
}

// Notification is one FLE message on the election port (§2 of the quorum
// protocol sheet): the sender's state, its vote and its round.
type Notification struct {
	From, To int64
	// State is the sender's peer state.
	State Role
	Vote  Vote
	// ElectionEpoch is the sender's logical clock; a server that is not
	// LOOKING sends the round its current vote was elected in.
	ElectionEpoch int64
	// Version is the message format (NotificationVersion on sends; 0 for
	// the older shapes without one).
	Version int32
}

func (n Notification) String() string {
	return fmt.Sprintf("%d->%d %s vote=%s round=%d", n.From, n.To, n.State, n.Vote, n.ElectionEpoch)
}

// ElectionConfig is what an election needs to know of the ensemble.
type ElectionConfig struct {
	ID int64
	// Voters are the sids of the participants (this server among them
	// unless it is an observer). A majority of them is a quorum.
	Voters []int64
	// FinalizeWait is how many ticks without a better vote a quorum's
	// agreement must last before it is final (finalizeWait, 200 ms).
	FinalizeWait int
	// MaxNotificationInterval caps the doubling resend interval, in ticks
	// (maxNotificationInterval, 60 s); the first interval is FinalizeWait.
	MaxNotificationInterval int
}

// ballot is a vote as FLE's vote sets keep it (ZooKeeper's Vote with its
// round, state and version).
type ballot struct {
	Vote
	ElectionEpoch int64
	State         Role
	Version       int32
}

// agrees is Vote.equals: votes of LOOKING servers agree when leader, zxid,
// round and epoch are equal; votes of servers that settled agree on the
// leader (and its epoch, unless only one of them carries a version).
func (a ballot) agrees(b ballot) bool {
	if a.State == Looking || b.State == Looking {
		return a.Vote == b.Vote && a.ElectionEpoch == b.ElectionEpoch
	}
	if (a.Version > 0) != (b.Version > 0) {
		return a.Leader == b.Leader
	}
	return a.Leader == b.Leader && a.PeerEpoch == b.PeerEpoch
}

// Election is one server's Fast Leader Election (FastLeaderElection.java
// of ZooKeeper 3.8, lookForLeader and WorkerReceiver together), as a
// state machine: Start begins a round, Step takes each notification, Tick
// advances time, Messages drains what to send and Decided says how the
// round ended. It lives as long as the server: the logical clock carries
// from one round to the next.
type Election struct {
	cfg    ElectionConfig
	voters map[int64]bool

	// state is this server's peer state as the election answers with it.
	state Role
	// clock is the logical clock: the round of the current election.
	clock int64
	// self is this server's own vote (initId, initLastLoggedZxid,
	// peerEpoch), the lowest possible for an observer.
	self Vote
	// proposal is the vote this server currently sends.
	proposal Vote
	// current is the vote the server settled on (QuorumPeer's
	// currentVote), answered to LOOKING servers once it is not LOOKING.
	current ballot

	// recv holds this round's votes (recvset); outOfElection the votes of
	// servers that settled (outofelection).
	recv, outOfElection map[int64]ballot

	// idle counts ticks since the last notification; at notTimeout the
	// notifications are sent again and notTimeout doubles.
	idle, notTimeout int
	// finalizing: a quorum agrees on proposal; final after FinalizeWait
	// ticks in which no notification arrives.
	finalizing   bool
	finalizeIdle int

	started, decided bool
	// last is how the last round ended (rounds counts them).
	last   Round
	rounds int64
	out    []Notification
	// loop holds notifications to this server itself, delivered after
	// the step that sent them (QuorumCnxManager's own queue).
	loop []Notification
}

// NewElection returns an election that has not started: it ignores
// notifications until Start.
func NewElection(cfg ElectionConfig) *Election {
	if cfg.FinalizeWait < 1 {
		cfg.FinalizeWait = 1
	}
	if cfg.MaxNotificationInterval < cfg.FinalizeWait {
		cfg.MaxNotificationInterval = cfg.FinalizeWait
	}
	e := &Election{cfg: cfg, voters: map[int64]bool{}, state: Looking}
	for _, v := range cfg.Voters {
		e.voters[v] = true
	}
	return e
}

// IsVoter reports whether sid is a participant.
func (e *Election) IsVoter(sid int64) bool { return e.voters[sid] }

// Clock is the logical clock (the round).
func (e *Election) Clock() int64 { return e.clock }

// Proposal is the vote this server currently proposes.
func (e *Election) Proposal() Vote { return e.proposal }

// Start begins a round, as lookForLeader does: the clock moves on, this
// server votes for itself (zxid and epoch are its last logged zxid and
// currentEpoch) and tells every voter. An observer proposes nobody (the
// lowest vote) and takes the voters' choice.
func (e *Election) Start(zxid, currentEpoch int64) {
	e.state = Looking
	e.decided = false
	e.clock++
	if e.voters[e.cfg.ID] {
		e.self = Vote{Leader: e.cfg.ID, Zxid: zxid, PeerEpoch: currentEpoch}
	} else {
		e.self = Vote{Leader: math.MinInt64, Zxid: math.MinInt64, PeerEpoch: math.MinInt64}
	}
	e.proposal = e.self
	if !e.started {
		// QuorumPeer's currentVote starts as the server's own vote and
		// then only changes when a round ends.
		e.current = ballot{Vote: e.self, ElectionEpoch: e.clock, State: Looking}
		e.started = true
	}
	e.recv, e.outOfElection = map[int64]ballot{}, map[int64]ballot{}
	e.idle, e.notTimeout = 0, e.cfg.FinalizeWait
	e.finalizing, e.finalizeIdle = false, 0
	e.sendNotifications()
	e.deliverLoop()
}

// Looking reports whether a round is running.
func (e *Election) Looking() bool { return e.state == Looking && !e.decided && e.recv != nil }

// Decided reports how the last round ended: the vote elected and this
// server's state (LEADING, FOLLOWING or OBSERVING); ok is false while the
// round runs.
func (e *Election) Decided() (v Vote, state Role, ok bool) {
	if !e.decided {
		return Vote{}, Looking, false
	}
	return e.current.Vote, e.state, true
}

// Round is how an election round ended: its logical clock, the votes
// that were counted toward the outcome, and the vote elected. The driver
// logs it; the election only keeps the last one.
type Round struct {
	// N numbers the rounds this election decided, from 1: a new N is a
	// new round to report.
	N int64
	// ElectionEpoch is the round (logical clock) the elected vote belongs to.
	ElectionEpoch int64
	// Votes are the counted votes by sender sid (this round's votes, or
	// those of the settled servers a late joiner adopted the leader from).
	Votes   []CountedVote
	Elected Vote
	// State is this server's new state: LEADING, FOLLOWING or OBSERVING.
	State Role
}

// CountedVote is one server's vote as the round counted it.
type CountedVote struct {
	From int64
	// State is the sender's state (LOOKING, or FOLLOWING/LEADING for a
	// server that had settled).
	State         Role
	Vote          Vote
	ElectionEpoch int64
}

// LastRound returns how the last decided round ended; false before any.
func (e *Election) LastRound() (Round, bool) { return e.last, e.rounds > 0 }

// Settled updates the vote this server answers with once it is not
// LOOKING: after the new leader's UPTODATE the vote carries the new epoch
// (ZOOKEEPER-1732), so that every member answers late joiners alike.
func (e *Election) Settled(state Role, v Vote) {
	e.state = state
	e.current.Vote = v
	e.current.State = state
}

// Messages returns the notifications to send and forgets them.
func (e *Election) Messages() []Notification {
	out := e.out
	e.out = nil
	return out
}

// Tick advances time by one tick: a round with no notification for the
// resend interval sends its vote again (doubling the interval up to
// MaxNotificationInterval), and a quorum's agreement that lasted
// FinalizeWait ticks ends the round.
func (e *Election) Tick() {
	if !e.Looking() {
		return
	}
	if e.finalizing {
		e.finalizeIdle++
		if e.finalizeIdle >= e.cfg.FinalizeWait {
			e.finish(e.proposal, e.clock, e.recv)
		}
		return
	}
	e.idle++
	if e.idle >= e.notTimeout {
		e.idle = 0
		e.notTimeout = min(e.notTimeout*2, e.cfg.MaxNotificationInterval)
		e.sendNotifications()
		e.deliverLoop()
	}
}

// Step takes a notification addressed to this server.
func (e *Election) Step(n Notification) {
	e.receive(n)
	e.deliverLoop()
}

func (e *Election) deliverLoop() {
	for len(e.loop) > 0 {
		n := e.loop[0]
		e.loop = e.loop[1:]
		if e.decided {
			continue // the round is over; the rest of its queue is stale
		}
		e.receive(n)
	}
	e.loop = nil
}

// receive is WorkerReceiver: answers first, then the round's logic.
func (e *Election) receive(n Notification) {
	if n.State > Observing || !e.started {
		return
	}
	if !e.voters[n.From] {
		// A non-voter (an observer) is told at once what this server
		// settled on last, its round and its state.
		e.send(n.From, e.current.Vote, e.clock)
		return
	}
	if e.Looking() {
		if n.State == Looking && n.ElectionEpoch < e.clock {
			// Help a server of an older round catch up.
			e.send(n.From, e.proposal, e.clock)
		}
		e.lookForLeader(n)
		return
	}
	if n.State == Looking {
		// Settled: tell the LOOKING server whom this server follows, with
		// the round that vote was elected in.
		e.send(n.From, e.current.Vote, e.current.ElectionEpoch)
	}
}

// lookForLeader is the body of FastLeaderElection.lookForLeader's loop for
// one notification from a voter.
func (e *Election) lookForLeader(n Notification) {
	e.idle = 0
	if e.finalizing {
		// While a quorum's agreement waits to be final, notifications
		// that do not beat the proposal are dropped, as lookForLeader's
		// inner poll drops them; a better one goes back to the loop.
		if !e.voters[n.Vote.Leader] || !n.Vote.Beats(e.proposal) {
			e.finalizeIdle = 0
			return
		}
		e.finalizing = false
	}
	if !e.voters[n.Vote.Leader] {
		return
	}
	switch n.State {
	case Looking:
		if e.self.Zxid == -1 || n.Vote.Zxid == -1 {
			return
		}
		switch {
		case n.ElectionEpoch > e.clock:
			e.clock = n.ElectionEpoch
			clear(e.recv)
			if n.Vote.Beats(e.self) {
				e.proposal = n.Vote
			} else {
				e.proposal = e.self
			}
			e.sendNotifications()
		case n.ElectionEpoch < e.clock:
			return
		case n.Vote.Beats(e.proposal):
			e.proposal = n.Vote
			e.sendNotifications()
		}
		e.recv[n.From] = ballot{Vote: n.Vote, ElectionEpoch: n.ElectionEpoch, State: Looking}
		if e.hasQuorum(e.recv, ballot{Vote: e.proposal, ElectionEpoch: e.clock, State: Looking}) {
			e.finalizing, e.finalizeIdle = true, 0
		}
	case Observing:
		// Observers never count.
	case Following, Leading:
		// receivedFollowingNotification: a late joiner adopts the leader
		// that an established quorum follows.
		theirs := ballot{Vote: n.Vote, ElectionEpoch: n.ElectionEpoch, State: n.State, Version: n.Version}
		if n.ElectionEpoch == e.clock {
			e.recv[n.From] = ballot{Vote: n.Vote, ElectionEpoch: n.ElectionEpoch, State: n.State}
			if e.hasQuorum(e.recv, theirs) && e.checkLeader(e.recv, n.Vote.Leader, n.ElectionEpoch) {
				e.finish(n.Vote, n.ElectionEpoch, e.recv)
				return
			}
		}
		e.outOfElection[n.From] = theirs
		if e.hasQuorum(e.outOfElection, theirs) && e.checkLeader(e.outOfElection, n.Vote.Leader, n.ElectionEpoch) {
			e.clock = n.ElectionEpoch
			e.finish(n.Vote, n.ElectionEpoch, e.outOfElection)
		}
	}
}

// checkLeader: a leader other than this server must itself say LEADING;
// this server may lead only what its own round elected.
func (e *Election) checkLeader(votes map[int64]ballot, leader, electionEpoch int64) bool {
	if leader != e.cfg.ID {
		b, ok := votes[leader]
		return ok && b.State == Leading
	}
	return e.clock == electionEpoch
}

// hasQuorum: a majority of the voters cast a vote that agrees with b.
func (e *Election) hasQuorum(votes map[int64]ballot, b ballot) bool {
	acks := 0
	for sid, v := range votes {
		if e.voters[sid] && b.agrees(v) {
			acks++
		}
	}
	return acks > len(e.voters)/2
}

// finish ends the round on v; counted are the votes that decided it.
func (e *Election) finish(v Vote, electionEpoch int64, counted map[int64]ballot) {
	e.decided = true
	e.finalizing = false
	switch {
	case v.Leader == e.cfg.ID:
		e.state = Leading
	case e.voters[e.cfg.ID]:
		e.state = Following
	default:
		e.state = Observing
	}
	e.current = ballot{Vote: v, ElectionEpoch: electionEpoch, State: e.state}
	e.rounds++
	e.last = Round{N: e.rounds, ElectionEpoch: electionEpoch, Elected: v, State: e.state,
		Votes: make([]CountedVote, 0, len(counted))}
	for sid, b := range counted {
		e.last.Votes = append(e.last.Votes, CountedVote{From: sid, State: b.State, Vote: b.Vote, ElectionEpoch: b.ElectionEpoch})
	}
	slices.SortFunc(e.last.Votes, func(a, b CountedVote) int { return cmp.Compare(a.From, b.From) })
	e.recv, e.outOfElection = nil, nil
	e.loop = nil
}

// sendNotifications tells every voter this server's proposal and round.
func (e *Election) sendNotifications() {
	for _, sid := range e.sortedVoters() {
		e.send(sid, e.proposal, e.clock)
	}
}

func (e *Election) sortedVoters() []int64 {
	v := append([]int64(nil), e.cfg.Voters...)
	slices.Sort(v)
	return v
}

func (e *Election) send(to int64, v Vote, electionEpoch int64) {
	state := e.state
	if e.Looking() {
		state = Looking
	}
	n := Notification{From: e.cfg.ID, To: to, State: state, Vote: v, ElectionEpoch: electionEpoch, Version: NotificationVersion}
	if to == e.cfg.ID {
		e.loop = append(e.loop, n)
		return
	}
	e.out = append(e.out, n)
}
