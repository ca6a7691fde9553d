// Package zab is ZooKeeper's atomic broadcast as a deterministic state
// machine, driven the way etcd-io/raft's RawNode is: the driver feeds it
// proposals (Propose, Sync), messages and local completions (Step) and
// ticks (Tick), and carries out what Ready says: the epochs to write, the
// entries to append to the log (and whether they must be fsynced before the
// messages leave), the messages to send, and the entries committed, to be
// applied in zxid order. Advance tells it the Ready was carried out.
//
// A local append is acknowledged the way raft's asynchronous storage writes
// are: the driver steps MsgPersisted back once the log holds the entries
// durably, and that is the peer's own ACK. Persisting and committing are
// thus separate steps, so a leader can send its proposals while its own
// fsync runs.
//
// Peer is a server of an ensemble: it elects with an Election (Fast
// Leader Election, ZooKeeper 3.8's FastLeaderElection: lookForLeader and
// WorkerReceiver, in the same shape: Start a round, Step each
// notification, Tick, drain Messages, read Decided), then leads or learns
// through ZooKeeper's discovery (FOLLOWERINFO, LEADERINFO, ACKEPOCH, a new
// epoch from a quorum's accepted epochs), synchronisation (DIFF, TRUNC or
// SNAP from its committed history, then NEWLEADER and UPTODATE) and
// broadcast (PROPOSAL, ACK after the learner's fsync, COMMIT in zxid order
// on a quorum of voters, INFORM to observers, PING both ways), and looks
// again on a timeout (initLimit, syncLimit), a lost connection or a zxid
// counter running out.
//
// A standalone server is a Peer too (PeerConfig.Standalone): an ensemble
// of one voter, leading at once in the epoch recovery found, with the
// same Ready and the same driver as every ensemble member.
//
// internal/sim runs whole ensembles of Peers through crashes, torn disks,
// partitions and slow fsyncs and checks ZAB's invariants; PeerConfig.Bugs
// are the deliberate mistakes it must catch (test-only).
//
// The package never does I/O, reads a clock, uses randomness or starts a
// goroutine; time is ticks.
package zab
