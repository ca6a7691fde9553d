package ensemble

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"time"

	"github.com/zkd/zkd/internal/jute"
	"github.com/zkd/zkd/internal/quorum"
	"github.com/zkd/zkd/internal/zab"
)

// maxQueued bounds the packets waiting for one quorum connection: a peer
// that falls this far behind is disconnected rather than buffered for.
const maxQueued = 16384

// dialTries and dialWait are how a learner retries a leader that is not
// listening yet (Learner.connectToLeader tries five times, a second apart).
const (
	dialTries = 5
	dialWait  = time.Second
)

// outPacket is a packet and the raw bytes that follow it (SNAP's database).
type outPacket struct {
	pkt  quorum.QuorumPacket
	tail []byte
}

// packetConn is one quorum-port connection of the current generation.
type packetConn struct {
	r    *Replica
	sid  int64 // the peer's sid (0 until an accepted learner registers)
	gen  uint64
	nc   net.Conn
	out  chan outPacket
	done chan struct{}
	once sync.Once
	mu   sync.Mutex // guards nc until dialed
}

func (r *Replica) newConn(sid int64, nc net.Conn) *packetConn {
	return &packetConn{r: r, sid: sid, gen: r.gen, nc: nc, out: make(chan outPacket, maxQueued), done: make(chan struct{})}
}

func (c *packetConn) close() {
	c.once.Do(func() {
		close(c.done)
		c.mu.Lock()
		if c.nc != nil {
			c.nc.Close()
		}
		c.mu.Unlock()
	})
}

// queue hands a packet to the writer; a full queue drops the connection.
func (c *packetConn) queue(p outPacket) {
	select {
	case c.out <- p:
	default:
		c.r.log.Warn("ensemble: peer too far behind; closing its connection", "sid", c.sid)
		c.close()
		c.r.lost(c)
	}
}

// lost reports the connection's end to the driver (from any goroutine).
func (r *Replica) lost(c *packetConn) {
	select {
	case r.packets <- inPacket{conn: c, err: errors.New("connection closed")}:
	case <-r.stop:
	default:
		go func() {
			select {
			case r.packets <- inPacket{conn: c, err: errors.New("connection closed")}:
			case <-r.stop:
			}
		}()
	}
}

// dial connects a learner to its leader, retrying a leader that does not
// listen yet; the address is resolved again on every try.
func (c *packetConn) dial(addr string) {
	var nc net.Conn
	var err error
	for try := 0; try < dialTries; try++ {
		select {
		case <-c.done:
			return
		default:
		}
		nc, err = net.DialTimeout("tcp", addr, 5*time.Second)
		if err == nil {
			break
		}
		select {
		case <-c.done:
			return
		case <-time.After(dialWait):
		}
	}
	if err != nil {
		c.r.log.Warn("ensemble: cannot connect to the leader", "sid", c.sid, "address", addr, "err", err)
		c.close()
		c.r.lost(c)
		return
	}
	c.mu.Lock()
	select {
	case <-c.done:
		c.mu.Unlock()
		nc.Close()
		return
	default:
	}
	c.nc = nc
	c.mu.Unlock()
	go c.readLoop()
	c.writeLoop()
}

func (c *packetConn) writeLoop() {
	w := bufio.NewWriterSize(c.nc, 64<<10)
	// One encoder for every packet: a leader under load encodes a
	// PROPOSAL and a COMMIT per learner per write.
	enc := jute.NewEncoder(make([]byte, 0, 4096))
	for {
		var p outPacket
		select {
		case p = <-c.out:
		case <-c.done:
			return
		}
		yielded := false
		for {
			enc.Reset()
			p.pkt.Encode(enc)
			_, err := w.Write(enc.Bytes())
			if err == nil && p.tail != nil {
				_, err = w.Write(p.tail)
			}
			if err != nil {
				c.close()
				c.r.lost(c)
				return
			}
			select {
			case p = <-c.out:
				continue
			default:
			}
			if !yielded {
				// Let the driver finish the Ready it is carrying out (the
				// rest of a batch's PROPOSALs or COMMITs) before the
				// syscall: one write for the batch, not one per packet.
				yielded = true
				runtime.Gosched()
				select {
				case p = <-c.out:
					continue
				default:
				}
			}
			break
		}
		if err := w.Flush(); err != nil {
			c.close()
			c.r.lost(c)
			return
		}
	}
}

func (c *packetConn) readLoop() {
	br := bufio.NewReaderSize(c.nc, 64<<10)
	for {
		p, err := quorum.ReadPacket(br, quorum.DefaultMaxPacketData)
		if err == nil && p.Type == quorum.PacketSnap {
			// The leader's database follows the packet on the stream.
			p.Data, err = readSnapStream(br, quorum.DefaultMaxPacketData)
		}
		if err != nil {
			if p.Type == quorum.PacketSnap {
				c.r.log.Warn("ensemble: cannot read the snapshot after SNAP", "sid", c.sid, "err", err)
			}
			c.close()
			c.r.lost(c)
			return
		}
		select {
		case c.r.packets <- inPacket{conn: c, pkt: p}:
		case <-c.done:
			return
		case <-c.r.stop:
			return
		}
	}
}

// acceptLoop takes learners' connections; they register with their first
// packet on the driver.
func (r *Replica) acceptLoop() {
	for {
		nc, err := r.ln.Accept()
		if err != nil {
			return
		}
		c := &packetConn{r: r, gen: ^uint64(0), nc: nc, out: make(chan outPacket, maxQueued), done: make(chan struct{})}
		r.mu.Lock()
		select {
		case <-r.stop:
			r.mu.Unlock()
			nc.Close()
			return
		default:
		}
		r.pending[c] = true
		r.mu.Unlock()
		go c.readLoop()
	}
}

// stepPacket steps a packet (or a connection's end) into the peer.
func (r *Replica) stepPacket(in inPacket) {
	c := in.conn
	if c.gen == ^uint64(0) {
		r.mu.Lock()
		delete(r.pending, c)
		r.mu.Unlock()
		// An accepted connection: its first packet registers a learner,
		// while this server leads.
		if in.err != nil {
			delete(r.early, c)
			return
		}
		t := in.pkt.Type
		if t != quorum.PacketFollowerInfo && t != quorum.PacketObserverInfo {
			c.close()
			return
		}
		switch r.peer.Role() {
		case zab.Looking:
			// A learner that decided before this server did: Apache's
			// quorum port is not listening yet and the learner retries;
			// here its registration waits for this server to lead.
			r.early[c] = in
			return
		case zab.Leading:
			delete(r.early, c)
		default:
			c.close()
			return
		}
		li, err := quorum.DecodeLearnerInfo(in.pkt.Data)
		if err != nil {
			r.log.Warn("ensemble: bad LearnerInfo; closing", "remote", c.nc.RemoteAddr().String(), "err", err)
			c.close()
			return
		}
		// A registration on a new connection ends whatever the leader
		// knew of that learner's older one.
		if old := r.conns[li.SID]; old != nil {
			old.close()
			delete(r.conns, li.SID)
		}
		r.peer.Step(zab.Message{Type: zab.MsgDisconnected, From: li.SID})
		r.learnerGone(li.SID)
		r.carryOut()
		if r.peer.Role() != zab.Leading {
			c.close()
			return
		}
		c.sid, c.gen = li.SID, r.gen
		r.conns[li.SID] = c
		go c.writeLoop()
	}
	if c.gen != r.gen || r.conns[c.sid] != c {
		return // a connection of an older role
	}
	if in.err != nil {
		r.log.Debug("ensemble: connection lost", "sid", c.sid, "err", in.err)
		delete(r.conns, c.sid)
		r.peer.Step(zab.Message{Type: zab.MsgDisconnected, From: c.sid})
		r.learnerGone(c.sid)
		return
	}
	if r.cfg.Host != nil && !r.hostPacket(c, in.pkt) {
		return
	}
	m, ok, err := fromPacket(c.sid, r.cfg.Peer.ID, in.pkt)
	if err != nil {
		r.log.Warn("ensemble: bad packet; closing", "sid", c.sid, "type", in.pkt.Type.String(), "err", err)
		c.close()
		delete(r.conns, c.sid)
		r.peer.Step(zab.Message{Type: zab.MsgDisconnected, From: c.sid})
		r.learnerGone(c.sid)
		return
	}
	if ok {
		if r.log.Enabled(context.Background(), slog.LevelDebug) {
			r.log.Debug("ensemble: in", "msg", m.String())
		}
		r.peer.Step(m)
	}
}

// learnerGone tells a leading host that a learner's connection ended.
func (r *Replica) learnerGone(sid int64) {
	if r.cfg.Host != nil && r.peer.Role() == zab.Leading {
		r.cfg.Host.LearnerGone(sid)
	}
}

// hostPacket hands the host what the quorum port carries for clients;
// false when the packet is done with (not one for zab).
func (r *Replica) hostPacket(c *packetConn, pkt quorum.QuorumPacket) bool {
	h, leading := r.cfg.Host, r.peer.Role() == zab.Leading
	var err error
	switch {
	case pkt.Type == quorum.PacketRequest && leading:
		var req quorum.Request
		if req, err = quorum.DecodeRequest(pkt.Data); err == nil {
			h.Request(r.peer, c.sid, req, pkt.AuthInfo)
		}
	case pkt.Type == quorum.PacketPing && leading:
		var ts []quorum.Touch
		if ts, err = quorum.DecodeTouches(pkt.Data); err == nil {
			h.Touches(c.sid, ts)
		}
		return true // the ping is zab's too (liveness)
	case pkt.Type == quorum.PacketRevalidate && leading:
		var session int64
		var timeout int32
		if session, timeout, err = quorum.DecodeRevalidate(pkt.Data); err == nil {
			valid := h.Revalidate(c.sid, session, timeout)
			c.queue(outPacket{pkt: quorum.QuorumPacket{Type: quorum.PacketRevalidate, Zxid: -1,
				Data: quorum.EncodeRevalidateReply(session, valid)}})
		}
	case pkt.Type == quorum.PacketRevalidate:
		var session int64
		var valid bool
		if session, valid, err = quorum.DecodeRevalidateReply(pkt.Data); err == nil {
			h.Revalidated(session, valid)
		}
	case pkt.Type == quorum.PacketSync && !leading:
		h.Synced(r.peer)
	default:
		return true
	}
	if err != nil {
		r.log.Warn("ensemble: bad packet; closing", "sid", c.sid, "type", pkt.Type.String(), "err", err)
		c.close()
		delete(r.conns, c.sid)
		r.peer.Step(zab.Message{Type: zab.MsgDisconnected, From: c.sid})
		r.learnerGone(c.sid)
	}
	return false
}

var emptyData = []byte{}

// packetTypes pairs zab's messages with the quorum port's packets; both
// directions read it.
var packetTypes = map[zab.MessageType]quorum.PacketType{
	zab.MsgFollowerInfo: quorum.PacketFollowerInfo, zab.MsgObserverInfo: quorum.PacketObserverInfo,
	zab.MsgLeaderInfo: quorum.PacketLeaderInfo, zab.MsgAckEpoch: quorum.PacketAckEpoch,
	zab.MsgDiff: quorum.PacketDiff, zab.MsgTrunc: quorum.PacketTrunc, zab.MsgSnap: quorum.PacketSnap,
	zab.MsgNewLeader: quorum.PacketNewLeader, zab.MsgAck: quorum.PacketAck, zab.MsgUpToDate: quorum.PacketUpToDate,
	zab.MsgProposal: quorum.PacketProposal, zab.MsgCommit: quorum.PacketCommit, zab.MsgInform: quorum.PacketInform,
	zab.MsgPing: quorum.PacketPing,
}

var messageTypes = func() map[quorum.PacketType]zab.MessageType {
	m := map[quorum.PacketType]zab.MessageType{}
	for mt, pt := range packetTypes {
		m[pt] = mt
	}
	return m
}()

// toPacket is a zab message on the quorum port. Data travels as it is
// (NEWLEADER's config, a PROPOSAL's or INFORM's record); the packets that
// carry fields have them encoded. SNAP's database follows the packet (send).
func toPacket(self int64, m zab.Message) (quorum.QuorumPacket, error) {
	t, ok := packetTypes[m.Type]
	if !ok {
		return quorum.QuorumPacket{}, fmt.Errorf("no quorum packet for %s", m.Type)
	}
	p := quorum.QuorumPacket{Type: t, Zxid: m.Zxid, Data: m.Data}
	switch m.Type {
	case zab.MsgFollowerInfo, zab.MsgObserverInfo:
		p.Data = quorum.EncodeLearnerInfo(quorum.LearnerInfo{SID: self, ProtocolVersion: quorum.ZabProtocolVersion})
	case zab.MsgLeaderInfo:
		p.Data = quorum.EncodeLeaderInfo(quorum.ZabProtocolVersion)
	case zab.MsgAckEpoch:
		p.Data = quorum.EncodeAckEpoch(int32(m.Epoch))
	case zab.MsgPing:
		// A learner's answer carries its sessions' touches (none yet); an
		// Apache leader reads the data without a null check.
		p.Data = emptyData
	case zab.MsgSnap:
		p.Data = nil
	}
	return p, nil
}

// fromPacket is a quorum packet as a zab message; ok is false for packets
// the peer does not take (they are dropped).
func fromPacket(from, to int64, p quorum.QuorumPacket) (zab.Message, bool, error) {
	t, ok := messageTypes[p.Type]
	if !ok {
		return zab.Message{}, false, nil
	}
	m := zab.Message{Type: t, From: from, To: to, Zxid: p.Zxid}
	switch t {
	case zab.MsgAckEpoch:
		e, err := quorum.DecodeAckEpoch(p.Data)
		if err != nil {
			return m, false, err
		}
		m.Epoch = int64(e)
	case zab.MsgSnap, zab.MsgNewLeader, zab.MsgProposal, zab.MsgInform:
		m.Data = p.Data
	}
	return m, true, nil
}
