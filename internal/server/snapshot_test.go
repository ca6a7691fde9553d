package server

import (
	"bytes"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkd/zkd/internal/config"
	"github.com/zkd/zkd/internal/jute"
	"github.com/zkd/zkd/internal/recovery"
	"github.com/zkd/zkd/internal/storage"
	"github.com/zkd/zkd/internal/tree"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// dumpTree lists every znode with its data, Stat and ACL.
func dumpTree(t *tree.Tree) map[string]string {
	out := map[string]string{}
	var walk func(path string)
	walk = func(path string) {
		n := t.Get(path)
		if n == nil {
			return
		}
		out[path] = fmt.Sprintf("data=%q stat=%+v acl=%v", n.Data, n.Stat, n.ACL)
		for _, c := range t.Children(path) {
			if path == "/" {
				walk("/" + c)
			} else {
				walk(path + "/" + c)
			}
		}
	}
	walk("/")
	return out
}

// TestFuzzySnapshotRecoversTheLiveTree takes a snapshot while clients keep
// creating, changing and deleting znodes (and their ACLs and ephemerals), so
// that the snapshot holds each znode as it was when reached, then recovers
// the data directory (that snapshot plus the log after its zxid) and wants
// the tree the server had, znode for znode, with the same digest.
func TestFuzzySnapshotRecoversTheLiveTree(t *testing.T) {
	dir := t.TempDir()
	text := fmt.Sprintf("tickTime=200\ndataDir=%s\nclientPort=2181\nmaxClientCnxns=0\nsnapCount=100000000\n", dir)
	cfg, err := config.Parse(strings.NewReader(text), "test.cfg", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := OpenDurable(cfg, log, Options{ContainerCheckInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	addr := serveOnLoopback(t, s)
	acl := zk.WorldACL(zk.PermAll)

	// ~20 pauses' worth of znodes, in multis to be quick.
	c, _ := connect(t, addr)
	const parents, perParent = 40, 500
	for p := range parents {
		if _, err := c.Create(fmt.Sprintf("/p%d", p), []byte("parent"), 0, acl); err != nil {
			t.Fatal(err)
		}
		var ops []any
		for i := range perParent {
			ops = append(ops, &zk.CreateRequest{Path: fmt.Sprintf("/p%d/n%d", p, i), Data: []byte("v0"), Acl: acl})
		}
		if _, err := c.Multi(ops...); err != nil {
			t.Fatal(err)
		}
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var ops sync.Map // writer -> count
	for w := range 4 {
		wc, _ := connect(t, addr)
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			n := 0
			for {
				select {
				case <-stop:
					ops.Store(w, n)
					return
				default:
				}
				p := fmt.Sprintf("/p%d", rng.IntN(parents))
				switch rng.IntN(6) {
				case 0, 1:
					wc.Set(fmt.Sprintf("%s/n%d", p, rng.IntN(perParent)), []byte(fmt.Sprintf("w%d-%d", w, n)), -1)
				case 2:
					wc.Create(fmt.Sprintf("%s/x%d-%d", p, w, n), []byte("new"), 0, acl)
				case 3:
					wc.Delete(fmt.Sprintf("%s/n%d", p, rng.IntN(perParent)), -1)
				case 4:
					// a list the ACL cache has never seen
					wc.SetACL(fmt.Sprintf("%s/n%d", p, rng.IntN(perParent)),
						zk.DigestACL(zk.PermAll, fmt.Sprintf("u%d-%d", w, n), "pw"), -1)
				case 5:
					wc.Create(fmt.Sprintf("%s/e%d-%d", p, w, n), nil, zk.FlagEphemeral, acl)
				}
				n++
			}
		}()
		if w == 3 {
			// its ephemerals go with it after the snapshot
			defer wc.Close()
		}
	}
	time.Sleep(50 * time.Millisecond)
	if err := s.snap.take(s); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	close(stop)
	wg.Wait()
	total := 0
	ops.Range(func(_, v any) bool { total += v.(int); return true })

	snaps, err := storage.ListSnapshots(storage.OSFS{}, dir)
	if err != nil || len(snaps) == 0 {
		t.Fatalf("snapshots: %v %v", snaps, err)
	}
	newest := snaps[len(snaps)-1]
	read, err := storage.ReadSnapshot(storage.OSFS{}, newest.Path, storage.SnapshotOptions{MaxEntrySize: cfg.JuteMaxBuffer},
		func(d *jute.Decoder) error { _, err := tree.Deserialize(d); return err })
	if err != nil {
		t.Fatal(err)
	}
	if read.Digest == nil || read.Digest.Zxid <= newest.Zxid {
		t.Fatalf("snapshot %s: digest %+v: no write was applied while it was taken (%d writes in all), the test proves nothing",
			newest.Path, read.Digest, total)
	}
	t.Logf("snapshot %s: txns 0x%x..0x%x applied while it was written; %d writes in all",
		newest.Path, newest.Zxid+1, read.Digest.Zxid, total)

	// Let the last closeSession apply, then compare.
	time.Sleep(100 * time.Millisecond)
	var want map[string]string
	var wantDigest int64
	s.withTree(func(tr *tree.Tree) { want, wantDigest = dumpTree(tr), tr.Digest() })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	rec, err := recovery.Read(storage.OSFS{}, recoveryDirs(cfg), log)
	if err != nil {
		t.Fatal(err)
	}
	if rec.SnapshotZxid != newest.Zxid {
		t.Fatalf("recovered from snapshot 0x%x, want the fuzzy one 0x%x", rec.SnapshotZxid, newest.Zxid)
	}
	got := dumpTree(rec.Tree)
	for p, w := range want {
		if g, ok := got[p]; !ok {
			t.Errorf("%s: missing after recovery (was %s)", p, w)
		} else if g != w {
			t.Errorf("%s:\n got %s\nwant %s", p, g, w)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("%s: present after recovery, not in the live tree", p)
		}
	}
	if rec.Tree.Digest() != wantDigest {
		t.Errorf("digest after recovery %d, live %d", rec.Tree.Digest(), wantDigest)
	}
	if strings.Contains(logs.String(), "digest differs") {
		t.Errorf("recovery reported digest mismatches:\n%s", logs.String())
	}
}
