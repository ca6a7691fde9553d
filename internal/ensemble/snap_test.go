package ensemble

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/zkd/zkd/internal/jute"
	"github.com/zkd/zkd/internal/tree"
)

// snapDB is what a leader streams for a tree: no sessions, then the tree.
func snapDB(t testing.TB, tr *tree.Tree) []byte {
	e := jute.NewEncoder(nil)
	e.Int(0)
	tr.Serialize(e)
	return e.Bytes()
}

func TestSnapStreamRoundTrip(t *testing.T) {
	db := snapDB(t, tree.New())
	stream := appendSnapStream(nil, db)
	stream = append(stream, "next packet"...)
	r := bufio.NewReader(bytes.NewReader(stream))
	got, err := readSnapStream(r, jute.DefaultMaxBuffer)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, db) {
		t.Fatalf("read %d bytes, want the %d written", len(got), len(db))
	}
	rest, _ := r.ReadString(0)
	if rest != "next packet" {
		t.Fatalf("the reader took %q too many bytes", "next packet"[:len("next packet")-len(rest)])
	}
	// A wrong signature is refused.
	bad := append(append([]byte(nil), db...), binary.BigEndian.AppendUint32(nil, 4)...)
	bad = append(bad, "Nope"...)
	if _, err := readSnapStream(bufio.NewReader(bytes.NewReader(bad)), jute.DefaultMaxBuffer); err == nil {
		t.Fatal("a stream without BenWasHere was accepted")
	}
}

// FuzzSnapStream: the reader never panics, never reads past the
// signature, and what it returns is a prefix of its input.
func FuzzSnapStream(f *testing.F) {
	f.Add(appendSnapStream(nil, snapDB(f, tree.New())))
	f.Add([]byte{0, 0, 0, 1})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := readSnapStream(bufio.NewReader(bytes.NewReader(b)), 1<<16)
		if err == nil && !bytes.HasPrefix(b, got) {
			t.Fatalf("returned bytes that are not the input's prefix")
		}
	})
}
