package tree

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/zkd/zkd/internal/jute"
	"github.com/zkd/zkd/internal/proto"
)

// ErrBadSnapshot means a snapshot's tree section cannot be loaded.
var ErrBadSnapshot = errors.New("tree: malformed snapshot tree")

// streamChunk is how many bytes SerializeStream gathers before flushing.
const streamChunk = 1 << 20

// Serialize appends the tree section of a snapshot, as DataTree.serialize
// writes it:
//
//	int count, then count × (long id, vector<ACL>)   the ACL cache
//	per znode, pre-order: ustring path, buffer data, long aclId, StatPersisted
//	ustring "/"                                       end of znodes
//
// The root's path is "". Siblings and cache entries come in the order Java's
// hash tables iterate them, so the bytes match Apache ZooKeeper's for the
// same tree history.
func (t *Tree) Serialize(e *jute.Encoder) {
	_ = t.SerializeStream(e, nil)
}

// SerializeStream writes what Serialize writes, but when flush is not nil it
// hands e's bytes to flush and resets e every megabyte or so and at the end,
// so that a snapshot never sits in memory whole. It returns flush's first
// error.
func (t *Tree) SerializeStream(e *jute.Encoder, flush func([]byte) error) error {
	return t.serializeStream(e, flush, nil)
}

// pauseEvery is how many znodes SerializeFuzzy writes between pauses (about
// a millisecond's work).
const pauseEvery = 1024

// SerializeFuzzy is SerializeStream for a tree that changes while it is
// written, as ZooKeeper's snapshots are taken. The caller holds off changes
// while SerializeFuzzy runs, except inside pause: SerializeFuzzy calls
// pause(work) every pauseEvery znodes and after listing a znode's children,
// and pause must run work (which does not touch the tree; it sorts what was
// listed) and may apply txns meanwhile. The result is fuzzy: each
// znode as it was when reached, a znode created during a pause below a znode
// already listed missing, one deleted during a pause still present. Loading
// it and replaying every txn from the zxid the tree had when SerializeFuzzy
// began rebuilds the tree exactly (Apply follows ZooKeeper's replay rules for
// fuzzy snapshots). ACL lists first used during a pause are not in the cache
// section; Deserialize gives their znodes empty lists, which the replay of
// their create or setACL txn then sets.
func (t *Tree) SerializeFuzzy(e *jute.Encoder, flush func([]byte) error, pause func(work func())) error {
	return t.serializeStream(e, flush, pause)
}

func (t *Tree) serializeStream(e *jute.Encoder, flush func([]byte) error, pause func(work func())) error {
	ids := aclIDsInJavaOrder(t.acls.cachedIDs())
	e.Int(int32(len(ids)))
	for _, id := range ids {
		e.Long(id)
		proto.EncodeACLs(e, t.acls.byID[id].acl)
	}
	s := serializer{t: t, e: e, flush: flush, pause: pause}
	if pause != nil {
		s.startZxid = t.LastZxid()
		s.cached = make(map[int64]bool, len(ids))
		for _, id := range ids {
			s.cached[id] = true
		}
	}
	s.node(t.root, 0)
	if s.err != nil {
		return s.err
	}
	e.String("/")
	if flush != nil {
		if err := flush(e.Bytes()); err != nil {
			return err
		}
		e.Reset()
	}
	return nil
}

type serializer struct {
	t     *Tree
	e     *jute.Encoder
	flush func([]byte) error
	err   error
	path  []byte
	order [][]javaChild // per depth, reused across siblings

	// With pause set, a znode's children are copied when it is listed
	// (while paused, its child set may be compacted, moving names, or lose
	// children), then hashed and sorted in a pause: for a znode with a
	// million children that is most of the work.
	pause   func(work func())
	written int
	// startZxid and cached are the tree's zxid and the ACL ids written in
	// the cache section when the walk began (fuzzy walks only).
	startZxid int64
	cached    map[int64]bool
	listed    [][]listedChild // per depth
	names     [][]byte        // per depth: the listed children's names, end to end
}

type listedChild struct {
	bucket, seq uint32
	start, end  uint32 // the name in names
}

func (s *serializer) node(n *Node, depth int) {
	if s.pause != nil {
		if s.written++; s.written%pauseEvery == 0 {
			s.pause(func() {})
		}
	}
	id := openACLID
	// A znode deleted during a pause has no ACL left (the replay of its
	// delete removes it again); any id will do.
	if n.ACL != nil {
		if entry := s.t.acls.entryOf(n); entry != nil {
			id = entry.id
		}
	}
	if s.cached != nil && id != openACLID && !s.cached[id] {
		if n.Stat.Czxid > s.startZxid {
			// Created during the walk with an ACL list the cache section,
			// written first, does not hold: Apache could not resolve it,
			// and the replay of its create would meet it and keep it so.
			// Left out with its subtree (created later still), the replay
			// creates them all.
			return
		}
		// Older than the walk, with a list a setACL gave it during the
		// walk: that setACL's replay sets the list again. Until then it
		// is written open (-1), not with zkd's id for the list: a loader
		// hands out new ids from the largest one in the cache section as
		// it replays, so zkd's id may name another list by the time the
		// setACL comes, whose removeUsage would then release that list
		// from under the znodes holding it (Apache answered them with
		// MarshallingError, "Failed to fetch acls").
		id = openACLID
	}
	e := s.e
	e.Int(int32(len(s.path)))
	e.Raw(s.path)
	e.Buffer(n.Data)
	e.Long(id)
	n.Stat.Encode(e)
	if s.flush != nil && e.Len() >= streamChunk {
		if s.err = s.flush(e.Bytes()); s.err != nil {
			return
		}
		e.Reset()
	}
	ks := n.kids
	if ks == nil || ks.count() == 0 {
		return
	}
	base := len(s.path)
	if s.pause != nil {
		s.fuzzyChildren(n, depth, base)
		s.path = s.path[:base]
		return
	}
	if len(s.order) <= depth {
		s.order = append(s.order, nil)
	}
	s.order[depth] = childrenInJavaOrder(ks, s.order[depth])
	for i := range s.order[depth] {
		c := &s.order[depth][i]
		s.path = append(append(s.path[:base], '/'), ks.nameOf(c.node)...)
		s.node(c.node, depth+1)
		if s.err != nil {
			return
		}
	}
	s.path = s.path[:base]
}

// fuzzyChildren writes the children of znode n of a changing tree, in
// Java's order as listed now, each as it is when reached. Listing copies
// only the child set's name arena (a few bytes per child, no znode touched);
// hashing and sorting happen in a pause; each child is then looked up by name
// when its turn comes, and skipped if it was deleted meanwhile (the replay of
// its delete finds it gone, as with ZooKeeper's fuzzy snapshots).
func (s *serializer) fuzzyChildren(n *Node, depth, base int) {
	if len(s.listed) <= depth {
		s.listed, s.names = append(s.listed, nil), append(s.names, nil)
	}
	names := append(s.names[depth][:0], n.kids.names...)
	javaCap := n.kids.javaCap
	listed := s.listed[depth][:0]
	s.pause(func() {
		for off := 0; off < len(names); {
			v, w := entryHeader(names, off)
			start, end := off+w, off+w+int(v>>1)
			if v&1 == 0 {
				listed = append(listed, listedChild{bucket: javaBucket(names[start:end], javaCap),
					seq: uint32(off), start: uint32(start), end: uint32(end)})
			}
			off = end
		}
		slices.SortFunc(listed, func(a, b listedChild) int {
			if c := cmp.Compare(a.bucket, b.bucket); c != 0 {
				return c
			}
			return cmp.Compare(a.seq, b.seq)
		})
	})
	s.listed[depth], s.names[depth] = listed, names
	for i := range listed {
		c := &listed[i]
		name := names[c.start:c.end]
		if n.kids == nil {
			return
		}
		child := getChild(n.kids, name)
		if child == nil {
			continue
		}
		s.path = append(append(s.path[:base], '/'), name...)
		s.node(child, depth+1)
		if s.err != nil {
			return
		}
	}
}

// Deserialize reads the tree section of a snapshot (what Serialize writes)
// and rebuilds everything derived from it: the ephemerals of each session,
// the container and TTL sets, quota stats, ACL reference counts (dropping
// unused entries) and the digest. LastZxid is 0 until SetLastZxid.
func Deserialize(d *jute.Decoder) (*Tree, error) {
	t := newEmpty()
	if err := t.readACLs(d); err != nil {
		return nil, err
	}
	l := loader{t: t}
	for {
		path := d.String()
		if d.Err() != nil {
			return nil, fmt.Errorf("%w: reading path: %w", ErrBadSnapshot, d.Err())
		}
		if path == "/" {
			break
		}
		n := &Node{}
		n.Data = d.Buffer()
		aclID := d.Long()
		n.Stat.Decode(d)
		if d.Err() != nil {
			return nil, fmt.Errorf("%w: znode %q: %w", ErrBadSnapshot, path, d.Err())
		}
		if err := l.link(path, n); err != nil {
			return nil, err
		}
		// DataTree.approximateDataSize counts the root under "" and "/".
		if path == "" {
			t.dataSize += 2*int64(len(n.Data)) + 1
		} else {
			t.dataSize += javaLength(path) + int64(len(n.Data))
		}
		var entry *aclEntry
		switch {
		case aclID == openACLID:
			entry = t.acls.open
		case t.acls.byID[aclID] != nil:
			entry = t.acls.byID[aclID]
			entry.refs++
		default:
			entry = t.acls.danglingEntry(aclID)
		}
		t.acls.attach(n, entry)
		n.digest = t.nodeDigest(path, n)
		t.digest += int64(n.digest)
		t.nodes++
	}
	if t.root == nil {
		return nil, fmt.Errorf("%w: no root znode", ErrBadSnapshot)
	}
	if err := l.finish(0); err != nil {
		return nil, err
	}
	t.setupQuotas()
	t.acls.purgeUnused()
	return t, nil
}

// readACLs loads the ACL cache section.
func (t *Tree) readACLs(d *jute.Decoder) error {
	count := d.Int()
	if d.Err() != nil {
		return fmt.Errorf("%w: ACL cache: %w", ErrBadSnapshot, d.Err())
	}
	// ZooKeeper reads a negative count as an empty cache.
	if count > 0 && int64(count)*12 > int64(d.Remaining()) {
		return fmt.Errorf("%w: ACL cache of %d entries in %d bytes", ErrBadSnapshot, count, d.Remaining())
	}
	// Later entries for an id replace earlier ones but keep their place.
	var order []int64
	lists := make(map[int64][]proto.ACL)
	for i := int32(0); i < count; i++ {
		id := d.Long()
		acl := proto.DecodeACLs(d)
		if d.Err() != nil {
			return fmt.Errorf("%w: ACL cache entry %d: %w", ErrBadSnapshot, i, d.Err())
		}
		if acl == nil {
			return fmt.Errorf("%w: ACL cache entry %d has a null list", ErrBadSnapshot, id)
		}
		if _, seen := lists[id]; !seen {
			order = append(order, id)
		}
		lists[id] = acl
	}
	for _, id := range order {
		t.acls.load(id, lists[id])
	}
	return nil
}

// loader places the znodes of a snapshot. Snapshots list znodes in
// pre-order, so a znode's parent is the previous znode or one of its
// ancestors: the loader keeps that chain on a stack and fills each
// parent's child set in bulk, building its index once the parent's
// subtree has ended. A file in any other order (each parent still before
// its children, as ZooKeeper requires) takes a slower path through Get.
type loader struct {
	t     *Tree
	stack []loadFrame
	// scratch[i] is the storage bulkAdd fills for the set of stack[i],
	// handed from one set to the next at that depth (finishBulk copies
	// what a set keeps): growing a fresh arena and slot list for every
	// parent made a fifth of a load's allocations garbage.
	scratch []bulkScratch
}

type bulkScratch struct {
	names []byte
	slots []*Node
}

// loadFrame is a znode on the loader's stack; its child set, if any, is
// being filled by bulkAdd.
type loadFrame struct {
	path string
	node *Node
}

// link places a znode read from a snapshot: the root ("") or a child of an
// already read znode, and records its kind.
func (l *loader) link(path string, n *Node) error {
	t := l.t
	if path == "" {
		if t.root != nil {
			return fmt.Errorf("%w: root listed twice", ErrBadSnapshot)
		}
		t.root = n
		l.stack = append(l.stack, loadFrame{path: path, node: n})
		return nil
	}
	slash := strings.LastIndexByte(path, '/')
	if slash < 0 || t.root == nil {
		return fmt.Errorf("%w: znode %q before the root or without a parent", ErrBadSnapshot, path)
	}
	parentPath, name := path[:slash], path[slash+1:]
	top := len(l.stack) - 1
	for top >= 0 && l.stack[top].path != parentPath {
		top--
	}
	if top >= 0 {
		if err := l.finish(top + 1); err != nil {
			return err
		}
		parent := l.stack[top].node
		if parent.kids == nil {
			parent.kids = newChildSet()
			if top < len(l.scratch) {
				parent.kids.names, parent.kids.slots = l.scratch[top].names[:0], l.scratch[top].slots[:0]
				l.scratch[top] = bulkScratch{} // the set owns it until finish hands it back
			}
		}
		parent.kids.bulkAdd(name, n)
	} else {
		// Out of pre-order: index every set still in bulk, then look the
		// parent up. ZooKeeper's node map knows the root as "/" only after
		// loading.
		if err := l.finish(0); err != nil {
			return err
		}
		var parent *Node
		if parentPath != "/" {
			parent = t.Get(parentPath)
		}
		if parent == nil {
			return fmt.Errorf("%w: parent of %q missing", ErrBadSnapshot, path)
		}
		if parent.child(name) != nil {
			return fmt.Errorf("%w: %q listed twice", ErrBadSnapshot, path)
		}
		parent.addChild(name, n)
	}
	l.stack = append(l.stack, loadFrame{path: path, node: n})
	t.track(path, n.Stat.EphemeralOwner)
	return nil
}

// finish indexes the child sets of the stack from depth on, deepest first,
// and pops them.
func (l *loader) finish(depth int) error {
	for i := len(l.stack) - 1; i >= depth; i-- {
		f := l.stack[i]
		if ks := f.node.kids; ks != nil {
			bulk := bulkScratch{names: ks.names, slots: ks.slots}
			if dup, ok := ks.finishBulk(); !ok {
				return fmt.Errorf("%w: %q listed twice", ErrBadSnapshot, f.path+"/"+string(dup))
			}
			clear(bulk.slots) // the next set's slots start empty; hold no node meanwhile
			for len(l.scratch) <= i {
				l.scratch = append(l.scratch, bulkScratch{})
			}
			l.scratch[i] = bulkScratch{names: bulk.names[:0], slots: bulk.slots[:0]}
		}
	}
	clear(l.stack[depth:])
	l.stack = l.stack[:depth]
	return nil
}
