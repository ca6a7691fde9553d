package tree

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/zkd/zkd/internal/jute"
	"github.com/zkd/zkd/internal/proto"
	"github.com/zkd/zkd/internal/txn"
)

func serializeFuzzyStill(t *testing.T, tr *Tree) []byte {
	t.Helper()
	var out bytes.Buffer
	e := jute.NewEncoder(nil)
	pauses := 0
	err := tr.SerializeFuzzy(e, func(b []byte) error { out.Write(b); return nil }, func(work func()) { pauses++; work() })
	if err != nil {
		t.Fatal(err)
	}
	out.Write(e.Bytes())
	if tr.NodeCount() > 2*pauseEvery && pauses == 0 {
		t.Fatalf("%d znodes written without a pause", tr.NodeCount())
	}
	return out.Bytes()
}

// A tree that does not change while SerializeFuzzy pauses comes out byte for
// byte as Serialize writes it: same znode order (Java's), same ACL ids.
// Deleted and re-created children (dead arena entries, compaction) and
// both kinds of child index are covered.
func TestSerializeFuzzyOfAStillTreeIsExact(t *testing.T) {
	trees := map[string]*Tree{"built": buildTree(t, 7, 900)}
	churned := buildTree(t, 3, 700)
	zxid := int64(1 << 20)
	for p := range 3 {
		for c := 0; c < 700; c += 3 {
			path := fmt.Sprintf("/bench/p%d/node-%010d", p, c)
			tx := &txn.Txn{Header: txn.Header{Zxid: zxid, Type: proto.OpDelete}, Body: &txn.Delete{Path: path}}
			if r := churned.Apply(tx); r.Err != proto.OK {
				t.Fatalf("delete %s: %v", path, r.Err)
			}
			zxid++
			if c%2 == 0 { // back again, at the end of the insertion order
				if r := churned.Apply(createTxn(zxid, path, []byte("again"), proto.OpenACLUnsafe)); r.Err != proto.OK {
					t.Fatalf("create %s: %v", path, r.Err)
				}
				zxid++
			}
		}
	}
	trees["churned"] = churned
	wide, err := Deserialize(jute.NewDecoder(wideSnapshot(t, 5000), 0))
	if err != nil {
		t.Fatal(err)
	}
	trees["wide"] = wide
	for _, f := range apacheFiles(t, "snapshot.") {
		trees["Apache's "+f] = readApacheSnapshot(t, f).tree
	}
	for name, tr := range trees {
		if got, want := serializeFuzzyStill(t, tr), serializeTree(tr); !bytes.Equal(got, want) {
			t.Errorf("%s: SerializeFuzzy wrote %d bytes that differ from Serialize's %d", name, len(got), len(want))
		}
	}
}
