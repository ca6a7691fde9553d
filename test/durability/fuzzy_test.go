package durability

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFuzzySnapshotReplay makes Apache's fuzzy snapshots deterministic.
// ZooKeeper serializes a snapshot while txns go on applying, and names it
// for the last txn applied when it started, so a snapshot may already hold
// txns after its name; recovery replays them again (FileTxnSnapLog.restore
// reads the log from the snapshot's zxid + 1). Renaming a snapshot to an
// older zxid gives the extreme case: every txn between the new name and the
// snapshot's content is replayed onto a tree that has it. Apache and zkd
// recover such copies and must serve the same tree, Stat for Stat.
//
// Apache does not compare the txns' tree digests while the replay is still
// inside the snapshot's fuzzy window (DataTree.compareDigest returns early
// until replay reaches the zxid of the snapshot's own digest), so it logs
// nothing; zkd must not report digest mismatches there either.
func TestFuzzySnapshotReplay(t *testing.T) {
	cfg := newInteropConfig(t, "")
	cfg.SnapCount = 0 // default: the only snapshots are the ones taken at start
	apache := startServer(t, kindApache, cfg)
	live, _ := writeVariedTree(t, cfg.Addr())
	live.Close() // its closeSession, with the ephemerals, is in the log
	apache.Stop()
	// Apache snapshots the replayed tree when it starts.
	apache = startServer(t, kindApache, cfg)
	live, _ = writeMoreTree(t, cfg.Addr())
	live.Close()
	apache.Stop()

	snaps, err := listDataFiles(cfg.DataDir, "snapshot")
	if err != nil {
		t.Fatal(err)
	}
	snap := snaps[len(snaps)-1]
	if snap.Zxid < 20 {
		t.Fatalf("newest snapshot %s: want one taken after the first run's txns", filepath.Base(snap.Path))
	}
	for _, back := range []int64{1, 9, snap.Zxid / 2, snap.Zxid - 1} {
		name := fmt.Sprintf("snapshot.%x", snap.Zxid-back)
		t.Run(fmt.Sprintf("%s named %s", filepath.Base(snap.Path), name), func(t *testing.T) {
			views := map[string]map[string]nodeDump{}
			servers := map[string]*proc{}
			for _, kind := range []string{kindApache, kindZkd} {
				c := newInteropConfig(t, "")
				if err := copyDir(cfg.DataDir, c.DataDir); err != nil {
					t.Fatal(err)
				}
				v2 := filepath.Join(c.DataDir, "version-2")
				if err := os.Rename(filepath.Join(v2, filepath.Base(snap.Path)), filepath.Join(v2, name)); err != nil {
					t.Fatal(err)
				}
				p := startServer(t, kind, c)
				if !strings.Contains(p.output(), name) {
					t.Fatalf("%s did not start from %s:\n%s", kind, name, p.Tail(30))
				}
				views[kind] = dumpServer(t, c)
				p.Stop()
				servers[kind] = p
			}
			requireSameTree(t, "zkd replaying a fuzzy snapshot (diffs: zkd's view, want Apache's)", views[kindApache], views[kindZkd])
			if bad := complaints(servers[kindApache]); len(bad) > 0 {
				t.Logf("Apache logged:\n%s", strings.Join(bad, "\n"))
			}
			if bad := complaints(servers[kindZkd]); len(bad) > 0 {
				t.Errorf("zkd reports problems with data Apache recovers silently:\n%s", strings.Join(bad, "\n"))
			}
		})
	}
}
