package ops

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zkd/zkd/internal/ops/opstest"
)

func rollOptions(t *testing.T, fe *opstest.Ensemble, restart Action) RollOptions {
	servers, err := ParseServers(fe.Spec())
	if err != nil {
		t.Fatal(err)
	}
	return RollOptions{Servers: servers, Observer: Observer{Timeout: time.Second, Mntr: true, Conf: true}, Restart: restart,
		CommandTimeout: 10 * time.Second, Timeout: 10 * time.Second, Poll: 20 * time.Millisecond}
}

func TestRollFollowersFirstLeaderLast(t *testing.T) {
	fe := opstest.NewEnsemble(t, "", "zk1", "zk2", "zk3")
	fe.Set("zk1", "follower", 1<<32|0x20)
	fe.Set("zk2", "leader", 1<<32|0x20)
	var log strings.Builder
	o := rollOptions(t, fe, Shell{Template: "touch " + fe.Dir + "/{name}.restart"})
	o.Log = &log
	r, err := Roll(context.Background(), o)
	var text strings.Builder
	r.WriteText(&text)
	if err != nil {
		t.Fatalf("roll: %v\n%s\nfake:\n%s", err, text.String(), fe.Events())
	}
	if strings.Join(r.Plan, ",") != "zk1,zk3,zk2" || len(r.Steps) != 3 {
		t.Fatalf("plan %v, steps %+v", r.Plan, r.Steps)
	}
	for i, s := range r.Steps {
		if s.Name != r.Plan[i] || s.Back == nil || s.Confirmed != "seen down" || s.Mode != "follower" {
			t.Errorf("step %d: %+v", i, s)
		}
	}
	if !r.Steps[2].WasLeader || r.Steps[2].Leader != "zk3" || r.Steps[2].Zxid != "0x200000000" {
		t.Errorf("the leader's restart: %+v", r.Steps[2])
	}
	// Each server was stopped only once the one before had synced again
	// (zk2 came back during the election and joined the new epoch there).
	events := fe.Events()
	var order []string
	for line := range strings.SplitSeq(events, "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && (f[2] == "stopped" || f[2] == "synced") {
			order = append(order, f[1]+" "+f[2])
		}
	}
	if got := strings.Join(order, ", "); got != "zk1 stopped, zk1 synced, zk3 stopped, zk3 synced, zk2 stopped" {
		t.Errorf("the fake saw: %s\n%s", got, events)
	}
	if r.After == nil || !r.After.OK || r.After.VotingUp != 3 {
		t.Errorf("after: %+v", r.After)
	}
	if !strings.Contains(text.String(), "done: 3 servers restarted") || !strings.Contains(log.String(), "restarting zk2 (leader, zxid 0x100000020)") {
		t.Errorf("report:\n%s\nlog:\n%s", text.String(), log.String())
	}
}

// With a server down, restarting another would leave one of three: the
// roll stops before it restarts anything, and says why.
func TestRollRefusesWhenAServerIsDown(t *testing.T) {
	fe := opstest.NewEnsemble(t, "", "zk1", "zk2", "zk3")
	marker := filepath.Join(fe.Dir, "ran")
	fe.Stop("zk3")
	r, err := Roll(context.Background(), rollOptions(t, fe, Shell{Template: "touch " + marker}))
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "restarting zk2 would cost the quorum: 1 other voting servers are up and synced (zk3 is unreachable), 2 are needed") {
		t.Fatalf("roll with zk3 down: %v", err)
	}
	if len(r.Steps) != 0 || r.Stopped == "" {
		t.Fatalf("report %+v", r)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("a restart command ran")
	}
}

// A server that does not come back stops the roll: the next is not
// restarted.
func TestRollStopsWhenAServerDoesNotComeBack(t *testing.T) {
	fe := opstest.NewEnsemble(t, "", "zk1", "zk2", "zk3")
	o := rollOptions(t, fe, Shell{Template: "touch " + fe.Dir + "/{name}.stop"}) // it never returns
	o.Timeout = time.Second
	r, err := Roll(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "zk2 not back and synced within 1s of the restart") || !strings.Contains(err.Error(), "last seen: unreachable") {
		t.Fatalf("roll: %v", err)
	}
	if len(r.Steps) != 1 || strings.Count(fe.Events(), "stopped") != 1 {
		t.Fatalf("steps %+v\nfake:\n%s", r.Steps, fe.Events())
	}

	fe2 := opstest.NewEnsemble(t, "", "zk1", "zk2", "zk3")
	_, err = Roll(context.Background(), rollOptions(t, fe2, Shell{Template: "echo no such pod {name} >&2; exit 3"}))
	if err == nil || !strings.Contains(err.Error(), "exit status 3: no such pod zk2") {
		t.Fatalf("failing command: %v", err)
	}
}
