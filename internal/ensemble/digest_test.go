package ensemble

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkd/zkd/internal/launch"
	"github.com/zkd/zkd/internal/ops"
	"github.com/zkd/zkd/internal/proto"
	"github.com/zkd/zkd/internal/tree"
	"github.com/zkd/zkd/internal/txn"
	"github.com/zkd/zkd/internal/zab"
)

// Apache's followers check the TxnDigest zkd's leader sends
// (DataTree.compareDigest, digest_mismatches_count): the digests of zkd's
// tree after each txn pass, and the one txn whose digest zkd corrupts on
// purpose is counted once by each Apache follower, which goes on applying
// the txns after it.
func TestApacheFollowerCountsCorruptedDigest(t *testing.T) {
	servers, members, text, apaches := startMixedEnsemble(t, 3, "localSessionsEnabled=true\nlocalSessionsUpgradingEnabled=true\n")
	l := &memLog{accepted: -1, current: -1}
	// An Apache learner that syncs after the quorum gets SNAP, and loads it.
	applyTree, snapshot := treeState(t)
	out := &applied{}
	apply := func(es []zab.Entry) { out.apply(es); applyTree(es) }
	r, err := Start(Config{
		Peer: zab.PeerConfig{Config: zab.Config{ID: 3, CurrentEpoch: -1, AcceptedEpoch: -1, CurrentEpochTmp: -1},
			Voters: []int64{1, 2, 3}, TickTime: 10, InitLimit: 20, SyncLimit: 10, FinalizeWait: 4, MaxNotificationInterval: 200},
		Members: members, QuorumConfig: text, Log: l, Apply: apply, Snapshot: snapshot, Tick: 50 * time.Millisecond, Logger: testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	deadline := time.Now().Add(40 * time.Second)
	for st := r.Status(); !(st.Serving && st.Role == zab.Leading); st = r.Status() {
		if time.Now().After(deadline) {
			t.Fatalf("zkd did not lead: %+v\n%s", st, apacheTails(apaches))
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Both followers synced before the first txn: one that syncs later
	// gets a SNAP past the corrupted txn and never applies it.
	for _, id := range []int64{1, 2} {
		addr := launch.Loopback(servers[id].client)
		for {
			srvr, _ := launch.FourLetterWord(addr, "srvr", 2*time.Second)
			if strings.Contains(srvr, "Mode: follower") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("Apache's server %d does not follow zkd:\n%s", id, apacheTails(apaches))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// The tree as the proposals leave it: each txn carries its digest.
	tr := tree.New()
	const n, corrupt = 12, 5
	for i := range n {
		build := func(zxid int64) []byte {
			tx := &txn.Txn{Header: txn.Header{Cxid: int32(i), Zxid: zxid, Time: time.Now().UnixMilli(), Type: proto.OpCreate},
				Body: &txn.Create{Path: fmt.Sprintf("/c%d", i), Data: []byte{byte(i)}, ACL: proto.OpenACLUnsafe, ParentCVersion: int32(i + 1)}}
			if i%3 == 2 {
				tx.Header.Type = proto.OpSetData
				tx.Body = &txn.SetData{Path: fmt.Sprintf("/c%d", i-1), Data: []byte("changed"), Version: 1}
			}
			tr.Apply(tx)
			d := tr.Digest()
			if i == corrupt {
				d += 777
			}
			tx.Digest = &txn.Digest{Version: txn.DigestVersion, TreeDigest: d}
			return txn.Marshal(tx)
		}
		if _, err := r.Propose(build); err != nil {
			t.Fatalf("propose %d: %v", i, err)
		}
	}
	for _, id := range []int64{1, 2} {
		addr := launch.Loopback(servers[id].client)
		deadline := time.Now().Add(15 * time.Second)
		for {
			raw, err := launch.FourLetterWord(addr, "mntr", 2*time.Second)
			kv := ops.ParseMntr(raw)
			got, has := kv["zk_digest_mismatches_count"]
			c, _, cerr := zk.Connect([]string{addr}, 10*time.Second, zk.WithLogInfo(false))
			var last []byte
			if cerr == nil {
				last, _, _ = c.Get(fmt.Sprintf("/c%d", n-2))
				c.Close()
			}
			if err == nil && has && got == "1" && string(last) == "changed" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("Apache's server %d: zk_digest_mismatches_count %q (present %v), last txn applied %q (%v %v)\n%s",
					id, got, has, last, err, cerr, apacheTails(apaches))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}
