package tree

import (
	"math"
	"sort"
	"strings"

	"github.com/zkd/zkd/internal/proto"
)

// Paths of the znodes every tree has.
const (
	zookeeperPath = "/zookeeper"
	quotaPath     = "/zookeeper/quota"
	configPath    = "/zookeeper/config"
)

// ContainerOwner is the stored ephemeralOwner of a container znode
// (Long.MIN_VALUE in ZooKeeper).
const ContainerOwner int64 = math.MinInt64

// MaxTTL is the largest TTL in milliseconds a TTL znode can carry (40 bits).
const MaxTTL int64 = 1<<40 - 1

const (
	extendedMask = 0xff00000000000000 // high byte set: an extended ephemeralOwner
	featureMask  = 0x00ffff0000000000 // extended feature number; 0 is TTL
)

// Kind is what a stored ephemeralOwner says a znode is (ZooKeeper's EphemeralType).
type Kind uint8

// Znode kinds.
const (
	Persistent Kind = iota // ephemeralOwner 0
	Ephemeral              // a session id
	Container              // ContainerOwner
	TTL                    // 0xFF0000 + 40-bit TTL
)

// OwnerKind classifies a stored ephemeralOwner. It assumes
// zookeeper.extendedTypesEnabled=true, the only setting under which TTL znodes
// can be created; an extended owner with an unknown feature number counts as
// an ordinary ephemeral owner.
func OwnerKind(owner int64) Kind {
	switch {
	case owner == 0:
		return Persistent
	case owner == ContainerOwner:
		return Container
	case uint64(owner)&extendedMask == extendedMask && uint64(owner)&featureMask == 0:
		return TTL
	}
	return Ephemeral
}

// TTLOwner encodes a TTL in milliseconds as a stored ephemeralOwner; ok is
// false when ttl is outside 1..MaxTTL (ZooKeeper refuses those).
func TTLOwner(ttl int64) (owner int64, ok bool) {
	if ttl <= 0 || ttl > MaxTTL {
		return 0, false
	}
	return int64(uint64(extendedMask) | uint64(ttl)), true
}

// OwnerTTL is the TTL in milliseconds of a TTL znode's stored ephemeralOwner.
func OwnerTTL(owner int64) int64 { return owner & MaxTTL }

// Node is one znode. Callers must treat it as read-only. Apply changes a
// Node's fields in place, so read them under the same lock as Apply; but the
// tree never writes into a Data or ACL slice (it replaces them), so slices
// taken under the lock stay valid and unchanged afterwards.
//
// A Node is 128 bytes, a size class of its own: the exported fields take
// 112, and the rest is kept to a pointer and two 32-bit words. Its name is
// stored once, in its parent's childSet.
type Node struct {
	Data []byte
	ACL  []proto.ACL // the resolved ACL list; interned, so equal lists share one slice
	Stat proto.StatPersisted

	kids   *childSet // nil until the znode first gets a child
	name   uint32    // offset of the name in the parent's name arena
	digest uint32    // this znode's digest term; 0 under /zookeeper/
}

// NumChildren is the number of children of n.
func (n *Node) NumChildren() int {
	if n.kids == nil {
		return 0
	}
	return n.kids.count()
}

// ClientStat is the Stat a client sees for n: cversion counts creates and
// deletes (stored creates*2 - current children), container and TTL owners
// show as 0, and dataLength and numChildren are filled in.
func (n *Node) ClientStat() proto.Stat {
	nc := int32(n.NumChildren())
	owner := n.Stat.EphemeralOwner
	if OwnerKind(owner) != Ephemeral {
		owner = 0
	}
	return proto.Stat{
		Czxid:          n.Stat.Czxid,
		Mzxid:          n.Stat.Mzxid,
		Ctime:          n.Stat.Ctime,
		Mtime:          n.Stat.Mtime,
		Version:        n.Stat.Version,
		Cversion:       n.Stat.Cversion*2 - nc,
		Aversion:       n.Stat.Aversion,
		EphemeralOwner: owner,
		DataLength:     int32(len(n.Data)),
		NumChildren:    nc,
		Pzxid:          n.Stat.Pzxid,
	}
}

// ClientStat is n.ClientStat().
func ClientStat(n *Node) proto.Stat { return n.ClientStat() }

// Tree is ZooKeeper's data tree. The zero value is not usable; see New and
// Deserialize.
type Tree struct {
	root *Node
	// nodes counts znodes, the root included.
	nodes int
	// dataSize is ZooKeeper's cached approximate data size: UTF-16 path
	// lengths plus data lengths, with the root counted under both "" and "/",
	// kept up to date by creates, deletes and setData only (quota stat
	// rewrites are not counted, as in ZooKeeper).
	dataSize int64
	// digest is the sum of every znode's digest term.
	// Invariant: digest == sum of n.digest over all znodes.
	digest   int64
	lastZxid int64
	acls     aclCache
	// ephemerals holds each session's ephemeral paths. A session keeps its
	// (possibly empty) set until its closeSession, as in ZooKeeper.
	ephemerals map[int64]map[string]struct{}
	containers map[string]struct{}
	ttls       map[string]struct{}
	// quotas holds the paths (normalized) that have a zookeeper_limits node.
	quotas map[string]struct{}
	// scratch is reused by digest computation.
	scratch []byte
}

func newEmpty() *Tree {
	return &Tree{
		acls:       newACLCache(),
		ephemerals: make(map[int64]map[string]struct{}),
		containers: make(map[string]struct{}),
		ttls:       make(map[string]struct{}),
		quotas:     make(map[string]struct{}),
	}
}

// New returns the tree of a fresh Apache ZooKeeper server: the root (data
// empty, open ACL), /zookeeper, /zookeeper/quota and /zookeeper/config, all
// with zero stats, except that /zookeeper/config has a read-only world ACL
// and aversion -1.
func New() *Tree {
	t := newEmpty()
	mk := func() *Node {
		n := &Node{Data: []byte{}}
		t.acls.attach(n, t.acls.open)
		return n
	}
	t.root = mk()
	zk := mk()
	quota := mk()
	config := mk()
	t.root.addChild(zookeeperPath[1:], zk)
	zk.addChild(quotaPath[len(zookeeperPath)+1:], quota)
	zk.addChild(configPath[len(zookeeperPath)+1:], config)
	// ZooKeeper sets this ACL with DataTree.setACL(..., -1) (ZOOKEEPER-2014).
	t.acls.attach(config, t.acls.intern(proto.ReadACLUnsafe))
	config.Stat.Aversion = -1
	t.nodes = 4
	t.recomputeDataSize()
	t.digest = 0
	t.Walk("/", func(p string, n *Node) bool {
		n.digest = t.nodeDigest(p, n)
		t.digest += int64(n.digest)
		return true
	})
	return t
}

// Get returns the znode at path, or nil. "/" and "" both name the root.
// Cost is one child-index lookup per path component; it never allocates.
func (t *Tree) Get(path string) *Node {
	if path == "" || path == "/" {
		return t.root
	}
	if path[0] != '/' {
		return nil
	}
	n := t.root
	rest := path[1:]
	for {
		i := strings.IndexByte(rest, '/')
		name := rest
		if i >= 0 {
			name = rest[:i]
		}
		if n.kids == nil {
			return nil
		}
		n = n.kids.get(name)
		if n == nil || i < 0 {
			return n
		}
		rest = rest[i+1:]
	}
}

// Children returns the names of path's children, sorted; nil if path does
// not exist, empty (not nil) if it has none.
func (t *Tree) Children(path string) []string {
	n := t.Get(path)
	if n == nil {
		return nil
	}
	if n.kids == nil {
		return []string{}
	}
	return n.kids.sortedNames()
}

// NumChildren is n.NumChildren().
func (t *Tree) NumChildren(n *Node) int { return n.NumChildren() }

// LastZxid is the highest zxid applied (every txn counts, error and session
// txns included), or what SetLastZxid set.
func (t *Tree) LastZxid() int64 { return t.lastZxid }

// SetLastZxid sets the last applied zxid, as after loading a snapshot whose
// name carries it.
func (t *Tree) SetLastZxid(z int64) { t.lastZxid = z }

// NodeCount is what ZooKeeper reports as zk_znode_count and srvr's "Node
// count": every znode, with the root counted twice (ZooKeeper's node map holds
// it under both "" and "/"). A fresh tree reports 5.
func (t *Tree) NodeCount() int { return t.nodes + 1 }

// ApproximateDataSize is zk_approximate_data_size: ZooKeeper's cached sum of
// path lengths (UTF-16 units) and data lengths.
func (t *Tree) ApproximateDataSize() int64 { return t.dataSize }

// Digest is the tree digest (version 2): the sum of every znode's digest term.
func (t *Tree) Digest() int64 { return t.digest }

// Ephemerals returns session's ephemeral paths, sorted.
func (t *Tree) Ephemerals(session int64) []string {
	return sortedKeys(t.ephemerals[session])
}

// EphemeralSessions maps every session that has had an ephemeral since it
// was created (or since the snapshot was loaded) to its number of
// ephemerals, which may be 0; this is the session list of the dump 4lw.
func (t *Tree) EphemeralSessions() map[int64]int {
	out := make(map[int64]int, len(t.ephemerals))
	for s, set := range t.ephemerals {
		out[s] = len(set)
	}
	return out
}

// EphemeralCount is the number of ephemeral znodes (zk_ephemerals_count).
func (t *Tree) EphemeralCount() int {
	n := 0
	for _, set := range t.ephemerals {
		n += len(set)
	}
	return n
}

// Containers returns the container znodes ZooKeeper's ContainerManager
// would try to delete: no children now, and at least one child ever (stored
// cversion > 0). Sorted.
func (t *Tree) Containers() []string {
	var out []string
	for p := range t.containers {
		n := t.Get(p)
		if n != nil && n.Stat.Cversion > 0 && n.NumChildren() == 0 {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// ExpiredTTLs returns the TTL znodes ContainerManager would delete at wall
// time now (ms): no children and now - mtime > ttl. Sorted.
func (t *Tree) ExpiredTTLs(now int64) []string {
	var out []string
	for p := range t.ttls {
		n := t.Get(p)
		if n == nil || n.NumChildren() != 0 || OwnerKind(n.Stat.EphemeralOwner) != TTL {
			continue
		}
		ttl := OwnerTTL(n.Stat.EphemeralOwner)
		if ttl != 0 && now-n.Stat.Mtime > ttl {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// CountDescendants is getAllChildrenNumber: the number of znodes below path
// (for "/", every znode but the root); 0 if path does not exist.
func (t *Tree) CountDescendants(path string) int {
	if path == "/" {
		return t.nodes - 1
	}
	n := t.Get(path)
	if n == nil {
		return 0
	}
	return countBelow(n)
}

func countBelow(n *Node) int {
	if n.kids == nil {
		return 0
	}
	c := n.kids.count()
	n.kids.each(func(k *Node) { c += countBelow(k) })
	return c
}

// Walk visits path and its descendants in pre-order, children in name order,
// until fn returns false. The root's path is "/". fn must not change the
// tree.
func (t *Tree) Walk(path string, fn func(path string, n *Node) bool) {
	n := t.Get(path)
	if n == nil {
		return
	}
	if path == "" {
		path = "/"
	}
	walk(path, n, fn)
}

func walk(path string, n *Node, fn func(string, *Node) bool) bool {
	if !fn(path, n) {
		return false
	}
	if n.kids == nil || n.kids.count() == 0 {
		return true
	}
	prefix := path
	if prefix == "/" {
		prefix = ""
	}
	for _, k := range n.kids.sorted() {
		if !walk(prefix+"/"+string(k.name), k.node, fn) {
			return false
		}
	}
	return true
}

// addChild adds c under n as name, which n must not have yet.
func (n *Node) addChild(name string, c *Node) {
	if n.kids == nil {
		n.kids = newChildSet()
	}
	n.kids.add(name, c)
}

// child is n's child called name, or nil.
func (n *Node) child(name string) *Node {
	if n.kids == nil {
		return nil
	}
	return n.kids.get(name)
}

// removeChild removes name from n's children and returns it (nil if absent).
func (n *Node) removeChild(name string) *Node {
	if n.kids == nil {
		return nil
	}
	return n.kids.remove(name)
}

func sortedKeys(set map[string]struct{}) []string {
	if len(set) == 0 {
		return nil
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// recomputeDataSize sets dataSize as DataTree.approximateDataSize computes it
// from scratch: every node-map entry, so the root once as "" and once as "/".
func (t *Tree) recomputeDataSize() {
	var size int64
	t.Walk("/", func(p string, n *Node) bool {
		if n == t.root {
			size += int64(len(n.Data))*2 + 1
		} else {
			size += javaLength(p) + int64(len(n.Data))
		}
		return true
	})
	t.dataSize = size
}
