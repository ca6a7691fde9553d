// Package sim is the deterministic simulation of whole zkd ensembles: real
// zab.Peer state machines, driven as the ensemble's driver drives them,
// over a simulated network, simulated disks and a simulated clock, all
// from one seed. A run is a function of its seed alone (no wall clock,
// no map order in any decision), so a failing seed replays event for
// event.
//
// What is simulated:
//   - Ensembles of three and of five voters, each with an observer.
//   - Disks: zkd's own transaction log (storage.Log) and epoch files on
//     storage's crashable MemFS. An append is written at once and fsynced
//     a few ticks later; a crash keeps what completed fsyncs covered and,
//     at random, nothing more, everything written, or a prefix cut at any
//     byte (a torn record, or unsynced records that made it). A restart
//     recovers the log with zkd's recovery (torn tails cut), reads the
//     epoch files and starts a new Peer. SNAP installs a snapshot (the
//     simulation's own file: the applied txns) and TRUNC cuts the log.
//   - The network, as ZooKeeper's transport behaves: quorum-port packets
//     ride a TCP connection between two servers' current roles, in order
//     and never past a break; only a leader accepts one. A cut (a pair, a
//     server isolated, the ensemble split in two) loses what was in
//     flight, either resetting the connections (both ends see them close)
//     or silently (timeouts find it); a one-way cut blocks one direction;
//     a flap resets a link that comes back at once; swizzle-clogging cuts
//     some servers' links one server at a time and heals them in another
//     order. Election notifications
//     are delayed, reordered, lost or duplicated.
//   - Faults: servers killed and restarted, power failures of the whole
//     ensemble, slow fsyncs; after FaultTicks the network heals, every
//     server starts, and the ensemble must converge.
//   - Clients: each runs one op at a time against a server that leads:
//     conditional setData on a few keys (the version checked by the
//     leader's prep against its pending txns, a mismatch proposed as an
//     error txn as ZooKeeper does) or a sync then a read at the leader.
//     Invocations and returns are stamped in event order. An op refused
//     because the server no longer leads had no effect and is left out;
//     one whose reply never came stays open.
//
// What is checked, at every step:
//   - at most one leader per epoch gets a quorum's ACKEPOCH, and at most
//     one is established (a quorum acked its NEWLEADER);
//   - a new leader holds every txn committed before it, and what it holds
//     is then committed; txns are committed in zxid order, one per zxid;
//   - every server applies a prefix of the committed history (then
//     possibly txns not known to be committed, which a new leader must
//     truncate before anything committed follows them), with zxids
//     increasing; a server's data always recovers.
//
// And at the end: the ensemble converges (one leader, every server
// serving from it with the same applied history), that history holds
// every committed txn and every write a client saw succeed, and the
// clients' history is linearizable (porcupine, with Model: a register per
// key with ZooKeeper's versions).
//
// zab.Bugs switches on deliberate mistakes; TestSimulationCatchesBugs
// shows that each breaks an invariant within a bounded number of seeds.
//
// Running it:
//
//	go test -race ./internal/sim                        # CI: the default seeds
//	go test ./internal/sim -run '^TestSimulation$' -timeout 2h -sim.seeds=20000   # a soak
//	ZKD_SIM_SEEDS=20000 go test ./internal/sim -run '^TestSimulation$' -timeout 2h
//
// A failing seed prints the invariant, the servers' states, the last
// events and the command that replays it alone with every event traced:
//
//	go test ./internal/sim -run '^TestSimulation$/^3voters-1observer$' -sim.seed=N -v
package sim
