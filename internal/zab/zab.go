package zab

import (
	"errors"
	"fmt"
)

// Sentinel errors.
var (
	// ErrNotLeader: only the leader proposes.
	ErrNotLeader = errors.New("zab: not the leader")
	// ErrEpochBehind: currentEpoch is older than the epoch of the last
	// logged zxid (ZooKeeper refuses to start on it).
	ErrEpochBehind = errors.New("zab: the current epoch is older than the last zxid")
	// ErrAcceptedBehind: acceptedEpoch is less than currentEpoch.
	ErrAcceptedBehind = errors.New("zab: the accepted epoch is less than the current epoch")
)

// Role is the peer state ZooKeeper shows (ServerState).
type Role uint8

// Roles.
const (
	Looking Role = iota
	Following
	Leading
	Observing
)

func (r Role) String() string {
	switch r {
	case Looking:
		return "LOOKING"
	case Following:
		return "FOLLOWING"
	case Leading:
		return "LEADING"
	case Observing:
		return "OBSERVING"
	}
	return fmt.Sprintf("Role(%d)", uint8(r))
}

// EpochOf is the epoch of a zxid (its high 32 bits).
func EpochOf(zxid int64) int64 { return int64(uint64(zxid) >> 32) }

// CounterOf is the counter of a zxid (its low 32 bits).
func CounterOf(zxid int64) int64 { return zxid & 0xffffffff }

// MakeZxid builds a zxid from an epoch and a counter.
func MakeZxid(epoch, counter int64) int64 { return epoch<<32 | counter&0xffffffff }

// EntryType says what an Entry carries.
type EntryType uint8

// Entry types.
const (
	// EntryTxn is a transaction: Data is its log record.
	EntryTxn EntryType = iota
	// EntrySync is a sync request: it commits once every txn proposed
	// before it has (Zxid is the last of them), and is never logged.
	EntrySync
)

// Entry is one proposal.
type Entry struct {
	Type EntryType
	Zxid int64
	Data []byte // EntryTxn: the log record
	ID   uint64 // EntrySync: the driver's name for the sync
}

// MessageType names a Message.
type MessageType uint8

// Message types.
const (
	// MsgPersisted is the local log's completion: every entry up to Zxid
	// is durable. It is the node's own ACK.
	MsgPersisted MessageType = iota
)

// Message is an input to Step, and an output to send to a peer.
type Message struct {
	Type MessageType
	From int64
	To   int64
	Zxid int64
	// Epoch is ACKEPOCH's data: the learner's currentEpoch, or -1.
	Epoch int64
	// Data is a txn's log record (PROPOSAL, INFORM) or a snapshot (SNAP).
	Data []byte
}

// Config is the node's starting state, as recovery found it.
type Config struct {
	// ID is the server's myid (1 for a standalone server).
	ID int64
	// LastZxid is the last zxid in the transaction log (or snapshot).
	LastZxid int64
	// CurrentEpoch and AcceptedEpoch are the contents of the epoch files;
	// -1 when the file is missing, which QuorumPeer.loadDataBase treats as
	// the epoch of the last zxid (and writes).
	CurrentEpoch, AcceptedEpoch int64
	// CurrentEpochTmp is currentEpoch.tmp, -1 when missing: a crash between
	// writing it and renaming it over currentEpoch leaves it behind, and
	// ZooKeeper accepts it when it matches the last zxid's epoch.
	CurrentEpochTmp int64
}

// Ready is what the driver must do, in this order: write AcceptedEpoch,
// then CurrentEpoch (each durably, when not -1); append Entries to the log;
// when MustSync, fsync them before sending Messages and before stepping
// MsgPersisted; send Messages; apply Committed in order.
type Ready struct {
	AcceptedEpoch int64
	CurrentEpoch  int64
	// Entries are txns to append, in zxid order (never sync entries).
	Entries  []Entry
	MustSync bool
	Messages []Message
	// Committed are entries committed since the last Ready, in zxid order,
	// with sync entries where they fall.
	Committed []Entry
}

// Node is one server's zab state. It is not safe for concurrent use.
type Node struct {
	id   int64
	role Role

	currentEpoch  int64
	acceptedEpoch int64
	// Epochs changed since the last Ready (-1: unchanged).
	writeAccepted, writeCurrent int64

	// lastProposed is the zxid of the last txn proposed (or recovered).
	// Invariant: lastProposed >= persisted >= committed.
	lastProposed int64
	// persisted is the local log's durable end (the node's own ACK).
	persisted int64
	// committed is the highest committed zxid.
	committed int64

	// unstable are txns proposed but not yet handed out in a Ready.
	unstable []Entry
	// inflight are entries proposed but not yet committed, in order.
	inflight []Entry
	// committedOut are committed entries not yet handed out.
	committedOut []Entry
	// What the last Ready handed out, dropped by Advance.
	handedEntries, handedCommitted int
	handedAccepted, handedCurrent  int64
}

// NewStandalone returns a node that is an ensemble of one voter: it leads
// at once, in the epoch recovery found, and its own durable append is the
// quorum's ACK. Like a standalone ZooKeeper server it continues the zxids
// of the log without starting a new epoch.
func NewStandalone(cfg Config) (*Node, error) {
	cur, acc, wCur, wAcc, err := initialEpochs(cfg)
	if err != nil {
		return nil, err
	}
	n := &Node{
		id: cfg.ID, role: Leading,
		currentEpoch: cur, acceptedEpoch: acc, writeCurrent: wCur, writeAccepted: wAcc,
		lastProposed: cfg.LastZxid, persisted: cfg.LastZxid, committed: cfg.LastZxid,
		handedAccepted: -1, handedCurrent: -1,
	}
	return n, nil
}

// initialEpochs checks the epoch files against the log as
// QuorumPeer.loadDataBase does, defaulting missing ones to the last zxid's
// epoch (which must then be written).
func initialEpochs(cfg Config) (cur, acc, writeCur, writeAcc int64, err error) {
	lastEpoch := EpochOf(cfg.LastZxid)
	cur, acc, writeCur, writeAcc = cfg.CurrentEpoch, cfg.AcceptedEpoch, -1, -1
	if cur < 0 {
		cur, writeCur = lastEpoch, lastEpoch
	}
	if lastEpoch > cur {
		if cfg.CurrentEpochTmp != lastEpoch {
			return 0, 0, 0, 0, fmt.Errorf("%w: current epoch %d, last zxid 0x%x", ErrEpochBehind, cur, uint64(cfg.LastZxid))
		}
		cur, writeCur = lastEpoch, lastEpoch
	}
	if acc < 0 {
		acc, writeAcc = lastEpoch, lastEpoch
	}
	if acc < cur {
		return 0, 0, 0, 0, fmt.Errorf("%w: accepted epoch %d, current epoch %d", ErrAcceptedBehind, acc, cur)
	}
	return cur, acc, writeCur, writeAcc, nil
}

// Role is the node's peer state.
func (n *Node) Role() Role { return n.role }

// ID is the node's server id.
func (n *Node) ID() int64 { return n.id }

// CurrentEpoch is the epoch the node has accepted a leader's NEWLEADER in
// (for a standalone node, the one it leads in).
func (n *Node) CurrentEpoch() int64 { return n.currentEpoch }

// AcceptedEpoch is the newest epoch the node has accepted.
func (n *Node) AcceptedEpoch() int64 { return n.acceptedEpoch }

// Committed is the highest committed zxid.
func (n *Node) Committed() int64 { return n.committed }

// LastProposed is the zxid of the last txn proposed.
func (n *Node) LastProposed() int64 { return n.lastProposed }

// Inflight is the number of entries proposed and not yet committed.
func (n *Node) Inflight() int { return len(n.inflight) }

// NextZxid is the zxid the next Propose must carry. A counter of
// 0xffffffff is never used: ZooKeeper's leader refuses to propose it
// (Leader.propose, "zxid lower 32 bits have rolled over") and forces an
// election, hence a new epoch; an ensemble of one elects itself. The epoch
// files are written before the first entry of the new epoch.
func (n *Node) NextZxid() (int64, error) {
	if n.role != Leading {
		return 0, ErrNotLeader
	}
	if CounterOf(n.lastProposed) >= 0xfffffffe || EpochOf(n.lastProposed) < n.currentEpoch {
		return MakeZxid(max(n.currentEpoch, EpochOf(n.lastProposed)+1), 1), nil
	}
	return n.lastProposed + 1, nil
}

// Propose appends a txn with the zxid NextZxid gave.
func (n *Node) Propose(e Entry) error {
	next, err := n.NextZxid()
	if err != nil {
		return err
	}
	if e.Type != EntryTxn || e.Zxid != next {
		panic(fmt.Sprintf("zab: proposed zxid 0x%x (type %d), next is 0x%x", uint64(e.Zxid), e.Type, uint64(next)))
	}
	if ep := EpochOf(next); ep > n.currentEpoch {
		// A new epoch: accepted, then current, both durable before the
		// entry (a one-voter discovery and synchronisation).
		n.acceptedEpoch, n.currentEpoch = ep, ep
		n.writeAccepted, n.writeCurrent = ep, ep
	}
	n.lastProposed = e.Zxid
	n.unstable = append(n.unstable, e)
	n.inflight = append(n.inflight, e)
	return nil
}

// Sync asks for a sync marker: it commits once every txn proposed before
// it has.
func (n *Node) Sync(id uint64) error {
	if n.role != Leading {
		return ErrNotLeader
	}
	n.inflight = append(n.inflight, Entry{Type: EntrySync, Zxid: n.lastProposed, ID: id})
	n.maybeCommit()
	return nil
}

// Step takes a message or a local completion.
func (n *Node) Step(m Message) error {
	switch m.Type {
	case MsgPersisted:
		if m.Zxid > n.lastProposed {
			panic(fmt.Sprintf("zab: persisted 0x%x beyond the last proposed 0x%x", uint64(m.Zxid), uint64(n.lastProposed)))
		}
		if m.Zxid > n.persisted {
			n.persisted = m.Zxid
		}
		n.maybeCommit()
		return nil
	}
	return fmt.Errorf("zab: unknown message type %d", m.Type)
}

// Tick advances time by one tick. An ensemble of one has no timers.
func (n *Node) Tick() {}

// maybeCommit commits what a quorum has acknowledged: for one voter, what
// its own log holds durably.
func (n *Node) maybeCommit() {
	quorumAck := n.persisted
	i := 0
	for ; i < len(n.inflight) && n.inflight[i].Zxid <= quorumAck; i++ {
		e := n.inflight[i]
		if e.Type == EntryTxn {
			n.committed = e.Zxid
		}
		n.committedOut = append(n.committedOut, e)
	}
	clear(n.inflight[:i])
	n.inflight = n.inflight[i:]
}

// HasReady reports whether Ready has anything to do.
func (n *Node) HasReady() bool {
	return n.writeAccepted >= 0 || n.writeCurrent >= 0 || len(n.unstable) > 0 || len(n.committedOut) > 0
}

// Ready returns what the driver must do now. The slices stay valid until
// Advance.
func (n *Node) Ready() Ready {
	rd := Ready{
		AcceptedEpoch: n.writeAccepted,
		CurrentEpoch:  n.writeCurrent,
		Entries:       n.unstable,
		MustSync:      len(n.unstable) > 0,
		Committed:     n.committedOut,
	}
	n.handedEntries, n.handedCommitted = len(n.unstable), len(n.committedOut)
	n.handedAccepted, n.handedCurrent = n.writeAccepted, n.writeCurrent
	return rd
}

// Advance records that the last Ready was carried out (epochs written,
// entries appended, committed entries handed to apply). The slices handed
// out are never reused, so the driver may pass them on to other goroutines.
func (n *Node) Advance() {
	n.unstable = dropHanded(n.unstable, n.handedEntries)
	n.committedOut = dropHanded(n.committedOut, n.handedCommitted)
	if n.writeAccepted == n.handedAccepted {
		n.writeAccepted = -1
	}
	if n.writeCurrent == n.handedCurrent {
		n.writeCurrent = -1
	}
	n.handedEntries, n.handedCommitted = 0, 0
	n.handedAccepted, n.handedCurrent = -1, -1
}

func dropHanded(es []Entry, handed int) []Entry {
	if handed == len(es) {
		return nil
	}
	return append([]Entry(nil), es[handed:]...)
}
