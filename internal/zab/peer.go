package zab

import (
	"errors"
	"fmt"
	"slices"
	"sort"
)

// Quorum messages (the packets of the quorum port, §3 of the protocol
// sheet). Zxid and Epoch carry what the packet's zxid and data carry on
// the wire; Data is a txn's log record (PROPOSAL, INFORM) or a snapshot
// (SNAP, filled in by the driver).
const (
	// MsgFollowerInfo / MsgObserverInfo: a learner registers; Zxid is
	// MakeZxid(acceptedEpoch, 0).
	MsgFollowerInfo MessageType = iota + 1
	MsgObserverInfo
	// MsgLeaderInfo: the new epoch, as MakeZxid(newEpoch, 0).
	MsgLeaderInfo
	// MsgAckEpoch: Zxid is the learner's last logged zxid, Epoch its
	// currentEpoch, or -1 when it had accepted the new epoch already.
	MsgAckEpoch
	// MsgDiff, MsgTrunc, MsgSnap: how the learner is synchronised. Zxid
	// is the leader's last committed zxid (DIFF), the zxid to truncate the
	// log to (TRUNC), or the zxid of the snapshot in Data (SNAP).
	MsgDiff
	MsgTrunc
	MsgSnap
	// MsgNewLeader: Zxid is MakeZxid(newEpoch, 0).
	MsgNewLeader
	// MsgAck: a learner logged Zxid durably; MakeZxid(newEpoch, 0) acks
	// NEWLEADER (and, once more, UPTODATE).
	MsgAck
	MsgUpToDate
	MsgProposal
	MsgCommit
	// MsgInform: a committed txn for an observer.
	MsgInform
	// MsgPing: Zxid is the leader's last proposed zxid; a learner echoes it.
	MsgPing
	// MsgDisconnected: the driver lost the quorum connection to From.
	MsgDisconnected
)

var msgNames = map[MessageType]string{
	MsgPersisted: "PERSISTED", MsgFollowerInfo: "FOLLOWERINFO", MsgObserverInfo: "OBSERVERINFO",
	MsgLeaderInfo: "LEADERINFO", MsgAckEpoch: "ACKEPOCH", MsgDiff: "DIFF", MsgTrunc: "TRUNC", MsgSnap: "SNAP",
	MsgNewLeader: "NEWLEADER", MsgAck: "ACK", MsgUpToDate: "UPTODATE", MsgProposal: "PROPOSAL",
	MsgCommit: "COMMIT", MsgInform: "INFORM", MsgPing: "PING", MsgDisconnected: "DISCONNECTED",
}

func (t MessageType) String() string {
	if s, ok := msgNames[t]; ok {
		return s
	}
	return fmt.Sprintf("MessageType(%d)", uint8(t))
}

func (m Message) String() string {
	return fmt.Sprintf("%d->%d %s 0x%x", m.From, m.To, m.Type, uint64(m.Zxid))
}

// DefaultCommitLogCount is how many committed proposals a leader keeps to
// bring a learner up to date with DIFF (zookeeper.commitLogCount).
const DefaultCommitLogCount = 500

// PeerConfig is a server of an ensemble, as its configuration and
// recovery found it. Times are in ticks of the driver's clock.
type PeerConfig struct {
	Config
	// Voters are the participants' sids; Observers the observers'. ID is
	// one of them.
	Voters, Observers []int64
	// History is the tail of the log as recovered (the last entries, in
	// order, up to LastZxid): what a leader can send as DIFF. HistoryBase
	// is the zxid of the entry before History[0] (the snapshot's, say).
	History     []Entry
	HistoryBase int64
	// TickTime is how many ticks make one ZooKeeper tick (tickTime);
	// InitLimit and SyncLimit are in ZooKeeper ticks, as in zoo.cfg.
	TickTime, InitLimit, SyncLimit int
	// FinalizeWait and MaxNotificationInterval time the election.
	FinalizeWait, MaxNotificationInterval int
	// CommitLogCount bounds the committed proposals kept for DIFF
	// (DefaultCommitLogCount when 0).
	CommitLogCount int
	// Standalone makes the peer an ensemble of one voter (Voters is its
	// own ID alone) that leads at once, in the epoch recovery found, with
	// no election or discovery: a standalone ZooKeeper server continues
	// the log's zxids. Its own durable append is the quorum's ACK.
	Standalone bool
	// Bugs are deliberate mistakes, for internal/sim's tests only.
	Bugs Bugs
}

// Bugs switch on deliberate mistakes so that internal/sim can show that
// its invariants catch them. TEST ONLY: a server never sets them, and the
// zero value (every mistake off) is the correct protocol. Each costs one
// branch where it bites.
type Bugs struct {
	// AckBeforeFsync: a follower ACKs a proposal as soon as it hands it
	// to its log, before the fsync, so a quorum's ACKs can outnumber the
	// copies that survive a power failure.
	AckBeforeFsync bool
	// SameEpoch: a new leader keeps its accepted epoch instead of moving to
	// a new one, so two leaders can share an epoch.
	SameEpoch bool
	// LazyAcceptedEpoch: a learner acks a new epoch (ACKEPOCH, its vote
	// for that epoch's leader) before acceptedEpoch is durable, writing it
	// only with currentEpoch at NEWLEADER. A crash in between forgets the
	// vote, and the learner can vote again for another leader of the same
	// epoch (as a Raft server that does not persist votedFor votes twice
	// in a term).
	LazyAcceptedEpoch bool
}

// Snapshot is a learner's state sent in SNAP: install it, durably, before
// the messages of the Ready that carries it leave.
type Snapshot struct {
	Zxid int64
	Data []byte
}

// Peer is one server of an ensemble: it elects (LOOKING), leads or
// learns. Each role runs ZooKeeper's three phases after the election:
// discovery (a new epoch from a quorum's accepted epochs), synchronisation
// (DIFF, TRUNC or SNAP, then NEWLEADER and UPTODATE) and broadcast
// (PROPOSAL, ACK, COMMIT in zxid order; INFORM to observers). It is not
// safe for concurrent use and does no I/O: the driver carries out Ready.
type Peer struct {
	cfg       PeerConfig
	voters    map[int64]bool
	observers map[int64]bool
	role      Role
	election  *Election
	now       int // ticks since start
	// diffsSent, snapsSent: learner syncs by DIFF or TRUNC, and by SNAP.
	diffsSent, snapsSent int64

	currentEpoch, acceptedEpoch int64
	writeAccepted, writeCurrent int64

	// hist are the entries handed to the log, in zxid order: the last
	// CommitLogCount committed ones and every uncommitted one.
	// Invariant: committed <= persisted <= lastLogged; hist holds every
	// entry after committed.
	hist []Entry
	// histBase is the zxid of the entry just before hist[0] (or the last
	// logged one when hist is empty): a learner there needs no snapshot.
	histBase int64
	// snapZxid is the zxid of the snapshot the durable state starts from
	// (HistoryBase at start): a TRUNC cannot cut below it.
	snapZxid   int64
	lastLogged int64
	persisted  int64
	committed  int64

	unstable     []Entry
	committedOut []Entry
	msgs         []Message
	truncate     int64
	snapshot     *Snapshot
	// afterPersist are messages that leave once persisted reaches zxid.
	afterPersist []pendingMessage

	lead  *leading
	learn *learning
	// generation counts role changes: quorum connections of an older
	// generation are gone (the driver closes them).
	generation uint64

	// What the last Ready handed out, dropped by Advance.
	handed readyMarks
}

type pendingMessage struct {
	zxid int64
	// epoch, when not 0, is the currentEpoch to write before msg leaves.
	epoch int64
	msg   Message
}

type readyMarks struct {
	entries, committed, msgs int
	accepted, current        int64
	truncate                 int64
	snapshot                 *Snapshot
}

// Leader state, from LEADING until the peer looks again.
type leading struct {
	epoch      int64 // the new epoch (a candidate until epochSet)
	epochSet   bool  // a quorum registered: acceptedEpoch = epoch
	epochAcked bool  // a quorum acked the epoch: currentEpoch = epoch
	running    bool  // a quorum acked NEWLEADER: broadcasting
	started    int   // tick the phase began (initLimit counts from it)
	connecting map[int64]bool
	electing   map[int64]bool
	newLeader  map[int64]bool
	learners   map[int64]*learnerHandler
	// sorted are the learners' sids in order, nil when learners changed
	// since (sortedLearners rebuilds it): every proposal and commit walks
	// them.
	sorted []int64
	// inflight are proposals not yet committed, in zxid order; a voter
	// acked one when its handler's acked reaches its zxid.
	inflight []Entry
	lastPing int
}

type learnerStage uint8

const (
	stageRegistered learnerStage = iota // FOLLOWERINFO received
	stageInformed                       // LEADERINFO sent
	stageSyncing                        // ACKEPOCH received; sync and NEWLEADER sent
	stageNewLeaderAcked
	stageUpToDate
)

// learnerHandler is the leader's view of one learner (LearnerHandler).
type learnerHandler struct {
	sid           int64
	observer      bool
	stage         learnerStage
	acceptedEpoch int64
	lastZxid      int64
	forwarding    bool // gets PROPOSAL/COMMIT (INFORM) as they happen
	deadline      int  // the learner must be heard from by this tick
	// acked is the newest proposal the learner acked. A learner logs what
	// its leader sends in order on one connection, so an ACK of a zxid
	// acks every proposal before it (raft's matchIndex).
	acked int64
}

// Learner state, from FOLLOWING or OBSERVING until the peer looks again.
type learning struct {
	leader   int64
	newEpoch int64
	stage    learnerStage
	heard    int // tick of the last packet from the leader
	// registered is the tick FOLLOWERINFO was last sent.
	registered int
	// held are proposals received before UPTODATE and not logged yet;
	// heldCommits the commits received before UPTODATE.
	held        []Entry
	heldCommits []int64
	snap        *Snapshot // SNAP received, installed at NEWLEADER
	acked       int64     // last zxid ACKed
}

var (
	// ErrNotVoter: a peer's config must list it as a voter or an observer.
	ErrNotMember = errors.New("zab: the server is not in the ensemble")
)

// NewPeer returns a peer that starts LOOKING, or LEADING when standalone.
func NewPeer(cfg PeerConfig) (*Peer, error) {
	if cfg.Standalone {
		if len(cfg.Voters) != 1 || cfg.Voters[0] != cfg.ID || len(cfg.Observers) > 0 {
			return nil, fmt.Errorf("zab: a standalone peer must be its only voter (myid %d, voters %v, observers %v)", cfg.ID, cfg.Voters, cfg.Observers)
		}
	} else {
		// Only a learner installs a leader's snapshot.
		cfg.Config = epochAfterSnapshot(cfg.Config)
	}
	cur, acc, wCur, wAcc, err := initialEpochs(cfg.Config)
	if err != nil {
		return nil, err
	}
	if cfg.TickTime < 2 {
		cfg.TickTime = 2
	}
	if cfg.InitLimit < 1 {
		cfg.InitLimit = 10
	}
	if cfg.SyncLimit < 1 {
		cfg.SyncLimit = 5
	}
	if cfg.CommitLogCount <= 0 {
		cfg.CommitLogCount = DefaultCommitLogCount
	}
	p := &Peer{
		cfg: cfg, voters: map[int64]bool{}, observers: map[int64]bool{},
		currentEpoch: cur, acceptedEpoch: acc, writeCurrent: wCur, writeAccepted: wAcc,
		lastLogged: cfg.LastZxid, persisted: cfg.LastZxid, committed: cfg.LastZxid,
		truncate: -1,
	}
	for _, v := range cfg.Voters {
		p.voters[v] = true
	}
	for _, o := range cfg.Observers {
		p.observers[o] = true
	}
	if !p.voters[cfg.ID] && !p.observers[cfg.ID] {
		return nil, fmt.Errorf("%w: myid %d is neither a voter nor an observer", ErrNotMember, cfg.ID)
	}
	p.histBase = cfg.LastZxid
	for _, e := range cfg.History {
		if e.Zxid <= cfg.LastZxid {
			p.hist = append(p.hist, e)
		}
	}
	if len(p.hist) > 0 {
		p.histBase = cfg.HistoryBase
	}
	p.snapZxid = min(cfg.HistoryBase, cfg.LastZxid)
	p.trimHistory()
	p.election = NewElection(ElectionConfig{ID: cfg.ID, Voters: cfg.Voters,
		FinalizeWait: cfg.FinalizeWait, MaxNotificationInterval: cfg.MaxNotificationInterval})
	if cfg.Standalone {
		p.leadAlone()
		return p, nil
	}
	p.lookAgain("start")
	return p, nil
}

// leadAlone makes a standalone peer the leader at once, broadcasting in
// its current epoch: a quorum of one has registered, acked the epoch and
// acked NEWLEADER.
func (p *Peer) leadAlone() {
	p.role = Leading
	p.generation++
	p.lead = &leading{
		epoch: p.currentEpoch, epochSet: true, epochAcked: true, running: true, started: p.now, lastPing: p.now,
		connecting: map[int64]bool{p.cfg.ID: true}, electing: map[int64]bool{p.cfg.ID: true}, newLeader: map[int64]bool{p.cfg.ID: true},
		learners: map[int64]*learnerHandler{},
	}
}

// epochAfterSnapshot: a learner installs the leader's snapshot before it
// writes currentEpoch; a crash in between leaves a last zxid of the
// accepted epoch beside the older currentEpoch. The data is the leader's
// (its epoch was accepted first), so the epoch is taken as written, as
// ZooKeeper takes a leftover currentEpoch.tmp.
func epochAfterSnapshot(c Config) Config {
	if e := EpochOf(c.LastZxid); c.CurrentEpoch >= 0 && e > c.CurrentEpoch && e <= c.AcceptedEpoch && c.CurrentEpochTmp < 0 {
		c.CurrentEpochTmp = e
	}
	return c
}

// Role is the peer state.
func (p *Peer) Role() Role { return p.role }

// ID is the server id.
func (p *Peer) ID() int64 { return p.cfg.ID }

// Leader is the sid this peer follows or leads, or -1 while LOOKING.
func (p *Peer) Leader() int64 {
	switch {
	case p.lead != nil:
		return p.cfg.ID
	case p.learn != nil:
		return p.learn.leader
	}
	return -1
}

// Serving reports whether the peer is in broadcast: a leader a quorum
// acked NEWLEADER to, or a learner that got UPTODATE.
func (p *Peer) Serving() bool {
	return (p.lead != nil && p.lead.running) || (p.learn != nil && p.learn.stage == stageUpToDate)
}

// CurrentEpoch, AcceptedEpoch, Committed, LastLogged, Persisted: the
// peer's state.
func (p *Peer) CurrentEpoch() int64  { return p.currentEpoch }
func (p *Peer) AcceptedEpoch() int64 { return p.acceptedEpoch }
func (p *Peer) Committed() int64     { return p.committed }
func (p *Peer) LastLogged() int64    { return p.lastLogged }
func (p *Peer) Persisted() int64     { return p.persisted }

// Inflight is the number of entries a leader proposed (txns and sync
// markers) and has not committed yet.
func (p *Peer) Inflight() int {
	if p.lead == nil {
		return 0
	}
	return len(p.lead.inflight)
}

// LeaderFigures are what mntr shows on a leader (zk_learners,
// zk_synced_followers, zk_synced_observers, zk_pending_syncs,
// zk_quorum_size).
type LeaderFigures struct {
	// QuorumSize is the number of voters in the configuration.
	QuorumSize int
	// Learners counts every learner connected to the leader, synced or not.
	Learners int
	// SyncedFollowers and SyncedObservers count the learners that get
	// proposals (or INFORMs) as they happen: past their sync.
	SyncedFollowers, SyncedObservers int
	// SyncedNonVotingFollowers are the synced followers this config does
	// not list as voters (counted in SyncedFollowers too, as Apache does).
	SyncedNonVotingFollowers int
	// PendingSyncs are sync markers not yet committed.
	PendingSyncs int
}

// SyncsSent counts the learners this peer synced as leader, by DIFF or
// TRUNC and by SNAP, over its whole life.
func (p *Peer) SyncsSent() (diffs, snaps int64) { return p.diffsSent, p.snapsSent }

// LeaderFigures returns the leader's figures, and false when the peer is
// not leading.
func (p *Peer) LeaderFigures() (LeaderFigures, bool) {
	if p.lead == nil {
		return LeaderFigures{}, false
	}
	f := LeaderFigures{QuorumSize: len(p.voters), Learners: len(p.lead.learners)}
	for _, h := range p.lead.learners {
		switch {
		case !h.forwarding:
		case h.observer:
			f.SyncedObservers++
		default:
			f.SyncedFollowers++
			if !p.voters[h.sid] {
				f.SyncedNonVotingFollowers++
			}
		}
	}
	for _, e := range p.lead.inflight {
		if e.Type == EntrySync {
			f.PendingSyncs++
		}
	}
	return f, true
}

// Generation changes whenever the peer changes role: the driver closes
// the quorum connections of older generations.
func (p *Peer) Generation() uint64 { return p.generation }

// Election is the peer's election, for its vote and round.
func (p *Peer) Election() *Election { return p.election }

// lookAgain ends any role and starts an election round. What the log
// holds beyond the commit point is applied first, as ZooKeeper's
// fastForwardDataBase does when a role ends: the vote is the last logged
// zxid, and a leader elected on it commits all of it in the new epoch.
func (p *Peer) lookAgain(why string) {
	_ = why
	p.fastForward()
	p.role = Looking
	p.generation++
	p.lead, p.learn = nil, nil
	p.afterPersist = nil
	p.election.Start(p.lastLogged, p.currentEpoch)
	p.decide()
}

func (p *Peer) fastForward() {
	for _, e := range p.hist {
		if e.Zxid > p.committed {
			p.committedOut = append(p.committedOut, e)
			p.committed = e.Zxid
		}
	}
}

// StepNotification takes an election notification.
func (p *Peer) StepNotification(n Notification) {
	p.election.Step(n)
	if p.role == Looking {
		p.decide()
	}
}

// decide leaves LOOKING when the election has ended.
func (p *Peer) decide() {
	v, state, ok := p.election.Decided()
	if !ok || p.role != Looking {
		return
	}
	p.role = state
	p.generation++
	switch state {
	case Leading:
		p.becomeLeader()
	default:
		p.becomeLearner(v.Leader)
	}
}

func (p *Peer) zkTicks(n int) int { return n * p.cfg.TickTime }

func (p *Peer) becomeLeader() {
	l := &leading{
		epoch: p.acceptedEpoch + 1, started: p.now,
		connecting: map[int64]bool{p.cfg.ID: true}, electing: map[int64]bool{}, newLeader: map[int64]bool{},
		learners: map[int64]*learnerHandler{}, lastPing: p.now,
	}
	if p.cfg.Bugs.SameEpoch {
		l.epoch = p.acceptedEpoch
	}
	p.lead = l
	p.maybeSetEpoch()
}

func (p *Peer) quorum(set map[int64]bool) bool {
	n := 0
	for sid := range set {
		if p.voters[sid] {
			n++
		}
	}
	return n > len(p.voters)/2
}

// maybeSetEpoch: once a quorum of voters registered, the new epoch is the
// highest accepted epoch plus one (Leader.getEpochToPropose).
func (p *Peer) maybeSetEpoch() {
	l := p.lead
	if l.epochSet || !p.quorum(l.connecting) {
		return
	}
	l.epochSet = true
	l.started = p.now
	p.acceptedEpoch = l.epoch
	p.writeAccepted = l.epoch
	for _, sid := range p.sortedLearners() {
		h := l.learners[sid]
		if h.stage == stageRegistered {
			p.sendLeaderInfo(h)
		}
	}
	p.maybeEpochAcked() // an ensemble of one acks alone
}

// sortedLearners are the learners' sids in order. The slice is shared:
// callers must not change it, and it stays valid (if stale) while the
// caller drops or adds learners.
func (p *Peer) sortedLearners() []int64 {
	l := p.lead
	if l.sorted == nil {
		l.sorted = make([]int64, 0, len(l.learners))
		for sid := range l.learners {
			l.sorted = append(l.sorted, sid)
		}
		slices.Sort(l.sorted)
	}
	return l.sorted
}

func (p *Peer) sendLeaderInfo(h *learnerHandler) {
	h.stage = stageInformed
	p.send(Message{Type: MsgLeaderInfo, To: h.sid, Zxid: MakeZxid(p.lead.epoch, 0)})
}

func (p *Peer) becomeLearner(leader int64) {
	p.learn = &learning{leader: leader, heard: p.now, acked: p.lastLogged}
	p.register()
}

// register sends FOLLOWERINFO (OBSERVERINFO); it is sent again every
// ZooKeeper tick until LEADERINFO comes, as a learner retries connecting
// to a leader that is not listening yet.
func (p *Peer) register() {
	t := MsgFollowerInfo
	if p.role == Observing {
		t = MsgObserverInfo
	}
	p.learn.registered = p.now
	p.send(Message{Type: t, To: p.learn.leader, Zxid: MakeZxid(p.acceptedEpoch, 0)})
}

func (p *Peer) send(m Message) {
	m.From = p.cfg.ID
	p.msgs = append(p.msgs, m)
}

// Step takes a quorum message or a local completion.
func (p *Peer) Step(m Message) error {
	if m.Type == MsgPersisted {
		if m.Zxid > p.lastLogged {
			panic(fmt.Sprintf("zab: persisted 0x%x beyond the last logged 0x%x", uint64(m.Zxid), uint64(p.lastLogged)))
		}
		if m.Zxid > p.persisted {
			p.persisted = m.Zxid
		}
		p.releasePersisted()
		return nil
	}
	switch {
	case p.lead != nil:
		return p.stepLeader(m)
	case p.learn != nil:
		return p.stepLearner(m)
	}
	return nil // LOOKING: quorum packets of an old role are dropped
}

// releasePersisted sends what waited for the log, and lets the leader
// count its own ACK, or a learner ACK what it logged.
func (p *Peer) releasePersisted() {
	i := 0
	for ; i < len(p.afterPersist) && p.afterPersist[i].zxid <= p.persisted; i++ {
		if e := p.afterPersist[i].epoch; e > 0 {
			p.currentEpoch, p.writeCurrent = e, e
			if p.cfg.Bugs.LazyAcceptedEpoch {
				p.writeAccepted = p.acceptedEpoch
			}
		}
		p.msgs = append(p.msgs, p.afterPersist[i].msg)
	}
	p.afterPersist = p.afterPersist[i:]
	switch {
	case p.lead != nil && p.lead.running:
		p.tryCommit()
	case p.learn != nil && p.learn.stage == stageUpToDate && p.role == Following:
		for _, e := range p.hist[p.histAfter(p.learn.acked):] {
			if e.Zxid <= p.persisted || p.cfg.Bugs.AckBeforeFsync {
				p.send(Message{Type: MsgAck, To: p.learn.leader, Zxid: e.Zxid})
				p.learn.acked = e.Zxid
			}
		}
	}
}

// logEntry hands an entry to the log.
func (p *Peer) logEntry(e Entry) {
	if e.Zxid <= p.lastLogged {
		panic(fmt.Sprintf("zab: logging 0x%x after 0x%x", uint64(e.Zxid), uint64(p.lastLogged)))
	}
	p.unstable = append(p.unstable, e)
	p.hist = append(p.hist, e)
	p.lastLogged = e.Zxid
}

// commitTo commits every logged entry up to zxid, in order.
func (p *Peer) commitTo(zxid int64) {
	// hist is in zxid order: start after the commit point.
	for _, e := range p.hist[p.histAfter(p.committed):] {
		if e.Zxid > zxid {
			break
		}
		p.committedOut = append(p.committedOut, e)
		p.committed = e.Zxid
	}
	p.trimHistory()
}

// histAfter is the index of the first entry of hist after zxid.
func (p *Peer) histAfter(zxid int64) int {
	return sort.Search(len(p.hist), func(i int) bool { return p.hist[i].Zxid > zxid })
}

// trimHistory keeps at least the last CommitLogCount committed entries
// (up to a quarter more) and every uncommitted one. It cuts only once the
// surplus is a quarter of the bound: trimming on every commit copied the
// whole history each time (a fifth of a leader's CPU under writes).
func (p *Peer) trimHistory() {
	// The committed entries are a prefix: hist is in zxid order.
	n := p.histAfter(p.committed)
	if drop := n - p.cfg.CommitLogCount; drop > 0 && drop >= max(1, p.cfg.CommitLogCount/4) {
		p.histBase = p.hist[drop-1].Zxid
		p.hist = append([]Entry(nil), p.hist[drop:]...)
	}
}

func (p *Peer) stepLeader(m Message) error {
	l := p.lead
	h := l.learners[m.From]
	if h != nil {
		h.deadline = p.now + p.zkTicks(p.cfg.SyncLimit)
	}
	switch m.Type {
	case MsgFollowerInfo, MsgObserverInfo:
		// Any sid is taken in the role it asks for, as Apache's
		// LearnerHandler does ("not in the current config"): a follower
		// this config does not list follows without a vote (quorum counts
		// voters only). That is how servers added to a static config join
		// the running leader before a rolling restart gives it the new one.
		observer := m.Type == MsgObserverInfo
		if h != nil {
			return nil // registered already (a retry)
		}
		h = &learnerHandler{sid: m.From, observer: observer, acceptedEpoch: EpochOf(m.Zxid),
			deadline: p.now + p.zkTicks(p.cfg.InitLimit+p.cfg.SyncLimit)}
		l.learners[m.From] = h
		l.sorted = nil
		if l.epochSet && h.acceptedEpoch > l.epoch {
			// The learner accepted a newer epoch (from a leader that
			// failed in discovery) and would refuse this one forever, as
			// an Apache learner does; ZooKeeper's leader ignores that and
			// the learner never rejoins. Look again instead: the next
			// epoch exceeds every accepted epoch of its quorum, or equals
			// the learner's.
			p.lookAgain(fmt.Sprintf("learner %d accepted epoch %d, newer than this leader's %d", m.From, h.acceptedEpoch, l.epoch))
			return nil
		}
		if !l.epochSet {
			if h.acceptedEpoch >= l.epoch {
				l.epoch = h.acceptedEpoch + 1
			}
			if !observer {
				l.connecting[m.From] = true
			}
			p.maybeSetEpoch()
			return nil
		}
		p.sendLeaderInfo(h)
	case MsgAckEpoch:
		if h == nil || h.stage != stageInformed {
			return nil
		}
		h.lastZxid = m.Zxid
		if !l.epochAcked && m.Epoch != -1 {
			// Leader.waitForEpochAck: a learner more recent than the
			// leader means the election was wrong; it is refused.
			if m.Epoch > p.currentEpoch || (m.Epoch == p.currentEpoch && m.Zxid > p.lastLogged) {
				p.dropLearner(m.From)
				return nil
			}
			if !h.observer {
				l.electing[m.From] = true
			}
		}
		h.stage = stageSyncing
		if l.epochAcked {
			p.syncLearner(h)
		} else {
			p.maybeEpochAcked() // syncs every learner that acked, h too
		}
	case MsgAck:
		if h == nil {
			return nil
		}
		if h.stage == stageSyncing && m.Zxid == MakeZxid(l.epoch, 0) {
			h.stage = stageNewLeaderAcked
			if !h.observer {
				l.newLeader[m.From] = true
			}
			if l.running {
				p.upToDate(h)
			} else {
				p.maybeRunning() // tells every learner that acked, h too
			}
			return nil
		}
		if CounterOf(m.Zxid) == 0 || h.observer {
			return nil // the ACK after UPTODATE
		}
		if m.Zxid > h.acked {
			h.acked = m.Zxid
			p.tryCommit()
		}
	case MsgPing, MsgProposal, MsgCommit:
		// A learner's ping answers carry session liveness, for the driver.
	case MsgDisconnected:
		p.dropLearner(m.From)
	}
	return nil
}

// dropLearner forgets a learner and closes its connection.
func (p *Peer) dropLearner(sid int64) {
	l := p.lead
	if !l.epochSet {
		delete(l.connecting, sid)
	}
	if _, ok := l.learners[sid]; ok {
		delete(l.learners, sid)
		l.sorted = nil
		p.send(Message{Type: MsgDisconnected, To: sid})
	}
}

// maybeEpochAcked: with a quorum of ACKEPOCHs (the leader's own among
// them) the epoch is current, and the learners that acked are synced.
func (p *Peer) maybeEpochAcked() {
	l := p.lead
	if l.epochAcked || !l.epochSet {
		return
	}
	l.electing[p.cfg.ID] = true
	if !p.quorum(l.electing) {
		return
	}
	l.epochAcked = true
	l.started = p.now
	p.currentEpoch = l.epoch
	p.writeCurrent = l.epoch
	l.newLeader[p.cfg.ID] = true
	for _, sid := range p.sortedLearners() {
		if h := l.learners[sid]; h.stage == stageSyncing {
			p.syncLearner(h)
		}
	}
	p.maybeRunning()
}

// syncLearner brings a learner up to the leader's log, as
// LearnerHandler.syncFollower decides: DIFF when its last zxid is in the
// leader's history (with the proposals and commits it lacks), TRUNC when
// it holds txns the leader does not, SNAP when it is too far behind; then
// NEWLEADER, then the proposals not yet committed. From then on it gets
// the broadcast as it happens.
func (p *Peer) syncLearner(h *learnerHandler) {
	l := p.lead
	peerLast := h.lastZxid
	var from int64 // the learner has every committed entry up to this one
	snap := false
	// lastProcessed is Apache's leader's lastProcessedZxid: its last
	// commit, and from the moment a quorum acked NEWLEADER at least
	// makeZxid(epoch, 0) (Leader.startZkServer sets it). A learner
	// exactly there needs nothing; a SNAP carries it.
	lastProcessed := p.committed
	if l.running {
		lastProcessed = max(lastProcessed, MakeZxid(l.epoch, 0))
	}
	switch {
	case peerLast == lastProcessed:
		p.send(Message{Type: MsgDiff, To: h.sid, Zxid: p.committed})
		from = p.committed
	case peerLast > p.committed:
		// It holds txns never committed: cut it back to the commit point.
		p.send(Message{Type: MsgTrunc, To: h.sid, Zxid: p.committed})
		from = p.committed
	case peerLast >= p.histBase && (peerLast == p.histBase && peerLast > 0 || p.hasEntry(peerLast)):
		// Within the history (Apache's committed log, or its txn log for
		// the entry just before). An empty learner is never diffed from
		// zxid 0 once the leader has lastProcessed past it: Apache's
		// txn-log sync needs a logged txn at or before the learner's.
		p.send(Message{Type: MsgDiff, To: h.sid, Zxid: p.committed})
		from = peerLast
	case peerLast > p.histBase && EpochOf(p.entryBefore(peerLast)) == EpochOf(peerLast):
		// It holds a txn this leader never had: truncate it to the entry
		// before, within that epoch (a TRUNC never crosses an epoch).
		from = p.entryBefore(peerLast)
		p.send(Message{Type: MsgTrunc, To: h.sid, Zxid: from})
	default:
		// Too far behind, or diverged across an epoch.
		p.send(Message{Type: MsgSnap, To: h.sid, Zxid: lastProcessed})
		from = p.committed
		snap = true
	}
	// Apache's LearnerHandler counts a TRUNC as a diff (diff_count).
	if snap {
		p.snapsSent++
	} else {
		p.diffsSent++
	}
	for _, e := range p.hist {
		if e.Zxid > from && e.Zxid <= p.committed {
			p.send(Message{Type: MsgProposal, To: h.sid, Zxid: e.Zxid, Data: e.Data})
			p.send(Message{Type: MsgCommit, To: h.sid, Zxid: e.Zxid})
		}
	}
	h.forwarding = true
	p.send(Message{Type: MsgNewLeader, To: h.sid, Zxid: MakeZxid(l.epoch, 0)})
	// The proposals not yet committed follow NEWLEADER, where those
	// proposed from now on go too: each COMMIT a learner gets after
	// NEWLEADER then has its PROPOSAL after NEWLEADER. Apache 3.8's
	// Learner.syncWithLeader clears the proposals it holds at NEWLEADER
	// and fails on a COMMIT with none held after it (ZOOKEEPER-4394, a
	// NullPointerException that drops the learner, fixed in 3.9.3), which
	// Apache's own leader causes by sending them before NEWLEADER.
	if !h.observer {
		for _, e := range l.inflight {
			if e.Type == EntryTxn && e.Zxid > from {
				p.send(Message{Type: MsgProposal, To: h.sid, Zxid: e.Zxid, Data: e.Data})
			}
		}
	}
}

// entryBefore is the zxid of the last entry kept before zxid (histBase if
// none).
func (p *Peer) entryBefore(zxid int64) int64 {
	prev := p.histBase
	for _, e := range p.hist {
		if e.Zxid < zxid {
			prev = e.Zxid
		}
	}
	return prev
}

func (p *Peer) hasEntry(zxid int64) bool {
	for _, e := range p.hist {
		if e.Zxid == zxid {
			return true
		}
	}
	return false
}

// maybeRunning: a quorum acked NEWLEADER; the leader broadcasts and tells
// the learners that acked UPTODATE.
func (p *Peer) maybeRunning() {
	l := p.lead
	if l.running || !l.epochAcked || !p.quorum(l.newLeader) {
		return
	}
	l.running = true
	p.election.Settled(Leading, Vote{Leader: p.cfg.ID, Zxid: p.lastLogged, PeerEpoch: l.epoch})
	for _, sid := range p.sortedLearners() {
		if h := l.learners[sid]; h.stage == stageNewLeaderAcked {
			p.upToDate(h)
		}
	}
}

func (p *Peer) upToDate(h *learnerHandler) {
	h.stage = stageUpToDate
	p.send(Message{Type: MsgUpToDate, To: h.sid, Zxid: -1})
}

// NextZxid is the zxid the next Propose must carry; ErrNotLeader unless
// the peer leads and broadcasts. A counter about to roll over makes the
// leader look again (a new epoch), as Leader.propose does.
func (p *Peer) NextZxid() (int64, error) {
	if p.lead == nil || !p.lead.running {
		return 0, ErrNotLeader
	}
	if EpochOf(p.lastLogged) < p.lead.epoch {
		return MakeZxid(p.lead.epoch, 1), nil
	}
	if CounterOf(p.lastLogged) >= 0xfffffffe {
		if p.cfg.Standalone {
			// An ensemble of one elects itself: the next epoch at once
			// (Propose writes it before the entry).
			return MakeZxid(p.acceptedEpoch+1, 1), nil
		}
		return 0, ErrCounterExhausted
	}
	return p.lastLogged + 1, nil
}

// ErrCounterExhausted: the epoch's counter is used up; the leader looks
// again and the next one starts a new epoch.
var ErrCounterExhausted = errors.New("zab: the zxid counter of this epoch is exhausted")

// Propose logs a txn with the zxid NextZxid gave and sends it to the
// followers.
func (p *Peer) Propose(e Entry) error {
	next, err := p.NextZxid()
	if errors.Is(err, ErrCounterExhausted) {
		p.lookAgain("zxid counter rolled over")
		return ErrNotLeader
	}
	if err != nil {
		return err
	}
	if e.Type != EntryTxn || e.Zxid != next {
		panic(fmt.Sprintf("zab: proposed zxid 0x%x (type %d), next is 0x%x", uint64(e.Zxid), e.Type, uint64(next)))
	}
	l := p.lead
	if ep := EpochOf(e.Zxid); ep > l.epoch {
		// A standalone peer's counter ran out: a one-voter discovery and
		// synchronisation, both epochs durable before the entry.
		l.epoch = ep
		p.acceptedEpoch, p.currentEpoch = ep, ep
		p.writeAccepted, p.writeCurrent = ep, ep
	}
	p.logEntry(e)
	l.inflight = append(l.inflight, e)
	for _, sid := range p.sortedLearners() {
		if h := l.learners[sid]; h.forwarding && !h.observer {
			p.send(Message{Type: MsgProposal, To: sid, Zxid: e.Zxid, Data: e.Data})
		}
	}
	return nil
}

// Sync asks for a sync marker: it commits once every txn proposed before
// it has.
func (p *Peer) Sync(id uint64) error {
	if p.lead == nil || !p.lead.running {
		return ErrNotLeader
	}
	p.lead.inflight = append(p.lead.inflight, Entry{Type: EntrySync, Zxid: p.lastLogged, ID: id})
	p.tryCommit()
	return nil
}

// tryCommit commits, in zxid order, each proposal a quorum of voters
// logged (the leader's own durable append counts as its ACK).
// quorumAcked reports whether a quorum of voters logged zxid durably:
// this leader once its own log holds it, a follower once it acked it.
func (p *Peer) quorumAcked(zxid int64) bool {
	n := 0
	if p.persisted >= zxid && p.voters[p.cfg.ID] {
		n++
	}
	for _, h := range p.lead.learners {
		if h.acked >= zxid && !h.observer && p.voters[h.sid] {
			n++
		}
	}
	return n > len(p.voters)/2
}

func (p *Peer) tryCommit() {
	l := p.lead
	for len(l.inflight) > 0 {
		e := l.inflight[0]
		if e.Type == EntryTxn {
			if !p.quorumAcked(e.Zxid) {
				return
			}
			p.commitTo(e.Zxid)
			for _, sid := range p.sortedLearners() {
				h := l.learners[sid]
				switch {
				case !h.forwarding:
				case h.observer:
					p.send(Message{Type: MsgInform, To: sid, Zxid: e.Zxid, Data: e.Data})
				default:
					p.send(Message{Type: MsgCommit, To: sid, Zxid: e.Zxid})
				}
			}
		} else {
			if e.Zxid > p.committed {
				return
			}
			p.committedOut = append(p.committedOut, e)
		}
		l.inflight = l.inflight[1:]
	}
}

func (p *Peer) stepLearner(m Message) error {
	ln := p.learn
	if m.From != ln.leader {
		return nil
	}
	ln.heard = p.now
	switch m.Type {
	case MsgLeaderInfo:
		if ln.stage != stageRegistered {
			return nil
		}
		newEpoch := EpochOf(m.Zxid)
		ack := Message{Type: MsgAckEpoch, To: ln.leader, Zxid: p.lastLogged}
		switch {
		case newEpoch > p.acceptedEpoch:
			ack.Epoch = p.currentEpoch
			p.acceptedEpoch = newEpoch
			p.writeAccepted = newEpoch // durable before the ACKEPOCH leaves
			if p.cfg.Bugs.LazyAcceptedEpoch {
				p.writeAccepted = -1
			}
		case newEpoch == p.acceptedEpoch:
			ack.Epoch = -1
		default:
			p.lookAgain(fmt.Sprintf("leader's epoch %d is less than the accepted epoch %d", newEpoch, p.acceptedEpoch))
			return nil
		}
		ln.newEpoch = newEpoch
		ln.stage = stageInformed
		p.send(ack)
	case MsgDiff:
		ln.stage = stageSyncing
	case MsgTrunc:
		ln.stage = stageSyncing
		if m.Zxid < p.snapZxid {
			// The txns to drop are inside this server's snapshot (taken
			// from a leader whose epoch then failed). Apache truncates the
			// log and reloads that snapshot, keeping them; instead the
			// data goes, and the next leader sends a snapshot.
			p.snapshot = &Snapshot{Zxid: 0}
			p.hist, p.unstable, p.histBase, p.snapZxid = nil, nil, 0, 0
			p.lastLogged, p.persisted, p.committed = 0, 0, 0
			p.lookAgain(fmt.Sprintf("TRUNC to 0x%x is inside this server's snapshot; its data is discarded", uint64(m.Zxid)))
			return nil
		}
		p.truncateTo(m.Zxid)
	case MsgSnap:
		// Installed at NEWLEADER, after currentEpoch is written: a crash
		// in between must not leave a snapshot of the new epoch beside
		// the old currentEpoch (ZooKeeper would refuse to start on it).
		ln.stage = stageSyncing
		ln.snap = &Snapshot{Zxid: m.Zxid, Data: m.Data}
	case MsgProposal, MsgInform:
		e := Entry{Type: EntryTxn, Zxid: m.Zxid, Data: m.Data}
		if ln.stage < stageUpToDate {
			ln.held = append(ln.held, e)
			if m.Type == MsgInform {
				ln.heldCommits = append(ln.heldCommits, m.Zxid)
			}
			return nil
		}
		if m.Zxid <= p.lastLogged {
			return nil
		}
		if p.gap(m.Zxid) {
			return nil
		}
		p.logEntry(e)
		if m.Type == MsgInform {
			p.commitTo(m.Zxid)
		} else if p.cfg.Bugs.AckBeforeFsync {
			p.releasePersisted()
		}
	case MsgCommit:
		if ln.stage < stageUpToDate {
			ln.heldCommits = append(ln.heldCommits, m.Zxid)
			return nil
		}
		p.commitTo(m.Zxid)
	case MsgNewLeader:
		if ln.stage != stageSyncing {
			return nil
		}
		if sn := ln.snap; sn != nil {
			ln.snap = nil
			p.snapshot = sn
			p.hist, p.unstable, p.histBase, p.snapZxid = nil, nil, sn.Zxid, sn.Zxid
			p.lastLogged, p.persisted, p.committed = sn.Zxid, sn.Zxid, sn.Zxid
			ln.acked = sn.Zxid
		}
		if !p.logHeld() {
			return nil
		}
		ln.stage = stageNewLeaderAcked
		// currentEpoch is written, and NEWLEADER acked, only once the
		// proposals logged with it are durable: a crash in between must
		// not leave the new epoch beside a log that lacks them, or the
		// server would win elections it should lose (ZOOKEEPER-4646;
		// ZOOKEEPER-3911 for the ACK).
		p.afterPersist = append(p.afterPersist, pendingMessage{zxid: p.lastLogged, epoch: ln.newEpoch,
			msg: Message{Type: MsgAck, From: p.cfg.ID, To: ln.leader, Zxid: m.Zxid}})
		p.releasePersisted()
	case MsgUpToDate:
		if ln.stage != stageNewLeaderAcked {
			return nil
		}
		ln.stage = stageUpToDate
		p.send(Message{Type: MsgAck, To: ln.leader, Zxid: MakeZxid(ln.newEpoch, 0)})
		p.election.Settled(p.role, Vote{Leader: ln.leader, Zxid: p.election.current.Zxid, PeerEpoch: ln.newEpoch})
		if !p.logHeld() {
			return nil
		}
		for _, z := range ln.heldCommits {
			p.commitTo(z)
		}
		ln.heldCommits = nil
		ln.acked = max(ln.acked, p.committed)
		p.releasePersisted()
	case MsgPing:
		// Answered once serving: during the sync a leader reads the
		// NEWLEADER ACK next and drops a learner that sends anything else
		// (LearnerHandler), and Apache's learner ignores PING there.
		if ln.stage == stageUpToDate {
			p.send(Message{Type: MsgPing, To: ln.leader, Zxid: m.Zxid})
		}
	case MsgDisconnected:
		p.lookAgain("lost the leader's connection")
	}
	return nil
}

// logHeld logs the proposals held during the sync; false when a gap
// among them ended the role.
func (p *Peer) logHeld() bool {
	held := p.learn.held
	p.learn.held = nil
	for _, e := range held {
		if e.Zxid > p.lastLogged {
			if p.gap(e.Zxid) {
				return false
			}
			p.logEntry(e)
		}
	}
	return true
}

// gap reports (and ends the role on) a txn that does not follow the last
// one logged in its epoch: the stream lost a packet, and logging past the
// hole would diverge (Apache only warns "Got zxid ... expected ...").
func (p *Peer) gap(zxid int64) bool {
	if EpochOf(zxid) != EpochOf(p.lastLogged) || zxid == p.lastLogged+1 {
		return false
	}
	p.lookAgain(fmt.Sprintf("txn 0x%x does not follow 0x%x", uint64(zxid), uint64(p.lastLogged)))
	return true
}

// truncateTo drops every logged entry after zxid (TRUNC); the driver cuts
// the log and reloads the state from it.
func (p *Peer) truncateTo(zxid int64) {
	if zxid >= p.lastLogged {
		return
	}
	p.truncate = zxid
	keep := p.hist[:0:0]
	for _, e := range p.hist {
		if e.Zxid <= zxid {
			keep = append(keep, e)
		}
	}
	p.hist = keep
	keepU := p.unstable[:0:0]
	for _, e := range p.unstable {
		if e.Zxid <= zxid {
			keepU = append(keepU, e)
		}
	}
	p.unstable = keepU
	// The driver reloads the state from the cut log: all of it applied.
	p.lastLogged, p.committed = zxid, zxid
	p.persisted = min(p.persisted, zxid)
	p.histBase = min(p.histBase, zxid)
	p.learn.acked = min(p.learn.acked, zxid)
}

// Tick advances time by one tick: the election's timers while LOOKING;
// a leader pings its learners every half ZooKeeper tick and steps down
// when it has not heard from a quorum within syncLimit (or a phase of
// discovery or synchronisation took longer than initLimit); a learner
// looks again when its leader is silent for initLimit ticks before
// NEWLEADER, syncLimit after.
func (p *Peer) Tick() {
	p.now++
	switch {
	case p.lead != nil:
		p.tickLeader()
	case p.learn != nil:
		limit := p.cfg.SyncLimit
		if p.learn.stage < stageNewLeaderAcked {
			limit = p.cfg.InitLimit
		}
		switch {
		case p.now-p.learn.heard > p.zkTicks(limit):
			p.lookAgain("the leader is silent")
		case p.learn.stage == stageRegistered && p.now-p.learn.registered >= p.cfg.TickTime:
			p.register()
		}
	default:
		p.election.Tick()
		p.decide()
	}
}

func (p *Peer) tickLeader() {
	l := p.lead
	if !l.running {
		if p.now-l.started > p.zkTicks(p.cfg.InitLimit) {
			p.lookAgain("no quorum of learners in time")
		}
		return
	}
	half := max(1, p.cfg.TickTime/2)
	if p.now-l.lastPing < half {
		return
	}
	l.lastPing = p.now
	synced := map[int64]bool{p.cfg.ID: true}
	for _, sid := range p.sortedLearners() {
		h := l.learners[sid]
		if h.forwarding {
			// Not before its sync: an Apache learner exits the JVM when
			// the packet after LEADERINFO is not DIFF, TRUNC or SNAP
			// (Learner.syncWithLeader), as Apache's leader pings only
			// learners whose sync is queued.
			p.send(Message{Type: MsgPing, To: sid, Zxid: p.lastLogged})
		}
		if h.forwarding && p.now <= h.deadline {
			synced[sid] = true
		}
		if p.now > h.deadline {
			p.dropLearner(sid)
		}
	}
	if !p.quorum(synced) {
		p.lookAgain("not enough followers synced")
	}
}

// PeerReady is what the driver must do, in this order: install Snapshot
// (durably, replacing the state and the log) or cut the log after Truncate
// and reload the state from it; write AcceptedEpoch, then CurrentEpoch
// (each durably, when not -1);
// append Entries to the log (stepping MsgPersisted once they are
// durable); apply Committed in order; send Messages (a SNAP's Data is the
// state after applying Committed, serialized by the driver); send
// Notifications.
type PeerReady struct {
	Snapshot      *Snapshot
	Truncate      int64
	AcceptedEpoch int64
	CurrentEpoch  int64
	Entries       []Entry
	Committed     []Entry
	Messages      []Message
	Notifications []Notification
}

// HasReady reports whether Ready has anything to do.
func (p *Peer) HasReady() bool {
	return p.snapshot != nil || p.truncate >= 0 || p.writeAccepted >= 0 || p.writeCurrent >= 0 ||
		len(p.unstable) > 0 || len(p.committedOut) > 0 || len(p.msgs) > 0 || p.election.hasMessages()
}

// Ready returns what the driver must do now; the slices stay valid after
// Advance.
func (p *Peer) Ready() PeerReady {
	rd := PeerReady{
		Snapshot: p.snapshot, Truncate: p.truncate,
		AcceptedEpoch: p.writeAccepted, CurrentEpoch: p.writeCurrent,
		Entries: p.unstable, Committed: p.committedOut, Messages: p.msgs,
		Notifications: p.election.Messages(),
	}
	p.handed = readyMarks{entries: len(p.unstable), committed: len(p.committedOut), msgs: len(p.msgs),
		accepted: p.writeAccepted, current: p.writeCurrent, truncate: p.truncate, snapshot: p.snapshot}
	return rd
}

// Advance records that the last Ready was carried out.
func (p *Peer) Advance() {
	h := p.handed
	p.unstable = dropHanded(p.unstable, h.entries)
	p.committedOut = dropHanded(p.committedOut, h.committed)
	if h.msgs == len(p.msgs) {
		p.msgs = nil
	} else {
		p.msgs = append([]Message(nil), p.msgs[h.msgs:]...)
	}
	if p.writeAccepted == h.accepted {
		p.writeAccepted = -1
	}
	if p.writeCurrent == h.current {
		p.writeCurrent = -1
	}
	if p.truncate == h.truncate {
		p.truncate = -1
	}
	if p.snapshot == h.snapshot {
		p.snapshot = nil
	}
	p.handed = readyMarks{accepted: -1, current: -1, truncate: -1}
}

func (e *Election) hasMessages() bool { return len(e.out) > 0 }

// dropHanded drops what a Ready handed out; the slices handed out are
// never reused, so the driver may pass them on to other goroutines.
func dropHanded(es []Entry, handed int) []Entry {
	if handed == len(es) {
		return nil
	}
	return append([]Entry(nil), es[handed:]...)
}
