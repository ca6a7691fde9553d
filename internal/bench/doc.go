// Package bench owns `zkd bench`: a closed-loop load generator that speaks
// the ZooKeeper client protocol through github.com/go-zookeeper/zk, so the
// same workload measures zkd and Apache ZooKeeper alike, and `zkd bench
// compare`, which starts both servers with one zoo.cfg, alternates identical
// workloads between them and reports both figures with their ratio.
//
// A run opens N sessions, each driven by one goroutine that issues one
// request at a time (create, set, get, exists with a watch, or a read/write
// mix), and records every acknowledged request's latency in an HDR
// histogram. Percentiles use the nearest-rank rule on the histogram's
// buckets, so each reported value is within 0.1% above the exact sample.
//
// The comparison also measures what an operator sizes a machine by: resident
// memory idle and after loading N znodes, the time from exec to the first
// acknowledged write, and the size of the snapshot that holds the load.
// It writes compare.json, summary.md and a throughput-against-clients SVG
// drawn by this package.
//
// `zkd bench ceiling` (Ceiling) is the limit beside them: a server that
// answers the benchmark's requests with fixed replies and keeps nothing,
// which compare runs in the same alternation when asked (--ceiling), so
// that every row shows how much of the machine each server reaches.
//
// `zkd bench scale` (Scale) measures how each server's costs grow, one
// server after the other: RSS, snapshot size and time, the slowest write
// through a snapshot, restart time and set/get throughput at each tree
// size, then RSS per idle session and per watch and a connection storm on a
// fresh server. Its many sessions use a bare client of the package
// (rawsession.go: connect, ping, pipelined exists, closeSession), since a
// go-zookeeper connection costs megabytes of buffers; every timed workload
// is go-zookeeper's, as elsewhere.
//
// With an ensemble (CompareConfig.Ensemble 3) both sides are ensembles on
// loopback, up together: the sessions of a run spread over the members
// (hostList: session i starts on member i), CPU is counted over all
// members, and a failover phase kills each leader with SIGKILL while
// writers run, timing the first write acknowledged after the kill and the
// new leader, then restarts the killed member and waits for the quorum to
// count it again. The report judges issue 9's targets on the ratios.
//
// The package never talks to anything but the endpoints it is given and the
// server processes it started itself; it never imports the server's
// packages, so it measures zkd only from the outside, as a client would.
package bench
