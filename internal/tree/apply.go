package tree

import (
	"strings"

	"github.com/zkd/zkd/internal/proto"
	"github.com/zkd/zkd/internal/txn"
)

// Result is what applying one txn did.
type Result struct {
	// Type is the txn type applied; sub-results of a failed multi are all
	// OpError, as in ZooKeeper's multi response.
	Type proto.OpCode
	// Err is OK or the error applying the txn (NodeExists, NoNode... when
	// replaying over a fuzzy snapshot); for an error txn its code; for a
	// multi the first non-OK sub-result's code.
	Err proto.Code
	// Path is the txn's path (the created path for creates, sequence suffix
	// included); empty for session, error and multi txns.
	Path string
	// Stat is the client Stat of the created, changed or re-ACLed znode right
	// after this txn (or sub-txn); nil for other txns and on error.
	Stat *proto.Stat
	// Multi holds one result per sub-txn of a multi.
	Multi []Result
	// Events are the watch triggers the txn caused, in ZooKeeper's order
	// (for a multi, all of them, in sub-txn order; sub-results carry none).
	Events []Event
}

// Event is one watch trigger.
type Event struct {
	Type proto.EventType
	// Path is the znode the event is about; the root is "/".
	Path string
	// ACL is that znode's ACL when the event fired (for NodeDeleted, the ACL
	// it had): ZooKeeper 3.9.2+ delivers an event only to watchers allowed
	// to READ it.
	ACL []proto.ACL
}

// Apply applies tx and advances LastZxid to its zxid (if higher). It never
// fails as a whole: errors are reported in the Result, as DataTree.processTxn
// reports them. Apply keeps tx's data slices (they must not be modified
// afterwards); ACL lists are copied when first seen.
func (t *Tree) Apply(tx *txn.Txn) Result {
	var events []Event
	r := t.applyOne(&tx.Header, tx.Header.Type, tx.Body, &events)
	r.Events = events
	if tx.Header.Zxid > t.lastZxid {
		t.lastZxid = tx.Header.Zxid
	}
	return r
}

func (t *Tree) applyOne(h *txn.Header, typ proto.OpCode, body txn.Body, events *[]Event) Result {
	r := Result{Type: typ}
	switch typ {
	case proto.OpCreate, proto.OpCreate2:
		b, ok := body.(*txn.Create)
		if !ok {
			return badBody(r)
		}
		var owner int64
		if b.Ephemeral {
			owner = h.ClientID
		}
		r.Path = b.Path
		r.Stat, r.Err = t.createNode(b.Path, b.Data, b.ACL, owner, b.ParentCVersion, h.Zxid, h.Time, events)
		// A create replayed over a fuzzy snapshot that already holds the znode
		// still raises the parent's cversion and pzxid (DataTree.processTxn,
		// for the create opcode only).
		if typ == proto.OpCreate && r.Err == proto.ErrNodeExists {
			if code := t.setCversionPzxid(ParentOf(b.Path), b.ParentCVersion, h.Zxid); code != proto.OK {
				r.Err = code
			}
		}
	case proto.OpCreateTTL:
		b, ok := body.(*txn.CreateTTL)
		if !ok {
			return badBody(r)
		}
		r.Path = b.Path
		owner, ok := TTLOwner(b.TTL)
		if !ok {
			// ZooKeeper throws IllegalArgumentException here; its prep step
			// never lets such a txn through.
			r.Err = proto.ErrBadArguments
			return r
		}
		r.Stat, r.Err = t.createNode(b.Path, b.Data, b.ACL, owner, b.ParentCVersion, h.Zxid, h.Time, events)
	case proto.OpCreateContainer:
		b, ok := body.(*txn.CreateContainer)
		if !ok {
			return badBody(r)
		}
		r.Path = b.Path
		r.Stat, r.Err = t.createNode(b.Path, b.Data, b.ACL, ContainerOwner, b.ParentCVersion, h.Zxid, h.Time, events)
	case proto.OpDelete, proto.OpDeleteContainer:
		b, ok := body.(*txn.Delete)
		if !ok {
			return badBody(r)
		}
		r.Path = b.Path
		r.Err = t.deleteNode(b.Path, h.Zxid, events)
	case proto.OpSetData, proto.OpReconfig:
		b, ok := body.(*txn.SetData)
		if !ok {
			return badBody(r)
		}
		r.Path = b.Path
		r.Stat, r.Err = t.setData(b.Path, b.Data, b.Version, h.Zxid, h.Time, events)
	case proto.OpSetACL:
		b, ok := body.(*txn.SetACL)
		if !ok {
			return badBody(r)
		}
		r.Path = b.Path
		r.Stat, r.Err = t.setACL(b.Path, b.ACL, b.Version)
	case proto.OpCloseSession:
		var paths []string
		hasPaths := false
		if b, ok := body.(*txn.CloseSession); ok && b.HasPaths {
			paths, hasPaths = b.Paths, true
		}
		t.killSession(h.ClientID, h.Zxid, paths, hasPaths, events)
	case proto.OpError:
		b, ok := body.(*txn.Error)
		if !ok {
			return badBody(r)
		}
		r.Err = b.Err
	case proto.OpCheck:
		if b, ok := body.(*txn.CheckVersion); ok {
			r.Path = b.Path
		}
	case proto.OpMulti:
		b, ok := body.(*txn.Multi)
		if !ok {
			return badBody(r)
		}
		t.applyMulti(h, b, &r, events)
	}
	// createSession and unknown types change nothing.
	return r
}

func badBody(r Result) Result {
	r.Err = proto.ErrMarshallingError
	return r
}

// applyMulti applies a multi's sub-txns in order. If any sub-txn is an error
// txn the multi failed when it was prepared: nothing is applied, and the
// results say OK before the first error, the recorded codes at errors, and
// RuntimeInconsistency after it.
func (t *Tree) applyMulti(h *txn.Header, m *txn.Multi, r *Result, events *[]Event) {
	failed := false
	for _, op := range m.Ops {
		if op.Type == proto.OpError {
			failed = true
			break
		}
	}
	afterError := false
	r.Multi = make([]Result, 0, len(m.Ops))
	for _, op := range m.Ops {
		switch op.Type {
		case proto.OpCreate, proto.OpCreate2, proto.OpCreateTTL, proto.OpCreateContainer,
			proto.OpDelete, proto.OpDeleteContainer, proto.OpSetData, proto.OpCheck:
		case proto.OpError:
			afterError = true
		default:
			// ZooKeeper stops at a sub-txn type multi cannot hold ("Invalid
			// type of op"), keeping what it already applied.
			return
		}
		var sub Result
		if failed && op.Type != proto.OpError {
			sub = Result{Type: proto.OpError}
			if afterError {
				sub.Err = proto.ErrRuntimeInconsistency
			}
		} else {
			sub = t.applyOne(h, op.Type, op.Body, events)
		}
		r.Multi = append(r.Multi, sub)
		if sub.Err != proto.OK && r.Err == proto.OK {
			r.Err = sub.Err
		}
	}
}

// ParentOf is the parent path as ZooKeeper cuts it: everything before the
// last '/' ("" for children of the root, which Get also takes as the root).
func ParentOf(path string) string {
	i := strings.LastIndexByte(path, '/')
	if i < 0 {
		return ""
	}
	return path[:i]
}

// parentNode finds the parent of a znode being created or deleted. The root
// is the parent "" only: "/" as a parent path would come from a path like
// "//x", which names no znode (ZooKeeper's prep step refuses it).
func (t *Tree) parentNode(parentPath string) *Node {
	if parentPath == "/" {
		return nil
	}
	return t.Get(parentPath)
}

// eventPath is how ZooKeeper names a parent in NodeChildrenChanged: the root
// as "/".
func eventPath(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

func (t *Tree) createNode(path string, data []byte, acl []proto.ACL, owner int64, parentCVersion int32,
	zxid, time int64, events *[]Event) (*proto.Stat, proto.Code) {
	slash := strings.LastIndexByte(path, '/')
	if slash < 0 {
		return nil, proto.ErrNoNode
	}
	parentPath, name := path[:slash], path[slash+1:]
	parent := t.parentNode(parentPath)
	if parent == nil {
		return nil, proto.ErrNoNode
	}
	entry := t.acls.intern(acl)
	if existing := parent.child(name); existing != nil {
		// ZooKeeper gives the existing znode the txn's ACL (fuzzy snapshots
		// may hold it with an ACL id their cache lacks).
		t.acls.attach(existing, entry)
		return nil, proto.ErrNodeExists
	}

	t.digest -= int64(parent.digest)
	if parentCVersion == -1 {
		parentCVersion = parent.Stat.Cversion + 1
	}
	// Replays may meet a parent that already has a higher cversion.
	if parentCVersion > parent.Stat.Cversion {
		parent.Stat.Cversion = parentCVersion
		parent.Stat.Pzxid = zxid
	}
	child := &Node{
		Data: data,
		Stat: proto.StatPersisted{
			Czxid: zxid, Mzxid: zxid, Pzxid: zxid,
			Ctime: time, Mtime: time,
			EphemeralOwner: owner,
		},
	}
	t.acls.attach(child, entry)
	parent.addChild(name, child)
	parent.digest = t.nodeDigest(parentPath, parent)
	t.digest += int64(parent.digest)

	t.dataSize += javaLength(path) + int64(len(data))
	child.digest = t.nodeDigest(path, child)
	t.digest += int64(child.digest)
	t.nodes++
	t.track(path, owner)
	stat := child.ClientStat()
	t.quotaCreated(parentPath, name, path, len(data))
	*events = append(*events,
		Event{Type: proto.EventNodeCreated, Path: path, ACL: child.ACL},
		Event{Type: proto.EventNodeChildrenChanged, Path: eventPath(parentPath), ACL: parent.ACL})
	return &stat, proto.OK
}

func (t *Tree) deleteNode(path string, zxid int64, events *[]Event) proto.Code {
	slash := strings.LastIndexByte(path, '/')
	if slash < 0 {
		return proto.ErrNoNode
	}
	parentPath, name := path[:slash], path[slash+1:]
	parent := t.parentNode(parentPath)
	if parent == nil {
		return proto.ErrNoNode
	}
	// The parent's pzxid moves even when the child is already gone (a
	// fuzzy snapshot may have missed it), but never backwards.
	t.digest -= int64(parent.digest)
	child := parent.removeChild(name)
	if zxid > parent.Stat.Pzxid {
		parent.Stat.Pzxid = zxid
	}
	parent.digest = t.nodeDigest(parentPath, parent)
	t.digest += int64(parent.digest)
	if child == nil {
		return proto.ErrNoNode
	}
	acl := child.ACL
	t.forget(path, child)
	t.quotaDeleted(parentPath, name, path, len(child.Data))
	*events = append(*events,
		Event{Type: proto.EventNodeDeleted, Path: path, ACL: acl},
		Event{Type: proto.EventNodeChildrenChanged, Path: eventPath(parentPath), ACL: parent.ACL})
	return proto.OK
}

// forget drops the bookkeeping of a znode already unlinked from its parent.
// ZooKeeper's prep step never deletes a znode with children; if a txn does,
// its descendants go with it, without events.
// track adds a znode to the container, TTL or per-session ephemeral set its
// owner puts it in (forget takes it out again).
func (t *Tree) track(path string, owner int64) {
	switch OwnerKind(owner) {
	case Container:
		t.containers[path] = struct{}{}
	case TTL:
		t.ttls[path] = struct{}{}
	case Ephemeral:
		set := t.ephemerals[owner]
		if set == nil {
			set = make(map[string]struct{})
			t.ephemerals[owner] = set
		}
		set[path] = struct{}{}
	}
}

func (t *Tree) forget(path string, n *Node) {
	if ks := n.kids; ks != nil {
		ks.each(func(k *Node) { t.forget(path+"/"+string(ks.nameOf(k)), k) })
	}
	t.digest -= int64(n.digest)
	t.nodes--
	t.dataSize -= javaLength(path) + int64(len(n.Data))
	if e := t.acls.entryOf(n); e != nil {
		t.acls.removeUsage(e.id)
	}
	t.acls.detach(n)
	switch owner := n.Stat.EphemeralOwner; OwnerKind(owner) {
	case Container:
		delete(t.containers, path)
	case TTL:
		delete(t.ttls, path)
	case Ephemeral:
		if set := t.ephemerals[owner]; set != nil {
			delete(set, path)
		}
	}
}

func (t *Tree) setData(path string, data []byte, version int32, zxid, time int64, events *[]Event) (*proto.Stat, proto.Code) {
	n := t.Get(path)
	if n == nil {
		return nil, proto.ErrNoNode
	}
	oldLen := len(n.Data)
	n.Data = data
	n.Stat.Mtime = time
	n.Stat.Mzxid = zxid
	n.Stat.Version = version
	t.redigest(path, n)
	stat := n.ClientStat()
	if prefix := t.maxQuotaPrefix(path); prefix != "" {
		t.addQuotaStat(prefix, int64(len(data)-oldLen), 0)
	}
	t.dataSize += int64(len(data) - oldLen)
	*events = append(*events, Event{Type: proto.EventNodeDataChanged, Path: eventPath(path), ACL: n.ACL})
	return &stat, proto.OK
}

func (t *Tree) setACL(path string, acl []proto.ACL, version int32) (*proto.Stat, proto.Code) {
	n := t.Get(path)
	if n == nil {
		return nil, proto.ErrNoNode
	}
	// The old list's use is dropped before the new one is interned, so
	// re-setting a list only this znode uses gives it a fresh id.
	if e := t.acls.entryOf(n); e != nil {
		t.acls.removeUsage(e.id)
	}
	n.Stat.Aversion = version
	t.acls.attach(n, t.acls.intern(acl))
	t.redigest(path, n)
	stat := n.ClientStat()
	return &stat, proto.OK
}

// setCversionPzxid raises path's stored cversion (and sets its pzxid) when
// cversion (-1: current+1) is higher than the current one.
func (t *Tree) setCversionPzxid(path string, cversion int32, zxid int64) proto.Code {
	path = strings.TrimSuffix(path, "/")
	n := t.Get(path)
	if n == nil {
		return proto.ErrNoNode
	}
	if cversion == -1 {
		cversion = n.Stat.Cversion + 1
	}
	if cversion > n.Stat.Cversion {
		n.Stat.Cversion = cversion
		n.Stat.Pzxid = zxid
		t.redigest(path, n)
	}
	return proto.OK
}

// killSession deletes a closed session's ephemerals: first the paths the
// txn lists (any owner; missing ones are skipped), then any the tree still
// knows for the session, in path order.
func (t *Tree) killSession(session, zxid int64, paths []string, hasPaths bool, events *[]Event) {
	local := t.ephemerals[session]
	delete(t.ephemerals, session)
	if hasPaths {
		for _, p := range paths {
			t.deleteNode(p, zxid, events)
		}
		for _, p := range paths {
			delete(local, p)
		}
	}
	for _, p := range sortedKeys(local) {
		t.deleteNode(p, zxid, events)
	}
}
