package durability

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkd/zkd/internal/jute"
	"github.com/zkd/zkd/internal/storage"
	"github.com/zkd/zkd/internal/tree"
)

// newestSnapshotIsFuzzy reports whether the newest snapshot in dataDir was
// written while txns applied: its digest (written after the tree) is for a
// later zxid than its name.
func newestSnapshotIsFuzzy(t *testing.T, dataDir string) (newest storage.SnapshotInfo, txnsDuring int64) {
	t.Helper()
	snaps, err := storage.ListSnapshots(storage.OSFS{}, dataDir)
	if err != nil || len(snaps) == 0 {
		return storage.SnapshotInfo{}, 0
	}
	newest = snaps[len(snaps)-1]
	snap, err := storage.ReadSnapshot(storage.OSFS{}, newest.Path, storage.SnapshotOptions{},
		func(d *jute.Decoder) error { _, err := tree.Deserialize(d); return err })
	if err != nil || snap.Digest == nil {
		return newest, 0 // still being written
	}
	return newest, snap.Digest.Zxid - newest.Zxid
}

// TestApacheReadsZkdFuzzySnapshot: zkd's snapshots are fuzzy, as ZooKeeper's
// (written while txns go on applying: a znode as it was when reached, new
// ACL lists missing from the ACL section). Apache ZooKeeper 3.8 started on
// such a data directory, and zkd itself, must serve exactly what zkd served,
// without complaints about digests.
func TestApacheReadsZkdFuzzySnapshot(t *testing.T) {
	cfg := newInteropConfig(t, "")
	cfg.SnapCount = 20000 // a snapshot every 10,000-20,000 txns, during the churn below
	zkd := startServer(t, kindZkd, cfg)
	c := dialAlice(t, cfg.Addr())
	const parents, perParent = 30, 1000
	for p := range parents {
		parent := fmt.Sprintf("/f%d", p)
		if _, err := c.Create(parent, []byte("parent"), 0, aliceWorld); err != nil {
			t.Fatal(err)
		}
		var ops []any
		for i := range perParent {
			ops = append(ops, &zk.CreateRequest{Path: fmt.Sprintf("%s/n%d", parent, i), Data: []byte("v0"), Acl: aliceWorld})
		}
		if _, err := c.Multi(ops...); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 3 {
		wc := dialAlice(t, cfg.Addr())
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer wc.Close() // its ephemerals go with it
			rng := rand.New(rand.NewPCG(uint64(w), 11))
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				parent := fmt.Sprintf("/f%d", rng.IntN(parents))
				child := fmt.Sprintf("%s/n%d", parent, rng.IntN(perParent))
				// An ACL list no znode had: a new entry in the ACL cache.
				fresh := append(zk.DigestACL(zk.PermRead, fmt.Sprintf("u%d-%d", w, n), "pw"), aliceWorld...)
				switch rng.IntN(6) {
				case 0, 1:
					wc.Set(child, []byte(fmt.Sprintf("w%d-%d", w, n)), -1)
				case 2:
					wc.Create(fmt.Sprintf("%s/x%d-%d", parent, w, n), []byte("new"), 0, fresh)
				case 3:
					wc.Delete(child, -1)
				case 4:
					wc.SetACL(child, fresh, -1)
				case 5:
					wc.Create(fmt.Sprintf("%s/e%d-%d", parent, w, n), nil, zk.FlagEphemeral, aliceWorld)
				}
			}
		}()
	}
	var fuzzy storage.SnapshotInfo
	var during int64
	deadline := time.Now().Add(90 * time.Second)
	for {
		// A window of a few dozen txns holds all kinds of writes.
		if fuzzy, during = newestSnapshotIsFuzzy(t, cfg.DataDir); during >= 30 {
			break
		}
		if time.Now().After(deadline) {
			close(stop)
			wg.Wait()
			t.Fatalf("no snapshot written while txns applied after 90 s:\n%s", zkd.Tail(20))
		}
		time.Sleep(200 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	want := dumpServer(t, cfg)
	zkd.Stop()
	if info, _ := newestSnapshotIsFuzzy(t, cfg.DataDir); info.Path != fuzzy.Path {
		t.Fatalf("newest snapshot is %s, not the fuzzy %s: the test would not start from it", info.Path, fuzzy.Path)
	}
	t.Logf("starting from %s: %d txns applied while it was written; %d znodes", filepath.Base(fuzzy.Path), during, len(want))

	for _, kind := range []string{kindApache, kindZkd} {
		t.Run(kind, func(t *testing.T) {
			c := newInteropConfig(t, "")
			if err := copyDir(cfg.DataDir, c.DataDir); err != nil {
				t.Fatal(err)
			}
			p := startServer(t, kind, c)
			defer p.Stop()
			if !strings.Contains(p.output(), filepath.Base(fuzzy.Path)) {
				t.Fatalf("%s did not start from %s:\n%s", kind, filepath.Base(fuzzy.Path), p.Tail(30))
			}
			requireSameTree(t, kind+" on zkd's data directory (diffs: what it serves, want zkd's)", want, dumpServer(t, c))
			if bad := complaints(p); len(bad) > 0 {
				t.Errorf("%s complains:\n%s", kind, strings.Join(bad, "\n"))
			}
		})
	}
}
