package sim

import (
	"fmt"

	"github.com/zkd/zkd/internal/zab"
)

// Clients: each has one op at a time, sent to a server that leads. A
// write is a conditional setData (or, now and then, an unconditional one)
// whose reply says whether the version matched and the new version; a read
// is a sync then a read at the leader, answered once the sync commits.
// Invocation and return are stamps of the simulation's event order. An op
// the leader refused (not leading by the time it arrived) had no effect
// and is left out; one whose reply never came (the leader crashed or lost
// its role, the connection dropped) stays open, as porcupine allows: it
// may have taken effect at any point after its invocation, or never.

type opKind uint8

const (
	opWrite opKind = iota
	opRead
)

type op struct {
	client, n int
	kind      opKind
	key       int
	expect    int32 // -1: any version
	value     string
	call, ret int64
	done      bool // the reply came
	refused   bool // definitely no effect
	res       result
	zxid      int64
	server    int64
	gen       uint64
}

type result struct {
	ok      bool // write: the version matched
	value   string
	version int32
}

func (o *op) String() string {
	if o.kind == opRead {
		return fmt.Sprintf("c%d.%d read k%d", o.client, o.n, o.key)
	}
	return fmt.Sprintf("c%d.%d set k%d=%q if v%d", o.client, o.n, o.key, o.value, o.expect)
}

type client struct {
	id   int
	n    int
	cur  *op
	seen [keys]int32 // versions from this client's last replies
}

func (s *sim) stamp() int64 {
	s.events++
	return int64(s.events)
}

// clientsAct: clients whose server lost their connection give up (their
// op stays open); idle ones may start an op at a server that leads.
func (s *sim) clientsAct() {
	for _, c := range s.clients {
		if o := c.cur; o != nil {
			if sv := s.byID[o.server]; !sv.up || sv.gen != o.gen {
				s.logf("client %d: connection to %d lost during %v", c.id, o.server, o)
				c.cur = nil
			}
			continue
		}
		if s.quiet || s.rng.IntN(10) >= 3 {
			continue
		}
		read := s.rng.IntN(10) >= 6
		local := read && s.cfg.LocalReads
		var targets []*server
		for _, sv := range s.servers {
			if sv.up && sv.peer.Serving() && (local || sv.peer.Role() == zab.Leading) {
				targets = append(targets, sv)
			}
		}
		if len(targets) == 0 {
			continue
		}
		sv := targets[s.rng.IntN(len(targets))]
		c.n++
		o := &op{client: c.id, n: c.n, key: s.rng.IntN(keys), server: sv.id, gen: sv.gen, kind: opRead}
		if !read {
			o.kind = opWrite
			o.value = fmt.Sprintf("c%d.%d", c.id, c.n)
			o.expect = c.seen[o.key]
			if s.rng.IntN(5) == 0 {
				o.expect = -1
			}
		}
		o.call = s.stamp()
		c.cur = o
		s.history = append(s.history, o)
		s.logf("client %d sends %v to %d", c.id, o, sv.id)
		s.net.push(packet{kind: pktRequest, at: s.now + s.net.delay(), op: o})
	}
}

// request: an op reaches its server.
func (s *sim) request(o *op) {
	sv := s.byID[o.server]
	c := s.clients[o.client]
	if c.cur != o {
		return // the client gave up on it already: the server sees a closed connection
	}
	refuse := func(why string) {
		o.refused = true
		c.cur = nil
		s.logf("%d refuses %v: %s", sv.id, o, why)
	}
	if o.kind == opRead && s.cfg.LocalReads && sv.up && sv.gen == o.gen && sv.peer.Serving() {
		v := sv.kv[o.key]
		s.reply(sv, o, result{ok: true, value: v.value, version: v.version})
		return
	}
	if !sv.up || sv.gen != o.gen || sv.peer.Role() != zab.Leading || !sv.peer.Serving() {
		refuse("not leading")
		return
	}
	if o.kind == opRead {
		s.syncID++
		if err := sv.peer.Sync(s.syncID); err != nil {
			refuse(err.Error())
			return
		}
		sv.reads[s.syncID] = o
		s.handle(sv)
		return
	}
	// Prep: the version after every txn this leader proposed.
	cur := sv.kv[o.key]
	for _, p := range sv.props {
		if p.t.key == o.key && p.t.ok {
			cur = kv{p.t.value, p.t.version}
		}
	}
	t := txn{client: o.client, op: o.n, key: o.key, value: o.value}
	if o.expect == -1 || o.expect == cur.version {
		t.ok, t.version = true, cur.version+1
	}
	zxid, err := sv.peer.NextZxid()
	if err == nil {
		err = sv.peer.Propose(zab.Entry{Type: zab.EntryTxn, Zxid: zxid, Data: t.encode(zxid)})
	}
	if err != nil {
		refuse(err.Error())
		s.handle(sv)
		return
	}
	o.zxid = zxid
	sv.props = append(sv.props, proposal{zxid, t})
	sv.waiting[zxid] = o
	s.logf("%d proposes 0x%x: %s", sv.id, uint64(zxid), t)
	s.handle(sv)
}

// reply sends an op's result back over the client's connection.
func (s *sim) reply(sv *server, o *op, res result) {
	s.net.push(packet{kind: pktReply, at: s.now + s.net.delay(), op: o, res: res})
}

// replied: the reply arrives, if the connection it left on still stands.
func (s *sim) replied(o *op, res result) {
	c := s.clients[o.client]
	sv := s.byID[o.server]
	if c.cur != o || !sv.up || sv.gen != o.gen {
		return
	}
	o.done, o.res, o.ret = true, res, s.stamp()
	c.cur = nil
	if o.kind == opRead || res.ok {
		c.seen[o.key] = res.version
	}
	s.logf("client %d: %v -> ok %v %q v%d", c.id, o, res.ok, res.value, res.version)
}
