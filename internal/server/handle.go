package server

import (
	"io"
	"log/slog"
	"time"

	"github.com/zkd/zkd/internal/acl"
	"github.com/zkd/zkd/internal/jute"
	"github.com/zkd/zkd/internal/proto"
)

// decodeBody returns an empty request record for op, or nil for ops with no body.
func decodeBody(op proto.OpCode) (jute.Record, bool) {
	switch op {
	case proto.OpCreate, proto.OpCreate2, proto.OpCreateContainer:
		return &proto.CreateRequest{}, true
	case proto.OpCreateTTL:
		return &proto.CreateTTLRequest{}, true
	case proto.OpDelete:
		return &proto.PathVersionRequest{}, true
	case proto.OpExists, proto.OpGetData, proto.OpGetChildren, proto.OpGetChildren2:
		return &proto.PathWatchRequest{}, true
	case proto.OpSetData:
		return &proto.SetDataRequest{}, true
	case proto.OpGetACL, proto.OpSync, proto.OpGetEphemerals, proto.OpGetAllChildrenNumber:
		return &proto.PathRequest{}, true
	case proto.OpSetACL:
		return &proto.SetACLRequest{}, true
	case proto.OpMulti, proto.OpMultiRead:
		return &proto.MultiRequest{}, true
	case proto.OpReconfig:
		return &proto.ReconfigRequest{}, true
	case proto.OpCheckWatches, proto.OpRemoveWatches, proto.OpAddWatch:
		return &proto.PathTypeRequest{}, true
	case proto.OpAuth:
		return &proto.AuthPacket{}, true
	case proto.OpSetWatches:
		return &proto.SetWatches{}, true
	case proto.OpSetWatches2:
		return &proto.SetWatches{Version2: true}, true
	case proto.OpPing, proto.OpCloseSession, proto.OpWhoAmI:
		return nil, true
	}
	return nil, false
}

// handle processes one request frame; false closes the connection.
func (c *conn) handle(frame []byte) bool {
	s := c.s
	d := jute.NewDecoder(frame, s.maxBuffer)
	var h proto.RequestHeader
	h.Decode(d)
	if d.Err() != nil {
		s.refused.refuse(slog.LevelWarn, c.ip, c.remote, "malformed request header", slog.Any("err", d.Err()))
		return false
	}
	c.stats.received()
	s.stats.packetReceived()
	s.metrics.BytesReceived.Add(int64(len(frame)) + 4)
	body, known := decodeBody(h.Type)
	if !known || h.Type == proto.OpNotification || h.Type == proto.OpCheck || h.Type == proto.OpDeleteContainer ||
		h.Type == proto.OpCreateSession || h.Type == proto.OpError {
		s.refused.refuse(slog.LevelWarn, c.ip, c.remote, "unsupported request type", slog.Int("type", int(h.Type)),
			slog.Any("session", hexValue(c.sessionID)))
		c.enqueue(reply(h.Xid, -1, proto.ErrUnimplemented, nil))
		c.closeAfterFlush()
		return false
	}
	if body != nil {
		body.Decode(d)
		if d.Err() != nil {
			s.refused.refuse(slog.LevelWarn, c.ip, c.remote, "malformed request", slog.String("op", h.Type.String()), slog.Any("err", d.Err()))
			return false
		}
	}
	s.sessMu.Lock()
	alive := s.sessions.Touch(c.sessionID, s.now().UnixMilli())
	if alive && !s.ens.standalone {
		s.touched[c.sessionID] = c.timeout
	}
	moved := alive && s.movedHere(c.sessionID, h.Type)
	s.sessMu.Unlock()
	if !alive && h.Type != proto.OpCloseSession {
		// The session expired or is closing: ZooKeeper answers SessionExpired.
		c.enqueue(reply(h.Xid, s.LastZxid(), proto.ErrSessionExpired, nil))
		c.closeAfterFlush()
		return false
	}
	if h.Type == proto.OpAuth {
		return c.handleAuth(h.Xid, body.(*proto.AuthPacket))
	}
	if h.Type == proto.OpSASL {
		s.refused.refuse(slog.LevelWarn, c.ip, c.remote, "SASL authentication is not supported")
		c.enqueue(reply(h.Xid, s.LastZxid(), proto.ErrUnimplemented, nil))
		return true
	}
	if mr, ok := body.(*proto.MultiRequest); ok && !validMulti(h.Type, mr) {
		s.refused.refuse(slog.LevelWarn, c.ip, c.remote, "multi mixes read and write ops", slog.String("op", h.Type.String()))
		return false
	}
	r := &request{conn: c, session: c.sessionID, xid: h.Xid, op: h.Type, body: body, ids: c.authIDs(), start: time.Now(), moved: moved}
	if h.Type == proto.OpCloseSession {
		r.closeAfter = true
	}
	c.stats.request(h.Xid, h.Type)
	c.enqueueRequest(r)
	if r.closeAfter {
		// Let the client close first once it has the reply (as it does with
		// ZooKeeper, whose close comes later); the reader waits a moment for
		// its EOF and drops anything else.
		c.nc.SetReadDeadline(time.Now().Add(time.Second))
		io.Copy(io.Discard, c.br)
		return false
	}
	return true
}

// validMulti: multi holds only write ops, multiRead only getChildren/getData.
func validMulti(op proto.OpCode, mr *proto.MultiRequest) bool {
	for _, o := range mr.Ops {
		read := o.Type == proto.OpGetChildren || o.Type == proto.OpGetData
		if read != (op == proto.OpMultiRead) {
			return false
		}
	}
	return true
}

func (c *conn) handleAuth(xid int32, a *proto.AuthPacket) bool {
	c.authMu.Lock()
	self := c.ids[0]
	c.authMu.Unlock()
	ids, err := acl.Authenticate(a.Scheme, a.Auth, self, c.s.cfg.SuperDigest)
	if err != nil {
		c.s.refused.refuse(slog.LevelWarn, c.ip, c.remote, "authentication failed", slog.String("scheme", a.Scheme))
		c.s.stats.authFailed()
		c.enqueue(reply(xid, 0, proto.ErrAuthFailed, nil))
		c.closeAfterFlush()
		return false
	}
	c.authMu.Lock()
	// Copy on write: requests in flight keep the ids they were sent with.
	c.ids = acl.AddIDs(append([]proto.ID(nil), c.ids...), ids...)
	c.authMu.Unlock()
	c.enqueue(reply(xid, 0, proto.OK, nil))
	return true
}

// enqueueRequest puts a request in the connection's reply order. Reads with
// nothing ahead of them run at once; others wait for the writes ahead.
func (c *conn) enqueueRequest(r *request) {
	pipeline := r.viaPipeline()
	c.fifoMu.Lock()
	if !pipeline && len(c.fifo) == 0 {
		c.fifoMu.Unlock()
		c.runRead(r)
		c.finish(r, c.sendDirect)
		return
	}
	c.fifo = append(c.fifo, r)
	c.s.requests.Add(1)
	c.fifoMu.Unlock()
	if pipeline {
		r.done = c.writeDone
		c.s.submit(r)
	}
}

// writeDone runs on the apply goroutine when a write of this connection is
// applied: it builds the reply and queues every reply that is now in order
// for the connection's writer.
func (c *conn) writeDone(r *request) {
	c.buildWriteReply(r)
	c.fifoMu.Lock()
	r.completed = true
	for len(c.fifo) > 0 {
		h := c.fifo[0]
		if !h.viaPipeline() {
			c.runRead(h)
		} else if !h.completed {
			break
		}
		c.fifo[0] = nil
		c.fifo = c.fifo[1:]
		c.finish(h, c.enqueue)
		c.s.requestDone()
	}
	c.fifoMu.Unlock()
}

// finish sends the reply with send and records latency: the reader's
// replies go out directly when the connection's queue is empty
// (sendDirect), the apply step's are queued for the writer (enqueue). A moved
// session's connection closes once what is ahead of it is written.
func (c *conn) finish(r *request, send func([]byte)) {
	if r.moved {
		c.s.log.Info("closing the connection of a session that moved to another server", "session", hexID(r.session),
			"op", r.op.String(), "remote", c.remote)
		c.closeAfterFlush()
	}
	if r.reply != nil {
		send(r.reply)
		c.s.stats.responseSize(len(r.reply) - 4)
		c.s.metrics.ResponseBytes.Add(int64(len(r.reply)))
	}
	lat := time.Since(r.start)
	if r.op.IsWrite() {
		c.s.metrics.UpdateLatency.Observe(lat.Milliseconds())
	} else {
		c.s.metrics.ReadLatency.Observe(lat.Milliseconds())
	}
	c.stats.replied(r, lat)
	c.s.stats.replied(lat)
}

func (c *conn) buildWriteReply(r *request) {
	s := c.s
	if r.sessionMoved() {
		r.moved = true
		return
	}
	if r.err != proto.OK {
		r.reply = reply(r.xid, r.zxid, r.err, nil)
		return
	}
	var body jute.Record
	res := &r.result
	switch r.op {
	case proto.OpCreate:
		body = &proto.PathRequest{Path: res.Path}
	case proto.OpCreate2, proto.OpCreateContainer, proto.OpCreateTTL:
		body = &proto.Create2Response{Path: res.Path, Stat: statOrZero(res.Stat)}
	case proto.OpSetData, proto.OpSetACL:
		body = &proto.StatResponse{Stat: statOrZero(res.Stat)}
	case proto.OpSync:
		r.reply = reply(r.xid, s.LastZxid(), proto.OK, &proto.PathRequest{Path: r.body.(*proto.PathRequest).Path})
		return
	case proto.OpMulti:
		body = multiResponse(r)
	}
	r.reply = reply(r.xid, r.zxid, proto.OK, body)
}

func statOrZero(st *proto.Stat) proto.Stat {
	if st == nil {
		return proto.Stat{}
	}
	return *st
}

// multiResponse maps the per-op results of a multi txn to OpResults.
func multiResponse(r *request) *proto.MultiResponse {
	mr := r.body.(*proto.MultiRequest)
	resp := &proto.MultiResponse{Results: make([]proto.OpResult, len(mr.Ops))}
	failed := r.txn.Header.Type == proto.OpError
	for _, sub := range r.result.Multi {
		if sub.Err != proto.OK {
			failed = true
		}
	}
	for i := range mr.Ops {
		var sub = proto.OpResult{}
		var res = r.resultAt(i)
		if failed {
			sub.Type = proto.OpError
			sub.Err = res.Err
			resp.Results[i] = sub
			continue
		}
		typ := mr.Ops[i].Type
		if i < len(r.multiTypes) {
			typ = r.multiTypes[i]
		}
		switch typ {
		case proto.OpCreate:
			sub.Type = proto.OpCreate
			sub.Path = res.Path
		case proto.OpCreate2, proto.OpCreateContainer, proto.OpCreateTTL:
			sub.Type = proto.OpCreate2
			sub.Path = res.Path
			sub.Stat = statOrZero(res.Stat)
		case proto.OpSetData:
			sub.Type = proto.OpSetData
			sub.Stat = statOrZero(res.Stat)
		default:
			sub.Type = typ
		}
		resp.Results[i] = sub
	}
	return resp
}

func (r *request) resultAt(i int) (res resultView) {
	if i < len(r.result.Multi) {
		m := r.result.Multi[i]
		return resultView{Err: m.Err, Path: m.Path, Stat: m.Stat}
	}
	return resultView{Err: proto.ErrRuntimeInconsistency}
}

type resultView struct {
	Err  proto.Code
	Path string
	Stat *proto.Stat
}
