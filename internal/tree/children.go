package tree

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/bits"
	"slices"
)

// A znode's children live in a childSet owned by the znode. Memory per
// child is what the layout is built around (a tree may hold millions of
// znodes): a child costs its *Node in the index (plus slack) and its name
// once, in the set's name arena; the Node itself records only the name's
// offset there. Arena offsets only grow as children are added (compaction
// keeps their order), so the offset doubles as the insertion order that
// Java's HashSet iteration depends on.
//
// Up to smallMax children the index is a slice sorted by name (binary
// search); above it, an open-addressing hash table in the style of Swiss
// tables: groups of 8 slots, one tag byte per slot holding 7 bits of the
// name's hash, linear probing group by group. Should a probe ever run
// absurdly long (names crafted to collide under the fixed hash), the set
// moves to a Go map, whose hash is seeded at random.

const (
	// smallMax is the most children a sorted slice holds; a hashed set
	// returns to a slice when it falls to smallMax/2.
	smallMax = 32
	// groupSize is the slots per hash group (one 64-bit word of tags).
	groupSize = 8
	// A hash table is rebuilt when full and deleted slots would pass 7/8
	// of it, and sized for the load given here (tenths) when rebuilt.
	growLoadTenths = 7
	// bulkLoadTenths is the load of a table built whole from a snapshot.
	bulkLoadTenths = 8
	// floodProbe is the number of groups an insert may probe before the
	// set gives up on the fixed hash.
	floodProbe = 64
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
	// names holds, per child added since the last compaction, uvarint
	// length then name bytes, in insertion order. Removed children's
	// entries stay (dead bytes) until compaction.
	names []byte
	// slots is the small index: the children sorted by name. It is nil
	// while index is in use, and unsorted while a snapshot is being loaded
	// (bulkAdd ... finishBulk).
	slots []*Node
	index *childIndex
	dead  uint32 // bytes of names belonging to removed children
	// javaCap is the table size the Java HashSet holding these children
	// would have reached (it never shrinks).
	javaCap int32
}

// childIndex is the hash index of a large childSet.
type childIndex struct {
	tags  []byte  // len(tags) == len(slots), a multiple of groupSize
	slots []*Node // nil where the tag is empty or deleted
	count int     // children
	used  int     // full or deleted tags
	// flood replaces tags and slots once a probe ran past floodProbe.
	flood map[string]*Node
}

// nameHash is the fixed hash of a child name for the index (not Java's).
func nameHash[T string | []byte](s T) uint64 {
	const m1, m2 = 0xa0761d6478bd642f, 0xe7037ed1a0b428db
	h := uint64(len(s)) ^ m1
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		hi, lo := bits.Mul64(h^w, m2)
		h = hi ^ lo
	}
	var w uint64
	for j := 0; i < len(s); i, j = i+1, j+8 {
		w |= uint64(s[i]) << j
	}
	hi, lo := bits.Mul64(h^w, m1)
	hi, lo = bits.Mul64(hi^lo, m2)
	return hi ^ lo
}

func tagOf(h uint64) byte { return tagFull | byte(h&0x7f) }

// matchByte has the high bit set in (at least) every byte of w equal to b;
// it may also flag a byte just above a true match, so callers recheck.
func matchByte(w uint64, b byte) uint64 {
	x := w ^ (loBytes * uint64(b))
	return (x - loBytes) &^ x & hiBits
}

// nameAt is the name stored at off in the arena.
func (ks *childSet) nameAt(off uint32) []byte {
	b := ks.names[off:]
	n, w := uint64(b[0]), 1
	if n >= 0x80 {
		n, w = binary.Uvarint(b)
	}
	return b[w : w+int(n)]
}

// nameOf is the name of child c.
func (ks *childSet) nameOf(c *Node) []byte { return ks.nameAt(c.name) }

// entrySize is the arena bytes of an entry holding a name of n bytes.
func entrySize(n int) int {
	size := 1
	for v := uint64(n); v >= 0x80; v >>= 7 {
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
	ks.names = binary.AppendUvarint(ks.names, uint64(len(name)))
	ks.names = append(ks.names, name...)
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
	if x := ks.index; x != nil {
		if x.flood != nil {
			for _, c := range x.flood {
				fn(c)
			}
			return
		}
		for _, c := range x.slots {
			if c != nil {
				fn(c)
			}
		}
		return
	}
	for _, c := range ks.slots {
		fn(c)
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

// sorted returns the children sorted by name, reusing buf.
func (ks *childSet) sorted(buf []*Node) []*Node {
	buf = ks.appendAll(buf[:0])
	if ks.index != nil {
		slices.SortFunc(buf, func(a, b *Node) int { return bytes.Compare(ks.nameOf(a), ks.nameOf(b)) })
	}
	return buf
}

// search is the position of name in the sorted small index, and whether
// it is there.
func (ks *childSet) search(name string) (int, bool) {
	lo, hi := 0, len(ks.slots)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if string(ks.nameOf(ks.slots[m])) < name {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo, lo < len(ks.slots) && string(ks.nameOf(ks.slots[lo])) == name
}

// get returns the child called name, or nil.
func (ks *childSet) get(name string) *Node {
	x := ks.index
	if x == nil {
		if i, ok := ks.search(name); ok {
			return ks.slots[i]
		}
		return nil
	}
	if x.flood != nil {
		return x.flood[name]
	}
	if i := find(ks, name, nameHash(name)); i >= 0 {
		return x.slots[i]
	}
	return nil
}

// find is the slot of name (whose hash is h) in the hash index, or -1.
func find[T string | []byte](ks *childSet, name T, h uint64) int {
	x := ks.index
	tag := tagOf(h)
	groups := len(x.tags) / groupSize
	g := homeGroup(h, groups)
	for range groups {
		w := binary.LittleEndian.Uint64(x.tags[g*groupSize:])
		for m := matchByte(w, tag); m != 0; m &= m - 1 {
			i := g*groupSize + bits.TrailingZeros64(m)/8
			if x.tags[i] == tag && string(ks.nameOf(x.slots[i])) == string(name) {
				return i
			}
		}
		if matchByte(w, tagEmpty) != 0 {
			return -1
		}
		if g++; g == groups {
			g = 0
		}
	}
	return -1
}

func homeGroup(h uint64, groups int) int {
	hi, _ := bits.Mul64(h, uint64(groups))
	return int(hi)
}

// add makes c the child called name, which must not exist yet, and tracks
// the capacity Java's HashSet (created with initial capacity 8) would have.
func (ks *childSet) add(name string, c *Node) {
	ks.growJavaCap(name)
	store(ks, name, c)
	ks.insert(c, name)
}

// newChildSet is the set a znode gets with its first child.
func newChildSet() *childSet { return &childSet{javaCap: 8} }

// growJavaCap advances javaCap for the insertion of name, as HashMap.putVal
// resizes: a bucket reaching 9 entries in a table of under 64 slots
// doubles the table instead of turning the bucket into a tree; more than
// 3/4 full doubles it too.
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

// insert places c (already in the arena) in the index.
func (ks *childSet) insert(c *Node, name string) {
	x := ks.index
	switch {
	case x == nil && len(ks.slots) < smallMax:
		i, _ := ks.search(name)
		ks.slots = slices.Insert(ks.slots, i, c)
	case x == nil:
		all := append(ks.slots, c)
		ks.slots = nil
		ks.rebuild(all, growLoadTenths)
	case x.flood != nil:
		x.flood[name] = c
		x.count++
	case (x.used+1)*8 > len(x.tags)*7:
		ks.rebuild(append(ks.appendAll(make([]*Node, 0, x.count+1)), c), growLoadTenths)
	case x.place(c, nameHash(name)):
		x.count++
	default:
		ks.toFlood(append(ks.appendAll(nil), c))
	}
}

// place puts c in the first empty or deleted slot of its probe sequence;
// false if that took more than floodProbe groups (c is then not placed).
func (x *childIndex) place(c *Node, h uint64) bool {
	groups := len(x.tags) / groupSize
	g := homeGroup(h, groups)
	for probe := 0; probe < groups; probe++ {
		if probe > floodProbe {
			return false
		}
		w := binary.LittleEndian.Uint64(x.tags[g*groupSize:])
		// Empty and deleted tags are the ones without the high bit.
		if free := ^w & hiBits; free != 0 {
			i := g*groupSize + bits.TrailingZeros64(free)/8
			if x.tags[i] == tagEmpty {
				x.used++
			}
			x.tags[i] = tagOf(h)
			x.slots[i] = c
			return true
		}
		if g++; g == groups {
			g = 0
		}
	}
	return false
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
	groups := groupsFor(len(children), loadTenths)
	x := &childIndex{tags: make([]byte, groups*groupSize), slots: make([]*Node, groups*groupSize)}
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
	var c *Node
	x := ks.index
	switch {
	case x == nil:
		i, ok := ks.search(name)
		if !ok {
			return nil
		}
		c = ks.slots[i]
		ks.slots = slices.Delete(ks.slots, i, i+1)
	case x.flood != nil:
		if c = x.flood[name]; c == nil {
			return nil
		}
		delete(x.flood, name)
		x.count--
	default:
		i := find(ks, name, nameHash(name))
		if i < 0 {
			return nil
		}
		c = x.slots[i]
		x.slots[i] = nil
		// A group that already has an empty slot stops every probe, so
		// this slot can be empty rather than deleted.
		g := i / groupSize * groupSize
		if matchByte(binary.LittleEndian.Uint64(x.tags[g:]), tagEmpty) != 0 {
			x.tags[i] = tagEmpty
			x.used--
		} else {
			x.tags[i] = tagDeleted
		}
		x.count--
	}
	ks.dead += uint32(entrySize(len(name)))
	ks.shrink()
	return c
}

// shrink keeps a set's memory in line with its size after a removal.
func (ks *childSet) shrink() {
	if ks.count() == 0 {
		ks.names, ks.slots, ks.index, ks.dead = nil, nil, nil, 0
		return
	}
	if x := ks.index; x != nil {
		switch {
		case x.count <= smallMax/2:
			ks.slots = ks.sorted(make([]*Node, 0, x.count))
			ks.index = nil
		case x.flood == nil && x.count*4 < len(x.tags):
			ks.rebuild(ks.appendAll(make([]*Node, 0, x.count)), growLoadTenths)
		}
	}
	if ks.dead >= minCompact && int(ks.dead)*2 > len(ks.names) {
		ks.compact()
	}
}

// compact rewrites the arena without dead entries, keeping the order of the
// live ones (their insertion order).
func (ks *childSet) compact() {
	live := ks.appendAll(nil)
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
		names = binary.AppendUvarint(names, uint64(len(name)))
		names = append(names, name...)
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
// added twice, if any (the set is then unusable).
func (ks *childSet) finishBulk() (dup []byte, ok bool) {
	if cap(ks.names)-len(ks.names) > len(ks.names)/8 {
		ks.names = append(make([]byte, 0, len(ks.names)), ks.names...)
	}
	children := ks.slots
	n := len(children)
	if n <= smallMax {
		slices.SortFunc(children, func(a, b *Node) int { return bytes.Compare(ks.nameOf(a), ks.nameOf(b)) })
		for i := 1; i < n; i++ {
			if bytes.Equal(ks.nameOf(children[i-1]), ks.nameOf(children[i])) {
				return ks.nameOf(children[i]), false
			}
		}
		ks.slots = slices.Clip(children)
		return nil, true
	}
	ks.slots = nil
	groups := groupsFor(n, bulkLoadTenths)
	x := &childIndex{tags: make([]byte, groups*groupSize), slots: make([]*Node, groups*groupSize)}
	ks.index = x
	for _, c := range children {
		name := ks.nameOf(c)
		h := nameHash(name)
		if find(ks, name, h) >= 0 {
			return name, false
		}
		if !x.place(c, h) {
			seen := make(map[string]bool, n)
			for _, c := range children {
				if name := ks.nameOf(c); seen[string(name)] {
					return name, false
				} else {
					seen[string(name)] = true
				}
			}
			ks.toFlood(children)
			return nil, true
		}
		x.count++
	}
	return nil, true
}
