package server

import (
	"strings"

	"github.com/zkd/zkd/internal/acl"
	"github.com/zkd/zkd/internal/jute"
	"github.com/zkd/zkd/internal/proto"
	"github.com/zkd/zkd/internal/tree"
	"github.com/zkd/zkd/internal/watch"
)

// runRead answers a request that does not change the tree, as
// FinalRequestProcessor does, and sets r.reply. It takes the tree's read
// lock so that a watch it leaves cannot miss a later change.
func (c *conn) runRead(r *request) {
	if r.moved {
		return // no reply: finish closes the connection
	}
	s := c.s
	s.dbMu.RLock()
	defer s.dbMu.RUnlock()
	zxid := s.lastZxidLocked()
	r.zxid = zxid // the connection's last zxid, as for ZooKeeper's reads
	var body jute.Record
	code := proto.OK
	switch r.op {
	case proto.OpPing:
		// Replies carry the request's xid (the Java client uses -2 and -8;
		// go-zookeeper uses ordinary xids for setWatches).
		r.reply = reply(r.xid, zxid, proto.OK, nil)
		return
	case proto.OpExists, proto.OpGetData, proto.OpGetChildren, proto.OpGetChildren2:
		body, code = c.readNode(r.op, r.body.(*proto.PathWatchRequest), r.ids)
	case proto.OpGetACL:
		body, code = c.getACL(r.body.(*proto.PathRequest).Path, r.ids)
	case proto.OpGetEphemerals:
		body = &proto.ChildrenResponse{Children: c.ephemerals(r.body.(*proto.PathRequest).Path)}
	case proto.OpGetAllChildrenNumber:
		body, code = c.allChildrenNumber(r.body.(*proto.PathRequest).Path, r.ids)
	case proto.OpWhoAmI:
		body = whoAmI(r.ids)
	case proto.OpAddWatch:
		b := r.body.(*proto.PathTypeRequest)
		switch b.Type {
		case proto.AddWatchPersistent:
			s.watches.Add(b.Path, c, watch.Persistent)
		case proto.AddWatchPersistentRecursive:
			s.watches.Add(b.Path, c, watch.PersistentRecursive)
		default:
			code = proto.ErrBadArguments
		}
		body = &proto.IntResponse{Value: 0}
	case proto.OpCheckWatches:
		b := r.body.(*proto.PathTypeRequest)
		if !s.watches.Contains(b.Path, c, b.Type) {
			code = proto.ErrNoWatcher
		}
	case proto.OpRemoveWatches:
		b := r.body.(*proto.PathTypeRequest)
		if !s.watches.Remove(b.Path, c, b.Type) {
			code = proto.ErrNoWatcher
		}
	case proto.OpSetWatches, proto.OpSetWatches2:
		c.setWatches(r.body.(*proto.SetWatches))
		r.reply = reply(r.xid, zxid, proto.OK, nil)
		return
	case proto.OpMultiRead:
		body = c.multiRead(r.body.(*proto.MultiRequest), r.ids)
	default:
		code = proto.ErrUnimplemented
	}
	r.reply = reply(r.xid, zxid, code, body)
}

func (c *conn) readNode(op proto.OpCode, b *proto.PathWatchRequest, ids []proto.ID) (jute.Record, proto.Code) {
	s := c.s
	if strings.IndexByte(b.Path, 0) >= 0 {
		return nil, proto.ErrBadArguments
	}
	n := s.tree.Get(b.Path)
	if op == proto.OpExists {
		if b.Watch {
			// An exists watch stays even when the node is missing: it fires on create.
			kind := watch.Data
			if n == nil {
				kind = watch.Exist
			}
			s.watches.Add(b.Path, c, kind)
		}
		if n == nil {
			return nil, proto.ErrNoNode
		}
		return &proto.StatResponse{Stat: n.ClientStat()}, proto.OK
	}
	if n == nil {
		return nil, proto.ErrNoNode
	}
	if !acl.Check(n.ACL, proto.PermRead, ids) {
		return nil, proto.ErrNoAuth
	}
	switch op {
	case proto.OpGetData:
		if b.Watch {
			s.watches.Add(b.Path, c, watch.Data)
		}
		return &proto.GetDataResponse{Data: n.Data, Stat: n.ClientStat()}, proto.OK
	default:
		if b.Watch {
			s.watches.Add(b.Path, c, watch.Child)
		}
		return &proto.ChildrenResponse{Children: nonNil(s.tree.Children(b.Path)), Stat: n.ClientStat(),
			WithStat: op == proto.OpGetChildren2}, proto.OK
	}
}

func nonNil(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

func (c *conn) getACL(path string, ids []proto.ID) (jute.Record, proto.Code) {
	n := c.s.tree.Get(path)
	if n == nil {
		return nil, proto.ErrNoNode
	}
	if !acl.Check(n.ACL, proto.PermRead|proto.PermAdmin, ids) {
		return nil, proto.ErrNoAuth
	}
	list := n.ACL
	if !acl.Check(n.ACL, proto.PermAdmin, ids) {
		// Without ADMIN the digest hashes are hidden.
		list = acl.MaskDigests(list)
	}
	return &proto.GetACLResponse{ACL: list, Stat: n.ClientStat()}, proto.OK
}

func (c *conn) ephemerals(prefix string) []string {
	all := c.s.tree.Ephemerals(c.sessionID)
	p := strings.TrimSpace(prefix)
	if p == "" || p == "/" {
		return nonNil(all)
	}
	out := []string{}
	for _, e := range all {
		if strings.HasPrefix(e, prefix) {
			out = append(out, e)
		}
	}
	return out
}

func (c *conn) allChildrenNumber(path string, ids []proto.ID) (jute.Record, proto.Code) {
	n := c.s.tree.Get(path)
	if n == nil {
		return nil, proto.ErrNoNode
	}
	if !acl.Check(n.ACL, proto.PermRead, ids) {
		return nil, proto.ErrNoAuth
	}
	return &proto.IntResponse{Value: int32(c.s.tree.CountDescendants(path))}, proto.OK
}

// whoAmI lists the connection's ids; digest ids show the user name only
// (DigestAuthenticationProvider.getUserName).
func whoAmI(ids []proto.ID) *proto.WhoAmIResponse {
	out := &proto.WhoAmIResponse{ClientInfo: make([]proto.ClientInfo, 0, len(ids))}
	for _, id := range ids {
		user := id.ID
		if id.Scheme == "digest" {
			user, _, _ = strings.Cut(user, ":")
		}
		out.ClientInfo = append(out.ClientInfo, proto.ClientInfo{AuthScheme: id.Scheme, User: user})
	}
	return out
}

// setWatches re-registers a reconnecting client's watches and fires at once
// the events it missed since relativeZxid (DataTree.setWatches).
func (c *conn) setWatches(w *proto.SetWatches) {
	s := c.s
	rel := w.RelativeZxid
	fire := func(typ proto.EventType, path string) { c.sendEvent(typ, path, -1) }
	for _, p := range w.DataWatches {
		n := s.tree.Get(p)
		switch {
		case n == nil:
			fire(proto.EventNodeDeleted, p)
		case n.Stat.Mzxid > rel:
			fire(proto.EventNodeDataChanged, p)
		default:
			s.watches.Add(p, c, watch.Data)
		}
	}
	for _, p := range w.ExistWatches {
		if s.tree.Get(p) != nil {
			fire(proto.EventNodeCreated, p)
		} else {
			s.watches.Add(p, c, watch.Exist)
		}
	}
	for _, p := range w.ChildWatches {
		n := s.tree.Get(p)
		switch {
		case n == nil:
			fire(proto.EventNodeDeleted, p)
		case n.Stat.Pzxid > rel:
			fire(proto.EventNodeChildrenChanged, p)
		default:
			s.watches.Add(p, c, watch.Child)
		}
	}
	for _, p := range w.PersistentWatches {
		s.watches.Add(p, c, watch.Persistent)
	}
	for _, p := range w.PersistentRecursiveWatches {
		s.watches.Add(p, c, watch.PersistentRecursive)
	}
}

// multiRead answers each op on its own; failures never abort the others.
func (c *conn) multiRead(mr *proto.MultiRequest, ids []proto.ID) *proto.MultiResponse {
	resp := &proto.MultiResponse{Results: make([]proto.OpResult, 0, len(mr.Ops))}
	for _, op := range mr.Ops {
		body, code := c.readNode(op.Type, op.Read, ids)
		res := proto.OpResult{Type: op.Type}
		switch {
		case code != proto.OK:
			res.Type = proto.OpError
			res.Err = code
		case op.Type == proto.OpGetData:
			g := body.(*proto.GetDataResponse)
			res.Data, res.Stat = g.Data, g.Stat
		default:
			res.Children = body.(*proto.ChildrenResponse).Children
		}
		resp.Results = append(resp.Results, res)
	}
	return resp
}

var _ = tree.New
