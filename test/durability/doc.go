// Package durability checks zkd's data at the process level: what a user
// sees after zkd is killed, after its files are damaged, and when the same
// data directory is opened by Apache ZooKeeper 3.8 (Debian) and by zkd in
// turn.
//
//   - TestCrashKeepsAcknowledgedWrites: writers record every acknowledged
//     write; zkd is killed with SIGKILL at random moments and restarted on
//     the same dataDir; every acknowledged write must be there and nothing
//     that was never attempted. A write that got no reply may or may not be
//     there (etcd's robustness model keeps both outcomes). Apache then
//     reads the directory all the crashes left and must serve the same.
//   - TestZkdRecoversApacheCrashes: the same with Apache ZooKeeper killed;
//     zkd and Apache recover copies of what is left (also from Apache's
//     fuzzy snapshots) and must serve the same tree, Stat for Stat.
//   - TestTornTailRecovery: damage to the newest log after a kill (zeros,
//     garbage, a torn or cut record, an empty file) and checksum
//     corruption, with the outcome internal/storage documents for each;
//     Apache gets an identical copy and must decide the same way (except
//     where a known ZooKeeper 3.8 bug is named).
//   - TestApacheReadsZkdData, TestZkdReadsApacheData: one server writes a
//     varied tree, the other starts on the same dataDir and must serve the
//     identical tree (paths, data, ACLs, full Stat, ephemerals of sessions
//     still alive until they expire), then the round trip back.
//   - TestFuzzySnapshotReplay: Apache's snapshot renamed to an older zxid
//     (the extreme of a fuzzy snapshot); zkd and Apache replay the txns it
//     already holds and must agree, and zkd must not cry digest mismatch.
//   - TestApacheFormattersReadZkdFiles: Apache's SnapshotFormatter (also on
//     gzip and snappy snapshots) and TxnLogToolkit read zkd's files.
//
// Everything lives in _test.go files. The package sees zkd only as a binary
// (built once from ./cmd/zkd in TestMain) on TCP ports 24810-24899,
// started and stopped through internal/launch like Apache ZooKeeper, and
// reads the servers' files with its own small decoder, never with
// internal/storage.
//
// Apache ZooKeeper runs as launch.Apache does, with its log on stdout:
//
//	java -Dzookeeper.root.logger=INFO,CONSOLE ... \
//	    -cp /etc/zookeeper/conf:zookeeper.jar:slf4j-log4j12.jar:log4j-1.2.jar \
//	    org.apache.zookeeper.server.ZooKeeperServerMain zoo.cfg
//
// Missing Java or Debian's ZooKeeper jars fail the tests (they are never
// skipped for it); -short skips them all, as each takes seconds. Required Debian packages: default-jre-headless, zookeeper
// (libzookeeper-java), libslf4j-java, liblog4j1.2-java.
//
// Set ZKD_BIN to test a prebuilt zkd, ZKD_DURABILITY_SEED to replay the
// crash tests' random choices, and ZKD_DURABILITY_KEEP=1 to keep the data
// directories of failed tests.
package durability
