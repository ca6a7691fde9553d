package server

import (
	"fmt"
	"math"
	"slices"

	"github.com/zkd/zkd/internal/acl"
	"github.com/zkd/zkd/internal/jute"
	"github.com/zkd/zkd/internal/proto"
	"github.com/zkd/zkd/internal/txn"
)

// Stored ephemeralOwner values with special meaning (EphemeralType).
const (
	ownerContainer = math.MinInt64 // 0x8000000000000000
	ttlOwnerMask   = int64(-1) << 56
	ttlOwnerPrefix = int64(-1) << 56 // high byte 0xFF, feature bits 0x0000
	maxTTL         = int64(0xFFFFFFFFFF)
)

func isContainerOwner(owner int64) bool { return owner == ownerContainer }
func isTTLOwner(owner int64) bool {
	return owner != ownerContainer && owner&ttlOwnerMask == ttlOwnerPrefix
}
func isEphemeralOwner(owner int64) bool {
	return owner != 0 && !isContainerOwner(owner) && !isTTLOwner(owner)
}

// change is a pending view of one znode: what it will be once the txns
// already prepared are applied (ZooKeeper's ChangeRecord).
type change struct {
	zxid       int64
	exists     bool
	stat       proto.StatPersisted
	childCount int
	acl        []proto.ACL
}

// prepState is the prep step's private state: the outstanding changes of
// prepared but not yet applied txns. Guarded by Server.prepMu.
type prepState struct {
	changes map[string]*change
	// ephemerals records, per session, ephemeral nodes created (true) or
	// deleted (false) by outstanding txns, so closeSession sees them.
	ephemerals map[int64]map[string]ephemeralChange
	// pending lists, in zxid order, what each prepared txn changed, so that
	// applying a txn forgets its changes without scanning the maps.
	pending []pendingChange
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

func newPrepState() prepState {
	return prepState{changes: map[string]*change{}, ephemerals: map[int64]map[string]ephemeralChange{}}
}

func (p *prepState) pendingEphemeral(session int64, path string, added bool, zxid int64) {
	m := p.ephemerals[session]
	if m == nil {
		m = map[string]ephemeralChange{}
		p.ephemerals[session] = m
	}
	m[path] = ephemeralChange{zxid: zxid, added: added}
	p.pending = append(p.pending, pendingChange{zxid: zxid, path: path, session: session})
}

// record returns the pending view of path, or nil when it will not exist.
// Caller holds prepMu; it takes dbMu for reading.
func (s *Server) record(path string) *change {
	if c, ok := s.prep.changes[path]; ok {
		if !c.exists {
			return nil
		}
		return c
	}
	s.dbMu.RLock()
	defer s.dbMu.RUnlock()
	n := s.tree.Get(path)
	if n == nil {
		return nil
	}
	return &change{exists: true, stat: n.Stat, childCount: n.NumChildren(), acl: n.ACL}
}

func (s *Server) addChange(zxid int64, path string, c *change) {
	c.zxid = zxid
	s.prep.changes[path] = c
	s.prep.pending = append(s.prep.pending, pendingChange{zxid: zxid, path: path})
}

// dropChanges forgets the outstanding changes made by the txn with zxid once
// it is applied (newer changes of the same paths stay).
func (s *Server) dropChanges(zxid int64) {
	s.prepMu.Lock()
	p := &s.prep
	n := 0
	for ; n < len(p.pending) && p.pending[n].zxid <= zxid; n++ {
		pc := p.pending[n]
		// A later txn may have changed the same path again: keep that.
		if pc.session == 0 {
			if c, ok := p.changes[pc.path]; ok && c.zxid <= zxid {
				delete(p.changes, pc.path)
			}
			continue
		}
		if m := p.ephemerals[pc.session]; m != nil {
			if c, ok := m[pc.path]; ok && c.zxid <= zxid {
				delete(m, pc.path)
			}
			if len(m) == 0 {
				delete(p.ephemerals, pc.session)
			}
		}
	}
	clear(p.pending[:n])
	p.pending = p.pending[n:]
	s.prepMu.Unlock()
}

// prepError is a KeeperException raised while preparing.
type prepError struct{ code proto.Code }

func (e prepError) Error() string { return e.code.Error() }

func fail(c proto.Code) error { return prepError{c} }

// isSpecialPath: the nodes every server keeps, which cannot be deleted
// (ZKDatabase.isSpecialPath).
func isSpecialPath(path string) bool {
	switch path {
	case "/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config":
		return true
	}
	return false
}

func checkVersion(current, expected int32) (int32, error) {
	if expected != -1 && expected != current {
		return 0, fail(proto.ErrBadVersion)
	}
	return current + 1, nil
}

// prepare turns a write request into a txn, the way PrepRequestProcessor does.
// Failures become error txns: they still take a zxid and are logged.
func (s *Server) prepare(r *request, zxid int64, now int64) *txn.Txn {
	t := &txn.Txn{Header: txn.Header{ClientID: r.session, Cxid: r.xid, Zxid: zxid, Time: now, Type: r.op}}
	var err error
	switch r.op {
	case proto.OpMulti:
		t.Body, err = s.prepMulti(r, zxid, now)
	default:
		t.Body, err = s.prepOne(r, r.op, r.body, zxid, now, true)
	}
	if err != nil {
		code := proto.ErrMarshallingError
		if pe, ok := err.(prepError); ok {
			code = pe.code
		}
		r.err = code
		t.Header.Type = proto.OpError
		t.Body = &txn.Error{Err: code}
	}
	return t
}

// prepOne prepares one operation (top level or inside a multi).
func (s *Server) prepOne(r *request, op proto.OpCode, body jute.Record, zxid, now int64, topLevel bool) (txn.Body, error) {
	switch op {
	case proto.OpCreate, proto.OpCreate2, proto.OpCreateContainer, proto.OpCreateTTL:
		return s.prepCreate(r, op, body, zxid, now)
	case proto.OpDelete, proto.OpDeleteContainer:
		var path string
		version := int32(-1)
		switch b := body.(type) {
		case *proto.PathVersionRequest:
			path, version = b.Path, b.Version
		case *proto.PathRequest:
			path = b.Path
		}
		return s.prepDelete(r, op, path, version, zxid)
	case proto.OpSetData:
		b := body.(*proto.SetDataRequest)
		if !validatePath(b.Path, false) {
			return nil, fail(proto.ErrBadArguments)
		}
		rec := s.record(b.Path)
		if rec == nil {
			return nil, fail(proto.ErrNoNode)
		}
		if !s.checkACL(rec.acl, proto.PermWrite, r.ids) {
			return nil, fail(proto.ErrNoAuth)
		}
		if len(b.Data) > s.maxBuffer {
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
		s.addChange(zxid, b.Path, &nc)
		return &txn.SetData{Path: b.Path, Data: b.Data, Version: v}, nil
	case proto.OpSetACL:
		b := body.(*proto.SetACLRequest)
		if !validatePath(b.Path, false) {
			return nil, fail(proto.ErrBadArguments)
		}
		acls, err := s.fixupACL(b.Path, r.ids, b.ACL)
		if err != nil {
			return nil, err
		}
		rec := s.record(b.Path)
		if rec == nil {
			return nil, fail(proto.ErrNoNode)
		}
		if !s.checkACL(rec.acl, proto.PermAdmin, r.ids) {
			return nil, fail(proto.ErrNoAuth)
		}
		v, err := checkVersion(rec.stat.Aversion, b.Version)
		if err != nil {
			return nil, err
		}
		nc := *rec
		nc.stat.Aversion = v
		nc.acl = acls
		s.addChange(zxid, b.Path, &nc)
		return &txn.SetACL{Path: b.Path, ACL: acls, Version: v}, nil
	case proto.OpCheck:
		if topLevel {
			return nil, fail(proto.ErrUnimplemented)
		}
		b := body.(*proto.PathVersionRequest)
		if !validatePath(b.Path, false) {
			return nil, fail(proto.ErrBadArguments)
		}
		rec := s.record(b.Path)
		if rec == nil {
			return nil, fail(proto.ErrNoNode)
		}
		if !s.checkACL(rec.acl, proto.PermRead, r.ids) {
			return nil, fail(proto.ErrNoAuth)
		}
		v, err := checkVersion(rec.stat.Version, b.Version)
		if err != nil {
			return nil, err
		}
		return &txn.CheckVersion{Path: b.Path, Version: v}, nil
	case proto.OpCreateSession:
		return &txn.CreateSession{TimeOut: r.timeout}, nil
	case proto.OpCloseSession:
		return s.prepCloseSession(r, zxid), nil
	case proto.OpReconfig:
		if !s.cfg.ReconfigEnabled {
			return nil, fail(proto.ErrReconfigDisabled)
		}
		// A standalone server has no membership to change.
		return nil, fail(proto.ErrUnimplemented)
	}
	return nil, fail(proto.ErrUnimplemented)
}

func (s *Server) prepCreate(r *request, op proto.OpCode, body jute.Record, zxid, now int64) (txn.Body, error) {
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
	// validateCreateRequest: TTL modes need extended types and a valid ttl;
	// a ttl on any other mode is a bad argument.
	if isTTL && !s.cfg.ExtendedTypesEnabled {
		return nil, fail(proto.ErrUnimplemented)
	}
	// EphemeralType.validateTTL: a TTL mode needs a ttl in range, any other
	// mode must not carry one. The opcode only picks the txn type below, as
	// in ZooKeeper: createContainer with flags 0 makes a container, create
	// with the container flag a plain persistent node.
	if isTTL {
		if ttl <= 0 || ttl > maxTTL {
			return nil, fail(proto.ErrBadArguments)
		}
	} else if ttl >= 0 {
		return nil, fail(proto.ErrBadArguments)
	}
	// "/" itself passes: its parent is the root, and it fails as NodeExists.
	if !validatePath(path, sequential) {
		return nil, fail(proto.ErrBadArguments)
	}
	if len(data) > s.maxBuffer {
		return nil, fail(proto.ErrBadArguments)
	}
	parentPath := parentOf(path)
	fixed, err := s.fixupACL(path, r.ids, acls)
	if err != nil {
		return nil, err
	}
	parent := s.record(parentPath)
	if parent == nil {
		return nil, fail(proto.ErrNoNode)
	}
	if !s.checkACL(parent.acl, proto.PermCreate, r.ids) {
		return nil, fail(proto.ErrNoAuth)
	}
	parentCVersion := parent.stat.Cversion
	if sequential {
		path = fmt.Sprintf("%s%010d", path, parentCVersion)
	}
	if !validatePath(path, false) {
		return nil, fail(proto.ErrBadArguments)
	}
	if s.record(path) != nil {
		return nil, fail(proto.ErrNodeExists)
	}
	if isEphemeralOwner(parent.stat.EphemeralOwner) {
		return nil, fail(proto.ErrNoChildrenForEphemeral)
	}
	newCversion := parentCVersion + 1

	np := *parent
	np.childCount++
	np.stat.Cversion = newCversion
	np.stat.Pzxid = zxid
	s.addChange(zxid, parentPath, &np)

	owner := int64(0)
	switch {
	case ephemeral:
		owner = r.session
	case container:
		owner = ownerContainer
	case isTTL:
		owner = ttlOwnerPrefix | ttl
	}
	s.addChange(zxid, path, &change{exists: true, acl: fixed, stat: proto.StatPersisted{
		Czxid: zxid, Mzxid: zxid, Pzxid: zxid, Ctime: now, Mtime: now, EphemeralOwner: owner,
	}})
	if ephemeral {
		s.prep.pendingEphemeral(r.session, path, true, zxid)
	}
	switch op {
	case proto.OpCreateContainer:
		return &txn.CreateContainer{Path: path, Data: data, ACL: fixed, ParentCVersion: newCversion}, nil
	case proto.OpCreateTTL:
		return &txn.CreateTTL{Path: path, Data: data, ACL: fixed, ParentCVersion: newCversion, TTL: ttl}, nil
	}
	return &txn.Create{Path: path, Data: data, ACL: fixed, Ephemeral: ephemeral, ParentCVersion: newCversion}, nil
}

func (s *Server) prepDelete(r *request, op proto.OpCode, path string, version int32, zxid int64) (txn.Body, error) {
	if !validatePath(path, false) || isSpecialPath(path) {
		return nil, fail(proto.ErrBadArguments)
	}
	parentPath := parentOf(path)
	parent := s.record(parentPath)
	if parent == nil {
		return nil, fail(proto.ErrNoNode)
	}
	if op == proto.OpDelete && !s.checkACL(parent.acl, proto.PermDelete, r.ids) {
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
	s.addChange(zxid, parentPath, &np)
	s.addChange(zxid, path, &change{exists: false})
	if isEphemeralOwner(node.stat.EphemeralOwner) {
		s.prep.pendingEphemeral(node.stat.EphemeralOwner, path, false, zxid)
	}
	return &txn.Delete{Path: path}, nil
}

// prepCloseSession lists the session's ephemerals as they will be once the
// outstanding txns are applied, and marks their deletion as outstanding.
func (s *Server) prepCloseSession(r *request, zxid int64) txn.Body {
	s.dbMu.RLock()
	paths := map[string]bool{}
	for _, p := range s.tree.Ephemerals(r.session) {
		paths[p] = true
	}
	s.dbMu.RUnlock()
	for p, c := range s.prep.ephemerals[r.session] {
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
			s.addChange(zxid, parentOf(p), &np)
		}
		s.addChange(zxid, p, &change{exists: false})
	}
	delete(s.prep.ephemerals, r.session)
	return &txn.CloseSession{Paths: list, HasPaths: true}
}

// prepMulti prepares every op; the first failure turns the ops after it into
// RuntimeInconsistency errors and rolls back the changes of the ones before.
func (s *Server) prepMulti(r *request, zxid, now int64) (txn.Body, error) {
	mr := r.body.(*proto.MultiRequest)
	saved := s.snapshotChanges()
	out := &txn.Multi{Ops: make([]txn.Op, 0, len(mr.Ops))}
	var failed bool
	types := make([]proto.OpCode, len(mr.Ops))
	bodies := make([]jute.Record, len(mr.Ops))
	for i := range mr.Ops {
		var err error
		if types[i], bodies[i], err = multiOp(&mr.Ops[i]); err != nil {
			return nil, err
		}
	}
	r.multiTypes = types
	for i := range mr.Ops {
		if failed {
			out.Ops = append(out.Ops, txn.Op{Type: proto.OpError, Body: &txn.Error{Err: proto.ErrRuntimeInconsistency}})
			continue
		}
		b, err := s.prepOne(r, types[i], bodies[i], zxid, now, false)
		if err != nil {
			code := proto.ErrMarshallingError
			if pe, ok := err.(prepError); ok {
				code = pe.code
			}
			failed = true
			s.restoreChanges(saved)
			out.Ops = append(out.Ops, txn.Op{Type: proto.OpError, Body: &txn.Error{Err: code}})
			continue
		}
		out.Ops = append(out.Ops, txn.Op{Type: types[i], Body: b})
	}
	return out, nil
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

type savedChanges struct {
	changes    map[string]*change
	ephemerals map[int64]map[string]ephemeralChange
}

func (s *Server) snapshotChanges() savedChanges {
	sc := savedChanges{changes: make(map[string]*change, len(s.prep.changes)), ephemerals: map[int64]map[string]ephemeralChange{}}
	for k, v := range s.prep.changes {
		sc.changes[k] = v
	}
	for sid, m := range s.prep.ephemerals {
		c := make(map[string]ephemeralChange, len(m))
		for k, v := range m {
			c[k] = v
		}
		sc.ephemerals[sid] = c
	}
	return sc
}

func (s *Server) restoreChanges(sc savedChanges) {
	s.prep.changes = sc.changes
	s.prep.ephemerals = sc.ephemerals
}

func (s *Server) checkACL(acls []proto.ACL, perm int32, ids []proto.ID) bool {
	return acl.Check(acls, perm, ids)
}

func (s *Server) fixupACL(path string, ids []proto.ID, acls []proto.ACL) ([]proto.ACL, error) {
	fixed, err := acl.FixupACL(path, ids, acls)
	if err != nil {
		if c, ok := err.(proto.Code); ok {
			return nil, fail(c)
		}
		return nil, fail(proto.ErrInvalidACL)
	}
	return fixed, nil
}
