package durability

import (
	"fmt"
	"maps"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func newInteropConfig(t *testing.T, compression string) *zooConfig {
	t.Helper()
	requireApache(t)
	cfg := newZooConfig(t, testDir(t))
	cfg.ExtendedTypes = true // TTL nodes
	cfg.SnapCount = 20       // snapshots and log rolls inside the tree's writes
	cfg.SnapshotCompression = compression
	return cfg
}

func dumpServer(t *testing.T, cfg *zooConfig) map[string]nodeDump {
	t.Helper()
	c := dialAlice(t, cfg.Addr())
	defer c.Close()
	return dumpTree(t, c)
}

// snapshotLoadedLine matches the line each server logs for the snapshot
// it starts from.
var snapshotLoadedLine = map[string]string{
	kindZkd:    `msg="snapshot loaded" path=\S*/snapshot\.[0-9a-f]+`,
	kindApache: `Reading snapshot \S*/snapshot\.[0-9a-f]+`,
}

// requireLoadedSnapshot fails unless p started from a snapshot written
// with cfg's compression: replaying every log from zxid 0 would give the
// same tree and hide an unreadable snapshot.
func requireLoadedSnapshot(t *testing.T, p *proc) {
	t.Helper()
	suffix := ""
	if c := p.cfg.SnapshotCompression; c != "" {
		suffix = "." + c
	}
	re := regexp.MustCompile(snapshotLoadedLine[p.kind] + regexp.QuoteMeta(suffix) + `(\s|$)`)
	if !re.MatchString(p.output()) {
		t.Fatalf("%s did not start from a snapshot.<zxid>%s file (no line matches %s):\n%s", p.kind, suffix, re, p.Tail(30))
	}
}

// handOver stops from with SIGTERM while live's session is still open (its
// client cut off, so the session is neither closed nor resumed), starts
// toKind on the same zoo.cfg and dataDir, and checks that it serves want
// exactly, the ephemerals included. The ephemerals must then expire, no
// sooner than the session timeout after the new server started, and
// nothing else may change.
func handOver(t *testing.T, cfg *zooConfig, from *proc, toKind string, live *client, ephemerals []string, want map[string]nodeDump) *proc {
	t.Helper()
	live.block()
	from.Stop()
	live.abandon()
	to := startServer(t, toKind, cfg)
	requireLoadedSnapshot(t, to)
	got := dumpServer(t, cfg)
	what := fmt.Sprintf("%s started on %s's dataDir (diffs: %s's view, want %s's)", toKind, from.kind, toKind, from.kind)
	if diffs := diffTrees(want, got); len(diffs) > 0 {
		t.Fatalf("%s: %d differences:\n%s\n--- %s output ---\n%s", what, len(diffs), strings.Join(diffs, "\n"), toKind, to.Tail(30))
	}

	c := dialAlice(t, cfg.Addr())
	defer c.Close()
	timeout := liveSessionMs * time.Millisecond
	deadline := to.ServingSince().Add(timeout + 10*time.Second)
	for {
		// One session's ephemerals go in one closeSession txn, and one
		// session's reads see txns in order: once one is gone, the ones
		// read after it must be gone too.
		present, goneBefore := 0, ""
		for _, p := range ephemerals {
			ok, _, err := c.Exists(p)
			if err != nil {
				t.Fatalf("exists %s: %v", p, err)
			}
			switch {
			case ok && goneBefore != "":
				t.Fatalf("ephemeral %s is gone but %s, read after it, still exists", goneBefore, p)
			case ok:
				present++
			case goneBefore == "":
				goneBefore = p
			}
		}
		if present == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ephemerals %v of the abandoned session still exist %v after %s served (session timeout %v)",
				ephemerals, time.Since(to.ServingSince()).Round(time.Millisecond), toKind, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if gone := time.Since(to.Started()); gone < timeout {
		t.Errorf("ephemerals expired %v after %s started, before the session timeout %v", gone.Round(time.Millisecond), toKind, timeout)
	}
	t.Logf("%s: the abandoned session's ephemerals expired %v after launch, %v after serving (session timeout %v)",
		toKind, time.Since(to.Started()).Round(100*time.Millisecond), time.Since(to.ServingSince()).Round(100*time.Millisecond), timeout)

	// Expiry removes the ephemerals and touches their parents' child
	// stats; everything else stays as it was.
	after := dumpTree(t, c)
	skip := map[string]bool{}
	for _, p := range ephemerals {
		skip[p], skip[path.Dir(p)] = true, true
	}
	keep := func(m map[string]nodeDump) map[string]nodeDump {
		m = maps.Clone(m)
		maps.DeleteFunc(m, func(p string, _ nodeDump) bool { return skip[p] })
		return m
	}
	requireSameTree(t, toKind+" after the session expired", keep(want), keep(after))
	for _, p := range []*proc{from, to} {
		if bad := complaints(p); len(bad) > 0 {
			t.Errorf("%s logged problems with the data:\n%s", p.kind, strings.Join(bad, "\n"))
		}
	}
	for _, p := range ephemerals {
		parent := after[path.Dir(p)]
		if parent.Stat.NumChildren != want[path.Dir(p)].Stat.NumChildren-int32(countChildren(ephemerals, path.Dir(p))) {
			t.Errorf("%s has %d children after its ephemerals expired", path.Dir(p), parent.Stat.NumChildren)
		}
	}
	return to
}

// complaintPattern matches what either server logs when the data it
// loads or replays disagrees with itself: ZooKeeper's tree digest checks
// (DataTree.compareDigest, compareSnapshotDigests), txns it could not
// apply, and zkd's digest warnings.
var complaintPattern = regexp.MustCompile(`(?i)digest mismatch|digests are not matching|digest in log:|` +
	`not covering the snapshot digest|ignoring processTxn failure|failed to set parent cversion|` +
	`unexpected extra paths under session|digest differs|corrupt|torn`)

// complaints lists the output lines matching complaintPattern.
func complaints(p *proc) []string {
	var bad []string
	for _, line := range strings.Split(p.output(), "\n") {
		if complaintPattern.MatchString(line) {
			bad = append(bad, line)
		}
	}
	return bad
}

func countChildren(paths []string, parent string) int {
	n := 0
	for _, p := range paths {
		if path.Dir(p) == parent {
			n++
		}
	}
	return n
}

// TestApacheReadsZkdData: "Apache ZooKeeper 3.8 from Debian started on a
// data directory written by zkd serves the same tree (paths, data, ACLs,
// stats, ephemerals of live sessions as ZooKeeper would keep them)".
//
// zkd writes gzip-compressed snapshots here (snapshot.compression.method=gz).
func TestApacheReadsZkdData(t *testing.T) {
	cfg := newInteropConfig(t, "gz")
	zkd := startServer(t, kindZkd, cfg)
	live, ephemerals := writeVariedTree(t, cfg.Addr())
	want := dumpServer(t, cfg)
	apache := handOver(t, cfg, zkd, kindApache, live, ephemerals, want)
	apache.Stop()
}

// TestZkdReadsApacheData: "zkd started on a directory written by Apache
// ZooKeeper 3.8 serves the same tree", then zkd's further writes go back
// to Apache. Both write snappy-compressed snapshots here
// (snapshot.compression.method=snappy, snappy-java's stream format), and
// keep the logs in a dataLogDir of their own.
func TestZkdReadsApacheData(t *testing.T) {
	cfg := newInteropConfig(t, "snappy")
	cfg.DataLogDir = filepath.Join(cfg.Dir, "datalog")
	apache := startServer(t, kindApache, cfg)
	live, ephemerals := writeVariedTree(t, cfg.Addr())
	want := dumpServer(t, cfg)
	if logs, err := listDataFiles(cfg.DataLogDir, "log"); err != nil || len(logs) == 0 {
		t.Fatalf("no logs in dataLogDir %s (%v)", cfg.DataLogDir, err)
	}
	zkd := handOver(t, cfg, apache, kindZkd, live, ephemerals, want)

	live, ephemerals = writeMoreTree(t, cfg.Addr())
	want = dumpServer(t, cfg)
	apache = handOver(t, cfg, zkd, kindApache, live, ephemerals, want)
	apache.Stop()
	if logs, _ := listDataFiles(cfg.DataDir, "log"); len(logs) > 0 {
		t.Errorf("transaction logs in dataDir, not dataLogDir: %v", logs)
	}
}
