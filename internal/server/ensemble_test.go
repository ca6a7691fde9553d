package server

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkd/zkd/internal/config"
	"github.com/zkd/zkd/internal/ensemble"
	"github.com/zkd/zkd/internal/jute"
	"github.com/zkd/zkd/internal/launch"
	"github.com/zkd/zkd/internal/ops"
	"github.com/zkd/zkd/internal/proto"
)

// This package's ensemble test ports.
var ensemblePorts = &launch.Ports{Low: 28000, High: 28199}

// member is one server of an in-process ensemble on loopback.
type member struct {
	id         int64
	dir        string
	client     string
	opts       *EnsembleOptions
	srv        *Server
	t          *testing.T
	clientPort int
	// logs, when set, gets every line the server logs.
	logs *logRecorder
}

// startEnsemble starts n durable servers (myid 1..n) with their own data
// directories, quorum, election and client ports on loopback.
func startEnsemble(t *testing.T, n int) []*member {
	t.Helper()
	return startEnsembleOn(t, n, ensemblePorts, false)
}

// startEnsembleOn is startEnsemble on ports; with record, each member's
// log lines are kept in its logs.
func startEnsembleOn(t *testing.T, n int, ports *launch.Ports, record bool) []*member {
	t.Helper()
	port := func() int {
		p, err := ports.Alloc()
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	members := map[int64]ensemble.Member{}
	var voters []int64
	ms := make([]*member, n)
	var lines []string
	for i := range n {
		id := int64(i + 1)
		q, el, c := port(), port(), port()
		members[id] = ensemble.Member{Quorum: fmt.Sprintf("127.0.0.1:%d", q), Election: fmt.Sprintf("127.0.0.1:%d", el)}
		voters = append(voters, id)
		lines = append(lines, fmt.Sprintf("server.%d=127.0.0.1:%d:%d:participant;127.0.0.1:%d", id, q, el, c))
		ms[i] = &member{id: id, dir: t.TempDir(), client: fmt.Sprintf("127.0.0.1:%d", c), clientPort: c, t: t}
		if record {
			ms[i].logs = &logRecorder{}
		}
	}
	text := strings.Join(lines, "\n") + "\nversion=0"
	for _, m := range ms {
		m.opts = &EnsembleOptions{Members: members, Voters: voters, QuorumConfig: text, Tick: 20 * time.Millisecond}
		m.start()
	}
	t.Cleanup(func() {
		for _, m := range ms {
			m.stop()
		}
	})
	return ms
}

func mustPort(t *testing.T) int {
	p, err := ensemblePorts.Alloc()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (m *member) start() {
	t := m.t
	text := fmt.Sprintf("tickTime=200\ninitLimit=10\nsyncLimit=5\ndataDir=%s\nclientPort=%d\n4lw.commands.whitelist=*\nadmin.enableServer=false\n",
		m.dir, m.clientPort)
	cfg, err := config.Parse(strings.NewReader(text), "test.cfg", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	cfg.MyID = m.id
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo})).With("server", m.id)
	}
	if m.logs != nil {
		log = slog.New(teeHandler{m.logs.handler(), log.Handler()})
	}
	s, err := OpenDurable(cfg, log, Options{Ensemble: m.opts})
	if err != nil {
		t.Fatalf("server %d: %v", m.id, err)
	}
	l, err := net.Listen("tcp", m.client)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	go s.Serve(l)
	m.srv = s
}

func (m *member) stop() {
	if m.srv != nil {
		m.srv.Close()
		m.srv = nil
	}
}

// waitModes waits until the running members show one leader and the rest
// following; it returns the leader.
func waitModes(t *testing.T, ms []*member) *member {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var leader *member
		leaders, followers, running := 0, 0, 0
		var modes []string
		for _, m := range ms {
			if m.srv == nil {
				continue
			}
			running++
			mode := m.srv.Mode()
			modes = append(modes, fmt.Sprintf("%d:%s", m.id, mode))
			switch mode {
			case "leader":
				leaders++
				leader = m
			case "follower":
				followers++
			}
		}
		if leaders == 1 && leaders+followers == running {
			return leader
		}
		if time.Now().After(deadline) {
			t.Fatalf("no settled ensemble: %v", modes)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func connectAll(t *testing.T, addrs ...string) *zk.Conn {
	t.Helper()
	c, ev, err := zk.Connect(addrs, 4*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.After(10 * time.Second)
	for c.State() != zk.StateHasSession {
		select {
		case <-ev:
		case <-deadline:
			t.Fatalf("no session on %v: state %v", addrs, c.State())
		}
	}
	t.Cleanup(c.Close)
	return c
}

// TestEnsembleReplicatesWritesThroughEveryServer: three servers elect the
// highest myid (all logs equal), a client on each server writes (the
// followers forward), every server reads every write after a sync, and
// sessions created on a follower are known everywhere.
func TestEnsembleReplicatesWritesThroughEveryServer(t *testing.T) {
	ms := startEnsemble(t, 3)
	waitModes(t, ms)
	conns := make([]*zk.Conn, len(ms))
	for i, m := range ms {
		conns[i] = connectAll(t, m.client)
		path := fmt.Sprintf("/from%d", m.id)
		if _, err := conns[i].Create(path, []byte(path), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatalf("create %s through server %d (%s): %v", path, m.id, m.srv.Mode(), err)
		}
		if _, err := conns[i].Create(path+"/eph", nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatalf("ephemeral through server %d: %v", m.id, err)
		}
	}
	for i, m := range ms {
		if _, err := conns[i].Sync("/"); err != nil {
			t.Fatalf("sync on server %d: %v", m.id, err)
		}
		for _, other := range ms {
			path := fmt.Sprintf("/from%d", other.id)
			data, _, err := conns[i].Get(path)
			if err != nil || string(data) != path {
				t.Errorf("server %d reads %s: %q, %v", m.id, path, data, err)
			}
		}
	}
	for i, m := range ms {
		// A write then a read on the same connection: the read sees it.
		if _, err := conns[i].Set(fmt.Sprintf("/from%d", m.id), []byte("v2"), -1); err != nil {
			t.Fatalf("set through server %d: %v", m.id, err)
		}
		if data, _, err := conns[i].Get(fmt.Sprintf("/from%d", m.id)); err != nil || string(data) != "v2" {
			t.Errorf("server %d: a read after its own write got %q, %v", m.id, data, err)
		}
	}
	// Closing a follower's session deletes its ephemeral everywhere.
	conns[0].Close()
	if _, err := conns[2].Sync("/"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		ok, _, err := conns[2].Exists("/from1/eph")
		if err == nil && !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the ephemeral of a closed session on a follower is still there (%v)", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestEnsembleSurvivesLeaderLoss: the leader stops; the two others elect
// a new one (the higher myid, their zxids being equal), every
// acknowledged write is still there, writes resume, and the old leader
// rejoins as a follower and catches up.
func TestEnsembleSurvivesLeaderLoss(t *testing.T) {
	ms := startEnsemble(t, 3)
	leader := waitModes(t, ms)
	var addrs []string
	for _, m := range ms {
		addrs = append(addrs, m.client)
	}
	c := connectAll(t, addrs...)
	for i := range 50 {
		if _, err := c.Create(fmt.Sprintf("/before%d", i), nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	// Every server has applied every write: the survivors' zxids are equal.
	for _, m := range ms {
		cm := connectAll(t, m.client)
		if _, err := cm.Sync("/"); err != nil {
			t.Fatal(err)
		}
		cm.Close()
	}
	leader.stop()
	want := int64(0)
	for _, m := range ms {
		if m.srv != nil {
			want = max(want, m.id)
		}
	}
	newLeader := waitModes(t, ms)
	if newLeader.id != want {
		t.Errorf("new leader is %d; with equal zxids server %d (the higher myid left) wins", newLeader.id, want)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, err := c.Create("/after", nil, 0, zk.WorldACL(zk.PermAll))
		if err == nil || err == zk.ErrNodeExists {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("writes did not resume: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for i := range 50 {
		if ok, _, err := c.Exists(fmt.Sprintf("/before%d", i)); err != nil || !ok {
			t.Fatalf("acknowledged /before%d lost after failover: %v %v", i, ok, err)
		}
	}
	leader.start()
	waitModes(t, ms)
	if mode := leader.srv.Mode(); mode != "follower" {
		t.Errorf("the old leader rejoined as %s", mode)
	}
	old := connectAll(t, leader.client)
	if _, err := old.Sync("/"); err != nil {
		t.Fatal(err)
	}
	if ok, _, err := old.Exists("/after"); err != nil || !ok {
		t.Errorf("the old leader did not catch up: /after %v %v", ok, err)
	}
}

// mntrValues sends mntr and returns its key-value lines.
func mntrValues(t *testing.T, addr string) map[string]string {
	t.Helper()
	out, err := launch.FourLetterWord(addr, "mntr", 2*time.Second)
	if err != nil {
		t.Fatalf("mntr on %s: %v", addr, err)
	}
	return ops.ParseMntr(out)
}

// TestEnsembleMntrShowsQuorumFigures: mntr carries the quorum gauges
// Apache's leader and followers print (what `zkd roll` and dashboards read
// to know the ensemble is whole), and they follow a follower's loss.
func TestEnsembleMntrShowsQuorumFigures(t *testing.T) {
	ms := startEnsemble(t, 3)
	leader := waitModes(t, ms)
	waitMntr := func(m *member, key, want string) map[string]string {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			kv := mntrValues(t, m.client)
			if kv[key] == want {
				return kv
			}
			if time.Now().After(deadline) {
				t.Fatalf("server %d: mntr %s = %q, want %q\n%v", m.id, key, kv[key], want, kv)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitMntr(leader, "zk_synced_followers", "2")
	time.Sleep(20 * time.Millisecond) // for a leader_uptime of at least a millisecond
	kv := mntrValues(t, leader.client)
	for key, want := range map[string]string{"zk_server_state": "leader", "zk_peer_state": "leading - broadcast",
		"zk_quorum_size": "3", "zk_learners": "2", "zk_synced_observers": "0", "zk_synced_non_voting_followers": "0",
		"zk_pending_syncs": "0"} {
		if kv[key] != want {
			t.Errorf("leader: %s = %q, want %q", key, kv[key], want)
		}
	}
	if up, err := strconv.ParseInt(kv["zk_leader_uptime"], 10, 64); err != nil || up <= 0 {
		t.Errorf("leader: zk_leader_uptime = %q", kv["zk_leader_uptime"])
	}
	var followers []*member
	for _, m := range ms {
		if m != leader {
			followers = append(followers, m)
		}
	}
	kv = mntrValues(t, followers[0].client)
	for key, want := range map[string]string{"zk_server_state": "follower", "zk_peer_state": "following - broadcast",
		"zk_quorum_size": "3"} {
		if kv[key] != want {
			t.Errorf("follower: %s = %q, want %q", key, kv[key], want)
		}
	}
	for _, key := range []string{"zk_learners", "zk_synced_followers", "zk_leader_uptime", "zk_synced_observers"} {
		if v, ok := kv[key]; ok {
			t.Errorf("follower prints the leader's %s (%s)", key, v)
		}
	}

	followers[1].stop()
	waitMntr(leader, "zk_synced_followers", "1")
	waitMntr(leader, "zk_learners", "1")
}

// A restarted member replays its log but writes no snapshot of it: the
// log's tail may hold txns the ensemble never committed, which the leader
// can TRUNC, and a snapshot holding them could not be cut. (A standalone
// server snapshots after a replay.)
func TestEnsembleRestartTakesNoSnapshotOfItsLog(t *testing.T) {
	ms := startEnsemble(t, 3)
	leader := waitModes(t, ms)
	c := connectAll(t, leader.client)
	for i := range 20 {
		if _, err := c.Create(fmt.Sprintf("/r%d", i), nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	f := ms[0]
	if f == leader {
		f = ms[1]
	}
	snapshots := func() []string {
		names, _ := filepath.Glob(filepath.Join(f.dir, "version-2", "snapshot.*"))
		return names
	}
	f.stop()
	before := snapshots()
	f.start()
	waitModes(t, ms)
	fc := connectAll(t, f.client)
	if _, err := c.Create("/after", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if _, err := fc.Sync("/after"); err != nil {
		t.Fatal(err)
	}
	if ok, _, err := fc.Exists("/after"); err != nil || !ok {
		t.Fatalf("the restarted follower lacks /after (%v)", err)
	}
	if after := snapshots(); len(after) != len(before) {
		t.Errorf("snapshots %v before the restart, %v after: the replayed log was snapshotted", before, after)
	}
}

// TestEnsembleLeaderDecidesReconnects: a reconnect through a follower is
// decided by the leader's session table, since only the leader expires
// sessions (ZooKeeper's Learner.validateSession sends REVALIDATE and waits
// for the leader's answer). A session missing from the follower's own table
// (its createSession not applied there yet) is accepted; one the leader no
// longer has is refused although the follower still lists it.
func TestEnsembleLeaderDecidesReconnects(t *testing.T) {
	ms := startEnsemble(t, 3)
	leader := waitModes(t, ms)
	var followers []*member
	for _, m := range ms {
		if m != leader {
			followers = append(followers, m)
		}
	}
	created, through := followers[0], followers[1]
	newSession := func() proto.ConnectResponse {
		resp := dialRaw(t, created.client).handshake(true)
		// Everything committed before this sync is applied on through.
		if _, err := connectAll(t, through.client).Sync("/"); err != nil {
			t.Fatal(err)
		}
		return resp
	}
	reconnect := func(s proto.ConnectResponse) proto.ConnectResponse {
		r := dialRaw(t, through.client)
		r.send(&proto.ConnectRequest{TimeOut: 4000, SessionID: s.SessionID, Passwd: s.Passwd, HasReadOnly: true})
		b, err := r.recv()
		if err != nil {
			t.Fatalf("reconnect of 0x%x through server %d: %v", s.SessionID, through.id, err)
		}
		var resp proto.ConnectResponse
		resp.Decode(jute.NewDecoder(b, 0))
		return resp
	}
	forget := func(m *member, id int64) {
		m.srv.sessMu.Lock()
		m.srv.sessions.Remove(id)
		m.srv.sessMu.Unlock()
	}

	lagging := newSession()
	forget(through, lagging.SessionID)
	if got := reconnect(lagging); got.SessionID != lagging.SessionID {
		t.Errorf("a session the leader has, unknown to the follower: reconnect answered session 0x%x, want 0x%x", got.SessionID, lagging.SessionID)
	}

	expired := newSession()
	forget(leader, expired.SessionID)
	if got := reconnect(expired); got.SessionID != 0 || got.TimeOut != 0 {
		t.Errorf("a session the leader no longer has: reconnect answered session 0x%x timeout %d, want it refused (0, 0)", got.SessionID, got.TimeOut)
	}
}

// TestStandaloneRefusesEnsembleData: a member's data directory opened with
// a standalone config (its server.N lines lost, as with an unset SERVERS)
// is refused, naming the key that allows it; with the key set it serves
// the ensemble's data.
func TestStandaloneRefusesEnsembleData(t *testing.T) {
	ms := startEnsemble(t, 3)
	leader := waitModes(t, ms)
	c := connectAll(t, leader.client)
	if _, err := c.Create("/kept", []byte("v"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	f := ms[0]
	if f == leader {
		f = ms[1]
	}
	if _, err := connectAll(t, f.client).Sync("/kept"); err != nil {
		t.Fatal(err)
	}
	f.stop()
	open := func(extra string) (*Server, error) {
		cfg, err := config.Parse(strings.NewReader(fmt.Sprintf("tickTime=200\ndataDir=%s\nclientPort=2181\n%s", f.dir, extra)),
			"test.cfg", func(string) string { return "" })
		if err != nil {
			t.Fatal(err)
		}
		return OpenDurable(cfg, slog.New(slog.DiscardHandler), Options{})
	}
	if s, err := open(""); err == nil {
		s.Close()
		t.Fatal("a standalone server started on an ensemble member's data")
	} else if !strings.Contains(err.Error(), "zkd.standalone.fromEnsembleData=true") || !strings.Contains(err.Error(), "server.N") {
		t.Fatalf("the refusal does not name the fix: %v", err)
	}
	s, err := open("zkd.standalone.fromEnsembleData=true\n")
	if err != nil {
		t.Fatalf("with zkd.standalone.fromEnsembleData=true: %v", err)
	}
	addr := serveOnLoopback(t, s)
	sc, _ := connect(t, addr)
	if data, _, err := sc.Get("/kept"); err != nil || string(data) != "v" {
		t.Fatalf("standalone on the member's data: /kept = %q, %v", data, err)
	}
	if got := s.Mode(); got != "standalone" {
		t.Errorf("mode %q, want standalone", got)
	}
}
