package tree

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/bits"
	"slices"
	"sort"
)

// A znode's children live in a childSet owned by the znode. Memory per
// child is what the layout is built around (a tree may hold millions of
// znodes): a child costs its *Node in the index (plus slack) and its name
// once, in the set's name arena; the Node itself records only the name's
// offset there. Arena offsets only grow as children are added (compaction
// keeps their order), so the offset doubles as the insertion order that
// Java's HashSet iteration depends on.
//
// Up to smallMax children the index is a slice in insertion order, parallel
// to an arena without dead entries, and a lookup scans the arena's names,
// which sit together in memory. Above it, the index is an open-addressing
// hash table in the style of Swiss tables: groups of 8 slots with one tag
// byte per slot holding 7 bits of the name's hash, probed group by group.
// Should a probe ever run absurdly long (names crafted to collide under the
// fixed hash), the set moves to a Go map, whose hash is seeded at random.

const (
	// smallMax is the most children a small set holds; a hashed set
	// returns to small when it falls to smallMax/2.
	smallMax = 32
	// groupSize is the slots per hash group (one 64-bit word of tags).
	groupSize = 8
	// A hash table is rebuilt when full and deleted slots would pass 7/8
	// of it, and then sized for the load given here (tenths).
	growLoadTenths = 6
	// bulkLoadTenths is the load of a table built whole from a snapshot.
	bulkLoadTenths = 8
	// floodProbe is the number of groups an insert may probe before the
	// set gives up on the fixed hash. Linear probing clusters: at 7/8 load
	// honest names reach some 160 groups in a million-child table (a mean
	// of 1.6), so only crafted collisions get near this.
	floodProbe = 1024
	// minCompact is the dead arena bytes below which an arena is never
	// compacted.
	minCompact = 32
)

const (
	tagEmpty   byte = 0
	tagDeleted byte = 1
	tagFull    byte = 0x80 // | low 7 bits of the hash
)

const (
	loBytes = 0x0101010101010101
	hiBits  = 0x8080808080808080
)

// childSet is a znode's children.
type childSet struct {
	// names holds, per child added since the last compaction, a header
	// uvarint(len(name)<<1 | dead) then the name's bytes, in insertion
	// order. A removed child's entry stays, marked dead, until compaction;
	// small sets have no dead entries. The arena alone thus lists the
	// children's names, in insertion order.
	names []byte
	// slots is the small index: the children in insertion order, the i-th
	// named by the i-th arena entry. It is nil while index is in use.
	slots []*Node
	index *childIndex
	dead  uint32 // bytes of names belonging to removed children
	// javaCap is the table size the Java HashSet holding these children
	// would have reached (it never shrinks).
	javaCap int32
}

// childIndex is the hash index of a large childSet.
type childIndex struct {
	groups []group
	count  int // children
	used   int // slots tagged full or deleted
	// flood replaces groups once a probe ran past floodProbe.
	flood map[string]*Node
}

// group is 8 slots and their tags (byte i of tags is slot i's).
type group struct {
	tags  uint64
	slots [groupSize]*Node
}

func (g *group) tag(i int) byte         { return byte(g.tags >> (8 * i)) }
func (g *group) setTag(i int, tag byte) { g.tags = g.tags&^(0xff<<(8*i)) | uint64(tag)<<(8*i) }

// nameHash is the fixed hash of a child name for the index (not Java's):
// 64-bit words folded by multiplication, the tail read as an overlapping
// word.
func nameHash[T string | []byte](s T) uint64 {
	const m1, m2 = 0xa0761d6478bd642f, 0xe7037ed1a0b428db
	n := len(s)
	h := uint64(n) ^ m1
	var w uint64
	switch {
	case n >= 8:
		for i := 0; i+8 < n; i += 8 {
			h = mix(h^load64(s, i), m2)
		}
		w = load64(s, n-8)
	case n >= 4:
		w = load32(s, 0)<<32 | load32(s, n-4)
	case n > 0:
		w = uint64(s[0])<<16 | uint64(s[n>>1])<<8 | uint64(s[n-1])
	}
	return mix(h^w^m2, m1)
}

func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

func load64[T string | []byte](s T, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

func load32[T string | []byte](s T, i int) uint64 {
	s = s[i : i+4]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24
}

func tagOf(h uint64) byte { return tagFull | byte(h&0x7f) }

// matchByte has the high bit set in (at least) every byte of w equal to b;
// it may also flag a byte just above a true match, so callers recheck. It
// is zero exactly when no byte equals b.
func matchByte(w uint64, b byte) uint64 {
	x := w ^ (loBytes * uint64(b))
	return (x - loBytes) &^ x & hiBits
}

// nameAt is the name stored at off in the arena.
func (ks *childSet) nameAt(off uint32) []byte {
	b := ks.names
	v, w := uint64(b[off]), 1
	if v >= 0x80 {
		v, w = binary.Uvarint(b[off:])
	}
	start := int(off) + w
	return b[start : start+int(v>>1)]
}

// entryHeader decodes the header of the arena entry at off: the name's
// length times 2, plus 1 if the entry is dead; and the header's size.
func entryHeader(b []byte, off int) (v uint64, w int) {
	if v := b[off]; v < 0x80 { // names under 64 bytes
		return uint64(v), 1
	}
	return binary.Uvarint(b[off:])
}

// markDead flags the arena entry at off as a removed child's.
func (ks *childSet) markDead(off uint32) { ks.names[off] |= 1 }

// appendEntry appends a live entry for name to an arena.
func appendEntry[T string | []byte](names []byte, name T) []byte {
	names = binary.AppendUvarint(names, uint64(len(name))<<1)
	return append(names, name...)
}

// nameOf is the name of child c.
func (ks *childSet) nameOf(c *Node) []byte { return ks.nameAt(c.name) }

// entrySize is the arena bytes of an entry holding a name of n bytes.
func entrySize(n int) int {
	size := 1
	for v := uint64(n) << 1; v >= 0x80; v >>= 7 {
		size++
	}
	return size + n
}

// store appends name to the arena and points c at it.
func store[T string | []byte](ks *childSet, name T, c *Node) {
	if len(ks.names)+entrySize(len(name)) > math.MaxUint32 {
		ks.compact()
		if len(ks.names)+entrySize(len(name)) > math.MaxUint32 {
			// Four gigabytes of names below one znode: far past any heap
			// ZooKeeper could run with.
			panic("tree: names of one znode's children exceed 4 GiB")
		}
	}
	c.name = uint32(len(ks.names))
	ks.names = appendEntry(ks.names, name)
}

// count is the number of children.
func (ks *childSet) count() int {
	if ks.index != nil {
		return ks.index.count
	}
	return len(ks.slots)
}

// each calls fn for every child, in no particular order.
func (ks *childSet) each(fn func(c *Node)) {
	x := ks.index
	switch {
	case x == nil:
		for _, c := range ks.slots {
			fn(c)
		}
	case x.flood != nil:
		for _, c := range x.flood {
			fn(c)
		}
	default:
		for gi := range x.groups {
			g := &x.groups[gi]
			for m := g.tags & hiBits; m != 0; m &= m - 1 {
				fn(g.slots[bits.TrailingZeros64(m)/8])
			}
		}
	}
}

// appendAll appends every child to buf, in no particular order.
func (ks *childSet) appendAll(buf []*Node) []*Node {
	if ks.index == nil {
		return append(buf, ks.slots...)
	}
	ks.each(func(c *Node) { buf = append(buf, c) })
	return buf
}

// namedChild is a child with its name, for sorting.
type namedChild struct {
	name []byte
	node *Node
}

// sorted returns the children with their names, sorted by name.
func (ks *childSet) sorted() []namedChild {
	out := make([]namedChild, 0, ks.count())
	ks.each(func(c *Node) { out = append(out, namedChild{ks.nameOf(c), c}) })
	slices.SortFunc(out, func(a, b namedChild) int { return bytes.Compare(a.name, b.name) })
	return out
}

// sortedNames returns the children's names, sorted. It reads the arena
// alone, and one string holds all the names, so a listing costs two
// allocations, not one per child.
func (ks *childSet) sortedNames() []string {
	all := string(ks.names)
	out := make([]string, 0, ks.count())
	for off := 0; off < len(all); {
		v, w := entryHeader(ks.names, off)
		n := int(v >> 1)
		if v&1 == 0 {
			out = append(out, all[off+w:off+w+n])
		}
		off += w + n
	}
	sort.Strings(out)
	return out
}

// get returns the child called name, or nil.
func (ks *childSet) get(name string) *Node { return getChild(ks, name) }

// getChild is get for a name held as a string or as bytes (no string made).
func getChild[T string | []byte](ks *childSet, name T) *Node {
	x := ks.index
	switch {
	case x == nil:
		if i := scan(ks, name); i >= 0 {
			return ks.slots[i]
		}
		return nil
	case x.flood != nil:
		return x.flood[string(name)]
	}
	if g, i := find(x, ks, name, nameHash(name)); g != nil {
		return g.slots[i]
	}
	return nil
}

// scan is the position of name in a small set, or -1.
func (ks *childSet) scan(name string) int { return scan(ks, name) }

func scan[T string | []byte](ks *childSet, name T) int {
	b := ks.names
	for i, off := 0, 0; off < len(b); i++ {
		v, w := uint64(b[off]), 1 // entryHeader, written out for speed
		if v >= 0x80 {
			v, w = binary.Uvarint(b[off:])
		}
		n := int(v >> 1)
		off += w
		// Sibling names often differ only at the end (p0, p1, ...): the
		// last byte rules most of them out before a full comparison.
		if n == len(name) && (n == 0 || b[off+n-1] == name[n-1]) && string(b[off:off+n]) == string(name) {
			return i
		}
		off += n
	}
	return -1
}

// find is the group and slot of name (whose hash is h) in the hash table,
// or nil.
func find[T string | []byte](x *childIndex, ks *childSet, name T, h uint64) (*group, int) {
	tag := tagOf(h)
	n := len(x.groups)
	gi := homeGroup(h, n)
	for range n {
		g := &x.groups[gi]
		for m := matchByte(g.tags, tag); m != 0; m &= m - 1 {
			i := bits.TrailingZeros64(m) / 8
			if g.tag(i) == tag && string(ks.nameOf(g.slots[i])) == string(name) {
				return g, i
			}
		}
		if matchByte(g.tags, tagEmpty) != 0 {
			return nil, 0
		}
		if gi++; gi == n {
			gi = 0
		}
	}
	return nil, 0
}

func homeGroup(h uint64, groups int) int {
	hi, _ := bits.Mul64(h, uint64(groups))
	return int(hi)
}

// newChildSet is the set a znode gets with its first child.
func newChildSet() *childSet { return &childSet{javaCap: 8} }

// add makes c the child called name, which must not exist yet.
func (ks *childSet) add(name string, c *Node) {
	ks.growJavaCap(name)
	store(ks, name, c)
	x := ks.index
	switch {
	case x == nil && len(ks.slots) < smallMax:
		ks.slots = append(ks.slots, c)
	case x == nil:
		all := append(ks.slots, c)
		ks.slots = nil
		ks.rebuild(all, growLoadTenths)
	case x.flood != nil:
		x.flood[name] = c
		x.count++
	case (x.used+1)*8 > len(x.groups)*groupSize*7:
		ks.rebuild(append(ks.appendAll(make([]*Node, 0, x.count+1)), c), growLoadTenths)
	case x.place(c, nameHash(name)):
		x.count++
	default:
		ks.toFlood(append(ks.appendAll(nil), c))
	}
}

// growJavaCap advances javaCap for the insertion of name, as HashMap.putVal
// resizes the table of a HashSet created with capacity 8: a bucket reaching
// 9 entries in a table of under 64 slots doubles the table instead of
// turning the bucket into a tree; more than 3/4 full doubles it too.
func (ks *childSet) growJavaCap(name string) {
	if ks.javaCap < 64 {
		b := javaBucket(name, ks.javaCap)
		same := 0
		ks.each(func(o *Node) {
			if javaBucket(ks.nameOf(o), ks.javaCap) == b {
				same++
			}
		})
		if same >= 8 {
			ks.javaCap *= 2
		}
	}
	if ks.count()+1 > int(ks.javaCap)/4*3 {
		ks.javaCap *= 2
	}
}

// place puts c in the first empty or deleted slot of its probe sequence;
// false if that took more than floodProbe groups (c is then not placed).
func (x *childIndex) place(c *Node, h uint64) bool {
	n := len(x.groups)
	gi := homeGroup(h, n)
	for probe := 0; probe < n && probe <= floodProbe; probe++ {
		g := &x.groups[gi]
		// Empty and deleted tags are the ones without the high bit.
		if free := ^g.tags & hiBits; free != 0 {
			i := bits.TrailingZeros64(free) / 8
			if g.tag(i) == tagEmpty {
				x.used++
			}
			g.setTag(i, tagOf(h))
			g.slots[i] = c
			return true
		}
		if gi++; gi == n {
			gi = 0
		}
	}
	return false
}

// placeNew is place for a table without deleted slots, as finishBulk
// builds, that also reports whether a child called name is already there:
// it would sit on the probe sequence before the first free slot.
func (ks *childSet) placeNew(c *Node, name []byte) (placed, dup bool) {
	x := ks.index
	h := nameHash(name)
	tag := tagOf(h)
	n := len(x.groups)
	gi := homeGroup(h, n)
	for probe := 0; probe < n && probe <= floodProbe; probe++ {
		g := &x.groups[gi]
		for m := matchByte(g.tags, tag); m != 0; m &= m - 1 {
			i := bits.TrailingZeros64(m) / 8
			if g.tag(i) == tag && bytes.Equal(ks.nameOf(g.slots[i]), name) {
				return false, true
			}
		}
		if free := ^g.tags & hiBits; free != 0 {
			i := bits.TrailingZeros64(free) / 8
			g.setTag(i, tag)
			g.slots[i] = c
			x.used++
			return true, false
		}
		if gi++; gi == n {
			gi = 0
		}
	}
	return false, false
}

// groupsFor is the number of hash groups that holds n children at the
// given load (tenths).
func groupsFor(n, loadTenths int) int {
	slots := (n*10 + loadTenths - 1) / loadTenths
	return max(1, (slots+groupSize-1)/groupSize)
}

// rebuild replaces the index with a hash table holding children at the
// given load (tenths), or with a Go map if the fixed hash clusters them.
func (ks *childSet) rebuild(children []*Node, loadTenths int) {
	x := &childIndex{groups: make([]group, groupsFor(len(children), loadTenths))}
	for _, c := range children {
		if !x.place(c, nameHash(ks.nameOf(c))) {
			ks.toFlood(children)
			return
		}
		x.count++
	}
	ks.index = x
}

// toFlood replaces the index with a Go map holding children.
func (ks *childSet) toFlood(children []*Node) {
	m := make(map[string]*Node, len(children))
	for _, c := range children {
		m[string(ks.nameOf(c))] = c
	}
	ks.index = &childIndex{flood: m, count: len(m)}
}

// remove removes the child called name and returns it (nil if absent).
func (ks *childSet) remove(name string) *Node {
	x := ks.index
	if x == nil {
		i := ks.scan(name)
		if i < 0 {
			return nil
		}
		c := ks.slots[i]
		// Small sets keep their arena free of dead entries.
		start := int(c.name)
		size := entrySize(len(name))
		ks.names = append(ks.names[:start], ks.names[start+size:]...)
		ks.slots = slices.Delete(ks.slots, i, i+1)
		for _, o := range ks.slots[i:] {
			o.name -= uint32(size)
		}
		if len(ks.slots) == 0 {
			ks.names, ks.slots = nil, nil
		}
		return c
	}
	var c *Node
	if x.flood != nil {
		if c = x.flood[name]; c == nil {
			return nil
		}
		delete(x.flood, name)
	} else {
		g, i := find(x, ks, name, nameHash(name))
		if g == nil {
			return nil
		}
		c = g.slots[i]
		g.slots[i] = nil
		// A group that has an empty slot stops every probe, so this slot
		// can be empty rather than deleted.
		if matchByte(g.tags, tagEmpty) != 0 {
			g.setTag(i, tagEmpty)
			x.used--
		} else {
			g.setTag(i, tagDeleted)
		}
	}
	x.count--
	ks.markDead(c.name)
	ks.dead += uint32(entrySize(len(name)))
	switch {
	case x.count <= smallMax/2:
		live := ks.appendAll(make([]*Node, 0, x.count))
		ks.index = nil
		ks.compactLive(live)
		ks.slots = live
		return c
	case x.flood == nil && x.count*4 < len(x.groups)*groupSize:
		ks.rebuild(ks.appendAll(make([]*Node, 0, x.count)), growLoadTenths)
	}
	if ks.dead >= minCompact && int(ks.dead)*2 > len(ks.names) {
		ks.compact()
	}
	return c
}

// compact rewrites the arena without dead entries, keeping the order of the
// live ones (their insertion order).
func (ks *childSet) compact() { ks.compactLive(ks.appendAll(nil)) }

// compactLive is compact given the live children, which it sorts into
// insertion order.
func (ks *childSet) compactLive(live []*Node) {
	slices.SortFunc(live, func(a, b *Node) int {
		if a.name < b.name {
			return -1
		}
		return 1
	})
	names := make([]byte, 0, len(ks.names)-int(ks.dead))
	for _, c := range live {
		name := ks.nameOf(c)
		c.name = uint32(len(names))
		names = appendEntry(names, name)
	}
	ks.names, ks.dead = names, 0
}

// bulkAdd adds c as name while a snapshot is loaded: no duplicate check and
// no index until finishBulk.
func (ks *childSet) bulkAdd(name string, c *Node) {
	if ks.javaCap < 64 {
		b := javaBucket(name, ks.javaCap)
		same := 0
		for _, o := range ks.slots {
			if javaBucket(ks.nameOf(o), ks.javaCap) == b {
				same++
			}
		}
		if same >= 8 {
			ks.javaCap *= 2
		}
	}
	if len(ks.slots)+1 > int(ks.javaCap)/4*3 {
		ks.javaCap *= 2
	}
	store(ks, name, c)
	ks.slots = append(ks.slots, c)
}

// finishBulk builds the index of a set filled by bulkAdd. It returns a name
// added twice, if any (the set is then unusable). The set keeps none of the
// storage bulkAdd filled (its names and slots are copied to their exact
// size), so the loader hands that storage to the next set it fills: a
// snapshot's load then makes almost no garbage, which is what keeps the
// heap's peak near the loaded tree.
func (ks *childSet) finishBulk() (dup []byte, ok bool) {
	ks.names = append(make([]byte, 0, len(ks.names)), ks.names...)
	children := ks.slots
	n := len(children)
	if n <= smallMax {
		for i, c := range children {
			name := ks.nameOf(c)
			for _, o := range children[:i] {
				if bytes.Equal(ks.nameOf(o), name) {
					return name, false
				}
			}
		}
		ks.slots = slices.Clone(children)
		return nil, true
	}
	ks.slots = nil
	x := &childIndex{groups: make([]group, groupsFor(n, bulkLoadTenths))}
	ks.index = x
	for _, c := range children {
		name := ks.nameOf(c)
		placed, dup := ks.placeNew(c, name)
		if dup {
			return name, false
		}
		if !placed {
			seen := make(map[string]bool, n)
			for _, c := range children {
				name := ks.nameOf(c)
				if seen[string(name)] {
					return name, false
				}
				seen[string(name)] = true
			}
			ks.toFlood(children)
			return nil, true
		}
		x.count++
	}
	return nil, true
}
