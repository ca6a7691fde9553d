package zab

// Scenario scripts in testdata/*.txt (cockroachdb/datadriven, as etcd raft's
// interaction tests); regenerate with -rewrite and review the diff.
//
//	new [last=ZXID] [current=E] [accepted=E] [tmp=E]   a standalone peer
//	propose [n=N]       proposes N txns with the next zxids
//	sync id=N           proposes a sync marker
//	persisted zxid=Z    the local log holds everything up to Z durably
//	ready               prints and carries out the Ready (Advance)

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
)

func TestScripts(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		var n *Peer
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			arg := func(key string, def int64) int64 {
				if !d.HasArg(key) {
					return def
				}
				var s string
				d.ScanArgs(t, key, &s)
				v, err := strconv.ParseInt(s, 0, 64)
				if err != nil {
					t.Fatalf("%s=%s: %v", key, s, err)
				}
				return v
			}
			switch d.Cmd {
			case "new":
				var err error
				n, err = newStandalone(Config{ID: 1, LastZxid: arg("last", 0), CurrentEpoch: arg("current", -1),
					AcceptedEpoch: arg("accepted", -1), CurrentEpochTmp: arg("tmp", -1)})
				if err != nil {
					return "error: " + err.Error() + "\n"
				}
				return fmt.Sprintf("%s epoch=%d accepted=%d committed=0x%x\n", n.Role(), n.CurrentEpoch(), n.AcceptedEpoch(), uint64(n.Committed()))
			case "propose":
				var b strings.Builder
				for range arg("n", 1) {
					z, err := n.NextZxid()
					if err != nil {
						return "error: " + err.Error() + "\n"
					}
					if err := n.Propose(Entry{Zxid: z, Data: []byte(fmt.Sprintf("txn-%x", z))}); err != nil {
						return "error: " + err.Error() + "\n"
					}
					fmt.Fprintf(&b, "proposed 0x%x\n", uint64(z))
				}
				return b.String()
			case "sync":
				if err := n.Sync(uint64(arg("id", 0))); err != nil {
					return "error: " + err.Error() + "\n"
				}
				return "ok\n"
			case "persisted":
				if err := n.Step(Message{Type: MsgPersisted, Zxid: arg("zxid", 0)}); err != nil {
					return "error: " + err.Error() + "\n"
				}
				return fmt.Sprintf("committed=0x%x inflight=%d\n", uint64(n.Committed()), n.Inflight())
			case "ready":
				if !n.HasReady() {
					return "nothing\n"
				}
				rd := n.Ready()
				var b strings.Builder
				if rd.AcceptedEpoch >= 0 {
					fmt.Fprintf(&b, "write acceptedEpoch=%d\n", rd.AcceptedEpoch)
				}
				if rd.CurrentEpoch >= 0 {
					fmt.Fprintf(&b, "write currentEpoch=%d\n", rd.CurrentEpoch)
				}
				for _, e := range rd.Entries {
					fmt.Fprintf(&b, "append 0x%x %s\n", uint64(e.Zxid), e.Data)
				}
				for _, m := range rd.Messages {
					fmt.Fprintf(&b, "send %s\n", m)
				}
				for _, m := range rd.Notifications {
					fmt.Fprintf(&b, "notify %+v\n", m)
				}
				for _, e := range rd.Committed {
					if e.Type == EntrySync {
						fmt.Fprintf(&b, "committed sync id=%d after 0x%x\n", e.ID, uint64(e.Zxid))
						continue
					}
					fmt.Fprintf(&b, "committed 0x%x\n", uint64(e.Zxid))
				}
				n.Advance()
				return b.String()
			}
			t.Fatalf("unknown command %q", d.Cmd)
			return ""
		})
	})
}

// Persisting and committing are separate steps: nothing commits before the
// local log says it is durable, whatever the driver does in between.
func TestNothingCommitsBeforePersisted(t *testing.T) {
	n, err := newStandalone(Config{ID: 1, CurrentEpoch: -1, AcceptedEpoch: -1, CurrentEpochTmp: -1})
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		z, _ := n.NextZxid()
		n.Propose(Entry{Zxid: z})
		n.Ready()
		n.Advance()
	}
	if n.Committed() != 0 || n.Inflight() != 10 {
		t.Fatalf("committed 0x%x with %d inflight before any persist", n.Committed(), n.Inflight())
	}
	n.Step(Message{Type: MsgPersisted, Zxid: 4})
	rd := n.Ready()
	if len(rd.Committed) != 4 || rd.Committed[3].Zxid != 4 {
		t.Fatalf("committed %v after persisting 0x4", rd.Committed)
	}
}

// newStandalone is a standalone peer, as the server starts one.
func newStandalone(c Config) (*Peer, error) {
	return NewPeer(PeerConfig{Config: c, Voters: []int64{c.ID}, Standalone: true})
}

// A standalone peer's config must make it its only voter.
func TestStandaloneIsItsOnlyVoter(t *testing.T) {
	for _, cfg := range []PeerConfig{
		{Config: Config{ID: 1}, Voters: []int64{1, 2}, Standalone: true},
		{Config: Config{ID: 1}, Voters: []int64{2}, Standalone: true},
		{Config: Config{ID: 1}, Voters: []int64{1}, Observers: []int64{2}, Standalone: true},
	} {
		if _, err := NewPeer(cfg); err == nil {
			t.Errorf("voters %v observers %v: a standalone peer was made", cfg.Voters, cfg.Observers)
		}
	}
}

func TestEpochFileChecks(t *testing.T) {
	_, err := newStandalone(Config{ID: 1, LastZxid: MakeZxid(3, 7), CurrentEpoch: 2, AcceptedEpoch: 3, CurrentEpochTmp: -1})
	if !errors.Is(err, ErrEpochBehind) {
		t.Fatalf("current epoch behind the log: got %v", err)
	}
	_, err = newStandalone(Config{ID: 1, LastZxid: MakeZxid(3, 7), CurrentEpoch: 3, AcceptedEpoch: 2, CurrentEpochTmp: -1})
	if !errors.Is(err, ErrAcceptedBehind) {
		t.Fatalf("accepted epoch behind the current one: got %v", err)
	}
	if _, err := newStandalone(Config{ID: 1, LastZxid: MakeZxid(3, 7), CurrentEpoch: 2, AcceptedEpoch: 3, CurrentEpochTmp: 3}); err != nil {
		t.Fatalf("currentEpoch.tmp at the log's epoch must be accepted: %v", err)
	}
}
