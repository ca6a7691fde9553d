package tree

import (
	"fmt"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/zkd/zkd/internal/jute"
	"github.com/zkd/zkd/internal/proto"
	"github.com/zkd/zkd/internal/txn"
)

// createTxn builds a create txn the way a log decoder hands it over: fresh
// path string, fresh data slice, fresh ACL slice.
func createTxn(zxid int64, path string, data []byte, acl []proto.ACL) *txn.Txn {
	return &txn.Txn{
		Header: txn.Header{ClientID: 1, Cxid: 1, Zxid: zxid, Time: zxid, Type: proto.OpCreate},
		Body:   &txn.Create{Path: path, Data: data, ACL: acl, ParentCVersion: -1},
	}
}

func heapInUse() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// buildTree creates parents×perParent znodes of 100 bytes below /bench.
func buildTree(tb testing.TB, parents, perParent int) *Tree {
	tr := New()
	zxid := int64(1)
	apply := func(tx *txn.Txn) {
		if r := tr.Apply(tx); r.Err != proto.OK {
			tb.Fatalf("%s: %v", tx.Body.(*txn.Create).Path, r.Err)
		}
		zxid++
	}
	acl := func() []proto.ACL { return append([]proto.ACL(nil), proto.OpenACLUnsafe...) }
	apply(createTxn(zxid, "/bench", nil, acl()))
	for p := 0; p < parents; p++ {
		parent := "/bench/p" + strconv.Itoa(p)
		apply(createTxn(zxid, parent, nil, acl()))
		for c := 0; c < perParent; c++ {
			data := make([]byte, 100)
			apply(createTxn(zxid, fmt.Sprintf("%s/node-%010d", parent, c), data, acl()))
		}
	}
	return tr
}

// BenchmarkMillionZnodes builds a tree of 1,000,000 znodes with 100 bytes of
// data each and reports the heap they hold per znode.
func BenchmarkMillionZnodes(b *testing.B) {
	for i := 0; i < b.N; i++ {
		before := heapInUse()
		tr := buildTree(b, 1000, 1000)
		after := heapInUse()
		b.ReportMetric(float64(after-before)/float64(tr.NodeCount()), "bytes/znode")
		runtime.KeepAlive(tr)
	}
}

// BenchmarkMillionZnodesNarrow builds 1,000,000 znodes of 100 bytes as a
// tree with fanout 4 (most parents have few children).
func BenchmarkMillionZnodesNarrow(b *testing.B) {
	for i := 0; i < b.N; i++ {
		before := heapInUse()
		tr := New()
		data := make([]byte, 100)
		queue := []string{""}
		zxid := int64(1)
		for n := 0; n < 1_000_000; n++ {
			parent := queue[0]
			p := fmt.Sprintf("%s/n%d", parent, n%4)
			if n%4 == 3 {
				queue = queue[1:]
			}
			queue = append(queue, p)
			tr.Apply(createTxn(zxid, p, append([]byte(nil), data...), append([]proto.ACL(nil), proto.OpenACLUnsafe...)))
			zxid++
		}
		queue = nil
		after := heapInUse()
		b.ReportMetric(float64(after-before)/float64(tr.NodeCount()), "bytes/znode")
		runtime.KeepAlive(tr)
	}
}

func BenchmarkApplyCreate(b *testing.B) {
	tr := New()
	tr.Apply(createTxn(1, "/b", nil, proto.OpenACLUnsafe))
	paths := make([]string, b.N)
	for i := range paths {
		paths[i] = "/b/n" + strconv.Itoa(i)
	}
	data := make([]byte, 100)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tr.Apply(createTxn(int64(i+2), paths[i], data, proto.OpenACLUnsafe))
	}
}

func BenchmarkApplySetData(b *testing.B) {
	tr := buildTree(b, 10, 100)
	data := make([]byte, 100)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tr.Apply(&txn.Txn{
			Header: txn.Header{Zxid: int64(2000 + i), Time: 1, Type: proto.OpSetData},
			Body:   &txn.SetData{Path: "/bench/p3/node-0000000042", Data: data, Version: int32(i)},
		})
	}
}

func BenchmarkGet(b *testing.B) {
	tr := buildTree(b, 10, 100)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if tr.Get("/bench/p3/node-0000000042") == nil {
			b.Fatal("missing")
		}
	}
}

func BenchmarkSerialize100k(b *testing.B) {
	tr := buildTree(b, 100, 1000)
	e := jute.NewEncoder(nil)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.Reset()
		tr.Serialize(e)
	}
	b.SetBytes(int64(e.Len()))
}

func BenchmarkDeserialize100k(b *testing.B) {
	tr := buildTree(b, 100, 1000)
	e := jute.NewEncoder(nil)
	tr.Serialize(e)
	b.ReportAllocs()
	b.SetBytes(int64(e.Len()))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Deserialize(jute.NewDecoder(e.Bytes(), 0)); err != nil {
			b.Fatal(err)
		}
	}
}

// wideSnapshot is the tree section of a snapshot holding znodes
// /zkbench/data/k0000000… with 100-byte values below one parent, the shape
// `zkd bench --prepopulate` leaves behind.
func wideSnapshot(tb testing.TB, znodes int) []byte {
	tr := New()
	acl := func() []proto.ACL { return append([]proto.ACL(nil), proto.OpenACLUnsafe...) }
	zxid := int64(1)
	for _, p := range []string{"/zkbench", "/zkbench/data"} {
		tr.Apply(createTxn(zxid, p, nil, acl()))
		zxid++
	}
	for i := 0; i < znodes; i++ {
		data := make([]byte, 100)
		data[0] = byte(i)
		if r := tr.Apply(createTxn(zxid, fmt.Sprintf("/zkbench/data/k%07d", i), data, acl())); r.Err != proto.OK {
			tb.Fatal(r.Err)
		}
		zxid++
	}
	e := jute.NewEncoder(nil)
	tr.Serialize(e)
	return e.Bytes()
}

// BenchmarkDeserializeMillion loads a snapshot of 1,000,000 znodes of 100
// bytes below one parent and reports the heap the loaded tree holds beyond
// its data bytes.
func BenchmarkDeserializeMillion(b *testing.B) {
	const znodes = 1_000_000
	snap := wideSnapshot(b, znodes)
	b.SetBytes(int64(len(snap)))
	b.ReportAllocs()
	var tr *Tree
	for b.Loop() {
		tr = nil
		b.StopTimer()
		before := heapInUse()
		b.StartTimer()
		var err error
		tr, err = Deserialize(jute.NewDecoder(snap, 0))
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		after := heapInUse()
		b.ReportMetric(float64(after-before)/float64(znodes)-100, "overhead-bytes/znode")
		b.StartTimer()
	}
	runtime.KeepAlive(tr)
}

// BenchmarkGetWide looks up znodes below a parent of 100,000 children, in
// an order that defeats caches, and reads their stat as a server would.
func BenchmarkGetWide(b *testing.B) {
	const znodes = 100_000
	tr, err := Deserialize(jute.NewDecoder(wideSnapshot(b, znodes), 0))
	if err != nil {
		b.Fatal(err)
	}
	paths := make([]string, 4096)
	for i := range paths {
		paths[i] = fmt.Sprintf("/zkbench/data/k%07d", (i*7919)%znodes)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if n := tr.Get(paths[i%len(paths)]); n == nil || n.Stat.Czxid == 0 {
			b.Fatal("missing")
		}
		i++
	}
}

// BenchmarkChildrenWide lists a parent of 100,000 children.
func BenchmarkChildrenWide(b *testing.B) {
	tr, err := Deserialize(jute.NewDecoder(wideSnapshot(b, 100_000), 0))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if len(tr.Children("/zkbench/data")) != 100_000 {
			b.Fatal("wrong count")
		}
	}
}

// BenchmarkSerializeWide writes a snapshot of 100,000 znodes below one
// parent, whose children must be put in Java's order.
func BenchmarkSerializeWide(b *testing.B) {
	snap := wideSnapshot(b, 100_000)
	tr, err := Deserialize(jute.NewDecoder(snap, 0))
	if err != nil {
		b.Fatal(err)
	}
	e := jute.NewEncoder(make([]byte, 0, len(snap)))
	b.SetBytes(int64(len(snap)))
	b.ReportAllocs()
	for b.Loop() {
		e.Reset()
		tr.Serialize(e)
	}
}

// BenchmarkSerializeFuzzyWide reports the longest stretch SerializeFuzzy
// works between pauses (the longest a snapshot holds applies off) on a
// parent of a million children.
func BenchmarkSerializeFuzzyWide(b *testing.B) {
	snap := wideSnapshot(b, 1_000_000)
	tr, err := Deserialize(jute.NewDecoder(snap, 0))
	if err != nil {
		b.Fatal(err)
	}
	e := jute.NewEncoder(make([]byte, 0, 1<<21))
	flush := func([]byte) error { return nil }
	var longest time.Duration
	for b.Loop() {
		e.Reset()
		slice := time.Now()
		pause := func(work func()) {
			longest = max(longest, time.Since(slice))
			work()
			slice = time.Now()
		}
		if err := tr.SerializeFuzzy(e, flush, pause); err != nil {
			b.Fatal(err)
		}
		longest = max(longest, time.Since(slice))
	}
	b.ReportMetric(float64(longest.Microseconds()), "longest-hold-µs")
}
