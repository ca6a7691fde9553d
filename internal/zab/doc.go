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
// durably, and that is the node's own ACK. Persisting and committing are
// thus separate steps, so a leader can send its proposals while its own
// fsync runs.
//
// Today a Node is an ensemble of one voter, leading at once (standalone).
// Election is Fast Leader Election (ZooKeeper 3.8's FastLeaderElection:
// lookForLeader and WorkerReceiver) in the same shape: Start a round, Step
// each notification, Tick, drain Messages, read Decided. Discovery,
// synchronisation and broadcast to learners, and the Node that runs the
// election when it is LOOKING, come next.
//
// The package never does I/O, reads a clock, uses randomness or starts a
// goroutine; time is ticks.
package zab
