package ops

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkd/zkd/internal/config"
	"github.com/zkd/zkd/internal/launch"
	"github.com/zkd/zkd/internal/ops/opstest"
	"github.com/zkd/zkd/internal/server"
)

// This package's tests take their ports from 27900-27949 (cmd/zkd's
// operator tests take 27950-27999).
var ports = &launch.Ports{Low: 27900, High: 27949}

// startZkd runs an in-process standalone zkd on a loopback port: the
// server the fake ensemble relays its clients to.
func startZkd(t *testing.T) string {
	t.Helper()
	cfg, err := config.Parse(strings.NewReader("dataDir="+t.TempDir()+"\nmaxClientCnxns=0\n"), "t.cfg", nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := server.New(server.Options{Config: cfg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	port, err := ports.Alloc()
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

func zkClient(t *testing.T, addr string) *zk.Conn {
	t.Helper()
	c, _, err := zk.Connect([]string{addr}, 5*time.Second, zk.WithLogInfo(false), zk.WithLogger(discardLogger{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}

func drillOptions(t *testing.T, fe *opstest.Ensemble, stop Action) DrillOptions {
	servers, err := ParseServers(fe.Spec())
	if err != nil {
		t.Fatal(err)
	}
	return DrillOptions{
		Servers: servers, Observer: Observer{Timeout: time.Second, Mntr: true, Conf: true}, Stop: stop,
		Path: "/zkd-drill", SessionTimeout: 10 * time.Second, ConnectTimeout: 5 * time.Second,
		WriteInterval: 5 * time.Millisecond, Warmup: 300 * time.Millisecond, Settle: 300 * time.Millisecond,
		Poll: 20 * time.Millisecond, Timeout: 20 * time.Second,
	}
}

// The write-up's check, done by the drill: the leader stops, the follower
// with the highest zxid takes over in a new epoch, writes come back and
// every acknowledged one is still there.
func TestDrillFailoverByCommand(t *testing.T) {
	backend := startZkd(t)
	fe := opstest.NewEnsemble(t, backend, "zk1", "zk2", "zk3")
	fe.Set("zk2", "follower", 1<<32|0x20) // zk2 is ahead of zk3, whose myid is higher
	fe.Set("zk3", "follower", 1<<32|0x1f)
	o := drillOptions(t, fe, Shell{Template: "touch " + fe.Dir + "/{name}.stop && echo stopped {name} myid {myid}"})
	r, err := Drill(context.Background(), o)
	if err != nil {
		t.Fatalf("drill: %v\n%s", err, fe.Events())
	}
	var text strings.Builder
	r.WriteText(&text)
	t.Log("\n" + text.String())
	if !r.Passed() {
		t.Fatalf("drill failed:\n%s\nfake: %s", text.String(), fe.Events())
	}
	if r.OldLeader.Name != "zk1" || r.OldLeader.MyID != 1 || r.StopOutput != "stopped zk1 myid 1" {
		t.Errorf("old leader %+v, stop output %q", r.OldLeader, r.StopOutput)
	}
	if r.NewLeader == nil || r.NewLeader.Name != "zk2" || r.NewLeader.Epoch != 2 || r.NewLeader.Zxid != "0x200000000" {
		t.Errorf("new leader %+v", r.NewLeader)
	}
	if want := "zk2 won: same epoch, and its zxid 0x100000020 is higher than zk3's 0x10000001f"; !strings.HasPrefix(r.Why, want) {
		t.Errorf("why: %q, want it to start with %q", r.Why, want)
	}
	// The fake elects 300 ms after the stop: neither the election nor the
	// writes can be seen sooner.
	if *r.Elected < 0.3 || *r.WritesBack < *r.Elected || r.LongestGap < 0.3 {
		t.Errorf("elected after %v, writes back after %v, longest gap %v: sooner than the fake's election", *r.Elected, *r.WritesBack, r.LongestGap)
	}
	if r.Writes.Acked < 10 || r.Writes.Lost != nil || r.Writes.Found < r.Writes.Acked {
		t.Errorf("writes %+v", r.Writes)
	}
	// The run node was deleted, the drill's parent stays.
	if !r.RunDeleted {
		t.Error("the run node was kept")
	}
	c := zkClient(t, backend)
	if kids, _, err := c.Children("/zkd-drill"); err != nil || len(kids) != 0 {
		t.Errorf("after the drill /zkd-drill holds %v (%v)", kids, err)
	}
	if r.After == nil || r.After.Leader != "zk2" || r.After.VotingUp != 2 {
		t.Errorf("after: %+v", r.After)
	}
}

// A local server killed by a signal, its pid read from a pid file.
func TestDrillFailoverBySignal(t *testing.T) {
	backend := startZkd(t)
	fe := opstest.NewEnsemble(t, backend, "zk1", "zk2", "zk3")
	for _, name := range []string{"zk1", "zk2", "zk3"} {
		cmd := exec.Command("sleep", "60")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill() })
		os.WriteFile(filepath.Join(fe.Dir, name+".pid"), []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644)
		go func() {
			cmd.Wait()
			fe.Stop(name) // the server is its process
		}()
	}
	o := drillOptions(t, fe, Signal{Signal: syscall.SIGKILL, Pids: PidSource{File: fe.Dir + "/{name}.pid"}})
	r, err := Drill(context.Background(), o)
	if err != nil {
		t.Fatalf("drill: %v\n%s", err, fe.Events())
	}
	if !r.Passed() || !strings.HasPrefix(r.Command, "send SIGKILL to pid ") {
		t.Fatalf("drill: %+v\n%s", r, fe.Events())
	}
	// Equal zxids: the higher myid wins.
	if r.NewLeader.Name != "zk3" || !strings.Contains(r.Why, "same epoch and zxid as zk2, and its myid 3 is higher than 2") {
		t.Errorf("new leader %s, why %q", r.NewLeader.Name, r.Why)
	}
}

// lossyStop stops the leader and deletes acknowledged writes behind the
// writer's back: the drill must name them.
type lossyStop struct {
	fe      *opstest.Ensemble
	backend *zk.Conn
	deleted []int
}

func (l *lossyStop) Describe(t Target) string { return "stop " + t.Server.Name + " and lose writes" }

func (l *lossyStop) Run(ctx context.Context, t Target) (string, error) {
	runs, _, err := l.backend.Children("/zkd-drill")
	if err != nil || len(runs) != 1 {
		return "", errors.New("no run node")
	}
	run := "/zkd-drill/" + runs[0]
	kids, _, err := l.backend.Children(run)
	if err != nil || len(kids) < 3 {
		return "", errors.New("too few writes")
	}
	for _, k := range kids[:2] {
		data, _, _ := l.backend.Get(run + "/" + k)
		n, _ := strconv.Atoi(strings.TrimPrefix(string(data), dataPrefix))
		l.deleted = append(l.deleted, n)
		l.backend.Delete(run+"/"+k, -1)
	}
	l.fe.Stop(t.Server.Name)
	return "", nil
}

func TestDrillReportsLostWrites(t *testing.T) {
	backend := startZkd(t)
	fe := opstest.NewEnsemble(t, backend, "zk1", "zk2", "zk3")
	stop := &lossyStop{fe: fe, backend: zkClient(t, backend)}
	r, err := Drill(context.Background(), drillOptions(t, fe, stop))
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	r.WriteText(&text)
	if r.Passed() || len(r.Lost) != 2 || !strings.Contains(text.String(), "LOST:         2 acknowledged writes") || !strings.Contains(text.String(), "FAILED: 2 acknowledged writes lost") {
		t.Fatalf("lost %v (deleted %v):\n%s", r.Lost, stop.deleted, text.String())
	}
	// The evidence stays: the run node is kept when writes are lost.
	if ok, _, _ := zkClient(t, backend).Exists(r.RunPath); !ok || r.RunDeleted {
		t.Errorf("run node %s not kept", r.RunPath)
	}
}

// With one of three servers down, stopping the leader would cost the
// quorum: the drill refuses before it writes or stops anything.
func TestDrillRefusesWithoutQuorumToSpare(t *testing.T) {
	backend := startZkd(t)
	fe := opstest.NewEnsemble(t, backend, "zk1", "zk2", "zk3")
	marker := filepath.Join(fe.Dir, "ran")
	o := drillOptions(t, fe, Shell{Template: "touch " + marker})
	fe.Stop("zk3")
	_, err := Drill(context.Background(), o)
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "no quorum to spare: 2 of 3 voting servers are up and synced (zk3 is unreachable), 2 are needed; stopping one would leave 1") {
		t.Fatalf("drill with zk3 down: %v", err)
	}
	fe.Set("zk3", "", 0)
	fe.Restart("zk3") // back, but syncing for a while
	time.Sleep(fe.RestartDelay + 50*time.Millisecond)
	if _, err := Drill(context.Background(), o); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "zk3 is still syncing") {
		t.Fatalf("drill with zk3 syncing: %v", err)
	}
	o.Stop = nil
	if _, err := Drill(context.Background(), o); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "stops nothing unless told how") {
		t.Fatalf("drill without a stop command: %v", err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the stop command ran")
	}
	if ok, _, _ := zkClient(t, backend).Exists("/zkd-drill"); ok {
		t.Fatal("the drill wrote although it refused")
	}
}

// The zxids the drill compares were read while writes went on; a server
// read a little earlier may look behind by writes committed after its read.
func TestWhyWithinTheWritesAfterTheReads(t *testing.T) {
	zk1 := Member{Name: "zk1", MyID: 1, Epoch: 1, Zxid: "0x100000037", zxid: 1<<32 | 0x37}
	zk2 := Member{Name: "zk2", MyID: 2, Epoch: 1, Zxid: "0x100000036", zxid: 1<<32 | 0x36, WritesAfter: 2}
	got := why([]Member{zk1, zk2}, &zk2, "zk3", 50*time.Millisecond)
	if want := "zk2 won: the zxids seen differ by 1, no more than the drill's writes not yet acknowledged at zk2's read (2), so zk2 and zk1 most likely had the same history at the stop, and then the higher myid wins: 2 > 1"; !strings.HasPrefix(got, want) {
		t.Errorf("why:\n%s\nwant it to start with\n%s", got, want)
	}
	zk2.WritesAfter = 0
	if got := why([]Member{zk1, zk2}, &zk2, "zk3", 50*time.Millisecond); !strings.HasPrefix(got, "zk2 won, though zk1 looked ahead") {
		t.Errorf("why without writes after the read: %s", got)
	}
	if got := why([]Member{zk1, zk2}, &Member{Name: "zk3"}, "zk3", 0); !strings.HasPrefix(got, "zk3, the server stopped, was back in time") {
		t.Errorf("why when the stopped server wins again: %s", got)
	}
}

// A leader that changes during the warm-up makes the drill give up
// before the stop, and take its writes away.
func TestDrillGivesUpWhenTheLeaderChangesBeforeTheStop(t *testing.T) {
	backend := startZkd(t)
	fe := opstest.NewEnsemble(t, backend, "zk1", "zk2", "zk3")
	marker := filepath.Join(fe.Dir, "ran")
	o := drillOptions(t, fe, Shell{Template: "touch " + marker})
	o.Warmup = 500 * time.Millisecond
	time.AfterFunc(200*time.Millisecond, func() {
		fe.Set("zk1", "follower", 1<<32|0x20)
		fe.Set("zk2", "leader", 1<<32|0x20)
	})
	_, err := Drill(context.Background(), o)
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "the leader changed from zk1 to zk2 before the stop") {
		t.Fatalf("drill: %v", err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the stop command ran")
	}
	if kids, _, err := zkClient(t, backend).Children("/zkd-drill"); err != nil || len(kids) != 0 {
		t.Fatalf("left behind under /zkd-drill: %v %v", kids, err)
	}
}
