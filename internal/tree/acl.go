package tree

import (
	"github.com/zkd/zkd/internal/jute"
	"github.com/zkd/zkd/internal/proto"
)

// openACLID is the snapshot id of the open ACL that a null ACL list maps to.
const openACLID int64 = -1

// aclEntry is one interned ACL list.
type aclEntry struct {
	id  int64
	acl []proto.ACL // Invariant: cap(acl) >= 1, and &acl[:1][0] is unique to this entry
	key string      // jute encoding of acl
	// refs is ZooKeeper's reference count (ReferenceCountedACLCache): it
	// decides which entries snapshots list. It can drift from the number of
	// znodes using the entry exactly as ZooKeeper's does (a create that meets
	// an existing znode counts a use that no delete will undo).
	refs int64
	// users is the number of znodes whose ACL is this entry's slice.
	// Invariant: the entry is in bySlice exactly while users > 0 (the open
	// entry always is).
	users int
	// cached reports membership in the cache (byID/byKey), i.e. in snapshots.
	cached bool
}

// aclCache is ReferenceCountedACLCache: ids from 1 upwards for distinct ACL
// lists, -1 for the open ACL of a null list.
type aclCache struct {
	byKey map[string]*aclEntry
	byID  map[int64]*aclEntry
	// bySlice finds the entry of a znode's ACL slice.
	bySlice map[*proto.ACL]*aclEntry
	// dangling holds entries for ids that snapshot znodes name but the
	// snapshot's cache lacks (fuzzy snapshots); their lists are empty.
	dangling map[int64]*aclEntry
	// index is the highest id handed out or loaded (aclIndex).
	index int64
	open  *aclEntry
	enc   jute.Encoder
}

func newACLCache() aclCache {
	open := &aclEntry{id: openACLID, acl: append(make([]proto.ACL, 0, 1), proto.OpenACLUnsafe...)}
	c := aclCache{
		byKey:    make(map[string]*aclEntry),
		byID:     make(map[int64]*aclEntry),
		bySlice:  make(map[*proto.ACL]*aclEntry),
		dangling: make(map[int64]*aclEntry),
		open:     open,
	}
	c.bySlice[first(open.acl)] = open
	return c
}

// first is the address identifying an interned slice.
func first(acl []proto.ACL) *proto.ACL { return &acl[:1][0] }

// intern is convertAcls: the entry for acl, created with the next id if new,
// with one more reference. A nil list is the open ACL (-1), never counted.
func (c *aclCache) intern(acl []proto.ACL) *aclEntry {
	if acl == nil {
		return c.open
	}
	c.enc.Reset()
	proto.EncodeACLs(&c.enc, acl)
	e := c.byKey[string(c.enc.Bytes())]
	if e == nil {
		c.index++
		own := make([]proto.ACL, len(acl), max(len(acl), 1))
		copy(own, acl)
		e = &aclEntry{id: c.index, acl: own, key: string(c.enc.Bytes()), cached: true}
		c.byKey[e.key] = e
		c.byID[e.id] = e
	}
	e.refs++
	return e
}

// load adds an entry read from a snapshot, with no references yet. Ids must
// be distinct; a list loaded twice is found under its later id.
func (c *aclCache) load(id int64, acl []proto.ACL) {
	c.enc.Reset()
	proto.EncodeACLs(&c.enc, acl)
	own := make([]proto.ACL, len(acl), max(len(acl), 1))
	copy(own, acl)
	e := &aclEntry{id: id, acl: own, key: string(c.enc.Bytes()), cached: true}
	c.byID[id] = e
	c.byKey[e.key] = e
	if id > c.index {
		c.index = id
	}
}

// addUsage counts one more use of id, if the cache holds it.
func (c *aclCache) addUsage(id int64) {
	if e := c.byID[id]; e != nil {
		e.refs++
	}
}

// removeUsage is ReferenceCountedACLCache.removeUsage: one use fewer of id;
// at zero the entry leaves the cache.
func (c *aclCache) removeUsage(id int64) {
	e := c.byID[id]
	if e == nil {
		return
	}
	e.refs--
	if e.refs <= 0 {
		c.evict(e)
	}
}

func (c *aclCache) evict(e *aclEntry) {
	delete(c.byID, e.id)
	// ZooKeeper removes the list's key whichever id it maps to.
	delete(c.byKey, e.key)
	e.cached = false
}

// purgeUnused drops entries no znode counted, as after loading a snapshot.
func (c *aclCache) purgeUnused() {
	for _, e := range c.byID {
		if e.refs <= 0 {
			c.evict(e)
		}
	}
}

// entryOf returns the entry of n's ACL.
func (c *aclCache) entryOf(n *Node) *aclEntry { return c.bySlice[first(n.ACL)] }

// attach makes e n's ACL (without touching reference counts).
func (c *aclCache) attach(n *Node, e *aclEntry) {
	if n.ACL != nil {
		c.detach(n)
	}
	n.ACL = e.acl
	e.users++
	if e.users == 1 && e != c.open {
		c.bySlice[first(e.acl)] = e
	}
}

// detach drops n's use of its entry (without touching reference counts).
func (c *aclCache) detach(n *Node) {
	e := c.entryOf(n)
	n.ACL = nil
	if e == nil || e == c.open {
		return
	}
	e.users--
	if e.users == 0 {
		delete(c.bySlice, first(e.acl))
		if c.dangling[e.id] == e {
			delete(c.dangling, e.id)
		}
	}
}

// danglingEntry is the placeholder for an id a snapshot znode names but the
// snapshot's cache lacks. ZooKeeper keeps the id; a later create of the same
// path replaces it (DataTree.createNode's fix for fuzzy snapshots).
func (c *aclCache) danglingEntry(id int64) *aclEntry {
	e := c.dangling[id]
	if e == nil {
		e = &aclEntry{id: id, acl: make([]proto.ACL, 0, 1)}
		c.dangling[id] = e
	}
	return e
}

// cachedIDs lists the ids a snapshot's ACL section holds.
func (c *aclCache) cachedIDs() []int64 {
	ids := make([]int64, 0, len(c.byID))
	for id := range c.byID {
		ids = append(ids, id)
	}
	return ids
}
