package prep

import (
	"fmt"
	"testing"

	"pgregory.net/rapid"

	"github.com/zkd/zkd/internal/jute"
	"github.com/zkd/zkd/internal/proto"
	"github.com/zkd/zkd/internal/tree"
	"github.com/zkd/zkd/internal/txn"
)

// "Logged transactions carry the TxnDigest that ZooKeeper 3.6+ writes and
// learners check (the digest of the tree after the txn)" (zkd issue 9).
// A varied workload is prepared with several txns outstanding at a time, as
// the leader's pipeline does; each txn is applied in zxid order and its
// TxnDigest must be the digest of the tree right after it, computed the slow
// way (RecomputeDigest walks every znode, independent of both the prep
// step's and the tree's incremental bookkeeping). An error txn carries none.
func TestDigestAfterEveryTxn(t *testing.T) {
	paths := []string{"/a", "/b", "/a/x", "/a/y", "/b/z", "/c", "/c/k", "/", "/zookeeper", "/zookeeper/quota/q"}
	modesAll := []int32{proto.ModePersistent, proto.ModeEphemeral, proto.ModePersistentSequential,
		proto.ModeEphemeralSequential, proto.ModeContainer, proto.ModePersistentWithTTL, proto.ModePersistentSequentialWithTTL}
	kinds := map[string]int{}
	rapid.Check(t, func(rt *rapid.T) {
		tr := tree.New()
		st := New(Config{ExtendedTypes: true, Digest: true})
		var zxid int64
		var prepared []*txn.Txn
		sessions := []int64{0x101, 0x102, 0x103}
		genPath := rapid.SampledFrom(paths)
		genData := rapid.SampledFrom([]string{"", "d", "data-2", string(make([]byte, 1500))})
		genVersion := rapid.SampledFrom([]int32{-1, 0, 1, 2})
		create := func(label string) (proto.OpCode, jute.Record) {
			mode := rapid.SampledFrom(modesAll).Draw(rt, label+"mode")
			p := genPath.Draw(rt, label+"path")
			data := []byte(genData.Draw(rt, label+"data"))
			switch mode {
			case proto.ModePersistentWithTTL, proto.ModePersistentSequentialWithTTL:
				return proto.OpCreateTTL, &proto.CreateTTLRequest{Path: p, Data: data, ACL: proto.OpenACLUnsafe, Flags: mode,
					TTL: rapid.Int64Range(1, 10).Draw(rt, label+"ttl")}
			case proto.ModeContainer:
				return proto.OpCreateContainer, &proto.CreateRequest{Path: p, Data: data, ACL: proto.OpenACLUnsafe, Flags: mode}
			}
			op := proto.OpCreate
			if rapid.Bool().Draw(rt, label+"create2") {
				op = proto.OpCreate2
			}
			return op, &proto.CreateRequest{Path: p, Data: data, ACL: proto.OpenACLUnsafe, Flags: mode}
		}
		subOp := func(label string) proto.MultiOp {
			switch rapid.IntRange(0, 3).Draw(rt, label+"kind") {
			case 0:
				op, b := create(label)
				if op == proto.OpCreateTTL {
					return proto.MultiOp{Type: op, CreateTTL: b.(*proto.CreateTTLRequest)}
				}
				return proto.MultiOp{Type: proto.OpCreate, Create: b.(*proto.CreateRequest)}
			case 1:
				return proto.MultiOp{Type: proto.OpDelete, Version: &proto.PathVersionRequest{Path: genPath.Draw(rt, label+"path"), Version: -1}}
			case 2:
				return proto.MultiOp{Type: proto.OpSetData, SetData: &proto.SetDataRequest{Path: genPath.Draw(rt, label+"path"),
					Data: []byte(genData.Draw(rt, label+"data")), Version: genVersion.Draw(rt, label+"version")}}
			}
			return proto.MultiOp{Type: proto.OpCheck, Version: &proto.PathVersionRequest{Path: genPath.Draw(rt, label+"path"),
				Version: genVersion.Draw(rt, label+"version")}}
		}
		applyUpTo := func(upto int64) {
			for len(prepared) > 0 && prepared[0].Header.Zxid <= upto {
				tx := prepared[0]
				prepared = prepared[1:]
				tr.Apply(tx)
				if tx.Header.Type == proto.OpError {
					if tx.Digest != nil {
						rt.Fatalf("error txn 0x%x carries a digest", tx.Header.Zxid)
					}
					continue
				}
				if tx.Digest == nil || tx.Digest.Version != txn.DigestVersion {
					rt.Fatalf("txn 0x%x (%s) carries digest %+v", tx.Header.Zxid, tx.Header.Type, tx.Digest)
				}
				if want := tr.RecomputeDigest(); tx.Digest.TreeDigest != want {
					rt.Fatalf("txn 0x%x (%s): TxnDigest %d, tree after it %d", tx.Header.Zxid, tx.Header.Type, tx.Digest.TreeDigest, want)
				}
			}
			st.Applied(upto)
		}
		steps := rapid.IntRange(1, 150).Draw(rt, "steps")
		for i := 0; i < steps; i++ {
			label := fmt.Sprintf("s%d", i)
			req := Request{Session: rapid.SampledFrom(sessions).Draw(rt, label+"session"), IDs: []proto.ID{{Scheme: "ip", ID: "127.0.0.1"}}}
			switch rapid.IntRange(-2, 9).Draw(rt, label+"op") {
			case -2, -1, 0, 1:
				req.Op, req.Body = create(label)
			case 2:
				req.Op, req.Body = proto.OpDelete, &proto.PathVersionRequest{Path: genPath.Draw(rt, label+"path"), Version: genVersion.Draw(rt, label+"version")}
			case 3:
				req.Op, req.Body = proto.OpSetData, &proto.SetDataRequest{Path: genPath.Draw(rt, label+"path"),
					Data: []byte(genData.Draw(rt, label+"data")), Version: genVersion.Draw(rt, label+"version")}
			case 4:
				req.Op, req.Body = proto.OpSetACL, &proto.SetACLRequest{Path: genPath.Draw(rt, label+"path"),
					ACL:     rapid.SampledFrom([][]proto.ACL{proto.OpenACLUnsafe, proto.ReadACLUnsafe, {{Perms: proto.PermAll, ID: proto.ID{Scheme: "ip", ID: "127.0.0.1"}}}}).Draw(rt, label+"acl"),
					Version: genVersion.Draw(rt, label+"version")}
			case 5:
				mr := &proto.MultiRequest{}
				for j := rapid.IntRange(1, 4).Draw(rt, label+"n"); j > 0; j-- {
					mr.Ops = append(mr.Ops, subOp(fmt.Sprintf("%sm%d", label, j)))
				}
				req.Op, req.Body = proto.OpMulti, mr
			case 6:
				req.Op = proto.OpCloseSession
			case 7:
				req.Op, req.Timeout = proto.OpCreateSession, 30000
			case 8:
				// What the server's container and TTL check proposes.
				zx := zxid + 1
				cands := append(tr.Containers(), tr.ExpiredTTLs(zx*1000)...)
				if len(cands) == 0 {
					continue
				}
				req.Session = 0
				req.Op, req.Body = proto.OpDeleteContainer, &proto.PathRequest{Path: rapid.SampledFrom(cands).Draw(rt, label+"container")}
			case 9:
				applyUpTo(rapid.Int64Range(zxid-3, zxid).Draw(rt, label+"upto"))
				continue
			}
			zxid++
			p := st.Prepare(TreeView{tr}, &req, zxid, zxid*1000)
			kinds[p.Txn.Header.Type.String()]++
			switch b := p.Txn.Body.(type) {
			case *txn.Multi:
				kinds[fmt.Sprintf("multi failed=%t", p.Err != proto.OK || multiFailed(b))]++
			case *txn.CloseSession:
				if len(b.Paths) > 0 {
					kinds["closeSession with ephemerals"]++
				}
			case *txn.Delete:
				if n := tr.Get(b.Path); n != nil && p.Txn.Header.Type == proto.OpDeleteContainer && tree.OwnerKind(n.Stat.EphemeralOwner) == tree.TTL {
					kinds["TTL deletion"]++
				}
			}
			// As the log and a learner see it: the digest survives encoding.
			e := jute.NewEncoder(nil)
			p.Txn.Encode(e)
			tx, err := txn.Unmarshal(e.Bytes(), 1<<20)
			if err != nil {
				rt.Fatalf("txn 0x%x does not decode: %v", zxid, err)
			}
			prepared = append(prepared, tx)
		}
		applyUpTo(zxid)
	})
	// The workload must have reached every kind of txn it is meant to.
	for _, op := range []proto.OpCode{proto.OpCreate, proto.OpCreate2, proto.OpCreateContainer, proto.OpCreateTTL,
		proto.OpDelete, proto.OpDeleteContainer, proto.OpSetData, proto.OpSetACL, proto.OpMulti, proto.OpCreateSession,
		proto.OpCloseSession, proto.OpError} {
		if kinds[op.String()] == 0 {
			t.Errorf("no %s txn in the workload", op)
		}
	}
	for _, k := range []string{"multi failed=true", "multi failed=false", "closeSession with ephemerals", "TTL deletion"} {
		if kinds[k] == 0 {
			t.Errorf("no %s in the workload", k)
		}
	}
	t.Logf("txns prepared: %v", kinds)
}

func multiFailed(m *txn.Multi) bool {
	for _, op := range m.Ops {
		if op.Type == proto.OpError {
			return true
		}
	}
	return false
}

// With digests off (zookeeper.digest.enabled=false) no txn carries one.
func TestNoDigestWhenDisabled(t *testing.T) {
	tr := tree.New()
	st := New(Config{})
	p := st.Prepare(TreeView{tr}, &Request{Session: 1, Op: proto.OpCreate,
		Body: &proto.CreateRequest{Path: "/a", ACL: proto.OpenACLUnsafe}}, 1, 1000)
	if p.Err != proto.OK || p.Txn.Digest != nil {
		t.Fatalf("create with digests off: err %v, digest %+v", p.Err, p.Txn.Digest)
	}
}
