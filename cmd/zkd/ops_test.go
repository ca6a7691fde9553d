package main

import (
	"encoding/json"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zkd/zkd/internal/config"
	"github.com/zkd/zkd/internal/launch"
	"github.com/zkd/zkd/internal/ops"
	"github.com/zkd/zkd/internal/ops/opstest"
	"github.com/zkd/zkd/internal/server"
)

// The operator commands' tests take their ports from 27950-27999
// (internal/ops's take 27900-27949).
var opsPorts = &launch.Ports{Low: 27950, High: 27999}

// standaloneZkd runs an in-process zkd for the fake ensemble to relay the
// drill's client to.
func standaloneZkd(t *testing.T) string {
	t.Helper()
	cfg, err := config.Parse(strings.NewReader("dataDir="+t.TempDir()+"\nmaxClientCnxns=0\n"), "t.cfg", nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := server.New(server.Options{Config: cfg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	port, err := opsPorts.Alloc()
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", launch.Loopback(port))
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	return l.Addr().String()
}

func TestStatusEnsemble(t *testing.T) {
	fe := opstest.NewEnsemble(t, "", "zk1", "zk2", "zk3")
	fe.Set("zk3", "follower", 1<<32|0x1e)
	out, err := runCLI(t, "status", "--ensemble", fe.Spec())
	if err != nil {
		t.Fatalf("status: %v\n%s", err, out)
	}
	for _, want := range []string{"SERVER  ADDRESS", "leader    0x100000020  1      0", "follower  0x10000001e  1      2", "leader zk1 (myid 1), epoch 1; 3 of 3 voting servers serve"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	// zk3 is 2 behind: not ready unless 2 are allowed.
	if out, err := runCLI(t, "status", "--ensemble", fe.Spec(), "--ready"); exitCode(err) != 1 || !strings.Contains(err.Error(), "not ready: zk3") {
		t.Fatalf("--ready with zk3 behind: %v\n%s", err, out)
	}
	if out, err := runCLI(t, "status", "--ensemble", fe.Spec(), "--ready", "--max-lag", "2", "--json"); err != nil {
		t.Fatalf("--ready --max-lag 2: %v\n%s", err, out)
	} else {
		var r ops.Report
		if err := json.Unmarshal([]byte(out), &r); err != nil || r.Leader != "zk1" || !r.OK || r.Ready == nil || !*r.Ready || *r.Servers[2].Lag != 2 || r.Servers[2].Zxid != "0x10000001e" {
			t.Fatalf("json: %v\n%s", err, out)
		}
	}
	fe.Stop("zk1")
	out, err = runCLI(t, "status", "--ensemble", fe.Spec(), "--timeout", "1s")
	if exitCode(err) != 1 || !strings.Contains(out, "unreachable") || !strings.Contains(err.Error(), "no leader") {
		t.Fatalf("status without a leader: %v\n%s", err, out)
	}
}

func TestDrillCommand(t *testing.T) {
	backend := standaloneZkd(t)
	fe := opstest.NewEnsemble(t, backend, "zk1", "zk2", "zk3")
	fast := []string{"--warmup", "300ms", "--settle", "300ms", "--poll", "20ms", "--timeout", "20s"}

	// Refusals, before anything runs.
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{nil, exitRefused, "stops nothing unless told how"},
		{[]string{"--kill", "kill -9 {pid}"}, 1, "--kill uses {pid}: give the pids"},
		{[]string{"--kill", "docker kill {pod}"}, 1, "unknown placeholder {pod}"},
		{[]string{"--kill-signal", "KILL"}, 1, "--kill-signal needs the pids"},
		{[]string{"--kill-signal", "KILL", "--pids", "zk9=123"}, 1, "zk9 is not in --servers"},
	} {
		_, err := runCLI(t, append([]string{"drill", "--servers", fe.Spec()}, c.args...)...)
		if err == nil || exitCode(err) != c.code || !strings.Contains(err.Error(), c.want) {
			t.Errorf("drill %v: %v (exit %d), want exit %d and %q", c.args, err, exitCode(err), c.code, c.want)
		}
	}

	kill := "touch " + fe.Dir + "/{name}.stop"
	out, err := runCLI(t, append([]string{"drill", "--servers", fe.Spec(), "--kill", kill, "--dry-run"}, fast...)...)
	if err != nil || !strings.Contains(out, "stopped with: sh -c 'touch "+fe.Dir+"/zk1.stop' (dry run: nothing was stopped)") {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
	out, err = runCLI(t, append([]string{"drill", "--servers", fe.Spec(), "--kill", kill, "--json"}, fast...)...)
	if err != nil {
		t.Fatalf("drill: %v\n%s\nfake:\n%s", err, out, fe.Events())
	}
	var r ops.DrillReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("json: %v\n%s", err, out)
	}
	if r.OldLeader.Name != "zk1" || r.NewLeader == nil || r.NewLeader.Name != "zk3" || r.NewLeader.Epoch != 2 || r.Writes == nil || r.Writes.Acked == 0 || len(r.Lost) != 0 || r.Elected == nil || r.WritesBack == nil {
		t.Fatalf("report:\n%s", out)
	}
	// One of three is down now: no quorum to spare.
	_, err = runCLI(t, append([]string{"drill", "--servers", fe.Spec(), "--kill", kill}, fast...)...)
	if exitCode(err) != exitRefused || !strings.Contains(err.Error(), "no quorum to spare") {
		t.Fatalf("drill with zk1 down: %v", err)
	}
}

func TestRollCommand(t *testing.T) {
	fe := opstest.NewEnsemble(t, "", "zk1", "zk2", "zk3")
	restart := "touch " + fe.Dir + "/{name}.restart"
	out, err := runCLI(t, "roll", "--servers", fe.Spec(), "--restart", restart, "--dry-run")
	if err != nil || !strings.Contains(out, "order: zk2, zk3, zk1\n") || !strings.Contains(out, "dry run: nothing was restarted") {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
	if strings.Contains(fe.Events(), "stopped") {
		t.Fatalf("the dry run restarted: %s", fe.Events())
	}
	out, err = runCLI(t, "roll", "--servers", fe.Spec(), "--restart", restart, "--poll", "20ms", "--timeout", "10s")
	if err != nil || !strings.Contains(out, "done: 3 servers restarted") || !strings.Contains(out, "zk1 (was leader): back as follower at zxid 0x200000000") {
		t.Fatalf("roll: %v\n%s\nfake:\n%s", err, out, fe.Events())
	}
	fe.Stop("zk2")
	marker := filepath.Join(fe.Dir, "ran")
	out, err = runCLI(t, "roll", "--servers", fe.Spec(), "--restart", "touch "+marker, "--poll", "20ms")
	if exitCode(err) != exitRefused || !strings.Contains(out, "STOPPED: ops: refused: restarting") {
		t.Fatalf("roll with zk2 down: %v\n%s", err, out)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the roll ran a restart with a server down")
	}
}
