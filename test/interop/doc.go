// Package interop checks that zkd looks like Apache ZooKeeper to real clients.
//
// Every scenario drives one client — go-zookeeper/zk, kazoo (Debian's
// python3-kazoo), zkCli.sh, the C client cli_mt, or raw four-letter words — and
// prints a transcript of what a user of that client sees: results, error codes,
// Stat fields and watch events, in order. The same scenario runs against Apache
// ZooKeeper 3.8 from Debian and against zkd; the transcripts are normalized
// (session ids, timestamps, zxids, version strings) and must be identical.
// Four-letter words are compared by structure (keys, line shapes), not values.
//
// TestEnsembleClients does the same with 3-server ensembles: zkd's against
// Apache's (StartZkdEnsemble, StartApacheEnsemble), each client given the
// full server list, with writes through one server read through another,
// a paused and a stopped leader.
//
// The package also runs go-zookeeper/zk's own integration suite against zkd
// through the zkServer.sh shim in test/zkshim.
//
// The package owns the server harness (harness.go and ensemble.go,
// importable by other test packages: Options, Server, StartApache, StartZkd,
// Ensemble, StartZkdEnsemble, StartApacheEnsemble, StartMixedEnsemble,
// FourLetterWord), which
// writes both servers' zoo.cfg, starts them through internal/launch on TCP
// ports 21810-21899 only, with their logs in <dir>/server.out; the
// normalizer, the diff and the scenarios live in _test.go files. Of zkd's
// internal packages it imports only launch, which runs processes: it sees
// zkd only as a process on a port.
//
// Running:
//
//	go test ./test/interop/                            # builds ./cmd/zkd, compares it with Apache
//	ZKD_BIN=/path/to/zkd go test ./test/interop/       # use a prebuilt zkd
//	ZKD_INTEROP_SELFTEST=1 go test ./test/interop/     # Apache on both sides (validates the harness)
//	ZKD_INTEROP_OUT=/tmp/out go test ./test/interop/   # keep transcripts and server dirs there
//	go test -short ./test/interop/                     # only the normalizer and diff: every scenario starts Apache
//	ZKD_GOZK_SUITE_SKIP='Cluster|NoQuorum|RecurringReAuthHang|DNSHostProviderReconnect|Reconfig' \
//	    go test ./test/interop/ -run TestGoZookeeperSuite  # that suite without its 3-server tests
//	ZKD_GOZK_SUITE_SKIP=- go test ./test/interop/ -run TestGoZookeeperSuite  # all of it, reconfig too
//
// Apache and zkd behaviour seen while writing these tests is in OBSERVED.md.
//
// Required Debian packages: zookeeper zookeeper-bin python3-kazoo (and a JDK's
// javac for the self-test run of go-zookeeper's suite).
package interop
