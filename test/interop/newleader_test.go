package interop

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/zkd/zkd/internal/proto"
)

// A new leader's zxid: what srvr shows on the leader and on its followers
// as soon as they serve after an election, before anything is written in
// the new epoch; first in a fresh ensemble, then after the leader of an
// epoch with writes is killed.
func TestNewLeaderZxidApache(t *testing.T) {
	e := StartApacheEnsemble(t, 3, ownerOptions)
	compareNewLeader(t, e, newLeaderZxids(t, e))
}

func TestNewLeaderZxidZkd(t *testing.T) {
	e := StartZkdEnsemble(t, 3, ownerOptions)
	compareNewLeader(t, e, newLeaderZxids(t, e))
}

// newLeaderWant is what Apache ZooKeeper 3.8 shows (TestNewLeaderZxidApache).
const newLeaderWant = `first election: leader 0x100000000
after 4 txns: leader 0x100000004; followers 0x100000004 0x100000004
leader killed; second election: leader 0x200000000; follower 0x100000004
`

func compareNewLeader(t *testing.T, e *Ensemble, got string) {
	t.Helper()
	t.Logf("%s ensemble:\n%s", e.Kind, got)
	if got != newLeaderWant {
		t.Errorf("%s ensemble: srvr's Zxid right after elections:\n%s\nwant (what Apache ZooKeeper shows):\n%s\n%s",
			e.Kind, got, newLeaderWant, e.LogTails(20))
	}
}

func newLeaderZxids(t *testing.T, e *Ensemble) string {
	var tr transcript
	roles := func() string {
		leader := mustLeader(t, e)
		var fs []string
		for _, i := range followersOf(e, leader) {
			if e.Servers[i].Alive() {
				fs = append(fs, fmt.Sprintf("0x%x", srvrZxid(t, e.Servers[i].Addr())))
			}
		}
		sort.Strings(fs)
		word := "followers"
		if len(fs) == 1 {
			word = "follower"
		}
		return fmt.Sprintf("leader 0x%x; %s %s", srvrZxid(t, e.Servers[mustLeader(t, e)].Addr()), word, strings.Join(fs, " "))
	}
	// The first election's followers are left out: Apache's leader diffs
	// the learner whose NEWLEADER ack completes its quorum (it shows 0)
	// and snaps the one after (it shows the leader's 0x100000000).
	first := roles()
	tr.printf("first election: %s", first[:strings.Index(first, ";")])
	leader := mustLeader(t, e)
	// createSession and three creates through the leader; a sync through
	// each follower then has them applied there.
	s := dialSession(t, e.Servers[leader].Addr(), 0, nil)
	open := []proto.ACL{{Perms: proto.PermAll, ID: proto.ID{Scheme: "world", ID: "anyone"}}}
	for i := range 3 {
		if got := s.do(proto.OpCreate, &proto.CreateRequest{Path: fmt.Sprintf("/n%d", i), ACL: open}); got != "OK" {
			t.Fatalf("create through the leader: %s", got)
		}
	}
	for _, i := range followersOf(e, leader) {
		f := dialSession(t, e.Servers[i].Addr(), s.session, s.passwd)
		if got := f.do(proto.OpSync, &proto.PathRequest{Path: "/"}); got != "OK" {
			t.Fatalf("sync through server.%d: %s", i+1, got)
		}
		f.nc.Close()
	}
	tr.printf("after 4 txns: %s", roles())
	e.Servers[leader].Kill()
	deadline := time.Now().Add(60 * time.Second)
	for e.Servers[leader].Alive() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	tr.printf("leader killed; second election: %s", roles())
	return tr.String()
}
