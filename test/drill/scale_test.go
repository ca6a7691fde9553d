package drill

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// limitConfig rewrites server id's zoo.cfg to list only servers 1..n.
func (c *cluster) limitConfig(id, n int) {
	c.t.Helper()
	path := filepath.Join(c.nodes[id-1].dir, "zoo.cfg")
	full := mustRead(c.t, path)
	if err := os.WriteFile(path+".full", full, 0o644); err != nil {
		c.t.Fatal(err)
	}
	data := full
	for k := n + 1; k <= len(c.nodes); k++ {
		data = regexp.MustCompile(fmt.Sprintf(`(?m)^server\.%d=.*\n?`, k)).ReplaceAll(data, nil)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		c.t.Fatal(err)
	}
}

// fullConfig puts back the zoo.cfg limitConfig replaced.
func (c *cluster) fullConfig(id int) {
	c.t.Helper()
	path := filepath.Join(c.nodes[id-1].dir, "zoo.cfg")
	if err := os.WriteFile(path, mustRead(c.t, path+".full"), 0o644); err != nil {
		c.t.Fatal(err)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// Scaling from three servers to five with static configs, the way
// docs/kubernetes.md tells it: servers 4 and 5 start with the five-server
// config and follow the running leader without a vote (it does not list
// them: zk_synced_non_voting_followers), then servers 1..3 are restarted
// one at a time with the new config, followers first and the leader last.
// A client writes throughout; at the end five servers vote, two may be
// lost, and nothing acknowledged is missing.
func TestDrillScaleThreeToFive(t *testing.T) {
	scaleDrill(t, newCluster(t, 5, 0))
}

// The same with Apache ZooKeeper as the reference on either side: Apache
// servers 1..3 take zkd's 4 and 5 as non-voting followers, and zkd's 1..3
// take Apache's.
func TestDrillScaleApacheThreeZkdTwo(t *testing.T) {
	scaleDrill(t, newMixedCluster(t, 5, 0, 500, map[int]bool{1: true, 2: true, 3: true}))
}

func TestDrillScaleZkdThreeApacheTwo(t *testing.T) {
	scaleDrill(t, newMixedCluster(t, 5, 0, 500, map[int]bool{4: true, 5: true}))
}

func scaleDrill(t *testing.T, c *cluster) {
	for id := 1; id <= 3; id++ {
		c.limitConfig(id, 3)
		c.start(id)
	}
	leader, _ := c.waitRoles(60 * time.Second)
	w := startWriter(t, c.addrs())
	w.waitAcks(t, 50, 20*time.Second)

	c.start(4)
	c.start(5)
	leader2, modes := c.waitRoles(60 * time.Second)
	if leader2 != leader || modes[4] != "follower" || modes[5] != "follower" {
		t.Fatalf("after 4 and 5 started: leader %d, modes %v; want %d leading, 4 and 5 following", leader2, modes, leader)
	}
	waitMntr(t, c.nodes[leader-1].client, map[string]string{"zk_quorum_size": "3", "zk_synced_followers": "4", "zk_synced_non_voting_followers": "2"})
	w.waitAcks(t, 50, 20*time.Second)

	var order []int
	for id := 1; id <= 3; id++ {
		if id != leader {
			order = append(order, id)
		}
	}
	for _, id := range append(order, leader) {
		c.kill(id)
		c.fullConfig(id)
		c.start(id)
		c.waitRoles(60 * time.Second)
		w.waitAcks(t, 30, 30*time.Second)
	}
	leader, modes = c.waitRoles(60 * time.Second)
	t.Logf("after the roll: leader %d, modes %v", leader, modes)
	waitMntr(t, c.nodes[leader-1].client, map[string]string{"zk_quorum_size": "5", "zk_synced_followers": "4", "zk_synced_non_voting_followers": "0"})

	// Five voters tolerate two losses.
	var lost []int
	for id := 1; id <= 5 && len(lost) < 2; id++ {
		if id != leader {
			c.kill(id)
			lost = append(lost, id)
		}
	}
	w.waitAcks(t, 30, 30*time.Second)
	var readers []string
	for _, nd := range c.nodes {
		if nd.proc != nil {
			readers = append(readers, nd.client)
		}
	}
	w.finish(t, readers...)
}

// waitMntr waits until mntr on addr shows every key with its value.
func waitMntr(t *testing.T, addr string, want map[string]string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		got := mntr(t, addr)
		ok := true
		for k, v := range want {
			if got[k] != v {
				ok = false
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			shown := map[string]string{}
			for k := range want {
				shown[k] = got[k]
			}
			t.Fatalf("mntr on %s: %v, want %v", addr, shown, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
