// Package drill runs the drills of the Kubernetes write-up zkd comes from,
// with real zkd processes on loopback: start an ensemble and see one
// leader, kill -9 the leader and see another take over with nothing
// acknowledged lost, start five one at a time, lose the quorum and get it
// back, run an observer, stop (SIGSTOP) a leader and a follower.
package drill

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkd/zkd/internal/launch"
)

// ports never hands a port out twice in a run, and every server takes
// three: the range holds the whole package's drills (below Linux's
// ephemeral ports, which start at 32768).
var ports = &launch.Ports{Low: 30000, High: 30999}

// apacheQuorum runs Apache ZooKeeper as an ensemble member.
var apacheQuorum = launch.Apache{Main: "org.apache.zookeeper.server.quorum.QuorumPeerMain",
	JVMFlags: []string{"-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"}}

func TestMain(m *testing.M) {
	code := m.Run()
	launch.RemoveZkdBuild()
	os.Exit(code)
}

// node is one zkd process of a cluster.
type node struct {
	id       int
	observer bool
	apache   bool // Apache ZooKeeper 3.8 from Debian, not zkd
	dir      string
	client   string
	proc     *launch.Process
}

type cluster struct {
	t     *testing.T
	bin   string
	nodes []*node
}

// newCluster writes zoo.cfg and myid for servers 1..n (the last
// observers of them observers) without starting any.
func newCluster(t *testing.T, n, observers int) *cluster {
	t.Helper()
	return newMixedCluster(t, n, observers, 200, nil)
}

// newMixedCluster is newCluster with the servers in apache run by Apache
// ZooKeeper, and tickTime in ms.
func newMixedCluster(t *testing.T, n, observers, tickTime int, apache map[int]bool) *cluster {
	t.Helper()
	bin, err := launch.ZkdBinary()
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{t: t, bin: bin}
	var lines []string
	for i := 1; i <= n; i++ {
		q, e, cl := port(t), port(t), port(t)
		nd := &node{id: i, observer: i > n-observers, apache: apache[i], dir: t.TempDir(), client: fmt.Sprintf("127.0.0.1:%d", cl)}
		role := "participant"
		if nd.observer {
			role = "observer"
		}
		lines = append(lines, fmt.Sprintf("server.%d=127.0.0.1:%d:%d:%s;127.0.0.1:%d", i, q, e, role, cl))
		c.nodes = append(c.nodes, nd)
	}
	for _, nd := range c.nodes {
		data := filepath.Join(nd.dir, "data")
		if err := os.MkdirAll(data, 0o755); err != nil {
			t.Fatal(err)
		}
		peerType := ""
		if nd.observer {
			peerType = "peerType=observer\n"
		}
		cfg := fmt.Sprintf("tickTime=%d\ninitLimit=10\nsyncLimit=5\ndataDir=%s\n4lw.commands.whitelist=*\nadmin.enableServer=false\n%s%s\n",
			tickTime, data, peerType, strings.Join(lines, "\n"))
		if err := os.WriteFile(filepath.Join(nd.dir, "zoo.cfg"), []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(data, "myid"), []byte(fmt.Sprintf("%d\n", nd.id)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, nd := range c.nodes {
			if nd.proc != nil {
				syscall.Kill(nd.proc.Pid(), syscall.SIGCONT)
				nd.proc.Kill()
			}
		}
		if t.Failed() {
			if keep := os.Getenv("DRILL_KEEP"); keep != "" {
				for _, nd := range c.nodes {
					exec.Command("cp", "-a", nd.dir, filepath.Join(keep, fmt.Sprintf("%s-%d", t.Name(), nd.id))).Run()
				}
			}
			for _, nd := range c.nodes {
				if b, err := os.ReadFile(filepath.Join(nd.dir, "server.out")); err == nil {
					t.Logf("server %d log (tail):\n%s", nd.id, tail(string(b), 40))
				}
			}
		}
	})
	return c
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func port(t *testing.T) int {
	p, err := ports.Alloc()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// start runs server id (1-based) without waiting for it to serve: an
// ensemble member serves only once a quorum is up.
func (c *cluster) start(id int) {
	c.t.Helper()
	if err := c.launch(id); err != nil {
		c.t.Fatal(err)
	}
}

// launch is start for any goroutine: it returns the error.
func (c *cluster) launch(id int) error {
	nd := c.nodes[id-1]
	name, argv := fmt.Sprintf("zkd%d", id), launch.ZkdArgv(c.bin, filepath.Join(nd.dir, "zoo.cfg"))
	if nd.apache {
		if err := apacheQuorum.Check(); err != nil {
			return fmt.Errorf("%v: install the Debian package zookeeper (apt-get install zookeeper)", err)
		}
		name, argv = fmt.Sprintf("apache%d", id), apacheQuorum.Argv(filepath.Join(nd.dir, "zoo.cfg"))
	}
	p, err := launch.Start(launch.Options{Name: name, Argv: argv,
		Dir: nd.dir, LogPath: filepath.Join(nd.dir, "server.out"), Addr: nd.client})
	if err != nil {
		return err
	}
	nd.proc = p
	return nil
}

func (c *cluster) kill(id int) {
	nd := c.nodes[id-1]
	nd.proc.Kill()
	nd.proc = nil
}

// mode is what srvr says: leader, follower, observer, standalone, or ""
// when the server does not answer or is not serving.
func mode(addr string) string { return srvrField(addr, "Mode: ") }

// srvrField is the rest of the first line of a server's srvr answer that
// starts with prefix, or "" when there is none or no answer.
func srvrField(addr, prefix string) string {
	nc, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return ""
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(2 * time.Second))
	nc.Write([]byte("srvr"))
	sc := bufio.NewScanner(nc)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), prefix); ok {
			return v
		}
	}
	return ""
}

// waitRoles waits until every running server shows a serving mode with
// exactly one leader, and returns the leader's id and every mode.
func (c *cluster) waitRoles(timeout time.Duration) (int, map[int]string) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		modes := map[int]string{}
		leader, leaders, ok := 0, 0, true
		for _, nd := range c.nodes {
			if nd.proc == nil {
				continue
			}
			m := mode(nd.client)
			modes[nd.id] = m
			switch m {
			case "leader":
				leader = nd.id
				leaders++
			case "follower", "observer":
			default:
				ok = false
			}
		}
		if ok && leaders == 1 {
			return leader, modes
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("no settled ensemble within %v: modes %v", timeout, modes)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *cluster) addrs() []string {
	var out []string
	for _, nd := range c.nodes {
		out = append(out, nd.client)
	}
	return out
}

func connect(t *testing.T, addrs ...string) *zk.Conn {
	t.Helper()
	conn, err := session(addrs, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	return conn
}

// session is connect for any goroutine: a client with a session on one
// of addrs within timeout, or an error.
func session(addrs []string, timeout time.Duration) (*zk.Conn, error) {
	conn, ev, err := zk.Connect(addrs, 4*time.Second, zk.WithLogInfo(false))
	if err != nil {
		return nil, err
	}
	deadline := time.After(timeout)
	for conn.State() != zk.StateHasSession {
		select {
		case <-ev:
		case <-deadline:
			conn.Close()
			return nil, fmt.Errorf("no session on %v within %v: %v", addrs, timeout, conn.State())
		}
	}
	return conn, nil
}

// writer creates /w-N znodes through a client with every server in its
// list, and remembers which creates were acknowledged.
type writer struct {
	conn  *zk.Conn
	mu    sync.Mutex
	acked []string
	fails int
	last  time.Time // the last acknowledgement
	sends []send    // every write attempted, in order
	stop  chan struct{}
	done  chan struct{}
}

// send is one write the writer attempted: when it was sent, and whether it
// was acknowledged.
type send struct {
	at    time.Time
	acked bool
}

func startWriter(t *testing.T, addrs []string) *writer {
	w := &writer{conn: connect(t, addrs...), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for i := 0; ; i++ {
			select {
			case <-w.stop:
				return
			default:
			}
			path := fmt.Sprintf("/w-%06d", i)
			sent := time.Now()
			_, err := w.conn.Create(path, []byte(path), 0, zk.WorldACL(zk.PermAll))
			w.mu.Lock()
			w.sends = append(w.sends, send{at: sent, acked: err == nil})
			if err == nil {
				w.acked = append(w.acked, path)
				w.last = time.Now()
			} else {
				w.fails++
			}
			w.mu.Unlock()
			if err != nil {
				time.Sleep(20 * time.Millisecond)
			} else {
				time.Sleep(2 * time.Millisecond)
			}
		}
	}()
	return w
}

// sentSince counts the writes sent at or after t, and of those the ones
// acknowledged.
func (w *writer) sentSince(t time.Time) (sent, acked int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, s := range w.sends {
		if !s.at.Before(t) {
			sent++
			if s.acked {
				acked++
			}
		}
	}
	return sent, acked
}

func (w *writer) ackedCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acked)
}

// waitAcks waits until n more writes than now are acknowledged.
func (w *writer) waitAcks(t *testing.T, n int, timeout time.Duration) time.Time {
	t.Helper()
	start := w.ackedCount()
	deadline := time.Now().Add(timeout)
	for w.ackedCount() < start+n {
		if time.Now().After(deadline) {
			t.Fatalf("writes not acknowledged: %d of %d within %v", w.ackedCount()-start, n, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last
}

// finish stops the writer and checks every acknowledged write is readable
// on every server given.
func (w *writer) finish(t *testing.T, readers ...string) {
	t.Helper()
	close(w.stop)
	<-w.done
	w.mu.Lock()
	acked := append([]string(nil), w.acked...)
	w.mu.Unlock()
	for _, addr := range readers {
		c := connect(t, addr)
		if _, err := c.Sync("/"); err != nil {
			t.Fatalf("sync on %s: %v", addr, err)
		}
		lost := 0
		for _, p := range acked {
			if ok, _, err := c.Exists(p); err != nil || !ok {
				lost++
				if lost <= 3 {
					t.Errorf("%s: acknowledged %s is missing (%v)", addr, p, err)
				}
			}
		}
		if lost > 0 {
			t.Errorf("%s: %d of %d acknowledged writes lost", addr, lost, len(acked))
		}
		c.Close()
	}
}

// zkdStatus runs `zkd status --server addr` and returns its output.
func (c *cluster) zkdStatus(addr string) string {
	out, _ := exec.Command(c.bin, "status", "--server", addr).CombinedOutput()
	return string(out)
}

// Drill 1 and 2: three servers started together elect one leader (with
// equal zxids the highest myid); `zkd status` prints each one's mode.
// kill -9 of the leader while a client writes: the survivors elect a new
// leader (the higher myid of the two, their zxids being equal), every
// acknowledged write is there and writes resume; the old leader,
// restarted, rejoins as a follower.
func TestDrillKillTheLeader(t *testing.T) {
	c := newCluster(t, 3, 0)
	for id := 1; id <= 3; id++ {
		c.start(id)
	}
	leader, modes := c.waitRoles(30 * time.Second)
	if leader != 3 {
		t.Errorf("started together with empty logs, server %d leads; ZooKeeper's rule gives the highest myid (3)", leader)
	}
	for id, m := range modes {
		out := c.zkdStatus(c.nodes[id-1].client)
		if !strings.Contains(out, "Mode: "+m) {
			t.Errorf("zkd status on server %d does not print its mode %q:\n%s", id, m, out)
		}
	}
	w := startWriter(t, c.addrs())
	w.waitAcks(t, 200, 20*time.Second)
	killed := time.Now()
	c.kill(leader)
	newLeader, _ := c.waitRoles(30 * time.Second)
	elected := time.Now()
	resumed := w.waitAcks(t, 50, 30*time.Second)
	t.Logf("kill -9 of leader %d: server %d leads after %v, writes acknowledged again after %v",
		leader, newLeader, elected.Sub(killed).Round(time.Millisecond), resumed.Sub(killed).Round(time.Millisecond))
	if newLeader == leader {
		t.Fatalf("the killed server %d still leads", leader)
	}
	c.start(leader)
	_, modes = c.waitRoles(30 * time.Second)
	if modes[leader] != "follower" {
		t.Errorf("the old leader %d rejoined as %q", leader, modes[leader])
	}
	w.waitAcks(t, 50, 20*time.Second)
	w.finish(t, c.addrs()...)
}

// Drill 3: five servers started one at a time, in myid order: once three
// are up the third leads (the highest myid of the first quorum), and 4
// and 5 join it as followers.
func TestDrillFiveStartedInOrder(t *testing.T) {
	c := newCluster(t, 5, 0)
	c.start(1)
	time.Sleep(500 * time.Millisecond)
	c.start(2)
	time.Sleep(500 * time.Millisecond)
	if m := mode(c.nodes[0].client); m == "leader" || m == "follower" {
		t.Errorf("with two of five up server 1 is %q: no quorum yet", m)
	}
	c.start(3)
	leader, _ := c.waitRoles(30 * time.Second)
	if leader != 3 {
		t.Errorf("with servers 1..3 up, server %d leads; want 3", leader)
	}
	c.start(4)
	c.start(5)
	leader, modes := c.waitRoles(30 * time.Second)
	if leader != 3 || modes[4] != "follower" || modes[5] != "follower" {
		t.Errorf("after 4 and 5 joined: leader %d, modes %v; want 3 leading, 4 and 5 following", leader, modes)
	}
	w := startWriter(t, c.addrs())
	w.waitAcks(t, 100, 20*time.Second)
	w.finish(t, c.addrs()...)
}

// Drill 4: with two of three servers down nothing is acknowledged (the
// last one stops serving); when one comes back, service resumes and what
// was acknowledged before is there.
func TestDrillQuorumLoss(t *testing.T) {
	c := newCluster(t, 3, 0)
	for id := 1; id <= 3; id++ {
		c.start(id)
	}
	leader, _ := c.waitRoles(30 * time.Second)
	w := startWriter(t, c.addrs())
	w.waitAcks(t, 100, 20*time.Second)
	var down []int
	for id := 1; id <= 3 && len(down) < 2; id++ {
		if id != leader {
			down = append(down, id)
		}
	}
	down[1] = leader // one follower and the leader
	c.kill(down[0])
	c.kill(down[1])
	survivor := 6 - down[0] - down[1]
	deadline := time.Now().Add(15 * time.Second)
	for mode(c.nodes[survivor-1].client) != "" {
		if time.Now().After(deadline) {
			t.Fatalf("server %d alone still serves as %q", survivor, mode(c.nodes[survivor-1].client))
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A write sent before the survivor stopped serving may still be
	// acknowledged after: it was committed while the quorum stood (seen in
	// a loaded CI run: its reply counted a moment after srvr said "not
	// serving"). Every write sent after that has no quorum to commit it.
	lost := time.Now()
	time.Sleep(2 * time.Second)
	sent, acked := w.sentSince(lost)
	if acked > 0 {
		t.Errorf("of %d writes sent without a quorum %d were acknowledged", sent, acked)
	}
	t.Logf("without a quorum: %d writes sent and answered (all refused), %d acknowledged in all", sent, w.ackedCount())
	c.start(down[0])
	c.waitRoles(30 * time.Second)
	w.waitAcks(t, 50, 30*time.Second)
	w.finish(t, c.nodes[survivor-1].client, c.nodes[down[0]-1].client)
}

// Drill 5: an observer replicates, serves reads, forwards writes, and
// never votes or leads: with one of the two voters gone nothing is
// served, even though the observer is up.
func TestDrillObserver(t *testing.T) {
	c := newCluster(t, 3, 1) // voters 1, 2; observer 3
	for id := 1; id <= 3; id++ {
		c.start(id)
	}
	leader, modes := c.waitRoles(30 * time.Second)
	if modes[3] != "observer" || leader == 3 {
		t.Fatalf("modes %v: server 3 must observe", modes)
	}
	obs := connect(t, c.nodes[2].client)
	if _, err := obs.Create("/via-observer", []byte("x"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("a write through the observer: %v", err)
	}
	for _, nd := range c.nodes[:2] {
		cl := connect(t, nd.client)
		if _, err := cl.Sync("/"); err != nil {
			t.Fatal(err)
		}
		if d, _, err := cl.Get("/via-observer"); err != nil || string(d) != "x" {
			t.Errorf("server %d reads the observer's write: %q %v", nd.id, d, err)
		}
	}
	follower := 3 - leader
	c.kill(follower)
	deadline := time.Now().Add(15 * time.Second)
	for mode(c.nodes[2].client) != "" || mode(c.nodes[leader-1].client) != "" {
		if time.Now().After(deadline) {
			t.Fatalf("with one voter of two the ensemble still serves: leader %q, observer %q",
				mode(c.nodes[leader-1].client), mode(c.nodes[2].client))
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.start(follower)
	_, modes = c.waitRoles(30 * time.Second)
	if modes[3] != "observer" {
		t.Errorf("after the voter came back the observer is %q", modes[3])
	}
}

// SIGSTOP of the leader: the others elect a new one and serve; SIGCONT:
// the old leader finds a newer epoch and follows. The same for a
// follower: nothing changes for the others, and it catches up.
func TestDrillStopAndContinue(t *testing.T) {
	c := newCluster(t, 3, 0)
	for id := 1; id <= 3; id++ {
		c.start(id)
	}
	leader, _ := c.waitRoles(30 * time.Second)
	w := startWriter(t, c.addrs())
	w.waitAcks(t, 100, 20*time.Second)
	pid := c.nodes[leader-1].proc.Pid()
	syscall.Kill(pid, syscall.SIGSTOP)
	stopped := c.nodes[leader-1].proc
	c.nodes[leader-1].proc = nil // not polled while stopped
	newLeader, _ := c.waitRoles(30 * time.Second)
	if newLeader == leader {
		t.Fatal("the stopped leader still leads")
	}
	w.waitAcks(t, 50, 30*time.Second)
	syscall.Kill(pid, syscall.SIGCONT)
	c.nodes[leader-1].proc = stopped
	_, modes := c.waitRoles(30 * time.Second)
	if modes[leader] != "follower" {
		t.Errorf("the continued old leader is %q", modes[leader])
	}
	var follower int
	for id := 1; id <= 3; id++ {
		if id != newLeader && id != leader {
			follower = id
		}
	}
	fpid := c.nodes[follower-1].proc.Pid()
	syscall.Kill(fpid, syscall.SIGSTOP)
	w.waitAcks(t, 50, 30*time.Second) // the other two carry on
	syscall.Kill(fpid, syscall.SIGCONT)
	c.waitRoles(30 * time.Second)
	w.waitAcks(t, 20, 20*time.Second)
	w.finish(t, c.addrs()...)
}
