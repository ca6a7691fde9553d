package drill

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// The three ways a leader brings a learner back, each with zkd and Apache
// ZooKeeper 3.8 on both sides: DIFF for a follower a little behind, SNAP
// for one too far behind, TRUNC for an old leader whose log holds a txn
// that was never committed. Server 3 leads first (servers 2 and 3 start
// first, with equal zxids the higher myid wins), server 1 is the learner
// brought back by DIFF and SNAP; then 3 is the old leader that takes the
// TRUNC from 2.
func TestSyncZkdLeaderApacheLearners(t *testing.T) {
	syncDrill(t, map[int]bool{1: true, 2: true})
}

func TestSyncApacheLeaderZkdLearners(t *testing.T) {
	syncDrill(t, map[int]bool{3: true})
}

func syncDrill(t *testing.T, apache map[int]bool) {
	c := newMixedCluster(t, 3, 0, 500, apache)
	for id := range apache {
		// Apache's leader also diffs from its log files on disk (here
		// always: the size limit, a third of the newest snapshot file,
		// is not applied when it comes to 0); zkd diffs from the 500
		// committed txns it keeps in memory, as Apache does with this.
		c.appendConfig(id, "snapshotSizeFactor=-1\n")
	}
	c.start(2)
	c.start(3)
	if leader, _ := c.waitRoles(60 * time.Second); leader != 3 {
		t.Fatalf("server %d leads, want 3 (equal zxids)", leader)
	}
	c.start(1)
	c.waitRoles(60 * time.Second)
	leader := c.nodes[2].client
	cl := connect(t, leader)
	var written []string
	write := func(n, size int) {
		t.Helper()
		data := []byte(strings.Repeat("x", size))
		for range n {
			path := fmt.Sprintf("/s-%05d", len(written))
			if _, err := cl.Create(path, data, 0, zk.WorldACL(zk.PermAll)); err != nil {
				t.Fatalf("create %s: %v", path, err)
			}
			written = append(written, path)
		}
	}
	write(20, 10)

	// DIFF: server 1 misses 50 txns.
	diffs, snaps := syncCounts(t, leader)
	c.kill(1)
	write(50, 10)
	c.start(1)
	c.waitRoles(60 * time.Second)
	c.checkSame(t, written)
	waitSyncCounts(t, leader, diffs+1, snaps, "server 1 50 txns behind: want one DIFF")

	// SNAP: server 1 misses more than the leader keeps to diff from: the
	// last 500 committed txns (zkd up to 625) in memory; Apache's reading
	// of its log files is off (snapshotSizeFactor=-1 above).
	diffs, snaps = syncCounts(t, leader)
	c.kill(1)
	write(700, 1024)
	c.start(1)
	c.waitRoles(60 * time.Second)
	c.checkSame(t, written)
	waitSyncCounts(t, leader, diffs, snaps+1, "server 1 700 txns behind: want one SNAP")

	// TRUNC: the followers die, the leader logs a write it can never
	// commit and dies too; 1 and 2 elect 2, and 3, back before the new
	// epoch has a txn, is ahead of the new leader's log: it must drop that
	// txn. (Once the new epoch has txns, Apache's leader sends a SNAP
	// instead: its TRUNC never reaches back across an epoch, see
	// internal/quorum/OBSERVED.md; zkd's truncates to the last txn both
	// have.)
	c.kill(1)
	c.kill(2)
	lost := make(chan error, 1)
	go func() {
		_, err := cl.Create("/never-committed", nil, 0, zk.WorldACL(zk.PermAll))
		lost <- err
	}()
	time.Sleep(300 * time.Millisecond) // the proposal is logged on 3 alone
	c.kill(3)
	if err := <-lost; err == nil {
		t.Fatal("a write was acknowledged by a leader without followers")
	}
	cl.Close()
	c.start(1)
	c.start(2)
	if l, _ := c.waitRoles(60 * time.Second); l != 2 {
		t.Fatalf("server %d leads after 3 died, want 2", l)
	}
	newLeader := c.nodes[1].client
	// The new leader synced server 1 (Apache SNAPs a learner whose
	// zxid is not in its log, zkd DIFFs); then 3 must come by TRUNC.
	diffs, snaps = waitSynced(t, newLeader, 1)
	c.start(3)
	c.waitRoles(60 * time.Second)
	waitSyncCounts(t, newLeader, diffs+1, snaps, "old leader with an uncommitted txn: want a TRUNC (counted as a diff)")
	cl = connect(t, newLeader)
	write(20, 10)
	c.checkSame(t, written)
	for _, nd := range c.nodes {
		cs := connect(t, nd.client)
		if ok, _, err := cs.Exists("/never-committed"); err != nil || ok {
			t.Errorf("server %d (apache %v) serves the txn that was never committed (%v)", nd.id, nd.apache, err)
		}
		cs.Close()
	}
}

// syncCounts reads a leader's diff_count and snap_count.
func syncCounts(t *testing.T, addr string) (diffs, snaps int64) {
	t.Helper()
	m := mntr(t, addr)
	d, err1 := strconv.ParseInt(m["zk_diff_count"], 10, 64)
	s, err2 := strconv.ParseInt(m["zk_snap_count"], 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("mntr on %s: zk_diff_count %q, zk_snap_count %q", addr, m["zk_diff_count"], m["zk_snap_count"])
	}
	return d, s
}

// waitSyncCounts waits until a leader's mntr shows the diff and snap
// counts wanted (zkd's are taken from its peer once a tick).
func waitSyncCounts(t *testing.T, addr string, diffs, snaps int64, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		d, s := syncCounts(t, addr)
		if d == diffs && s == snaps {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%s: diff_count %d, snap_count %d; want %d and %d", what, d, s, diffs, snaps)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitSynced waits until a leader has synced n learners (and counted
// them), and returns its counts.
func waitSynced(t *testing.T, addr string, n int64) (diffs, snaps int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		d, s := syncCounts(t, addr)
		if d+s >= n && mntr(t, addr)["zk_synced_followers"] == strconv.FormatInt(n, 10) {
			return d, s
		}
		if time.Now().After(deadline) {
			t.Fatalf("leader %s: %d learners synced, want %d", addr, d+s, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// appendConfig adds lines to server id's zoo.cfg.
func (c *cluster) appendConfig(id int, lines string) {
	c.t.Helper()
	path := filepath.Join(c.nodes[id-1].dir, "zoo.cfg")
	if err := os.WriteFile(path, append(mustRead(c.t, path), lines...), 0o644); err != nil {
		c.t.Fatal(err)
	}
}

// checkSame checks that every server has each path, with the same data
// and zxid, after a sync.
func (c *cluster) checkSame(t *testing.T, paths []string) {
	t.Helper()
	var ref []*zk.Stat
	for i, nd := range c.nodes {
		cl := connect(t, nd.client)
		if _, err := cl.Sync("/"); err != nil {
			t.Fatalf("sync on server %d: %v", nd.id, err)
		}
		for j, p := range paths {
			_, st, err := cl.Get(p)
			if err != nil {
				t.Fatalf("server %d (apache %v): get %s: %v", nd.id, nd.apache, p, err)
			}
			if i == 0 {
				ref = append(ref, st)
			} else if st.Czxid != ref[j].Czxid || st.Mzxid != ref[j].Mzxid || st.DataLength != ref[j].DataLength {
				t.Fatalf("server %d: %s has czxid 0x%x, server 1 0x%x", nd.id, p, st.Czxid, ref[j].Czxid)
			}
		}
		cl.Close()
	}
}
