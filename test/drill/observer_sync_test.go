package drill

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// An observer with syncEnabled=false (Apache's option for observers that
// should not spend disk on the log) applies and serves what it replicates
// but writes no transaction log; restarted, it is synced from the leader
// again and serves everything. The same drill with an Apache 3.8 observer
// of the zkd voters is the reference: what zkd's observer does is what
// Apache's does.
func TestDrillObserverWithoutSync(t *testing.T) {
	for _, apacheObserver := range []bool{false, true} {
		name := "zkd"
		if apacheObserver {
			name = "apache"
		}
		t.Run(name, func(t *testing.T) { observerWithoutSync(t, apacheObserver) })
	}
}

func observerWithoutSync(t *testing.T, apacheObserver bool) {
	// Voters 1 and 2 (zkd), observer 3.
	tickTime := 200
	if apacheObserver {
		tickTime = 500
	}
	c := newMixedCluster(t, 3, 1, tickTime, map[int]bool{3: apacheObserver})
	c.appendConfig(3, "syncEnabled=false\n")
	for id := 1; id <= 3; id++ {
		c.start(id)
	}
	_, modes := c.waitRoles(60 * time.Second)
	if modes[3] != "observer" {
		t.Fatalf("modes %v: server 3 must observe", modes)
	}
	if v := srvrField(c.nodes[2].client, "Zookeeper version: "); strings.Contains(v, "zkd") == apacheObserver {
		t.Fatalf("server 3 runs %q; the Apache observer was wanted: %v", v, apacheObserver)
	}
	cl := connect(t, c.nodes[0].client)
	for i := range 50 {
		if _, err := cl.Create(fmt.Sprintf("/unsynced-%02d", i), []byte("x"), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	obs := connect(t, c.nodes[2].client)
	if _, err := obs.Sync("/"); err != nil {
		t.Fatal(err)
	}
	if children, _, err := obs.Children("/"); err != nil || len(children) < 50 {
		t.Fatalf("the observer serves %d znodes (%v), want the 50 written", len(children), err)
	}
	if logs := txnLogs(t, c.nodes[2].dir); len(logs) > 0 {
		t.Errorf("the observer with syncEnabled=false wrote transaction logs: %v", logs)
	}
	if logs := txnLogs(t, c.nodes[0].dir); len(logs) == 0 {
		t.Errorf("voter 1 wrote no transaction log: the check above proves nothing")
	}
	obs.Close()

	c.kill(3)
	c.start(3)
	if _, modes = c.waitRoles(60 * time.Second); modes[3] != "observer" {
		t.Fatalf("restarted, server 3 is %q", modes[3])
	}
	obs = connect(t, c.nodes[2].client)
	if _, err := obs.Sync("/"); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if ok, _, err := obs.Exists(fmt.Sprintf("/unsynced-%02d", i)); err != nil || !ok {
			t.Fatalf("after its restart the observer lacks /unsynced-%02d (%v)", i, err)
		}
	}
}

// txnLogs lists the transaction log files under a server's data dir.
func txnLogs(t *testing.T, dir string) []string {
	t.Helper()
	var logs []string
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasPrefix(d.Name(), "log.") {
			logs = append(logs, path)
		}
		return nil
	})
	return logs
}
