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
	// is durable. It is the peer's own ACK.
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

// Config is a peer's starting state, as recovery found it.
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
