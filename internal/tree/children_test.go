package tree

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/zkd/zkd/internal/jute"
	"github.com/zkd/zkd/internal/proto"
	"github.com/zkd/zkd/internal/txn"
)

// javaHashSet replays java.util.HashSet<String> as ZooKeeper's DataNode
// uses it (new HashSet<>(8), add, remove) with bins as explicit lists, to
// check the order in which childSet lists children for snapshots. Bins that
// Java would turn into trees are not modelled (the tree code does not
// reproduce them either); the test names never produce one.
type javaHashSet struct {
	bins [][]string
	size int
}

func (s *javaHashSet) bin(name string) int {
	return int(javaSpread(javaStringHash(name)) & uint32(len(s.bins)-1))
}

// resize is HashMap.resize: double, splitting every bin in order.
func (s *javaHashSet) resize() {
	old := s.bins
	s.bins = make([][]string, 2*len(old))
	for _, bin := range old {
		for _, name := range bin {
			b := s.bin(name)
			s.bins[b] = append(s.bins[b], name)
		}
	}
}

func (s *javaHashSet) add(name string) {
	if s.bins == nil {
		s.bins = make([][]string, 8)
	}
	b := s.bin(name)
	if slices.Contains(s.bins[b], name) {
		return
	}
	s.bins[b] = append(s.bins[b], name)
	if len(s.bins[b]) > 8 && len(s.bins) < 64 { // treeifyBin on a small table resizes
		s.resize()
	}
	s.size++
	if s.size > len(s.bins)*3/4 {
		s.resize()
	}
}

func (s *javaHashSet) remove(name string) {
	if s.bins == nil {
		return
	}
	b := s.bin(name)
	if i := slices.Index(s.bins[b], name); i >= 0 {
		s.bins[b] = slices.Delete(s.bins[b], i, i+1)
		s.size--
	}
}

func (s *javaHashSet) order() []string {
	var out []string
	for _, bin := range s.bins {
		out = append(out, bin...)
	}
	return out
}

// checkChildSet compares ks with the names it should hold.
func checkChildSet(t *testing.T, ks *childSet, want map[string]*Node, java *javaHashSet) {
	t.Helper()
	if ks.count() != len(want) {
		t.Fatalf("count %d, want %d", ks.count(), len(want))
	}
	names := make([]string, 0, len(want))
	for name, n := range want {
		if got := ks.get(name); got != n {
			t.Fatalf("get(%q) = %p, want %p", name, got, n)
		}
		if got := string(ks.nameOf(n)); got != name {
			t.Fatalf("nameOf = %q, want %q", got, name)
		}
		names = append(names, name)
	}
	slices.Sort(names)
	var sorted []string
	for _, k := range ks.sorted() {
		if got := string(ks.nameOf(k.node)); got != string(k.name) {
			t.Fatalf("sorted: %q named %q", k.name, got)
		}
		sorted = append(sorted, string(k.name))
	}
	if !slices.Equal(sorted, names) {
		t.Fatalf("sorted children %q, want %q", sorted, names)
	}
	if got := ks.sortedNames(); !slices.Equal(got, names) && len(names) > 0 {
		t.Fatalf("sorted names %q, want %q", got, names)
	}
	var order []string
	for _, c := range childrenInJavaOrder(ks, nil) {
		order = append(order, string(ks.nameOf(c.node)))
	}
	if want := java.order(); !slices.Equal(order, want) {
		t.Fatalf("Java order %q\nwant %q", order, want)
	}
	live := 0
	for name := range want {
		live += entrySize(len(name))
	}
	if len(ks.names)-int(ks.dead) != live {
		t.Fatalf("arena of %d bytes with %d dead, want %d live", len(ks.names), ks.dead, live)
	}
	if ks.dead >= minCompact && int(ks.dead)*2 > len(ks.names) {
		t.Fatalf("arena of %d bytes with %d dead not compacted", len(ks.names), ks.dead)
	}
	if x := ks.index; x != nil && x.flood == nil {
		if x.used*8 > len(x.groups)*groupSize*7 {
			t.Fatalf("hash table of %d groups with %d slots used", len(x.groups), x.used)
		}
		full, used := 0, 0
		for gi := range x.groups {
			g := &x.groups[gi]
			for i := range groupSize {
				tag := g.tag(i)
				if tag != tagEmpty {
					used++
				}
				if tag >= tagFull {
					full++
					if g.slots[i] == nil || tagOf(nameHash(ks.nameOf(g.slots[i]))) != tag {
						t.Fatalf("group %d slot %d: tag %#x does not fit %v", gi, i, tag, g.slots[i])
					}
				} else if g.slots[i] != nil {
					t.Fatalf("group %d slot %d holds a child but is tagged %#x", gi, i, tag)
				}
			}
		}
		if full != x.count || used != x.used {
			t.Fatalf("table counts %d/%d, slots say %d/%d", x.count, x.used, full, used)
		}
	} else if x == nil {
		if ks.dead != 0 {
			t.Fatalf("small set with %d dead arena bytes", ks.dead)
		}
		for i, c := range ks.slots {
			if i > 0 && c.name <= ks.slots[i-1].name {
				t.Fatalf("small set out of insertion order at %d", i)
			}
		}
	}
}

// testNames is a pool of child names: short and long (a length needing a
// two-byte uvarint), sequential, non-ASCII, and the empty name.
func testNames(n int) []string {
	out := []string{"", "é", "日本", "\U0001F600x", strings.Repeat("L", 200), strings.Repeat("m", 127), strings.Repeat("m", 128)}
	for i := 0; len(out) < n; i++ {
		switch i % 3 {
		case 0:
			out = append(out, fmt.Sprintf("n%010d", i))
		case 1:
			out = append(out, fmt.Sprintf("%x", i*2654435761))
		default:
			out = append(out, fmt.Sprintf("k%d", i))
		}
	}
	return out
}

// A child set grows through its sorted slice into a hash table and back,
// with churn, and always agrees with a map and with Java's HashSet order.
func TestChildSetMatchesJavaHashSet(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		rng := rand.New(rand.NewPCG(seed, seed))
		pool := testNames(3000)
		ks := newChildSet()
		want := map[string]*Node{}
		java := &javaHashSet{}
		target := 0
		for step := 0; step < 12000; step++ {
			if step%3000 == 0 {
				target = []int{40, 2500, 10, 700}[step/3000]
			}
			name := pool[rng.IntN(len(pool))]
			if len(want) < target && rng.IntN(4) != 0 || len(want) >= target && rng.IntN(4) == 0 {
				if want[name] == nil {
					n := &Node{}
					ks.add(name, n)
					want[name] = n
					java.add(name)
				}
			} else {
				got := ks.remove(name)
				if got != want[name] {
					t.Fatalf("seed %d step %d: remove(%q) = %p, want %p", seed, step, name, got, want[name])
				}
				delete(want, name)
				java.remove(name)
			}
			if step%97 == 0 || len(want) <= smallMax+1 {
				checkChildSet(t, ks, want, java)
			}
			if int(ks.javaCap) != max(8, len(java.bins)) {
				t.Fatalf("seed %d step %d: javaCap %d, Java %d", seed, step, ks.javaCap, len(java.bins))
			}
		}
		checkChildSet(t, ks, want, java)
	}
}

// Nine names in one bucket of a table under 64 slots double the table, as
// HashMap.treeifyBin does.
func TestChildSetSmallTableCollisions(t *testing.T) {
	var names []string
	for i := 0; len(names) < 14; i++ {
		name := fmt.Sprintf("b%d", i)
		if javaBucket(name, 64) == 0 {
			names = append(names, name)
		}
	}
	ks := newChildSet()
	want := map[string]*Node{}
	java := &javaHashSet{}
	for _, name := range names {
		n := &Node{}
		ks.add(name, n)
		want[name] = n
		java.add(name)
		if int(ks.javaCap) != len(java.bins) {
			t.Fatalf("after %d names: javaCap %d, Java %d", len(want), ks.javaCap, len(java.bins))
		}
		checkChildSet(t, ks, want, java)
	}
	if ks.javaCap != 64 {
		t.Fatalf("javaCap %d after 14 names in one bucket", ks.javaCap)
	}
	// The same names arriving in a snapshot get the same table.
	b := []string{"", "/p"}
	for _, name := range names {
		b = append(b, "/p/"+name)
	}
	tr, err := Deserialize(jute.NewDecoder(snapshotOf(b...), 0))
	if err != nil {
		t.Fatal(err)
	}
	if got := tr.Get("/p").kids.javaCap; got != 64 {
		t.Fatalf("loaded javaCap %d", got)
	}
}

// collidingNames finds n names whose index hashes share their top 12 bits,
// so they crowd one stretch of any hash table up to 4096 groups.
func collidingNames(n int) []string {
	var out []string
	var buf []byte
	for i := 0; len(out) < n; i++ {
		buf = strconv.AppendInt(append(buf[:0], 'c'), int64(i), 10)
		if nameHash(buf)>>52 == 0x5a5 {
			out = append(out, string(buf))
		}
	}
	return out
}

// Names crafted to collide under the fixed index hash push the set onto a
// Go map; it keeps working, Java order included.
func TestChildSetFloodFallsBackToMap(t *testing.T) {
	tr := New()
	tr.Apply(createTxn(1, "/wide", nil, proto.OpenACLUnsafe))
	names := collidingNames(floodProbe*groupSize + 200)
	java := &javaHashSet{}
	want := map[string]*Node{}
	for i, name := range names {
		r := tr.Apply(createTxn(int64(i+2), "/wide/"+name, []byte(name), proto.OpenACLUnsafe))
		if r.Err != proto.OK {
			t.Fatal(r.Err)
		}
		java.add(name)
		want[name] = tr.Get("/wide/" + name)
	}
	ks := tr.Get("/wide").kids
	if ks.index == nil || ks.index.flood == nil {
		t.Fatalf("%d colliding names did not move the set to a map", len(names))
	}
	checkChildSet(t, ks, want, java)
	checkConsistent(t, tr)
	keep := 10
	for i, name := range names[keep:] {
		if r := tr.Apply(&txn.Txn{Header: txn.Header{Zxid: int64(100000 + i), Type: proto.OpDelete}, Body: &txn.Delete{Path: "/wide/" + name}}); r.Err != proto.OK {
			t.Fatal(r.Err)
		}
		java.remove(name)
		delete(want, name)
	}
	if ks.index != nil {
		t.Fatalf("%d children still in a map", keep)
	}
	checkChildSet(t, ks, want, java)
	checkConsistent(t, tr)
}

// A million honest names never push a set onto a map, whether added one by
// one or loaded in bulk.
func TestChildSetHonestNamesStayHashed(t *testing.T) {
	if testing.Short() {
		t.Skip("a million names")
	}
	for _, format := range []string{"%d"} { // the format that clusters most
		ks := newChildSet()
		bulk := newChildSet()
		for i := 0; i < 1_000_000; i++ {
			name := fmt.Sprintf(format, i)
			ks.add(name, &Node{})
			bulk.bulkAdd(name, &Node{})
		}
		if _, ok := bulk.finishBulk(); !ok {
			t.Fatal("duplicate")
		}
		for _, s := range []*childSet{ks, bulk} {
			if s.index == nil || s.index.flood != nil {
				t.Fatalf("%s: a million names fell back to a map", format)
			}
		}
	}
}

// Get walks a wide set without allocating.
func TestGetDoesNotAllocate(t *testing.T) {
	tr := New()
	tr.Apply(createTxn(1, "/w", nil, proto.OpenACLUnsafe))
	for i := 0; i < 1000; i++ {
		tr.Apply(createTxn(int64(i+2), fmt.Sprintf("/w/n%d", i), nil, proto.OpenACLUnsafe))
	}
	allocs := testing.AllocsPerRun(100, func() {
		if tr.Get("/w/n500") == nil || tr.Get("/w/n5000") != nil || tr.Get("/zookeeper/quota") == nil {
			t.Fatal("wrong lookup")
		}
	})
	if allocs != 0 {
		t.Fatalf("Get allocated %v times", allocs)
	}
}

// snapshotOf encodes a tree section with an empty ACL cache and the given
// paths, in the given order.
func snapshotOf(paths ...string) []byte {
	e := jute.NewEncoder(nil)
	e.Int(0)
	for i, p := range paths {
		e.String(p)
		e.Buffer([]byte(p))
		e.Long(-1)
		(&proto.StatPersisted{Czxid: int64(i), Mzxid: int64(i), Pzxid: int64(i)}).Encode(e)
	}
	e.String("/")
	return e.Bytes()
}

// Deserialize accepts any order in which parents come before children (as
// ZooKeeper does), wide parents included, and rejects a znode listed twice
// wherever it is.
func TestDeserializeOrders(t *testing.T) {
	wide := func(prefix string, n int) []string {
		var out []string
		for i := 0; i < n; i++ {
			out = append(out, fmt.Sprintf("%s/c%03d", prefix, i))
		}
		return out
	}
	var shuffled []string
	shuffled = append(shuffled, "", "/a", "/b")
	shuffled = append(shuffled, wide("/b", 50)...)
	shuffled = append(shuffled, "/a/x", "/b/c007/y", "/a/x/z", "/a/w")
	shuffled = append(shuffled, wide("/a", 40)...)
	tr, err := Deserialize(jute.NewDecoder(snapshotOf(shuffled...), 0))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range shuffled {
		if n := tr.Get(p); n == nil || string(n.Data) != p {
			t.Fatalf("%q after an out-of-order load: %+v", p, n)
		}
	}
	if got := tr.NodeCount() - 1; got != len(shuffled) {
		t.Fatalf("%d znodes, want %d", got, len(shuffled))
	}
	checkConsistent(t, tr)

	dups := map[string][]string{
		"small set":        {"", "/a", "/a/x", "/a/y", "/a/x"},
		"wide set":         append(append([]string{"", "/a"}, wide("/a", 60)...), "/a/c013"),
		"wide set, nested": append(append([]string{"", "/a"}, wide("/a", 60)...), "/a/c013/q", "/a/c013"),
		"out of order":     {"", "/a", "/b", "/a/x", "/b/y", "/a/x"},
		"root's child":     append(append([]string{""}, wide("", 40)...), "/c005"),
	}
	for name, paths := range dups {
		if _, err := Deserialize(jute.NewDecoder(snapshotOf(paths...), 0)); !errors.Is(err, ErrBadSnapshot) || !strings.Contains(err.Error(), "listed twice") {
			t.Errorf("%s: err %v", name, err)
		}
	}
}

// A wide parent whose history has only creates serializes, reloads and
// serializes again to the same bytes: the reload rebuilds Java's order.
func TestWideSnapshotRoundTripIsExact(t *testing.T) {
	b := wideSnapshot(t, 5000)
	tr, err := Deserialize(jute.NewDecoder(b, 0))
	if err != nil {
		t.Fatal(err)
	}
	if again := serializeTree(tr); string(again) != string(b) {
		t.Fatal("reloaded wide tree serializes differently")
	}
	checkConsistent(t, tr)
}
