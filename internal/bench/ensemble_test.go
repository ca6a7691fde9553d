package bench

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Session i of a run starts on server i mod n and, on a failure, moves on
// through the list in order; a whole round without a session pauses
// briefly, never the second go-zookeeper's own provider waits.
func TestHostListOrderAndPause(t *testing.T) {
	servers := []string{"a:1", "b:2", "c:3"}
	if got := rotate(servers, 4); !slices.Equal(got, []string{"b:2", "c:3", "a:1"}) {
		t.Fatalf("rotate by 4 = %v", got)
	}
	h := newHostList(rotate(servers, 2))
	if err := h.Init([]string{"b:2", "a:1", "c:3"}); err != nil { // go-zookeeper's shuffled copy
		t.Fatal(err)
	}
	var got []string
	began := time.Now()
	for range 4 {
		s, retryStart := h.Next()
		if retryStart {
			t.Fatal("Next reported a retry start: go-zookeeper would sleep a second")
		}
		got = append(got, s)
	}
	if want := []string{"c:3", "a:1", "b:2", "c:3"}; !slices.Equal(got, want) {
		t.Errorf("servers tried %v, want %v", got, want)
	}
	if took := time.Since(began); took < hostRetryPause || took > time.Second/2 {
		t.Errorf("four tries over three servers took %v, want one pause of %v", took, hostRetryPause)
	}
	// A session granted by c:3 tries c:3 first after losing its connection.
	h.Connected()
	if s, _ := h.Next(); s != "c:3" {
		t.Errorf("after a session on c:3, Next = %s", s)
	}
	if err := newHostList(servers).Init(servers[:2]); err == nil {
		t.Error("Init accepted a list of another length")
	}
}

func TestEnsemblePortsAndZooCfg(t *testing.T) {
	cfg := DefaultEnsembleCompareConfig()
	cfg.PortBase = 22840
	seen := map[int]string{}
	for _, role := range []string{roleZooKeeper, roleZkd} {
		peers := cfg.peers(role)
		if len(peers) != 3 {
			t.Fatalf("%s: %d peers", role, len(peers))
		}
		for i, p := range peers {
			if p.id != i+1 {
				t.Errorf("%s peer %d has id %d", role, i, p.id)
			}
			for _, port := range []int{p.client, p.quorum, p.election} {
				if port < cfg.PortBase || port >= cfg.PortBase+cfg.portSpan() {
					t.Errorf("%s server %d: port %d outside %d+%d", role, p.id, port, cfg.PortBase, cfg.portSpan())
				}
				if other, dup := seen[port]; dup {
					t.Errorf("port %d used twice (%s and %s server %d)", port, other, role, p.id)
				}
				seen[port] = role
			}
		}
	}
	if cfg.portSpan() != 18 || len(seen) != 18 {
		t.Errorf("span %d, %d ports used; want 18", cfg.portSpan(), len(seen))
	}
	// ZooKeeper's first member keeps the standalone comparison's port.
	if p := cfg.peers(roleZooKeeper)[0]; p.client != cfg.PortBase {
		t.Errorf("ZooKeeper server 1 listens on %d", p.client)
	}
	text := ensembleZooCfg("/d", "22843", cfg.peers(roleZkd))
	for _, want := range []string{"dataDir=/d\n", "clientPort=22843\n", "forceSync=yes\n",
		"server.1=127.0.0.1:22849:22855\n", "server.3=127.0.0.1:22851:22857\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("zoo.cfg lacks %q:\n%s", want, text)
		}
	}
}

func TestEnsembleConfigValidation(t *testing.T) {
	base := ShortEnsembleCompareConfig()
	base.Zkd, base.ZooKeeper = ZkdSpec("/bin/true"), ZkdSpec("/bin/true")
	if err := base.validate(); err != nil {
		t.Fatalf("short ensemble config: %v", err)
	}
	for name, change := range map[string]func(*CompareConfig){
		"two servers":        func(c *CompareConfig) { c.Ensemble = 2 },
		"no servers":         func(c *CompareConfig) { c.Ensemble = 0 },
		"memory phase":       func(c *CompareConfig) { c.Memory = true },
		"negative rounds":    func(c *CompareConfig) { c.Failovers = -1 },
		"ports out of range": func(c *CompareConfig) { c.PortBase = 65530 },
	} {
		c := base
		change(&c)
		if err := c.validate(); !errors.Is(err, ErrCompareConfig) {
			t.Errorf("%s: validate = %v, want ErrCompareConfig", name, err)
		}
	}
}

// Apache's ensemble members run as QuorumPeerMain (ZooKeeperServerMain
// would ignore the server.N lines and run standalone), its standalone
// servers as ZooKeeperServerMain; zkd runs the same command for both.
func TestMemberCommands(t *testing.T) {
	apache := ApacheSpec("java", "/cp")
	if got := strings.Join(apache.argv(true, "z.cfg"), " "); !strings.HasSuffix(got, "org.apache.zookeeper.server.quorum.QuorumPeerMain z.cfg") {
		t.Errorf("Apache member: %s", got)
	}
	if got := strings.Join(apache.argv(false, "z.cfg"), " "); !strings.HasSuffix(got, "org.apache.zookeeper.server.ZooKeeperServerMain z.cfg") {
		t.Errorf("Apache standalone: %s", got)
	}
	zkd := ZkdSpec("/bin/zkd")
	if !slices.Equal(zkd.argv(true, "z.cfg"), zkd.argv(false, "z.cfg")) {
		t.Errorf("zkd member %v, standalone %v", zkd.argv(true, "z.cfg"), zkd.argv(false, "z.cfg"))
	}
}

func TestSummarizeFailoverPairsRounds(t *testing.T) {
	rounds := []FailoverRound{
		{System: roleZkd, Round: 0, WriteMS: 100, LeaderMS: 90, RejoinMS: 50},
		{System: roleZooKeeper, Round: 0, WriteMS: 400, LeaderMS: 300, RejoinMS: 1000},
		{System: roleZooKeeper, Round: 1, WriteMS: 500, LeaderMS: 450, RejoinMS: 900},
		{System: roleZkd, Round: 1, WriteMS: 300, LeaderMS: 290, RejoinMS: 70},
		{System: roleZkd, Round: 2, WriteMS: 1, LeaderMS: 1, RejoinMS: 1}, // no partner: left out
	}
	f := summarizeFailover(rounds, 3)
	if f.WriteRatio.N != 2 || f.WriteRatio.Min != 0.25 || f.WriteRatio.Max != 0.6 {
		t.Errorf("write ratio %+v, want 0.25 and 0.6 from the two pairs", f.WriteRatio)
	}
	if f.ZkdWriteMS.N != 2 || f.ZkdWriteMS.Median != 200 || f.ZooKeeperRejoinMS.Median != 950 {
		t.Errorf("zkd write %+v, ZooKeeper rejoin %+v", f.ZkdWriteMS, f.ZooKeeperRejoinMS)
	}
	if len(f.Rounds) != 5 || f.Writers != 3 {
		t.Errorf("rounds %d, writers %d", len(f.Rounds), f.Writers)
	}
}

func TestTargetChecksTakeTheWorstCell(t *testing.T) {
	row := func(w Workload, clients int, ratio, p99Ratio, zkdCPU, zkCPU float64) ThroughputRow {
		one := func(v float64) Spread { return Spread{Median: v, Min: v, Max: v, N: 1} }
		return ThroughputRow{Workload: w, Clients: clients, Ratio: one(ratio), P99Ratio: one(p99Ratio),
			Zkd: SystemFigures{ServerCPUUSPerOp: one(zkdCPU)}, ZooKeeper: SystemFigures{ServerCPUUSPerOp: one(zkCPU)}}
	}
	r := &CompareReport{
		Throughput: []ThroughputRow{
			row(WorkloadCreate, 16, 2.5, 0.3, 40, 100),
			row(WorkloadSet, 16, 2.2, 0.4, 30, 100),
			row(WorkloadSet, 64, 1.9, 0.9, 60, 100), // the worst write cell, and the worst CPU
			row(WorkloadGet, 16, 1.6, 0.5, 10, 100),
			row(WorkloadMixed, 16, 0.1, 9, 99, 100), // no target covers mixed
		},
		Failover: &FailoverReport{WriteRatio: Spread{Median: 0.45, Min: 0.4, Max: 0.5, N: 3}},
	}
	got := map[string]TargetCheck{}
	for _, tc := range r.targetChecks() {
		got[tc.Target] = tc
	}
	want := map[string]TargetCheck{
		"writes (create, set): ops/s": {AtLeast: true, Bound: 2.0, Ratio: 1.9, Cell: "set/64", Met: false},
		"reads (get): ops/s":          {AtLeast: true, Bound: 1.5, Ratio: 1.6, Cell: "get/16", Met: true},
		"set p99 at 16 clients":       {Bound: 0.5, Ratio: 0.4, Cell: "set/16", Met: true},
		"failover: kill -9 of the leader → first acknowledged write": {Bound: 0.5, Ratio: 0.45, Cell: "3 rounds", Met: true},
		"CPU per write (create, set), the servers together":          {Bound: 0.5, Ratio: 0.6, Cell: "set/64", Met: false},
	}
	if len(got) != len(want) {
		t.Fatalf("targets %+v", got)
	}
	for name, w := range want {
		w.Target = name
		if g := got[name]; g != w {
			t.Errorf("%s:\n got %+v\nwant %+v", name, g, w)
		}
	}
	md := (&CompareReport{Targets: r.targetChecks()}).Markdown()
	if !strings.Contains(md, "| writes (create, set): ops/s | ≥ 2.0× | 1.90 | set/64 | no |") {
		t.Errorf("targets table:\n%s", md)
	}
}

// A run's sessions go to the servers in turn: six sessions over three
// listeners that never grant a session make two first connections each.
func TestOpenSessionsSpreadOverTheServers(t *testing.T) {
	var addrs []string
	accepted := make([]atomic.Int32, 3)
	for i := range 3 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		addrs = append(addrs, l.Addr().String())
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				accepted[i].Add(1)
				defer c.Close() // held open, never answered
			}
		}()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := openSessions(ctx, addrs, 6, 10*time.Second); err == nil {
		t.Fatal("sessions granted by listeners that never answer")
	}
	for i := range accepted {
		if n := accepted[i].Load(); n != 2 {
			t.Errorf("server %d got %d connections, want 2 of the 6 sessions", i+1, n)
		}
	}
}
