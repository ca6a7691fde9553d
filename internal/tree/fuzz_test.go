package tree

import (
	"errors"
	"testing"

	"github.com/zkd/zkd/internal/jute"
	"github.com/zkd/zkd/internal/proto"
	"github.com/zkd/zkd/internal/txn"
)

// checkConsistent verifies what must hold for any tree, however it was built.
func checkConsistent(t *testing.T, tr *Tree) {
	t.Helper()
	if tr.Digest() != tr.RecomputeDigest() {
		t.Fatalf("incremental digest %d != recomputed %d", tr.Digest(), tr.RecomputeDigest())
	}
	count := 0
	tr.Walk("/", func(string, *Node) bool { count++; return true })
	if count != tr.NodeCount()-1 {
		t.Fatalf("walked %d znodes, NodeCount %d", count, tr.NodeCount())
	}
	b := serializeTree(tr)
	again, err := Deserialize(jute.NewDecoder(b, jute.DefaultMaxBuffer))
	if err != nil {
		t.Fatalf("reloading our own snapshot: %v", err)
	}
	if !sameRecords(b, serializeTree(again)) {
		t.Fatal("reloaded snapshot holds different znodes")
	}
}

func FuzzDeserialize(f *testing.F) {
	f.Add(serializeTree(New()))
	for _, name := range apacheFiles(f, "snapshot.") {
		s := readApacheSnapshot(f, name)
		f.Add(s.file[s.treeStart:s.treeEnd])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		tr, err := Deserialize(jute.NewDecoder(b, jute.DefaultMaxBuffer))
		if err != nil {
			return
		}
		checkConsistent(t, tr)
	})
}

func FuzzApply(f *testing.F) {
	for _, tx := range apacheLog(f) {
		f.Add(txn.Marshal(tx))
	}
	f.Fuzz(func(t *testing.T, entry []byte) {
		tx, err := txn.Unmarshal(entry, jute.DefaultMaxBuffer)
		if err != nil {
			return
		}
		tr := New()
		for _, p := range []string{"/app", "/app/x", "/zookeeper/quota/app", "/zookeeper/quota/app/zookeeper_limits", "/zookeeper/quota/app/zookeeper_stats"} {
			tr.Apply(createTxn(tr.LastZxid()+1, p, []byte("count=1,bytes=-1"), proto.OpenACLUnsafe))
		}
		tr.Apply(tx)
		checkConsistent(t, tr)
	})
}

func TestDeserializeRejects(t *testing.T) {
	enc := func(build func(e *jute.Encoder)) []byte {
		e := jute.NewEncoder(nil)
		build(e)
		return e.Bytes()
	}
	node := func(e *jute.Encoder, path string, acl int64) {
		e.String(path)
		e.Buffer(nil)
		e.Long(acl)
		(&proto.StatPersisted{}).Encode(e)
	}
	cases := map[string][]byte{
		"empty": nil,
		"huge ACL count": enc(func(e *jute.Encoder) {
			e.Int(1 << 30)
			e.Long(1)
		}),
		"null ACL list": enc(func(e *jute.Encoder) {
			e.Int(1)
			e.Long(1)
			e.Int(-1)
		}),
		"no root": enc(func(e *jute.Encoder) {
			e.Int(0)
			e.String("/")
		}),
		"child before root": enc(func(e *jute.Encoder) {
			e.Int(0)
			node(e, "/a", -1)
		}),
		"missing parent": enc(func(e *jute.Encoder) {
			e.Int(0)
			node(e, "", -1)
			node(e, "/a/b", -1)
			e.String("/")
		}),
		"root alias as parent": enc(func(e *jute.Encoder) {
			e.Int(0)
			node(e, "", -1)
			node(e, "//a", -1)
			e.String("/")
		}),
		"duplicate": enc(func(e *jute.Encoder) {
			e.Int(0)
			node(e, "", -1)
			node(e, "/a", -1)
			node(e, "/a", -1)
			e.String("/")
		}),
		"truncated": enc(func(e *jute.Encoder) {
			e.Int(0)
			node(e, "", -1)
			e.String("/a")
			e.Int(10)
		}),
		"no terminator": enc(func(e *jute.Encoder) {
			e.Int(0)
			node(e, "", -1)
		}),
	}
	for name, b := range cases {
		if _, err := Deserialize(jute.NewDecoder(b, jute.DefaultMaxBuffer)); !errors.Is(err, ErrBadSnapshot) {
			t.Errorf("%s: err %v, want ErrBadSnapshot", name, err)
		}
	}
	allocs := testing.AllocsPerRun(10, func() {
		_, _ = Deserialize(jute.NewDecoder(cases["huge ACL count"], jute.DefaultMaxBuffer))
	})
	if allocs > 20 {
		t.Errorf("rejecting a huge ACL count took %v allocations", allocs)
	}
}

// A snapshot znode may name an ACL id the snapshot's cache lacks (fuzzy
// snapshots race with creates). It loads with an empty ACL and keeps its id;
// the replayed create gives it the txn's ACL, as DataTree.createNode does.
func TestDanglingACLIDFixedByReplayedCreate(t *testing.T) {
	e := jute.NewEncoder(nil)
	e.Int(0)
	for _, p := range []struct {
		path string
		acl  int64
	}{{"", -1}, {"/a", 7}} {
		e.String(p.path)
		e.Buffer([]byte{})
		e.Long(p.acl)
		(&proto.StatPersisted{Czxid: 5, Mzxid: 5, Pzxid: 5}).Encode(e)
	}
	e.String("/")
	tr, err := Deserialize(jute.NewDecoder(e.Bytes(), 0))
	if err != nil {
		t.Fatal(err)
	}
	if n := tr.Get("/a"); n == nil || len(n.ACL) != 0 {
		t.Fatalf("/a: %+v", n)
	}
	if b := serializeTree(tr); !sameRecords(b, e.Bytes()) {
		t.Fatal("dangling ACL id not written back")
	}
	r := tr.Apply(createTxn(5, "/a", []byte{}, proto.ReadACLUnsafe))
	if r.Err != proto.ErrNodeExists {
		t.Fatalf("replayed create: %v", r.Err)
	}
	if got := tr.Get("/a").ACL; len(got) != 1 || got[0] != proto.ReadACLUnsafe[0] {
		t.Fatalf("ACL after replay %v", got)
	}
	checkConsistent(t, tr)
}
