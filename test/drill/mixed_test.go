package drill

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkd/zkd/internal/launch"
	"github.com/zkd/zkd/internal/ops"
)

// The ensemble with Apache ZooKeeper 3.8 servers as peers: zkd and Apache
// in one ensemble, every server taking writes (a follower forwards them
// to the leader, whichever implementation each is), every write readable
// on every server, then kill -9 of the leader and a new one elected by
// ZooKeeper's rule with nothing acknowledged lost, and the killed server
// back as a follower.
func TestMixedEnsembleOneZkd(t *testing.T) {
	mixedDrill(t, map[int]bool{1: true, 2: true}) // zkd is server 3: it leads first
}

func TestMixedEnsembleTwoZkd(t *testing.T) {
	mixedDrill(t, map[int]bool{3: true}) // Apache is server 3: it leads first
}

func mixedDrill(t *testing.T, apache map[int]bool) {
	c := newMixedCluster(t, 3, 0, 500, apache)
	for id := 1; id <= 3; id++ {
		c.start(id)
	}
	leader, modes := c.waitRoles(60 * time.Second)
	t.Logf("roles: %v (Apache: %v)", modes, apache)
	// Which server leads first depends on who is up when the first
	// quorum's election ends (a JVM starts in seconds, zkd in
	// milliseconds); the rule itself is checked after the kill below.
	_ = leader
	// A client on each server writes; every server reads all of it.
	for _, nd := range c.nodes {
		cl := connect(t, nd.client)
		path := fmt.Sprintf("/from%d", nd.id)
		if _, err := cl.Create(path, []byte(path), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatalf("create through server %d (%s, apache=%v): %v", nd.id, modes[nd.id], nd.apache, err)
		}
		if _, err := cl.Create(path+"/eph", nil, zk.FlagEphemeral|zk.FlagSequence, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatalf("ephemeral sequential through server %d: %v", nd.id, err)
		}
		if _, err := cl.Set(path, []byte("v2"), 0); err != nil {
			t.Fatalf("set through server %d: %v", nd.id, err)
		}
	}
	for _, nd := range c.nodes {
		cl := connect(t, nd.client)
		if _, err := cl.Sync("/"); err != nil {
			t.Fatalf("sync on server %d: %v", nd.id, err)
		}
		for _, other := range c.nodes {
			path := fmt.Sprintf("/from%d", other.id)
			d, st, err := cl.Get(path)
			if err != nil || string(d) != "v2" || st.Version != 1 {
				t.Errorf("server %d (apache=%v) reads %s: %q %+v %v", nd.id, nd.apache, path, d, st, err)
			}
			kids, _, err := cl.Children(path)
			if err != nil || len(kids) != 1 {
				t.Errorf("server %d reads the ephemerals under %s: %v %v", nd.id, path, kids, err)
			}
		}
	}
	checkQuorumMntr(t, c, leader, 2)
	w := startWriter(t, c.addrs())
	w.waitAcks(t, 200, 30*time.Second)
	killed := time.Now()
	c.kill(leader)
	newLeader, modes := c.waitRoles(60 * time.Second)
	t.Logf("kill -9 of leader %d: server %d (apache=%v) leads after %v; roles %v", leader, newLeader,
		c.nodes[newLeader-1].apache, time.Since(killed).Round(time.Millisecond), modes)
	w.waitAcks(t, 50, 60*time.Second)
	// The survivors had every write acknowledged before the kill; with
	// their zxids equal, or not, ZooKeeper's rule picks the higher
	// (zxid, myid). Both are followers' views from srvr after the fact.
	c.start(leader)
	_, modes = c.waitRoles(60 * time.Second)
	if modes[leader] != "follower" {
		t.Errorf("the old leader %d rejoined as %q", leader, modes[leader])
	}
	w.waitAcks(t, 50, 30*time.Second)
	checkQuorumMntr(t, c, newLeader, 2)
	w.finish(t, c.addrs()...)
}

// checkQuorumMntr holds the leader and the followers, Apache's and zkd's
// alike, to the same mntr quorum gauges: the leader counts its learners
// and synced followers, every member its quorum size and peer state.
func checkQuorumMntr(t *testing.T, c *cluster, leader, followers int) {
	t.Helper()
	for _, nd := range c.nodes {
		want := map[string]string{"zk_quorum_size": "3", "zk_peer_state": "following - broadcast"}
		if nd.id == leader {
			want = map[string]string{"zk_quorum_size": "3", "zk_peer_state": "leading - broadcast",
				"zk_learners": fmt.Sprint(followers), "zk_synced_followers": fmt.Sprint(followers),
				"zk_synced_non_voting_followers": "0", "zk_synced_observers": "0", "zk_pending_syncs": "0"}
		}
		var kv map[string]string
		deadline := time.Now().Add(15 * time.Second)
		for {
			kv = mntr(t, nd.client)
			bad := ""
			for k, v := range want {
				if kv[k] != v {
					bad = fmt.Sprintf("%s = %q, want %q", k, kv[k], v)
					break
				}
			}
			if bad == "" {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("server %d (apache=%v, leader %d): mntr %s", nd.id, nd.apache, leader, bad)
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if nd.id == leader {
			if v, err := strconv.ParseInt(kv["zk_leader_uptime"], 10, 64); err != nil || v <= 0 {
				t.Errorf("leader %d (apache=%v): zk_leader_uptime %q", nd.id, nd.apache, kv["zk_leader_uptime"])
			}
			// Proposal sizes: -1 each before the first proposal, else
			// 0 < min <= last <= max; stat prints them too.
			sizes := kv["zk_last_proposal_size"] + "/" + kv["zk_min_proposal_size"] + "/" + kv["zk_max_proposal_size"]
			var last, lo, hi int64
			if _, err := fmt.Sscanf(sizes, "%d/%d/%d", &last, &lo, &hi); err != nil ||
				!(last == -1 && lo == -1 && hi == -1 || 0 < lo && lo <= last && last <= hi) {
				t.Errorf("leader %d (apache=%v): proposal sizes last/min/max %s", nd.id, nd.apache, sizes)
			}
			if stat, err := launch.FourLetterWord(nd.client, "stat", 5*time.Second); err != nil || !strings.Contains(stat, "Proposal sizes last/min/max: ") {
				t.Errorf("leader %d (apache=%v): stat has no proposal sizes (%v):\n%s", nd.id, nd.apache, err, stat)
			}
		} else {
			for _, k := range []string{"zk_synced_followers", "zk_learners", "zk_synced_observers"} {
				if v, ok := kv[k]; ok {
					t.Errorf("follower %d (apache=%v) prints %s %s", nd.id, nd.apache, k, v)
				}
			}
		}
	}
}

// mntr returns the server's mntr lines as keys and values.
func mntr(t *testing.T, addr string) map[string]string {
	t.Helper()
	out, err := launch.FourLetterWord(addr, "mntr", 5*time.Second)
	if err != nil {
		t.Fatalf("mntr on %s: %v", addr, err)
	}
	return ops.ParseMntr(out)
}

// A session that moves from an Apache follower to a zkd follower of an
// Apache leader keeps writing: zkd revalidates the reconnect with the
// leader (REVALIDATE, as Apache's Learner.validateSession), which makes
// it the session's owner. Without that Apache's leader answers every
// request zkd forwards for the session with SessionMoved, as the
// migration drill found: a client that fails over to a freshly migrated
// server could write nothing.
func TestMixedSessionMovesToZkdFollower(t *testing.T) {
	c := newMixedCluster(t, 3, 0, 500, map[int]bool{2: true, 3: true}) // zkd is server 1: it never leads here
	for id := 1; id <= 3; id++ {
		c.start(id)
	}
	leader, modes := c.waitRoles(60 * time.Second)
	if c.nodes[leader-1].apache == false {
		t.Fatalf("zkd (server 1) leads: %v", modes)
	}
	follower := 5 - leader // the Apache follower
	hosts := &inOrder{servers: []string{c.nodes[follower-1].client, c.nodes[0].client}}
	conn, ev, err := zk.Connect(hosts.servers, 10*time.Second, zk.WithHostProvider(hosts), zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	waitSession := func(addr string) {
		t.Helper()
		deadline := time.After(30 * time.Second)
		for conn.State() != zk.StateHasSession || conn.Server() != addr {
			select {
			case <-ev:
			case <-time.After(50 * time.Millisecond):
			case <-deadline:
				t.Fatalf("no session on %s: %v on %s", addr, conn.State(), conn.Server())
			}
		}
	}
	waitSession(c.nodes[follower-1].client)
	if _, err := conn.Create("/moved", []byte("on Apache"), zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("create through Apache follower %d: %v", follower, err)
	}
	c.kill(follower) // the client moves to zkd; zkd and the Apache leader keep the quorum
	waitSession(c.nodes[0].client)
	if _, err := conn.Create("/after-move", []byte("x"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("create through zkd (following Apache leader %d) after the session moved there: %v", leader, err)
	}
	if _, err := conn.Set("/moved", []byte("on zkd"), -1); err != nil {
		t.Fatalf("set through zkd after the session moved there: %v", err)
	}
	reader := connect(t, c.nodes[leader-1].client)
	d, st, err := reader.Get("/moved")
	if err != nil || string(d) != "on zkd" || st.EphemeralOwner != conn.SessionID() {
		t.Errorf("the leader reads /moved: %q %+v %v; want \"on zkd\" owned by session 0x%x", d, st, err, conn.SessionID())
	}
}

// inOrder is a zk.HostProvider that tries its servers in the order
// given, not shuffled: a test decides where a client goes first and
// where it fails over to.
type inOrder struct {
	servers []string
	next    int
	tried   int
}

func (h *inOrder) Init([]string) error { return nil }
func (h *inOrder) Len() int            { return len(h.servers) }
func (h *inOrder) Connected()          { h.tried = 0 }
func (h *inOrder) Next() (string, bool) {
	s := h.servers[h.next]
	h.next = (h.next + 1) % len(h.servers)
	h.tried++
	return s, h.tried > len(h.servers)
}
