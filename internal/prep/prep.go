package prep

import (
	"fmt"
	"maps"
	"slices"

	"github.com/zkd/zkd/internal/acl"
	"github.com/zkd/zkd/internal/jute"
	"github.com/zkd/zkd/internal/proto"
	"github.com/zkd/zkd/internal/tree"
	"github.com/zkd/zkd/internal/txn"
)

// View is the tree as applied, which prep reads for every znode that no
// outstanding txn changes. The server's implementation takes its tree's read
// lock per call; prep never holds it across calls.
type View interface {
	// Node returns the znode at path; ok is false when it does not exist.
	Node(path string) (n Node, ok bool)
	// Ephemerals lists the session's ephemeral znodes.
	Ephemerals(session int64) []string
	// TreeDigest is the tree digest (tree.Tree.Digest), read only when no
	// outstanding txn changed a znode.
	TreeDigest() int64
}

// Node is what prep needs of a znode.
type Node struct {
	Stat        proto.StatPersisted
	NumChildren int
	ACL         []proto.ACL
	// Data is the znode's data (never written into), and Digest its digest
	// term (tree.NodeDigest), for the digest a txn carries.
	Data   []byte
	Digest uint32
}

// TreeView is a View over a tree that nothing else changes meanwhile.
type TreeView struct{ Tree *tree.Tree }

var _ View = TreeView{}

// Node implements View.
func (v TreeView) Node(path string) (Node, bool) {
	n := v.Tree.Get(path)
	if n == nil {
		return Node{}, false
	}
	return Node{Stat: n.Stat, NumChildren: n.NumChildren(), ACL: n.ACL, Data: n.Data, Digest: n.Digest()}, true
}

// Ephemerals implements View.
func (v TreeView) Ephemerals(session int64) []string { return v.Tree.Ephemerals(session) }

// TreeDigest implements View.
func (v TreeView) TreeDigest() int64 { return v.Tree.Digest() }

// Config is what prep needs of the server's configuration.
type Config struct {
	// MaxBuffer is jute.maxbuffer: larger data is a bad argument.
	MaxBuffer int
	// ExtendedTypes is zookeeper.extendedTypesEnabled (TTL znodes).
	ExtendedTypes bool
	// ReconfigEnabled is reconfigEnabled.
	ReconfigEnabled bool
	// Digest is zookeeper.digest.enabled: every txn but an error txn
	// carries the tree digest expected once it is applied (TxnDigest).
	Digest bool
}

// Request is a write as prep sees it.
type Request struct {
	Session int64
	Cxid    int32
	Op      proto.OpCode
	Body    jute.Record // nil for createSession and closeSession
	IDs     []proto.ID  // the connection's identities, for ACL checks
	Timeout int32       // createSession's negotiated timeout
	// SessionErr is what the session tracker's checkSession says of the
	// request's session (OK, SessionExpired or SessionMoved), computed by
	// the caller as the request is prepared. Prep raises it where
	// ZooKeeper calls checkSession: first in delete, setData, setACL and
	// check, after the mode and TTL checks of a create, in every op of a
	// multi; never for createSession, closeSession or deleteContainer.
	SessionErr proto.Code
}

// Prepared is the outcome of Prepare.
type Prepared struct {
	// Txn is the txn to propose: the request's, or an error txn (which
	// still takes its zxid and is logged, as in ZooKeeper).
	Txn *txn.Txn
	// Err is OK, or the code the error txn carries.
	Err proto.Code
	// MultiTypes are the types a multi's ops were prepared as (ZooKeeper
	// rebuilds create ops from their flags; see multiOp).
	MultiTypes []proto.OpCode
}

// change is a pending view of one znode: what it will be once the
// outstanding txns are applied (ZooKeeper's ChangeRecord).
type change struct {
	zxid       int64
	exists     bool
	stat       proto.StatPersisted
	childCount int
	acl        []proto.ACL
	// data and digest are the znode's data and digest term (0 when it will
	// not exist), the precalculated digest of ZooKeeper's ChangeRecord.
	data   []byte
	digest uint32
}

// pendingChange names one entry a prepared txn made in changes (session 0)
// or in ephemerals[session].
type pendingChange struct {
	zxid    int64
	path    string
	session int64
}

type ephemeralChange struct {
	zxid  int64
	added bool
}

// State holds the outstanding changes.
type State struct {
	cfg     Config
	changes map[string]*change
	// ephemerals records, per session, ephemeral znodes created (true) or
	// deleted (false) by outstanding txns, so that closeSession sees them.
	ephemerals map[int64]map[string]ephemeralChange
	// pending lists, in zxid order, what each prepared txn changed, so that
	// Applied forgets its changes without scanning the maps.
	// Invariant: zxids in pending never decrease.
	pending []pendingChange
	// digest is the tree digest once every outstanding change is applied,
	// valid while hasDigest: from the txn at digestZxid on, the last that
	// changed a znode, until the view shows it. Otherwise the view's
	// digest is the current one (PrepRequestProcessor.getCurrentTreeDigest).
	digest     int64
	digestZxid int64
	hasDigest  bool
	scratch    []byte // for digest terms

	// The request being prepared (valid during Prepare only).
	view View
	req  *Request
}

// New returns a State with nothing outstanding.
func New(cfg Config) *State {
	if cfg.MaxBuffer <= 0 {
		cfg.MaxBuffer = 0xfffff
	}
	s := &State{cfg: cfg}
	s.Reset()
	return s
}

// Reset forgets every outstanding change: the txns they came from will not
// be applied (a leader change discarded them).
func (s *State) Reset() {
	s.changes = map[string]*change{}
	s.ephemerals = map[int64]map[string]ephemeralChange{}
	s.pending = nil
	s.hasDigest = false
}

// Outstanding is the number of znode changes still outstanding.
func (s *State) Outstanding() int { return len(s.pending) }

// Applied forgets the changes made by txns up to zxid, which the view now
// shows (newer changes of the same paths stay). Calling it late is safe: a
// change kept past its apply says what the view says, or something newer.
func (s *State) Applied(zxid int64) {
	if s.hasDigest && s.digestZxid <= zxid {
		s.hasDigest = false
	}
	n := 0
	for ; n < len(s.pending) && s.pending[n].zxid <= zxid; n++ {
		pc := s.pending[n]
		if pc.session == 0 {
			if c, ok := s.changes[pc.path]; ok && c.zxid <= zxid {
				delete(s.changes, pc.path)
			}
			continue
		}
		if m := s.ephemerals[pc.session]; m != nil {
			if c, ok := m[pc.path]; ok && c.zxid <= zxid {
				delete(m, pc.path)
			}
			if len(m) == 0 {
				delete(s.ephemerals, pc.session)
			}
		}
	}
	clear(s.pending[:n])
	s.pending = s.pending[n:]
}

// Prepare turns a write request into the txn with the given zxid and time
// (milliseconds since the epoch), the way PrepRequestProcessor does.
// Zxids must increase from one call to the next.
func (s *State) Prepare(v View, r *Request, zxid, now int64) Prepared {
	if n := len(s.pending); n > 0 && s.pending[n-1].zxid >= zxid {
		panic(fmt.Sprintf("prep: zxid 0x%x prepared after 0x%x", uint64(zxid), uint64(s.pending[n-1].zxid)))
	}
	s.view, s.req = v, r
	defer func() { s.view, s.req = nil, nil }()
	t := &txn.Txn{Header: txn.Header{ClientID: r.Session, Cxid: r.Cxid, Zxid: zxid, Time: now, Type: r.Op}}
	out := Prepared{Txn: t}
	var err error
	switch r.Op {
	case proto.OpMulti:
		t.Body, out.MultiTypes, err = s.prepMulti(zxid, now)
	default:
		t.Body, err = s.prepOne(r.Op, r.Body, zxid, now, true)
	}
	if err != nil {
		code := proto.ErrMarshallingError
		if pe, ok := err.(prepError); ok {
			code = pe.code
		}
		out.Err = code
		t.Header.Type = proto.OpError
		t.Body = &txn.Error{Err: code}
	} else if s.cfg.Digest {
		// An error txn carries none; every other one the digest after it,
		// which for a txn that changes no znode (createSession, a failed
		// multi, a closeSession without ephemerals) is the current one.
		t.Digest = &txn.Digest{Version: txn.DigestVersion, TreeDigest: s.currentDigest()}
	}
	return out
}

// currentDigest is the tree digest once the outstanding txns are applied.
func (s *State) currentDigest() int64 {
	if s.hasDigest {
		return s.digest
	}
	return s.view.TreeDigest()
}

// prepError is a KeeperException raised while preparing.
type prepError struct{ code proto.Code }

func (e prepError) Error() string { return e.code.Error() }

func fail(c proto.Code) error { return prepError{c} }

// checkSession raises the request's SessionErr.
func (s *State) checkSession() error {
	if s.req.SessionErr != proto.OK {
		return fail(s.req.SessionErr)
	}
	return nil
}

// record returns the pending view of path, or nil when it will not exist.
func (s *State) record(path string) *change {
	if c, ok := s.changes[path]; ok {
		if !c.exists {
			return nil
		}
		return c
	}
	n, ok := s.view.Node(path)
	if !ok {
		return nil
	}
	return &change{exists: true, stat: n.Stat, childCount: n.NumChildren, acl: n.ACL, data: n.Data, digest: n.Digest}
}

// addChange records c as path's pending view; old is path's view before it
// (record's answer, nil when it does not exist). With digests on, the tree
// digest moves by c's digest term minus old's, as precalculateDigest's ADD,
// UPDATE and REMOVE do: one CRC over path, data and stat per change.
func (s *State) addChange(zxid int64, path string, c, old *change) {
	if s.cfg.Digest {
		var prev uint32
		if old != nil {
			prev = old.digest
		}
		c.digest = 0
		if c.exists {
			c.digest, s.scratch = tree.AppendNodeDigest(s.scratch, path, c.data, &c.stat)
		}
		s.digest = s.currentDigest() - int64(prev) + int64(c.digest)
		s.digestZxid, s.hasDigest = zxid, true
	}
	c.zxid = zxid
	s.changes[path] = c
	s.pending = append(s.pending, pendingChange{zxid: zxid, path: path})
}

func (s *State) pendingEphemeral(session int64, path string, added bool, zxid int64) {
	m := s.ephemerals[session]
	if m == nil {
		m = map[string]ephemeralChange{}
		s.ephemerals[session] = m
	}
	m[path] = ephemeralChange{zxid: zxid, added: added}
	s.pending = append(s.pending, pendingChange{zxid: zxid, path: path, session: session})
}

func checkVersion(current, expected int32) (int32, error) {
	if expected != -1 && expected != current {
		return 0, fail(proto.ErrBadVersion)
	}
	return current + 1, nil
}

// prepOne prepares one operation (top level or inside a multi).
func (s *State) prepOne(op proto.OpCode, body jute.Record, zxid, now int64, topLevel bool) (txn.Body, error) {
	ids := s.req.IDs
	switch op {
	case proto.OpCreate, proto.OpCreate2, proto.OpCreateContainer, proto.OpCreateTTL:
		return s.prepCreate(op, body, zxid, now)
	case proto.OpDelete, proto.OpDeleteContainer:
		if op == proto.OpDelete {
			if err := s.checkSession(); err != nil {
				return nil, err
			}
		}
		var path string
		version := int32(-1)
		switch b := body.(type) {
		case *proto.PathVersionRequest:
			path, version = b.Path, b.Version
		case *proto.PathRequest:
			path = b.Path
		default:
			return nil, fail(proto.ErrMarshallingError)
		}
		return s.prepDelete(op, path, version, zxid)
	case proto.OpSetData:
		if err := s.checkSession(); err != nil {
			return nil, err
		}
		b, ok := body.(*proto.SetDataRequest)
		if !ok {
			return nil, fail(proto.ErrMarshallingError)
		}
		if !ValidatePath(b.Path, false) {
			return nil, fail(proto.ErrBadArguments)
		}
		rec := s.record(b.Path)
		if rec == nil {
			return nil, fail(proto.ErrNoNode)
		}
		if !acl.Check(rec.acl, proto.PermWrite, ids) {
			return nil, fail(proto.ErrNoAuth)
		}
		if len(b.Data) > s.cfg.MaxBuffer {
			return nil, fail(proto.ErrBadArguments)
		}
		v, err := checkVersion(rec.stat.Version, b.Version)
		if err != nil {
			return nil, err
		}
		nc := *rec
		nc.stat.Version = v
		nc.stat.Mzxid = zxid
		nc.stat.Mtime = now
		nc.data = b.Data
		s.addChange(zxid, b.Path, &nc, rec)
		return &txn.SetData{Path: b.Path, Data: b.Data, Version: v}, nil
	case proto.OpSetACL:
		if err := s.checkSession(); err != nil {
			return nil, err
		}
		b, ok := body.(*proto.SetACLRequest)
		if !ok {
			return nil, fail(proto.ErrMarshallingError)
		}
		if !ValidatePath(b.Path, false) {
			return nil, fail(proto.ErrBadArguments)
		}
		acls, err := fixupACL(b.Path, ids, b.ACL)
		if err != nil {
			return nil, err
		}
		rec := s.record(b.Path)
		if rec == nil {
			return nil, fail(proto.ErrNoNode)
		}
		if !acl.Check(rec.acl, proto.PermAdmin, ids) {
			return nil, fail(proto.ErrNoAuth)
		}
		v, err := checkVersion(rec.stat.Aversion, b.Version)
		if err != nil {
			return nil, err
		}
		nc := *rec
		nc.stat.Aversion = v
		nc.acl = acls
		s.addChange(zxid, b.Path, &nc, rec)
		return &txn.SetACL{Path: b.Path, ACL: acls, Version: v}, nil
	case proto.OpCheck:
		if topLevel {
			return nil, fail(proto.ErrUnimplemented)
		}
		if err := s.checkSession(); err != nil {
			return nil, err
		}
		b, ok := body.(*proto.PathVersionRequest)
		if !ok {
			return nil, fail(proto.ErrMarshallingError)
		}
		if !ValidatePath(b.Path, false) {
			return nil, fail(proto.ErrBadArguments)
		}
		rec := s.record(b.Path)
		if rec == nil {
			return nil, fail(proto.ErrNoNode)
		}
		if !acl.Check(rec.acl, proto.PermRead, ids) {
			return nil, fail(proto.ErrNoAuth)
		}
		v, err := checkVersion(rec.stat.Version, b.Version)
		if err != nil {
			return nil, err
		}
		return &txn.CheckVersion{Path: b.Path, Version: v}, nil
	case proto.OpCreateSession:
		return &txn.CreateSession{TimeOut: s.req.Timeout}, nil
	case proto.OpCloseSession:
		return s.prepCloseSession(zxid), nil
	case proto.OpReconfig:
		if !s.cfg.ReconfigEnabled {
			return nil, fail(proto.ErrReconfigDisabled)
		}
		if err := s.checkSession(); err != nil {
			return nil, err
		}
		// Dynamic reconfiguration is not supported yet.
		return nil, fail(proto.ErrUnimplemented)
	}
	return nil, fail(proto.ErrUnimplemented)
}

func (s *State) prepCreate(op proto.OpCode, body jute.Record, zxid, now int64) (txn.Body, error) {
	var (
		path  string
		data  []byte
		acls  []proto.ACL
		flags int32
		ttl   int64 = -1
	)
	switch b := body.(type) {
	case *proto.CreateRequest:
		path, data, acls, flags = b.Path, b.Data, b.ACL, b.Flags
	case *proto.CreateTTLRequest:
		path, data, acls, flags, ttl = b.Path, b.Data, b.ACL, b.Flags, b.TTL
	default:
		return nil, fail(proto.ErrMarshallingError)
	}
	if flags < proto.ModePersistent || flags > proto.ModePersistentSequentialWithTTL {
		return nil, fail(proto.ErrBadArguments)
	}
	isTTL := flags == proto.ModePersistentWithTTL || flags == proto.ModePersistentSequentialWithTTL
	sequential := flags == proto.ModePersistentSequential || flags == proto.ModeEphemeralSequential ||
		flags == proto.ModePersistentSequentialWithTTL
	ephemeral := flags == proto.ModeEphemeral || flags == proto.ModeEphemeralSequential
	container := flags == proto.ModeContainer
	// validateCreateRequest: TTL modes need extended types.
	if isTTL && !s.cfg.ExtendedTypes {
		return nil, fail(proto.ErrUnimplemented)
	}
	// EphemeralType.validateTTL: a TTL mode needs a ttl in range, any other
	// mode must not carry one. The opcode only picks the txn type below, as
	// in ZooKeeper: createContainer with flags 0 makes a container, create
	// with the container flag a plain persistent node.
	ttlOwner := int64(0)
	if isTTL {
		var ok bool
		if ttlOwner, ok = tree.TTLOwner(ttl); !ok {
			return nil, fail(proto.ErrBadArguments)
		}
	} else if ttl >= 0 {
		return nil, fail(proto.ErrBadArguments)
	}
	if err := s.checkSession(); err != nil {
		return nil, err
	}
	// "/" itself passes: its parent is the root, and it fails as NodeExists.
	if !ValidatePath(path, sequential) {
		return nil, fail(proto.ErrBadArguments)
	}
	if len(data) > s.cfg.MaxBuffer {
		return nil, fail(proto.ErrBadArguments)
	}
	parentPath := parentOf(path)
	fixed, err := fixupACL(path, s.req.IDs, acls)
	if err != nil {
		return nil, err
	}
	parent := s.record(parentPath)
	if parent == nil {
		return nil, fail(proto.ErrNoNode)
	}
	if !acl.Check(parent.acl, proto.PermCreate, s.req.IDs) {
		return nil, fail(proto.ErrNoAuth)
	}
	parentCVersion := parent.stat.Cversion
	if sequential {
		path = fmt.Sprintf("%s%010d", path, parentCVersion)
	}
	if !ValidatePath(path, false) {
		return nil, fail(proto.ErrBadArguments)
	}
	if s.record(path) != nil {
		return nil, fail(proto.ErrNodeExists)
	}
	if tree.OwnerKind(parent.stat.EphemeralOwner) == tree.Ephemeral {
		return nil, fail(proto.ErrNoChildrenForEphemeral)
	}
	newCversion := parentCVersion + 1

	np := *parent
	np.childCount++
	np.stat.Cversion = newCversion
	np.stat.Pzxid = zxid
	s.addChange(zxid, parentPath, &np, parent)

	owner := int64(0)
	switch {
	case ephemeral:
		owner = s.req.Session
	case container:
		owner = tree.ContainerOwner
	case isTTL:
		owner = ttlOwner
	}
	s.addChange(zxid, path, &change{exists: true, acl: fixed, data: data, stat: proto.StatPersisted{
		Czxid: zxid, Mzxid: zxid, Pzxid: zxid, Ctime: now, Mtime: now, EphemeralOwner: owner,
	}}, nil)
	if ephemeral {
		s.pendingEphemeral(s.req.Session, path, true, zxid)
	}
	switch op {
	case proto.OpCreateContainer:
		return &txn.CreateContainer{Path: path, Data: data, ACL: fixed, ParentCVersion: newCversion}, nil
	case proto.OpCreateTTL:
		return &txn.CreateTTL{Path: path, Data: data, ACL: fixed, ParentCVersion: newCversion, TTL: ttl}, nil
	}
	return &txn.Create{Path: path, Data: data, ACL: fixed, Ephemeral: ephemeral, ParentCVersion: newCversion}, nil
}

func (s *State) prepDelete(op proto.OpCode, path string, version int32, zxid int64) (txn.Body, error) {
	if !ValidatePath(path, false) || isSpecialPath(path) {
		return nil, fail(proto.ErrBadArguments)
	}
	parentPath := parentOf(path)
	parent := s.record(parentPath)
	if parent == nil {
		return nil, fail(proto.ErrNoNode)
	}
	if op == proto.OpDelete && !acl.Check(parent.acl, proto.PermDelete, s.req.IDs) {
		return nil, fail(proto.ErrNoAuth)
	}
	node := s.record(path)
	if node == nil {
		return nil, fail(proto.ErrNoNode)
	}
	if _, err := checkVersion(node.stat.Version, version); err != nil {
		return nil, err
	}
	if node.childCount > 0 {
		return nil, fail(proto.ErrNotEmpty)
	}
	np := *parent
	np.childCount--
	np.stat.Pzxid = zxid
	s.addChange(zxid, parentPath, &np, parent)
	s.addChange(zxid, path, &change{exists: false}, node)
	if tree.OwnerKind(node.stat.EphemeralOwner) == tree.Ephemeral {
		s.pendingEphemeral(node.stat.EphemeralOwner, path, false, zxid)
	}
	return &txn.Delete{Path: path}, nil
}

// prepCloseSession lists the session's ephemerals as they will be once the
// outstanding txns are applied, and marks their deletion as outstanding.
func (s *State) prepCloseSession(zxid int64) txn.Body {
	session := s.req.Session
	paths := map[string]bool{}
	for _, p := range s.view.Ephemerals(session) {
		paths[p] = true
	}
	for p, c := range s.ephemerals[session] {
		if c.added {
			paths[p] = true
		} else {
			delete(paths, p)
		}
	}
	list := make([]string, 0, len(paths))
	for p := range paths {
		list = append(list, p)
	}
	slices.Sort(list)
	for _, p := range list {
		if parent := s.record(parentOf(p)); parent != nil {
			np := *parent
			np.childCount--
			np.stat.Pzxid = zxid
			s.addChange(zxid, parentOf(p), &np, parent)
		}
		s.addChange(zxid, p, &change{exists: false}, s.record(p))
		// Outstanding until applied: a second closeSession prepared
		// meanwhile (expiry racing the client's own close) must not list
		// the path again, since the tree still shows it (Apache's leaves
		// out every path an outstanding change deletes).
		s.pendingEphemeral(session, p, false, zxid)
	}
	return &txn.CloseSession{Paths: list, HasPaths: true}
}

// prepMulti prepares every op; the first failure turns the ops after it into
// RuntimeInconsistency errors and rolls back the changes of the ones before.
func (s *State) prepMulti(zxid, now int64) (txn.Body, []proto.OpCode, error) {
	mr, ok := s.req.Body.(*proto.MultiRequest)
	if !ok {
		return nil, nil, fail(proto.ErrMarshallingError)
	}
	types := make([]proto.OpCode, len(mr.Ops))
	bodies := make([]jute.Record, len(mr.Ops))
	for i := range mr.Ops {
		var err error
		if types[i], bodies[i], err = multiOp(&mr.Ops[i]); err != nil {
			return nil, nil, err
		}
	}
	saved := s.save()
	out := &txn.Multi{Ops: make([]txn.Op, 0, len(mr.Ops))}
	failed := false
	for i := range mr.Ops {
		if failed {
			out.Ops = append(out.Ops, txn.Op{Type: proto.OpError, Body: &txn.Error{Err: proto.ErrRuntimeInconsistency}})
			continue
		}
		b, err := s.prepOne(types[i], bodies[i], zxid, now, false)
		if err != nil {
			code := proto.ErrMarshallingError
			if pe, ok := err.(prepError); ok {
				code = pe.code
			}
			failed = true
			s.restore(saved)
			out.Ops = append(out.Ops, txn.Op{Type: proto.OpError, Body: &txn.Error{Err: code}})
			continue
		}
		out.Ops = append(out.Ops, txn.Op{Type: types[i], Body: b})
	}
	return out, types, nil
}

// multiOp gives the type and request a multi op is prepared as. ZooKeeper
// rebuilds create ops from their flags (Op.create): the container flag makes
// a createContainer, create2 becomes a plain create, a createTTL without a
// TTL mode a plain create; a plain create with a TTL mode cannot be
// rebuilt, which fails the whole request as MarshallingError.
func multiOp(op *proto.MultiOp) (proto.OpCode, jute.Record, error) {
	isTTL := func(f int32) bool {
		return f == proto.ModePersistentWithTTL || f == proto.ModePersistentSequentialWithTTL
	}
	switch {
	case op.Create != nil:
		switch {
		case op.Create.Flags == proto.ModeContainer:
			return proto.OpCreateContainer, op.Create, nil
		case isTTL(op.Create.Flags):
			return 0, nil, fail(proto.ErrMarshallingError)
		}
		return proto.OpCreate, op.Create, nil
	case op.CreateTTL != nil:
		c := op.CreateTTL
		if isTTL(c.Flags) {
			return proto.OpCreateTTL, c, nil
		}
		plain := &proto.CreateRequest{Path: c.Path, Data: c.Data, ACL: c.ACL, Flags: c.Flags}
		if c.Flags == proto.ModeContainer {
			return proto.OpCreateContainer, plain, nil
		}
		return proto.OpCreate, plain, nil
	case op.Version != nil:
		return op.Type, op.Version, nil
	case op.SetData != nil:
		return op.Type, op.SetData, nil
	}
	// Reads do not belong in a write multi.
	return 0, nil, fail(proto.ErrBadArguments)
}

// saved is the outstanding state before a multi, restored when one of its
// ops fails. pending is not restored: entries past the multi's start name
// paths whose changes the restore removed, which Applied skips.
type saved struct {
	changes    map[string]*change
	ephemerals map[int64]map[string]ephemeralChange
	digest     int64
	digestZxid int64
	hasDigest  bool
}

func (s *State) save() saved {
	sc := saved{changes: maps.Clone(s.changes), ephemerals: make(map[int64]map[string]ephemeralChange, len(s.ephemerals)),
		digest: s.digest, digestZxid: s.digestZxid, hasDigest: s.hasDigest}
	for sid, m := range s.ephemerals {
		sc.ephemerals[sid] = maps.Clone(m)
	}
	return sc
}

func (s *State) restore(sc saved) {
	s.changes = sc.changes
	s.ephemerals = sc.ephemerals
	s.digest, s.digestZxid, s.hasDigest = sc.digest, sc.digestZxid, sc.hasDigest
}

func fixupACL(path string, ids []proto.ID, acls []proto.ACL) ([]proto.ACL, error) {
	fixed, err := acl.FixupACL(path, ids, acls)
	if err != nil {
		if c, ok := err.(proto.Code); ok {
			return nil, fail(c)
		}
		return nil, fail(proto.ErrInvalidACL)
	}
	return fixed, nil
}
