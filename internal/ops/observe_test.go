package ops

import (
	"strings"
	"testing"
	"time"

	"github.com/zkd/zkd/internal/ops/opstest"
)

// Apache ZooKeeper 3.8.4's srvr on a follower, as it prints it.
const apacheSrvr = `Zookeeper version: 3.8.4-9316c2a7a97e1666d8f4593f34dd6fc36ecc436c, built on 2024-02-12 22:16 UTC
Latency min/avg/max: 0/0.4286/2
Received: 14
Sent: 13
Connections: 1
Outstanding: 0
Zxid: 0x20000000b
Mode: follower
Node count: 6
`

func TestParseSrvr(t *testing.T) {
	s, err := ParseSrvr(apacheSrvr)
	if err != nil || s.Mode != "follower" || s.Zxid != 0x20000000b || s.Version != "3.8.4-9316c2a7a97e1666d8f4593f34dd6fc36ecc436c" {
		t.Fatalf("srvr: %+v %v", s, err)
	}
	o := Observation{Zxid: s.Zxid}
	if o.Epoch() != 2 || o.Counter() != 0xb {
		t.Fatalf("epoch %d counter %d", o.Epoch(), o.Counter())
	}
	for text, want := range map[string]string{
		"This ZooKeeper instance is not currently serving requests\n": "not currently serving requests",
		"srvr is not executed because it is not in the whitelist.\n":  "whitelist",
		"": "empty answer",
		"Zookeeper version: 3.8.4\nMode: leader\n":             "no Mode and Zxid",
		"Zookeeper version: 3.8.4\nZxid: 0xzz\nMode: leader\n": "bad zxid",
	} {
		if _, err := ParseSrvr(text); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseSrvr(%q) = %v, want an error with %q", text, err, want)
		}
	}
}

func TestParseServers(t *testing.T) {
	got, err := ParseServers("zk1=10.0.0.1:2181, zk2.example:2181,127.0.0.1:2182,127.0.0.1:2183,[::1]:2184")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range got {
		names = append(names, s.Name+"@"+s.Addr)
	}
	if want := "zk1@10.0.0.1:2181 zk2.example@zk2.example:2181 127.0.0.1:2182@127.0.0.1:2182 127.0.0.1:2183@127.0.0.1:2183 ::1@[::1]:2184"; strings.Join(names, " ") != want {
		t.Fatalf("got %s\nwant %s", strings.Join(names, " "), want)
	}
	for _, bad := range []string{"", "zk1", "zk1=h", "a=h:1,a=g:2", "h:1,h:1", "h:0", "=h:1"} {
		if _, err := ParseServers(bad); err == nil {
			t.Errorf("ParseServers(%q) accepted", bad)
		}
	}
}

func TestObserveAndAssess(t *testing.T) {
	fe := opstest.NewEnsemble(t, "", "zk1", "zk2", "zk3")
	fe.Set("zk2", "follower", 1<<32|0x1c)
	servers, err := ParseServers(fe.Spec())
	if err != nil {
		t.Fatal(err)
	}
	ob := Observer{Timeout: time.Second, Mntr: true, Conf: true}
	a := Assess(ob.ObserveAll(servers))
	if !a.OK() || a.Leader != 0 || a.VotingUp != 3 || a.Quorum != 2 || a.Spare() != 1 {
		t.Fatalf("healthy ensemble judged %+v", a)
	}
	if lag, ok := a.Lag(1); !ok || lag != 4 {
		t.Fatalf("zk2's lag %d %v, want 4", lag, ok)
	}
	if a.Synced(1, 0) || !a.Synced(1, 4) || a.Ready(0) || !a.Ready(10) {
		t.Fatal("Synced/Ready disagree with a lag of 4")
	}
	var b strings.Builder
	a.WriteTable(&b)
	for _, want := range []string{
		"SERVER  ADDRESS", "zk1     " + servers[0].Addr, "leader    0x100000020  1      0    leading - broadcast; synced followers: 2",
		"follower  0x10000001c  1      4    following - broadcast",
		"leader zk1 (myid 1), epoch 1; 3 of 3 voting servers serve, 2 needed for a quorum; 1 more may stop",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}

	// zk3 down, then zk1 too: no leader, no quorum.
	fe.Stop("zk3")
	a = Assess(ob.ObserveAll(servers))
	if !a.OK() || a.Spare() != 0 || a.Observations[2].Reachable {
		t.Fatalf("one down: %+v", a)
	}
	fe.Whitelist("srvr") // conf refused: myid from the list's order
	fe.Stop("zk1")
	a = Assess(ob.ObserveAll(servers))
	if a.OK() || a.Leader != -1 || a.Observations[1].Serving || !a.Observations[1].Reachable || a.Observations[1].MyIDFromConf {
		t.Fatalf("leader down: %+v", a)
	}
	b.Reset()
	a.WriteTable(&b)
	for _, want := range []string{"unreachable", "not serving", "not currently serving requests", "2?", "NOT OK: no leader; no quorum: 0 of 3 voting servers serve, 2 needed"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}

// After an election Apache's leader shows the new epoch's first zxid and
// its followers the last one they applied, from the epoch before, until
// the first write (a fresh 3.8 ensemble: 0x100000000 on the leader, 0x0 on
// the followers).
func TestLagAcrossAnElection(t *testing.T) {
	obs := func(leaderZxid, followerZxid int64) Assessment {
		return Assess([]Observation{
			{Server: Server{Name: "zk1"}, Reachable: true, Serving: true, Mode: ModeLeader, Zxid: leaderZxid, PeerState: "leading - broadcast"},
			{Server: Server{Name: "zk2"}, Reachable: true, Serving: true, Mode: ModeFollower, Zxid: followerZxid, PeerState: "following - broadcast"},
			{Server: Server{Name: "zk3"}, Reachable: true, Serving: true, Mode: ModeFollower, Zxid: followerZxid, PeerState: "following - synchronization"},
		})
	}
	for _, c := range []struct {
		leader, follower, lag int64
	}{
		{1 << 32, 0, 0},
		{1<<32 | 5, 0, 5},
		{2<<32 | 3, 1<<32 | 0x40, 3},
		{1<<32 | 9, 1<<32 | 7, 2},
	} {
		a := obs(c.leader, c.follower)
		if lag, ok := a.Lag(1); !ok || lag != c.lag {
			t.Errorf("leader %s, follower %s: lag %d %v, want %d", Zxid(c.leader), Zxid(c.follower), lag, ok, c.lag)
		}
		if a.Synced(1, 0) != (c.lag == 0) || a.Synced(2, 1<<40) {
			t.Errorf("leader %s, follower %s: synced %v; the syncing one %v", Zxid(c.leader), Zxid(c.follower), a.Synced(1, 0), a.Synced(2, 1<<40))
		}
	}
	if _, ok := obs(1<<32, 2<<32).Lag(1); ok {
		t.Error("a follower in an epoch after the leader's has a lag")
	}
}
