package drill

import (
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// TestSnapToEmptyLearner: an empty server joins a leader that was elected
// into a new epoch and has written nothing in it since. Apache's leader
// does not diff it from zxid 0 but sends SNAP, and the SNAP carries
// makeZxid(epoch, 0), the leader's lastProcessedZxid once it serves
// (Leader.startZkServer); the learner (an Apache server both times) then
// shows that zxid in srvr. The all-Apache ensemble is the reference for
// the ensemble with zkd voters 2 and 3, where zkd's leader sends the sync,
// and for an all-zkd one.
func TestSnapToEmptyLearner(t *testing.T) {
	got := map[bool]string{}
	for _, tc := range []struct {
		name           string
		allApache, all bool // all: server.1 is of the voters' kind
	}{{"apache-leader", true, true}, {"zkd-leader-apache-learner", false, false}, {"zkd", false, true}} {
		allApache := tc.allApache
		t.Run(tc.name, func(t *testing.T) {
			c := newMixedCluster(t, 3, 0, 500, map[int]bool{1: allApache || !tc.all, 2: allApache, 3: allApache})
			defer func() {
				for _, nd := range c.nodes {
					if nd.proc != nil {
						c.kill(nd.id)
					}
				}
			}()
			c.start(2)
			c.start(3)
			leader, _ := c.waitRoles(60 * time.Second)
			conn := connect(t, c.nodes[leader-1].client)
			for _, p := range []string{"/a", "/b", "/c"} {
				if _, err := conn.Create(p, []byte("x"), 0, zk.WorldACL(zk.PermAll)); err != nil {
					t.Fatalf("create %s: %v", p, err)
				}
			}
			conn.Close()
			// A new epoch with nothing written in it.
			c.kill(2)
			c.kill(3)
			c.start(2)
			c.start(3)
			leader, _ = c.waitRoles(60 * time.Second)
			leaderZxid := srvrField(c.nodes[leader-1].client, "Zxid: ")
			c.start(1)
			deadline := time.Now().Add(60 * time.Second)
			for mode(c.nodes[0].client) != "follower" {
				if time.Now().After(deadline) {
					t.Fatalf("server.1 does not follow within 60 s:\n%s", c.nodes[0].proc.Tail(30))
				}
				time.Sleep(50 * time.Millisecond)
			}
			learner := srvrField(c.nodes[0].client, "Zxid: ")
			t.Logf("leader server.%d shows %s; the empty learner after its sync %s", leader, leaderZxid, learner)
			if tc.all {
				got[allApache] = learner
			}
			if leaderZxid != "0x200000000" {
				t.Errorf("the new leader shows %s; want 0x200000000 (epoch 2, nothing written)", leaderZxid)
			}
			if learner != leaderZxid {
				t.Errorf("the empty learner shows %s after its sync; want the leader's %s (what Apache's learner of an Apache leader shows)", learner, leaderZxid)
			}
			if !allApache && got[true] != "" && learner != got[true] {
				t.Errorf("the Apache learner of a zkd leader shows %s; of an Apache leader %s", learner, got[true])
			}
		})
	}
}
