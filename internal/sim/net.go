package sim

import (
	"github.com/zkd/zkd/internal/zab"
)

// The network, modelled on ZooKeeper's transport. Quorum-port packets
// travel on a TCP connection between two servers' current generations:
// in order, and never past a break: once a direction of a connection is
// cut, what was in flight is lost and that connection delivers nothing
// more that way, ever (the servers make new ones after a role change).
// A cut either resets the connection (both ends see it close) or is
// silent (each end finds out by its own timeouts). A one-way cut blocks
// one direction only; the other side's connection then times out.
// Election notifications are datagrams in effect: delayed, reordered,
// sometimes lost or duplicated (FLE resends what matters). Clients talk
// to servers over links that only delay.

type pktKind uint8

const (
	pktNote pktKind = iota
	pktQuorum
	// pktClosed: the far end closed the connection (FIN or RST); local
	// when the receiver's own kernel noticed (a reset), which no cut stops.
	pktClosed
	pktRequest
	pktReply
)

type packet struct {
	at, seq        int
	kind           pktKind
	local          bool
	from, to       int64
	fromGen, toGen uint64
	epoch          uint64 // the direction's break count at send
	msg            zab.Message
	note           zab.Notification
	op             *op
	res            result
}

type link [2]int64

type connKey struct {
	from, to       int64
	fromGen, toGen uint64
}

type network struct {
	s        *sim
	inflight []packet
	seq      int
	lastAt   map[link]int
	blocked  map[link]bool
	breaks   map[link]uint64
	broken   map[connKey]bool
	// open are the connections that carried a packet, by their lower
	// sid first: only those have an end to see them close.
	open  map[connKey]bool
	heals []healing
	// early are registrations that reached a LOOKING server, by its sid:
	// zkd's driver holds them until the server leads (and closes them if
	// it follows instead).
	early map[int64][]packet
}

// healing: a cut ends at a tick (or, with cut, begins: swizzle-clogging
// schedules both).
type healing struct {
	at    int
	links []link
	cut   bool
}

func (n *network) init(s *sim) {
	n.s = s
	n.lastAt, n.blocked, n.breaks = map[link]int{}, map[link]bool{}, map[link]uint64{}
	n.broken, n.open, n.early = map[connKey]bool{}, map[connKey]bool{}, map[int64][]packet{}
}

func pair(a, b int64, ga, gb uint64) connKey {
	if a > b {
		return connKey{b, a, gb, ga}
	}
	return connKey{a, b, ga, gb}
}

func (n *network) push(p packet) {
	n.seq++
	p.seq = n.seq
	n.inflight = append(n.inflight, p)
}

func (n *network) delay() int { return 1 + n.s.rng.IntN(3) }

// fifo schedules a packet on a TCP connection: never before the one sent
// ahead of it.
func (n *network) fifo(p packet) {
	l := link{p.from, p.to}
	p.at = max(n.s.now+n.delay(), n.lastAt[l])
	n.lastAt[l] = p.at
	p.epoch = n.breaks[l]
	n.push(p)
}

func (n *network) sendQuorum(from *server, m zab.Message) {
	to := n.s.byID[m.To]
	p := packet{kind: pktQuorum, from: from.id, to: to.id, fromGen: from.gen, toGen: to.gen, msg: m}
	if m.Type == zab.MsgDisconnected {
		p.kind = pktClosed // the leader closes a learner's connection
	}
	if n.dead(p) {
		return
	}
	n.fifo(p)
}

// dead reports a packet that can never arrive: its direction is cut, or
// its connection broke.
func (n *network) dead(p packet) bool {
	return n.blocked[link{p.from, p.to}] || n.broken[connKey{p.from, p.to, p.fromGen, p.toGen}]
}

func (n *network) sendNote(from *server, note zab.Notification) {
	s := n.s
	if n.blocked[link{from.id, note.To}] {
		return
	}
	copies := 1
	if !s.quiet {
		switch r := s.rng.IntN(100); {
		case r < 5:
			s.logf("lost %v", note)
			return
		case r < 10:
			copies = 2
		}
	}
	for range copies {
		n.push(packet{kind: pktNote, at: s.now + 1 + s.rng.IntN(4), from: from.id, to: note.To, note: note})
	}
}

// closed: sv's quorum connections of generation gen are gone (a role
// change or a crash); the far ends see them close, unless a cut hides it.
func (n *network) closed(sv *server, gen uint64) {
	for _, o := range n.s.servers {
		k := pair(sv.id, o.id, gen, o.gen)
		if o == sv || !n.open[k] {
			continue
		}
		delete(n.open, k)
		p := packet{kind: pktClosed, from: sv.id, to: o.id, fromGen: gen, toGen: o.gen,
			msg: zab.Message{Type: zab.MsgDisconnected, From: sv.id, To: o.id}}
		if o.up && !n.blocked[link{sv.id, o.id}] {
			n.fifo(p)
		}
	}
}

// cut breaks one direction of every connection between a and b; reset
// means both ends see the break at once.
func (n *network) cut(a, b int64, reset bool) {
	l := link{a, b}
	n.blocked[l] = true
	n.breaks[l]++
	sa, sb := n.s.byID[a], n.s.byID[b]
	n.broken[connKey{a, b, sa.gen, sb.gen}] = true
	if k := pair(a, b, sa.gen, sb.gen); !reset || !n.open[k] {
		return
	} else {
		delete(n.open, k)
	}
	for _, e := range [][2]*server{{sa, sb}, {sb, sa}} {
		if e[1].up {
			n.push(packet{kind: pktClosed, local: true, at: n.s.now + 1, from: e[0].id, to: e[1].id,
				fromGen: e[0].gen, toGen: e[1].gen, msg: zab.Message{Type: zab.MsgDisconnected, From: e[0].id, To: e[1].id}})
		}
	}
}

func (n *network) healAll() {
	clear(n.blocked)
	n.heals = nil
	n.s.logf("the network heals")
}

// healDue ends the cuts whose time is up.
func (n *network) healDue() {
	keep := n.heals[:0]
	for _, h := range n.heals {
		if h.at > n.s.now {
			keep = append(keep, h)
			continue
		}
		if h.cut {
			for _, l := range h.links {
				n.cut(l[0], l[1], false)
			}
			n.s.logf("links %v clogged", h.links)
			continue
		}
		for _, l := range h.links {
			delete(n.blocked, l)
		}
		n.s.logf("cut of %v heals", h.links)
	}
	n.heals = keep
}

// fault picks a network fault, which heals a while later: a pair cut
// both ways, one way, a server isolated, or the ensemble split in two.
func (n *network) fault() {
	s := n.s
	ids := make([]int64, len(s.servers))
	for i, sv := range s.servers {
		ids[i] = sv.id
	}
	a := ids[s.rng.IntN(len(ids))]
	b := ids[s.rng.IntN(len(ids))]
	reset := s.rng.IntN(2) == 0
	var cut []link
	both := func(x, y int64) {
		n.cut(x, y, reset)
		n.cut(y, x, false)
		cut = append(cut, link{x, y}, link{y, x})
	}
	heal := 5 + s.rng.IntN(80)
	switch r := s.rng.IntN(12); {
	case r >= 10 && a != b:
		// A flap: the connection resets and the link is back at once, so
		// that the servers are quick to look again and find a new leader.
		reset, heal = true, 1+s.rng.IntN(4)
		s.logf("link %d-%d flaps", a, b)
		both(a, b)
	case r < 3 && a != b:
		s.logf("link %d-%d cut (reset %v)", a, b, reset)
		both(a, b)
	case r < 6 && a != b:
		s.logf("link %d->%d cut one way", a, b)
		n.cut(a, b, false)
		cut = append(cut, link{a, b})
	case r < 8:
		s.logf("%d isolated (reset %v)", a, reset)
		for _, o := range ids {
			if o != a {
				both(a, o)
			}
		}
	case r == 9 && s.rng.IntN(2) == 0:
		// Swizzle-clogging (FoundationDB's): the links of some servers
		// clog one server at a time, then unclog in another order.
		var sw []int64
		for _, id := range ids {
			if s.rng.IntN(2) == 0 {
				sw = append(sw, id)
			}
		}
		s.rng.Shuffle(len(sw), func(i, j int) { sw[i], sw[j] = sw[j], sw[i] })
		s.logf("swizzle %v", sw)
		at := s.now
		var groups [][]link
		for _, x := range sw {
			var ls []link
			for _, o := range ids {
				if o != x {
					ls = append(ls, link{x, o}, link{o, x})
				}
			}
			at += 1 + s.rng.IntN(5)
			n.heals = append(n.heals, healing{at: at, links: ls, cut: true})
			groups = append(groups, ls)
		}
		s.rng.Shuffle(len(groups), func(i, j int) { groups[i], groups[j] = groups[j], groups[i] })
		at += 5 + s.rng.IntN(20)
		for _, ls := range groups {
			at += 1 + s.rng.IntN(5)
			n.heals = append(n.heals, healing{at: at, links: ls})
		}
	case r < 9:
		var side []int64
		in := map[int64]bool{}
		for _, id := range ids {
			if s.rng.IntN(2) == 0 {
				side = append(side, id)
				in[id] = true
			}
		}
		s.logf("split %v from the rest (reset %v)", side, reset)
		for _, x := range ids {
			for _, y := range ids {
				if in[x] && !in[y] {
					both(x, y)
				}
			}
		}
	default:
		n.healAll()
	}
	if len(cut) > 0 {
		n.heals = append(n.heals, healing{at: s.now + heal, links: cut})
	}
}

// register takes the first packet of a new connection as zkd's driver
// does (ensemble's acceptLoop): only a learner's registration opens one;
// a LOOKING server holds it until it leads; a leader first forgets the
// learner's older connection; any other server closes it.
func (n *network) register(p packet, from, to *server) bool {
	if t := p.msg.Type; t != zab.MsgFollowerInfo && t != zab.MsgObserverInfo {
		return false
	}
	switch to.peer.Role() {
	case zab.Looking:
		n.early[to.id] = append(n.early[to.id], p)
		return false
	case zab.Leading:
	default:
		n.refuse(p, to)
		return false
	}
	to.peer.Step(zab.Message{Type: zab.MsgDisconnected, From: p.from, To: p.to})
	n.s.handle(to)
	return to.up && to.peer.Role() == zab.Leading && p.toGen == to.gen
}

// refuse closes a connection that never opened: the learner sees it go.
func (n *network) refuse(p packet, to *server) {
	c := packet{kind: pktClosed, from: to.id, to: p.from, fromGen: to.gen, toGen: p.fromGen,
		msg: zab.Message{Type: zab.MsgDisconnected, From: to.id, To: p.from}}
	if !n.dead(c) {
		n.fifo(c)
	}
}

// settle hands the registrations a server held while LOOKING to it once
// it leads, or closes them once it does not (or crashed).
func (n *network) settle(sv *server) {
	held := n.early[sv.id]
	if len(held) == 0 || sv.up && sv.peer.Role() == zab.Looking {
		return
	}
	delete(n.early, sv.id)
	for _, p := range held {
		from := n.s.byID[p.from]
		if !from.up || from.gen != p.fromGen {
			continue // the learner closed it meanwhile
		}
		if !sv.up || sv.peer.Role() != zab.Leading {
			n.refuse(p, sv)
			continue
		}
		p.toGen = sv.gen
		n.s.logf("%d takes %d's registration it held while looking", sv.id, p.from)
		n.arrive(p)
	}
}

// deliver hands every due packet to its server: in order on each
// connection, connections and datagrams interleaved at random.
func (n *network) deliver() {
	s := n.s
	var due []packet
	later := n.inflight[:0]
	for _, p := range n.inflight {
		if p.at <= s.now {
			due = append(due, p)
		} else {
			later = append(later, p)
		}
	}
	n.inflight = later
	if len(due) == 0 {
		return
	}
	// Lanes: one per TCP direction (in send order), one per datagram.
	var lanes [][]packet
	index := map[link]int{}
	for _, p := range due {
		if p.kind == pktQuorum || p.kind == pktClosed && !p.local {
			l := link{p.from, p.to}
			if i, ok := index[l]; ok {
				lanes[i] = append(lanes[i], p)
				continue
			}
			index[l] = len(lanes)
		}
		lanes = append(lanes, []packet{p})
	}
	for len(lanes) > 0 {
		i := s.rng.IntN(len(lanes))
		p := lanes[i][0]
		if lanes[i] = lanes[i][1:]; len(lanes[i]) == 0 {
			lanes[i] = lanes[len(lanes)-1]
			lanes = lanes[:len(lanes)-1]
		}
		n.arrive(p)
	}
}

func (n *network) arrive(p packet) {
	s := n.s
	switch p.kind {
	case pktRequest:
		s.request(p.op)
		return
	case pktReply:
		s.replied(p.op, p.res)
		return
	}
	to := s.byID[p.to]
	if !to.up {
		return
	}
	from := s.byID[p.from]
	switch p.kind {
	case pktNote:
		if n.blocked[link{p.from, p.to}] {
			return
		}
		to.peer.StepNotification(p.note)
		s.handle(to)
		return
	case pktClosed:
		if p.toGen != to.gen {
			return // a connection of an earlier generation
		}
		if !p.local && (n.blocked[link{p.from, p.to}] || p.epoch != n.breaks[link{p.from, p.to}]) {
			return
		}
	case pktQuorum:
		if p.fromGen != from.gen || !from.up {
			return // the connection it was sent on is gone
		}
		if n.blocked[link{p.from, p.to}] || p.epoch != n.breaks[link{p.from, p.to}] {
			return // lost in a cut
		}
		k := pair(p.from, p.to, p.fromGen, p.toGen)
		if !n.open[k] {
			// A new connection reaches the server as it is now.
			p.toGen = to.gen
			k = pair(p.from, p.to, p.fromGen, p.toGen)
			if !n.open[k] && !n.register(p, from, to) {
				return
			}
		}
		if p.toGen != to.gen {
			return // the connection it was sent on is gone
		}
		n.open[k] = true
	}
	if p.msg.Type != zab.MsgPing {
		s.logf("deliver %v", p.msg)
	}
	if err := to.peer.Step(p.msg); err != nil {
		s.fail("server %d: step %v: %v", p.to, p.msg, err)
	}
	s.handle(to)
}
