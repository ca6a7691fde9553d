package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zkd/zkd/internal/launch"
	"github.com/zkd/zkd/internal/ops"
)

// The operator commands on a real ensemble: three Apache ZooKeeper 3.8
// servers (QuorumPeerMain from Debian's package) on loopback. This checks
// what the fakes cannot: srvr, mntr and conf as Apache really prints them,
// Apache's own election after a kill -9, and its followers' resync after a
// restart. zkd's own ensemble gets the same test when `zkd serve` runs one.
var apacheQuorumPeer = launch.Apache{Main: launch.QuorumPeerMain,
	JVMFlags: []string{"-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"}}

// apacheEnsemble runs the servers; a file <name>.restart in dir restarts
// one (SIGTERM, then a fresh JVM), as a supervisor would: the restart
// command under test is 'touch DIR/{name}.restart', which returns before
// the server has even stopped.
type apacheEnsemble struct {
	t    *testing.T
	dir  string
	spec string
	mu   sync.Mutex
	proc map[string]*launch.Process
	opts map[string]launch.Options
	done chan struct{}
	wg   sync.WaitGroup
}

func startApacheEnsemble(t *testing.T) *apacheEnsemble {
	t.Helper()
	if testing.Short() {
		t.Skip("starts three Apache ZooKeeper JVMs: slow; runs without -short")
	}
	if err := apacheQuorumPeer.Check(); err != nil {
		t.Fatalf("%v: install the Debian package zookeeper (apt-get install zookeeper)", err)
	}
	e := &apacheEnsemble{t: t, dir: t.TempDir(), proc: map[string]*launch.Process{}, opts: map[string]launch.Options{}, done: make(chan struct{})}
	port := func() int {
		p, err := opsPorts.Alloc()
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	var serverLines, spec []string
	client := map[int]int{}
	for id := 1; id <= 3; id++ {
		client[id] = port()
		serverLines = append(serverLines, fmt.Sprintf("server.%d=127.0.0.1:%d:%d;%d", id, port(), port(), client[id]))
		spec = append(spec, fmt.Sprintf("zk%d=127.0.0.1:%d", id, client[id]))
	}
	e.spec = strings.Join(spec, ",")
	for id := 1; id <= 3; id++ {
		name := fmt.Sprintf("zk%d", id)
		dir := filepath.Join(e.dir, name)
		data := filepath.Join(dir, "data")
		if err := os.MkdirAll(data, 0o755); err != nil {
			t.Fatal(err)
		}
		cfg := fmt.Sprintf("tickTime=500\ninitLimit=20\nsyncLimit=4\ndataDir=%s\nadmin.enableServer=false\n4lw.commands.whitelist=*\n%s\n", data, strings.Join(serverLines, "\n"))
		os.WriteFile(filepath.Join(dir, "zoo.cfg"), []byte(cfg), 0o644)
		os.WriteFile(filepath.Join(data, "myid"), []byte(fmt.Sprintf("%d\n", id)), 0o644)
		e.opts[name] = launch.Options{Name: "apache " + name, Argv: apacheQuorumPeer.Argv(filepath.Join(dir, "zoo.cfg")), Dir: dir,
			LogPath: filepath.Join(dir, "server.out"), Addr: launch.Loopback(client[id]), OwnGroup: true}
		e.start(name)
	}
	t.Cleanup(e.close)
	e.wg.Add(1)
	go e.watch()
	return e
}

func (e *apacheEnsemble) start(name string) {
	p, err := launch.Start(e.opts[name])
	if err != nil {
		e.t.Errorf("start %s: %v", name, err)
		return
	}
	e.mu.Lock()
	e.proc[name] = p
	e.mu.Unlock()
}

func (e *apacheEnsemble) watch() {
	defer e.wg.Done()
	for {
		select {
		case <-e.done:
			return
		case <-time.After(20 * time.Millisecond):
		}
		for name := range e.opts {
			if os.Remove(filepath.Join(e.dir, name+".restart")) == nil {
				e.mu.Lock()
				p := e.proc[name]
				e.mu.Unlock()
				p.Stop()
				e.start(name)
			}
		}
	}
}

func (e *apacheEnsemble) close() {
	close(e.done)
	e.wg.Wait()
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, p := range e.proc {
		p.Kill()
	}
}

func (e *apacheEnsemble) pids() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for name, p := range e.proc {
		out = append(out, fmt.Sprintf("%s=%d", name, p.Pid()))
	}
	return strings.Join(out, ",")
}

func (e *apacheEnsemble) tails() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var b strings.Builder
	for name, p := range e.proc {
		fmt.Fprintf(&b, "--- %s (running %v)\n%s\n", name, p.Running(), p.Tail(15))
	}
	return b.String()
}

// waitReady waits for `zkd status --ensemble --ready` to pass.
func (e *apacheEnsemble) waitReady(timeout time.Duration) string {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		out, err := runCLI(e.t, "status", "--ensemble", e.spec, "--ready", "--timeout", "1s")
		if err == nil {
			return out
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("the Apache ensemble is not ready after %v: %v\n%s\n%s", timeout, err, out, e.tails())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestOperatorCommandsOnApacheEnsemble(t *testing.T) {
	e := startApacheEnsemble(t)
	out := e.waitReady(90 * time.Second)
	t.Logf("status:\n%s", out)
	// Apache's srvr, mntr and conf as read: a leader, myids from conf,
	// the peer states, lag 0.
	for _, want := range []string{"leading - broadcast", "following - broadcast", "3 of 3 voting servers serve, 2 needed for a quorum; 1 more may stop"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q", want)
		}
	}
	if strings.Contains(out, "?") {
		t.Errorf("a myid did not come from conf:\n%s", out)
	}

	// The drill: kill -9 of the leader's pid.
	out, err := runCLI(t, "drill", "--servers", e.spec, "--kill", "kill -9 {pid}", "--pids", e.pids(),
		"--warmup", "1s", "--settle", "1s", "--poll", "50ms", "--timeout", "60s", "--json")
	if err != nil {
		t.Fatalf("drill: %v\n%s\n%s", err, out, e.tails())
	}
	var r ops.DrillReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("drill json: %v\n%s", err, out)
	}
	t.Logf("drill: %s", out)
	if r.NewLeader == nil || r.NewLeader.Name == r.OldLeader.Name || r.NewLeader.Epoch != r.OldLeader.Epoch+1 || r.Writes.Acked < 20 || len(r.Lost) != 0 {
		t.Fatalf("drill report:\n%s", out)
	}
	// With equal histories Apache elects the higher myid; the drill saw
	// the candidates' zxids and names the same winner by the same rule.
	if !strings.HasPrefix(r.Why, r.NewLeader.Name+" won: ") || len(r.Candidates) != 2 {
		t.Errorf("why %q, candidates %+v", r.Why, r.Candidates)
	}

	// The killed server is down: a roll must refuse. Then bring it back.
	out, err = runCLI(t, "roll", "--servers", e.spec, "--restart", "touch "+e.dir+"/{name}.restart", "--poll", "100ms")
	if exitCode(err) != exitRefused || !strings.Contains(out, "would cost the quorum") {
		t.Fatalf("roll with %s down: %v\n%s", r.OldLeader.Name, err, out)
	}
	os.WriteFile(filepath.Join(e.dir, r.OldLeader.Name+".restart"), nil, 0o644)
	e.waitReady(60 * time.Second)

	// The rolling restart: the leader last; its restart command returns at
	// once, so each restart is confirmed by a poll or mntr's zk_uptime.
	out, err = runCLI(t, "roll", "--servers", e.spec, "--restart", "touch "+e.dir+"/{name}.restart", "--poll", "100ms", "--timeout", "90s", "--json")
	if err != nil {
		t.Fatalf("roll: %v\n%s\n%s", err, out, e.tails())
	}
	t.Logf("roll: %s", out)
	var rr ops.RollReport
	if err := json.Unmarshal([]byte(out), &rr); err != nil || len(rr.Steps) != 3 || !rr.Steps[2].WasLeader || rr.Steps[0].WasLeader || rr.Steps[1].WasLeader || rr.After == nil || !rr.After.OK {
		t.Fatalf("roll report (%v):\n%s", err, out)
	}
	for _, s := range rr.Steps {
		if s.Back == nil || s.Confirmed == "" {
			t.Errorf("step %+v", s)
		}
	}
}
