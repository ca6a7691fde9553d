package ensemble

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkd/zkd/internal/jute"
	"github.com/zkd/zkd/internal/launch"
	"github.com/zkd/zkd/internal/proto"
	"github.com/zkd/zkd/internal/quorum"
	"github.com/zkd/zkd/internal/tree"
	"github.com/zkd/zkd/internal/txn"
	"github.com/zkd/zkd/internal/zab"
)

var apacheQuorum = launch.Apache{Main: "org.apache.zookeeper.server.quorum.QuorumPeerMain",
	JVMFlags: []string{"-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"}}

// TestReplicaFollowsApacheLeader puts a zkd replica (myid 1) in one
// ensemble with two Apache ZooKeeper 3.8 servers (2 and 3). With equal
// (empty) histories the largest myid of the first quorum leads: Apache's
// server 3, or server 2 when 3's JVM is late and zkd and 2 elect without
// it. The zkd replica registers, is synchronised and logs, ACKs and
// applies what a client writes through Apache. Then the other Apache
// server stops: the leader's quorum is itself and zkd, so every write
// that still succeeds was acknowledged by zkd's ACK after its log.
func TestReplicaFollowsApacheLeader(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Apache ZooKeeper (JVMs): slow; runs without -short")
	}
	if err := apacheQuorum.Check(); err != nil {
		t.Fatalf("%v: install the Debian package zookeeper (apt-get install zookeeper)", err)
	}
	servers, members, text, apaches := startMixedEnsemble(t, 1, "")
	l := &memLog{accepted: -1, current: -1}
	out := &applied{}
	var snapMu sync.Mutex
	var snapTree *tree.Tree
	install := func(zxid int64, db []byte) error {
		// Sessions, then the tree: decode them as a snapshot file's.
		d := jute.NewDecoder(db, jute.DefaultMaxBuffer)
		n := d.Int()
		for range n {
			d.Long()
			d.Int()
		}
		t, err := tree.Deserialize(d)
		if err != nil {
			return err
		}
		snapMu.Lock()
		snapTree = t
		snapMu.Unlock()
		l.mu.Lock()
		l.entries = nil
		l.mu.Unlock()
		return nil
	}
	r, err := Start(Config{
		Peer: zab.PeerConfig{Config: zab.Config{ID: 1, CurrentEpoch: -1, AcceptedEpoch: -1, CurrentEpochTmp: -1},
			Voters: []int64{1, 2, 3}, TickTime: 10, InitLimit: 20, SyncLimit: 10, FinalizeWait: 4, MaxNotificationInterval: 200},
		Members: members, QuorumConfig: text, Log: l, Apply: out.apply, Install: install, Tick: 50 * time.Millisecond, Logger: testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	tail := func() string { return apacheTails(apaches) }
	deadline := time.Now().Add(40 * time.Second)
	st := r.Status()
	for ; !(st.Serving && (st.Leader == 2 || st.Leader == 3) && st.Role == zab.Following); st = r.Status() {
		if time.Now().After(deadline) {
			t.Fatalf("zkd did not follow an Apache leader: %+v\n%s", st, tail())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// apaches holds servers 2 and 3 in that order.
	leader, other := st.Leader, 5-st.Leader
	t.Logf("zkd follows Apache's server %d", leader)
	c, _, err := zk.Connect([]string{launch.Loopback(servers[leader].client)}, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	create := func(path string) {
		t.Helper()
		done := make(chan error, 1)
		go func() {
			_, err := c.Create(path, []byte("v"), 0, zk.WorldACL(zk.PermAll))
			done <- err
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("create %s through Apache: %v\n%s", path, err, tail())
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("create %s through Apache did not commit\n%s", path, tail())
		}
	}
	for i := range 10 {
		create(fmt.Sprintf("/a%d", i))
	}
	// The other Apache server stops: each write now needs zkd's ACK.
	if err := apaches[other-2].Stop(); err != nil {
		t.Logf("stopping Apache's server %d: %v", other, err)
	}
	for i := range 5 {
		create(fmt.Sprintf("/b%d", i))
	}
	// zkd applied every create, in Apache's order, as Apache's txns.
	want := []string{"/a0", "/a1", "/a2", "/a3", "/a4", "/a5", "/a6", "/a7", "/a8", "/a9", "/b0", "/b1", "/b2", "/b3", "/b4"}
	var got []string
	deadline = time.Now().Add(10 * time.Second)
	for {
		got = got[:0]
		l.mu.Lock()
		for _, e := range l.entries {
			tx, err := txn.Unmarshal(e.Data, jute.DefaultMaxBuffer)
			if err != nil {
				l.mu.Unlock()
				t.Fatalf("entry 0x%x from Apache does not decode: %v", uint64(e.Zxid), err)
			}
			if tx.Header.Type == proto.OpCreate || tx.Header.Type == proto.OpCreate2 {
				got = append(got, tx.Body.(*txn.Create).Path)
			}
		}
		l.mu.Unlock()
		if strings.Join(got, ",") == strings.Join(want, ",") && len(out.get()) >= len(want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("zkd logged creates %v, applied %d txns; want %v\n%s", got, len(out.get()), want, tail())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st := r.Status(); st.CurrentEpoch < 1 || st.Committed < st.LastLogged-1 {
		t.Errorf("zkd's state after the writes: %+v", st)
	}
	// A learner that registers after the leader's quorum is synchronised
	// with SNAP (its history starts at the new epoch): the tree streamed
	// after it decoded as a snapshot's. One of the first quorum gets DIFF.
	leaderLog := mustReadFile(t, apaches[leader-2].LogPath())
	if strings.Contains(leaderLog, "Sending DIFF zxid=0x0 for peer sid: 1") {
		t.Logf("Apache's server %d synchronised zkd with DIFF (zkd was in its first quorum)", leader)
		return
	}
	snapMu.Lock()
	defer snapMu.Unlock()
	if snapTree == nil || snapTree.Get("/zookeeper") == nil {
		t.Errorf("no snapshot with /zookeeper was installed from Apache's SNAP")
	}
}

type addrs struct{ quorum, election, client int }

// startMixedEnsemble allocates ports for servers 1..3, writes the quorum
// config, and starts Apache ZooKeeper as every server but zkdID, with
// extra zoo.cfg lines. The Apache servers are killed when the test ends.
func startMixedEnsemble(t *testing.T, zkdID int64, extra string) (map[int64]addrs, map[int64]Member, string, []*launch.Process) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts Apache ZooKeeper (JVMs): slow; runs without -short")
	}
	if err := apacheQuorum.Check(); err != nil {
		t.Fatalf("%v: install the Debian package zookeeper (apt-get install zookeeper)", err)
	}
	servers := map[int64]addrs{}
	var cfg quorum.QuorumConfig
	for id := int64(1); id <= 3; id++ {
		a := addrs{freePort(t), freePort(t), freePort(t)}
		servers[id] = a
		cfg.Members = append(cfg.Members, quorum.Member{ID: id, ClientHost: "127.0.0.1", ClientPort: a.client,
			Addresses: []quorum.PeerAddress{{Host: "127.0.0.1", QuorumPort: a.quorum, ElectionPort: a.election}}})
	}
	text := cfg.String()
	var apaches []*launch.Process
	for id := int64(1); id <= 3; id++ {
		if id == zkdID {
			continue
		}
		dir := filepath.Join(t.TempDir(), fmt.Sprintf("apache%d", id))
		data := filepath.Join(dir, "data")
		if err := os.MkdirAll(data, 0o755); err != nil {
			t.Fatal(err)
		}
		zooCfg := fmt.Sprintf("tickTime=500\ninitLimit=20\nsyncLimit=10\ndataDir=%s\nadmin.enableServer=false\n4lw.commands.whitelist=*\n%s%s",
			data, extra, text[:strings.LastIndex(text, "version=")])
		os.WriteFile(filepath.Join(dir, "zoo.cfg"), []byte(zooCfg), 0o644)
		os.WriteFile(filepath.Join(data, "myid"), []byte(fmt.Sprintf("%d\n", id)), 0o644)
		p, err := launch.Start(launch.Options{Name: fmt.Sprintf("apache%d", id), Argv: apacheQuorum.Argv(filepath.Join(dir, "zoo.cfg")),
			Dir: dir, LogPath: filepath.Join(dir, "server.out"), Addr: launch.Loopback(servers[id].client)})
		if err != nil {
			t.Fatal(err)
		}
		apaches = append(apaches, p)
		t.Cleanup(func() { p.Kill() })
	}
	members := map[int64]Member{}
	for id, a := range servers {
		members[id] = Member{Quorum: launch.Loopback(a.quorum), Election: launch.Loopback(a.election)}
	}
	return servers, members, text, apaches
}

func apacheTails(apaches []*launch.Process) string {
	var b strings.Builder
	for _, p := range apaches {
		fmt.Fprintf(&b, "--- %s\n%s\n", p.Name(), p.Tail(30))
	}
	return b.String()
}

// TestApacheFollowsReplicaLeader: with equal (empty) histories zkd, as
// myid 3, leads two Apache ZooKeeper 3.8 followers: they register, take
// the new epoch, are synchronised and get UPTODATE from zkd, then log,
// ACK and apply the txns zkd proposes, in Apache's own txn format; a
// client reading from each Apache follower (local sessions, so that no
// request needs forwarding) sees every znode with its data.
func TestApacheFollowsReplicaLeader(t *testing.T) {
	servers, members, text, apaches := startMixedEnsemble(t, 3, "localSessionsEnabled=true\nlocalSessionsUpgradingEnabled=true\n")
	l := &memLog{accepted: -1, current: -1}
	applyTree, snapshot := treeState(t)
	out := &applied{}
	apply := func(es []zab.Entry) { out.apply(es); applyTree(es) }
	r, err := Start(Config{
		Peer: zab.PeerConfig{Config: zab.Config{ID: 3, CurrentEpoch: -1, AcceptedEpoch: -1, CurrentEpochTmp: -1},
			Voters: []int64{1, 2, 3}, TickTime: 10, InitLimit: 20, SyncLimit: 10, FinalizeWait: 4, MaxNotificationInterval: 200},
		Members: members, QuorumConfig: text, Log: l, Apply: apply, Snapshot: snapshot, Tick: 50 * time.Millisecond, Logger: testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	deadline := time.Now().Add(40 * time.Second)
	for st := r.Status(); !(st.Serving && st.Role == zab.Leading); st = r.Status() {
		if time.Now().After(deadline) {
			t.Fatalf("zkd did not lead: %+v\n%s", st, apacheTails(apaches))
		}
		time.Sleep(50 * time.Millisecond)
	}
	const n = 20
	for i := range n {
		path, data := fmt.Sprintf("/z%d", i), []byte(fmt.Sprintf("v%d", i))
		if _, err := r.Propose(createTxn(i, path, data)); err != nil {
			t.Fatalf("propose %s: %v", path, err)
		}
	}
	for _, id := range []int64{1, 2} {
		c, _, err := zk.Connect([]string{launch.Loopback(servers[id].client)}, 10*time.Second, zk.WithLogInfo(false))
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(15 * time.Second)
		for i := 0; i < n; {
			path := fmt.Sprintf("/z%d", i)
			got, _, err := c.Get(path)
			if err == nil && string(got) == fmt.Sprintf("v%d", i) {
				i++
				continue
			}
			if time.Now().After(deadline) {
				c.Close()
				t.Fatalf("Apache's server %d: get %s = %q, %v\n%s", id, path, got, err, apacheTails(apaches))
			}
			time.Sleep(50 * time.Millisecond)
		}
		c.Close()
	}
	if st := r.Status(); st.Committed != st.LastLogged || zab.CounterOf(st.Committed) != n {
		t.Errorf("zkd after %d proposals: %+v", n, st)
	}
}

// TestApacheFollowerTakesReplicaSnapshot: a zkd leader that keeps only 5
// committed proposals for DIFF (zookeeper.commitLogCount) brings an Apache
// follower that starts late, 30 txns behind, up to date with SNAP: the
// database it streams (its tree, serialized as a snapshot file holds it,
// then "BenWasHere") is loaded by Apache, which then serves every znode.
func TestApacheFollowerTakesReplicaSnapshot(t *testing.T) {
	servers, members, text, apaches := startMixedEnsemble(t, 3, "localSessionsEnabled=true\nlocalSessionsUpgradingEnabled=true\n")
	// Server 2 comes later: stop it now, with its (empty) data kept.
	if err := apaches[1].Stop(); err != nil {
		t.Logf("stopping Apache's server 2: %v", err)
	}
	apply, snapshot := treeState(t)
	r, err := Start(Config{
		Peer: zab.PeerConfig{Config: zab.Config{ID: 3, CurrentEpoch: -1, AcceptedEpoch: -1, CurrentEpochTmp: -1},
			Voters: []int64{1, 2, 3}, TickTime: 10, InitLimit: 20, SyncLimit: 10, FinalizeWait: 4, MaxNotificationInterval: 200,
			CommitLogCount: 5},
		Members: members, QuorumConfig: text, Log: &memLog{accepted: -1, current: -1}, Apply: apply, Snapshot: snapshot,
		Tick: 50 * time.Millisecond, Logger: testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	deadline := time.Now().Add(40 * time.Second)
	for st := r.Status(); !(st.Serving && st.Role == zab.Leading); st = r.Status() {
		if time.Now().After(deadline) {
			t.Fatalf("zkd did not lead with server 1: %+v\n%s", st, apacheTails(apaches))
		}
		time.Sleep(50 * time.Millisecond)
	}
	const n = 30
	for i := range n {
		path, data := fmt.Sprintf("/s%d", i), []byte(fmt.Sprintf("v%d", i))
		if _, err := r.Propose(createTxn(i, path, data)); err != nil {
			t.Fatalf("propose %s: %v", path, err)
		}
	}
	waitFor(t, "zkd committed every proposal", 15*time.Second, func() bool {
		st := r.Status()
		return zab.CounterOf(st.Committed) == n
	})
	// Server 2 starts now, behind by more than the commit log keeps.
	dir := filepath.Dir(apaches[1].LogPath())
	p, err := launch.Start(launch.Options{Name: "apache2-again", Argv: apacheQuorum.Argv(filepath.Join(dir, "zoo.cfg")),
		Dir: dir, LogPath: filepath.Join(dir, "server.out"), Addr: launch.Loopback(servers[2].client)})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	c, _, err := zk.Connect([]string{launch.Loopback(servers[2].client)}, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	deadline = time.Now().Add(40 * time.Second)
	for i := 0; i < n; {
		path := fmt.Sprintf("/s%d", i)
		got, _, err := c.Get(path)
		if err == nil && string(got) == fmt.Sprintf("v%d", i) {
			i++
			continue
		}
		if time.Now().After(deadline) {
			t.Fatalf("Apache's server 2 after joining: get %s = %q, %v\n%s", path, got, err, apacheTails([]*launch.Process{p, apaches[0]}))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(p.Tail(400), "Getting a snapshot from leader") {
		t.Errorf("server 2 was not synchronised by SNAP:\n%s", p.Tail(40))
	}
}

// createTxn builds, for the zxid it is given, the log record of a create
// in Apache's format, as a leader's prep step would.
func createTxn(cxid int, path string, data []byte) func(zxid int64) []byte {
	return func(zxid int64) []byte {
		return txn.Marshal(&txn.Txn{
			Header: txn.Header{Cxid: int32(cxid), Zxid: zxid, Time: time.Now().UnixMilli(), Type: proto.OpCreate},
			Body:   &txn.Create{Path: path, Data: data, ACL: []proto.ACL{{Perms: proto.PermAll, ID: proto.ID{Scheme: "world", ID: "anyone"}}}, ParentCVersion: -1},
		})
	}
}

// treeState is a zkd tree fed by Apply, with the Snapshot that streams it
// to a learner as a leader's SNAP does (on the driver, like Apply).
func treeState(t *testing.T) (apply func([]zab.Entry), snapshot func() (int64, []byte, error)) {
	state := tree.New()
	apply = func(es []zab.Entry) {
		for _, e := range es {
			tx, err := txn.Unmarshal(e.Data, jute.DefaultMaxBuffer)
			if err != nil {
				t.Errorf("zkd applies an undecodable txn 0x%x: %v", uint64(e.Zxid), err)
				continue
			}
			state.Apply(tx)
		}
	}
	snapshot = func() (int64, []byte, error) {
		e := jute.NewEncoder(nil)
		e.Int(0) // no sessions
		state.Serialize(e)
		return state.LastZxid(), e.Bytes(), nil
	}
	return apply, snapshot
}

func mustReadFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
