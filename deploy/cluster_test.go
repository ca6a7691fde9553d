package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkd/zkd/internal/launch"
	"github.com/zkd/zkd/internal/ops"
)

// clusterPorts are the host ports the cluster test publishes the client
// ports on. They are fixed for a run (not Docker's ephemeral ones) because
// a restarted container must come back on the port the clients hold.
var clusterPorts = &launch.Ports{Low: 28400, High: 28449}

// e2eLabel marks everything the cluster test makes, so that what a killed
// run left behind (a test timeout skips the cleanups) is removed next time.
const e2eLabel = "zkd.test=cluster-e2e"

// container is one server of the cluster: its container name (the drill's
// {name}), the host name its peers know it by, and the published client port.
type container struct {
	name, host, volume string
	myid               int
	port               int
}

func (c container) addr() string { return launch.Loopback(c.port) }

// cluster is the write-up's three servers on a user-defined network.
type cluster struct {
	t       *testing.T
	image   string
	network string
	servers []container
}

// TestCluster is the write-up's cluster end to end with real containers:
// the image, three servers zookeeper1..3 configured by MYID/SERVERS on a
// user-defined network (started in reverse order, so the first ones must
// retry names that do not resolve yet), writes through the published ports,
// `zkd drill` with docker kill, the old leader rejoining as a follower,
// and `zkd roll` with docker restart while a client writes.
func TestCluster(t *testing.T) {
	requireDocker(t)
	pruneStale(t)
	zkd := buildZkd(t)
	c := startCluster(t)

	// All three start empty: the election picks the highest myid, and
	// zookeeper3, started first, is there for every round.
	leader := c.waitEnsemble(60*time.Second, "")
	if leader.host != "zookeeper3" {
		t.Errorf("leader of a fresh ensemble is %s, want zookeeper3 (equal zxids: the highest myid wins)", leader.host)
	}
	// zookeeper3 came up while its peers' names did not resolve, and joined.
	if logs, _ := docker(t, "logs", c.servers[2].name); !strings.Contains(logs, "lookup zookeeper1") {
		t.Errorf("zookeeper3's log shows no failed lookup of zookeeper1: the reverse-order start did not test name retries")
	}
	t.Logf("zkd status --ensemble:\n%s", c.run(zkd, "status", "--ensemble", c.serverList()))
	var status ops.Report
	if out := c.run(zkd, "status", "--ensemble", c.serverList(), "--json", "--ready"); json.Unmarshal([]byte(out), &status) != nil {
		t.Fatalf("zkd status --ensemble --json printed:\n%s", out)
	}
	modes := map[string]string{}
	for _, r := range status.Servers {
		modes[r.Name] = r.State
	}
	for _, s := range c.servers {
		want := "follower"
		if s.name == leader.name {
			want = "leader"
		}
		if modes[s.name] != want {
			t.Errorf("zkd status --ensemble: %s is %q, want %s", s.name, modes[s.name], want)
		}
	}
	if !status.OK || status.Leader != leader.name || status.VotingUp != 3 {
		t.Errorf("zkd status --ensemble: ok %v, leader %q, voting up %d; want ok, %s, 3", status.OK, status.Leader, status.VotingUp, leader.name)
	}

	c.checkReplicatedWrites()

	// The drill: find the leader, docker kill it, write throughout.
	var drill ops.DrillReport
	out := c.run(zkd, "drill", "--servers", c.serverList(), "--kill", "docker kill {name}", "--json", "--poll", "50ms")
	if err := json.Unmarshal([]byte(out), &drill); err != nil {
		t.Fatalf("zkd drill --json printed %v:\n%s", err, out)
	}
	t.Logf("drill: old leader %s, new leader %+v after %v, writes back after %v, %s", drill.OldLeader.Name, drill.NewLeader, drill.Elected, drill.WritesBack, drill.Why)
	if drill.OldLeader.Name != leader.name {
		t.Errorf("drill stopped %s, the leader was %s", drill.OldLeader.Name, leader.name)
	}
	if len(drill.Problems) > 0 {
		t.Errorf("drill failed: %v", drill.Problems)
	}
	if drill.Writes == nil || drill.Writes.Acked == 0 || len(drill.Lost) > 0 {
		t.Errorf("drill writes %+v, lost %v: want acknowledged writes and none lost", drill.Writes, drill.Lost)
	}
	if drill.NewLeader == nil {
		t.Fatal("drill saw no new leader")
	}
	checkElectionRule(t, drill)
	if running := c.inspect(leader.name, "{{.State.Running}}"); running != "false" {
		t.Errorf("old leader %s running=%s after docker kill", leader.name, running)
	}

	// The old leader comes back from its volume and follows.
	c.docker("start", leader.name)
	newLeader := c.byName(drill.NewLeader.Name)
	if got := c.waitEnsemble(60*time.Second, leader.name); got.name != newLeader.name {
		t.Errorf("after %s rejoined the leader is %s, want %s still", leader.name, got.name, newLeader.name)
	}
	c.checkReplicatedWrites()

	// The roll, with a client writing throughout.
	w, err := ops.NewWriter(c.addrs(), "/zkd-e2e-roll", 10*time.Second, 15*time.Second, testLog{t})
	if err != nil {
		t.Fatalf("roll writer: %v", err)
	}
	defer w.Close()
	ctx, stop := context.WithCancel(context.Background())
	writing := make(chan struct{})
	go func() { defer close(writing); w.Run(ctx, 20*time.Millisecond) }()
	rollStart := time.Now()
	var roll ops.RollReport
	out = c.run(zkd, "roll", "--servers", c.serverList(), "--restart", "docker restart {name}", "--json", "--poll", "200ms", "--timeout", "90s")
	time.Sleep(time.Second) // writes after the last restart too
	stop()
	<-writing
	if err := json.Unmarshal([]byte(out), &roll); err != nil {
		t.Fatalf("zkd roll --json printed %v:\n%s", err, out)
	}
	if roll.Stopped != "" || len(roll.Steps) != 3 {
		t.Fatalf("roll stopped (%q) after %d of 3 steps: %s", roll.Stopped, len(roll.Steps), out)
	}
	if last := roll.Steps[2]; !last.WasLeader || last.Name != newLeader.name {
		t.Errorf("roll restarted %s (was leader %v) last, want the leader %s last", last.Name, last.WasLeader, newLeader.name)
	}
	for _, s := range roll.Steps {
		t.Logf("roll: %s (leader %v) back after %v as %s, leader %s", s.Name, s.WasLeader, s.Back, s.Mode, s.Leader)
		if s.Back == nil {
			t.Errorf("roll: %s not seen back", s.Name)
		}
	}
	check, err := w.Verify(30 * time.Second)
	if err != nil {
		t.Fatalf("verify roll writes: %v", err)
	}
	if check.Acked == 0 || len(check.Lost) > 0 || len(check.Phantoms) > 0 {
		t.Errorf("roll writes %+v: lost %d, phantoms %d", check, len(check.Lost), len(check.Phantoms))
	}
	// Quorum kept: writes are acknowledged all through the roll, but for
	// one election when the leader restarts.
	if gap := longestAckGap(w.Writes(), rollStart); gap > 15*time.Second {
		t.Errorf("no write acknowledged for %v during the roll: the ensemble lost its quorum", gap)
	} else {
		t.Logf("roll: %d writes acknowledged, longest gap %v", check.Acked, gap)
	}
	c.waitEnsemble(60*time.Second, "")
}

// checkElectionRule holds the drill's winner to ZooKeeper's rule: the
// highest epoch, then zxid, then myid among the servers left. The zxids the
// drill saw were read while it wrote, so a winner may trail the top
// candidate by the writes committed after its read, and then win on myid.
func checkElectionRule(t *testing.T, r ops.DrillReport) {
	t.Helper()
	if len(r.Candidates) == 0 {
		t.Errorf("drill recorded no candidates")
		return
	}
	top, winner := r.Candidates[0], *r.NewLeader
	if winner.Name == top.Name {
		return
	}
	for _, c := range r.Candidates {
		if c.Name != winner.Name {
			continue
		}
		var cz, tz int64
		fmt.Sscanf(c.Zxid, "0x%x", &cz)
		fmt.Sscanf(top.Zxid, "0x%x", &tz)
		if c.Epoch == top.Epoch && cz+int64(c.WritesAfter) >= tz && c.MyID > top.MyID {
			return
		}
	}
	t.Errorf("new leader %s breaks the election rule: candidates %+v", winner.Name, r.Candidates)
}

func longestAckGap(ws []ops.Write, from time.Time) time.Duration {
	last, gap := from, time.Duration(0)
	for _, w := range ws {
		if w.Outcome != ops.Acked {
			continue
		}
		if d := w.Done.Sub(last); d > gap {
			gap = d
		}
		if w.Done.After(last) {
			last = w.Done
		}
	}
	return gap
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// startCluster builds the image and starts zookeeper3, then zookeeper2, then
// zookeeper1, a few seconds apart: until its peers exist their names do not
// resolve on the network, and a server must keep trying.
func startCluster(t *testing.T) *cluster {
	id := fmt.Sprintf("zkd-e2e-%d", time.Now().UnixNano())
	c := &cluster{t: t, image: id + ":test", network: id}
	t.Cleanup(c.remove)
	if out, err := exec.Command("./build-image.sh", c.image).CombinedOutput(); err != nil {
		t.Fatalf("build-image.sh %s: %v\n%s", c.image, err, out)
	}
	// build-image.sh cannot label the image; the tag carries the run id.
	c.docker("network", "create", "--label", e2eLabel, c.network)
	for i := 1; i <= 3; i++ {
		port, err := clusterPorts.Alloc()
		if err != nil {
			t.Fatal(err)
		}
		host := fmt.Sprintf("zookeeper%d", i)
		c.servers = append(c.servers, container{name: id + "-" + host, host: host, volume: id + "-" + host + "-data", myid: i, port: port})
	}
	for i := len(c.servers) - 1; i >= 0; i-- {
		s := c.servers[i]
		c.docker("volume", "create", "--label", e2eLabel, s.volume)
		c.docker("run", "-d", "--label", e2eLabel, "--name", s.name,
			"--network", c.network, "--hostname", s.host, "--network-alias", s.host,
			"-p", fmt.Sprintf("127.0.0.1:%d:2181", s.port),
			"-v", s.volume+":/data",
			"-e", fmt.Sprintf("MYID=%d", s.myid), "-e", "SERVERS=zookeeper1,zookeeper2,zookeeper3",
			"-e", "GOMEMLIMIT=256MiB",
			c.image)
		if i > 0 {
			time.Sleep(3 * time.Second)
		}
	}
	return c
}

// pruneStale removes what cluster runs killed more than an hour ago left.
func pruneStale(t *testing.T) {
	for _, args := range [][]string{
		{"container", "prune", "-f", "--filter", "label=" + e2eLabel, "--filter", "until=1h"},
		{"network", "prune", "-f", "--filter", "label=" + e2eLabel, "--filter", "until=1h"},
	} {
		if out, err := docker(t, args...); err != nil {
			t.Logf("%v", err)
		} else if out != "" {
			t.Logf("docker %s: %s", strings.Join(args[:2], " "), out)
		}
	}
	// Running containers are not pruned; stale ones are killed first.
	if ids, err := docker(t, "ps", "-q", "--filter", "label="+e2eLabel); err == nil && ids != "" {
		for _, id := range strings.Fields(ids) {
			created, _ := docker(t, "inspect", "--format", "{{.Created}}", id)
			if at, err := time.Parse(time.RFC3339Nano, created); err == nil && time.Since(at) > time.Hour {
				docker(t, "rm", "-f", "-v", id)
			}
		}
	}
}

// remove deletes every container, volume, network and the image of the run,
// failed or not, and says so when something could not be removed.
func (c *cluster) remove() {
	t := c.t
	if t.Failed() {
		for _, s := range c.servers {
			if logs, err := docker(t, "logs", "--tail", "80", s.name); err == nil {
				t.Logf("--- last log lines of %s:\n%s", s.name, logs)
			}
		}
	}
	var left []string
	for _, s := range c.servers {
		if _, err := docker(t, "rm", "-f", "-v", s.name); err != nil && !strings.Contains(err.Error(), "No such container") {
			left = append(left, err.Error())
		}
		if _, err := docker(t, "volume", "rm", "-f", s.volume); err != nil {
			left = append(left, err.Error())
		}
	}
	if _, err := docker(t, "network", "rm", c.network); err != nil && !strings.Contains(err.Error(), "not found") {
		left = append(left, err.Error())
	}
	if _, err := docker(t, "rmi", "-f", c.image); err != nil {
		left = append(left, err.Error())
	}
	if ids, err := docker(t, "images", "-a", "-q", "--filter", "label=zkd.build-stage=rootfs"); err == nil && ids != "" {
		left = append(left, "the image build's first stage: "+ids)
	}
	if len(left) > 0 {
		t.Errorf("cleanup left things behind:\n%s", strings.Join(left, "\n"))
	}
}

func (c *cluster) docker(args ...string) string {
	c.t.Helper()
	out, err := docker(c.t, args...)
	if err != nil {
		c.t.Fatal(err)
	}
	return out
}

func (c *cluster) inspect(name, format string) string {
	out, _ := docker(c.t, "inspect", "--format", format, name)
	return out
}

// run runs a zkd command on the host and returns its standard output; its
// standard error (progress lines) goes to the test log.
func (c *cluster) run(zkd string, args ...string) string {
	c.t.Helper()
	cmd := exec.Command(zkd, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if s := strings.TrimSpace(stderr.String()); s != "" {
		c.t.Logf("zkd %s:\n%s", args[0], s)
	}
	if err != nil {
		c.t.Fatalf("zkd %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (c *cluster) serverList() string {
	var parts []string
	for _, s := range c.servers {
		parts = append(parts, s.name+"="+s.addr())
	}
	return strings.Join(parts, ",")
}

func (c *cluster) addrs() []string {
	var a []string
	for _, s := range c.servers {
		a = append(a, s.addr())
	}
	return a
}

func (c *cluster) byName(name string) container {
	for _, s := range c.servers {
		if s.name == name {
			return s
		}
	}
	c.t.Fatalf("no server %s", name)
	return container{}
}

// waitEnsemble waits until every server serves, one leads and the others
// follow at the leader's zxid, and returns the leader. rejoining, when set,
// must have been seen following.
func (c *cluster) waitEnsemble(timeout time.Duration, rejoining string) container {
	c.t.Helper()
	var servers []ops.Server
	for _, s := range c.servers {
		servers = append(servers, ops.Server{Name: s.name, Addr: s.addr()})
	}
	ob := ops.Observer{Timeout: 2 * time.Second, Mntr: true, Conf: true}
	deadline := time.Now().Add(timeout)
	var a ops.Assessment
	for time.Now().Before(deadline) {
		a = ops.Assess(ob.ObserveAll(servers))
		if a.OK() && a.Ready(0) && a.VotingUp == 3 {
			for _, o := range a.Observations {
				if o.Server.Name == rejoining && o.Mode != "follower" {
					c.t.Fatalf("%s rejoined as %s, want follower", rejoining, o.Mode)
				}
			}
			return c.byName(a.Observations[a.Leader].Server.Name)
		}
		time.Sleep(250 * time.Millisecond)
	}
	var table strings.Builder
	a.WriteTable(&table)
	c.t.Fatalf("no ensemble of a leader and two synced followers within %v:\n%s", timeout, table.String())
	return container{}
}

// checkReplicatedWrites writes through every server's published port and
// reads each write back through the others.
func (c *cluster) checkReplicatedWrites() {
	c.t.Helper()
	stamp := time.Now().UnixNano()
	for i, s := range c.servers {
		path := fmt.Sprintf("/e2e-%d-%d", stamp, i)
		if err := createAndRead(s.addr(), path, c.addrs()); err != nil {
			c.t.Fatalf("write through %s: %v", s.name, err)
		}
	}
}

// createAndRead creates path through addr, then reads it through each of
// others after a sync there, as a client that moved servers would.
func createAndRead(addr, path string, others []string) error {
	conn, err := connect([]string{addr})
	if err != nil {
		return err
	}
	defer conn.Close()
	data := []byte("written through " + addr)
	if _, err := conn.Create(path, data, 0, zk.WorldACL(zk.PermAll)); err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	for _, other := range others {
		oc, err := connect([]string{other})
		if err != nil {
			return err
		}
		_, serr := oc.Sync(path)
		got, _, gerr := oc.Get(path)
		oc.Close()
		if serr != nil || gerr != nil || string(got) != string(data) {
			return fmt.Errorf("read %s through %s: %q (sync %v, get %v), want %q", path, other, got, serr, gerr, data)
		}
	}
	return nil
}

// connect returns a go-zookeeper session on one of addrs.
func connect(addrs []string) (*zk.Conn, error) {
	conn, events, err := zk.Connect(addrs, 10*time.Second, zk.WithLogger(quietLogger{}))
	if err != nil {
		return nil, err
	}
	deadline := time.After(15 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.State == zk.StateHasSession {
				return conn, nil
			}
		case <-deadline:
			conn.Close()
			return nil, fmt.Errorf("no session on %v within 15s", addrs)
		}
	}
}

type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}
