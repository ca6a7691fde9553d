package server

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/zkd/zkd/internal/proto"
)

// serverStats are ServerStats: packet counts and request latency.
type serverStats struct {
	mu          sync.Mutex
	received    atomic.Int64
	sent        atomic.Int64
	authFail    atomic.Int64
	minLatency  int64 // ms
	maxLatency  int64
	totalLat    int64
	count       int64
	lastResp    int
	minRespSize int
	maxRespSize int
	txns        atomic.Int64
}

func (st *serverStats) reset() {
	st.mu.Lock()
	st.minLatency, st.maxLatency, st.totalLat, st.count = -1, 0, 0, 0
	st.lastResp, st.minRespSize, st.maxRespSize = -1, -1, -1
	st.mu.Unlock()
	st.received.Store(0)
	st.sent.Store(0)
}

func (st *serverStats) packetReceived() { st.received.Add(1) }
func (st *serverStats) authFailed()     { st.authFail.Add(1) }

func (st *serverStats) replied(lat time.Duration) {
	st.sent.Add(1)
	ms := lat.Milliseconds()
	st.mu.Lock()
	if st.minLatency < 0 || ms < st.minLatency {
		st.minLatency = ms
	}
	if ms > st.maxLatency {
		st.maxLatency = ms
	}
	st.totalLat += ms
	st.count++
	st.mu.Unlock()
}

// responseSize records the size of one reply (ZooKeeper's client response
// size gauges; -1 before any reply).
func (st *serverStats) responseSize(n int) {
	st.mu.Lock()
	st.lastResp = n
	if st.minRespSize < 0 || n < st.minRespSize {
		st.minRespSize = n
	}
	if n > st.maxRespSize {
		st.maxRespSize = n
	}
	st.mu.Unlock()
}

func (st *serverStats) responseSizes() (last, min, max int) {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.lastResp, st.minRespSize, st.maxRespSize
}

func (st *serverStats) txnApplied() { st.txns.Add(1) }

// latency returns min/avg/max in ms (min 0 before any request).
func (st *serverStats) latency() (min int64, avg float64, max int64) {
	st.mu.Lock()
	defer st.mu.Unlock()
	min = st.minLatency
	if min < 0 {
		min = 0
	}
	if st.count > 0 {
		avg = float64(st.totalLat) / float64(st.count)
	}
	return min, avg, st.maxLatency
}

// connStats are the per-connection figures printed by cons.
type connStats struct {
	mu          sync.Mutex
	packetsRecv int64
	packetsSent int64
	sessionID   int64
	timeout     int32
	establ      time.Time
	lastOp      string
	lastCxid    int32
	lastZxid    int64
	lastResp    time.Time
	lastLat     int64
	minLat      int64
	maxLat      int64
	totalLat    int64
	count       int64
	outstanding int64
}

func (cs *connStats) init() {
	cs.mu.Lock()
	cs.establ = time.Now()
	cs.lastOp = "NA"
	cs.minLat = -1
	cs.lastZxid = -1
	cs.mu.Unlock()
}

func (cs *connStats) reset() {
	cs.mu.Lock()
	cs.packetsRecv, cs.packetsSent = 0, 0
	cs.lastOp, cs.lastCxid, cs.lastZxid, cs.lastLat = "NA", -1, -1, 0
	cs.minLat, cs.maxLat, cs.totalLat, cs.count = -1, 0, 0, 0
	cs.mu.Unlock()
}

func (cs *connStats) established(id int64, timeout int32) {
	cs.mu.Lock()
	cs.sessionID, cs.timeout = id, timeout
	cs.mu.Unlock()
}

func (cs *connStats) received() {
	cs.mu.Lock()
	cs.packetsRecv++
	cs.mu.Unlock()
}

func (cs *connStats) sent(n int) {
	cs.mu.Lock()
	cs.packetsSent += int64(n)
	cs.mu.Unlock()
}

func (cs *connStats) request(xid int32, op proto.OpCode) {
	cs.mu.Lock()
	cs.outstanding++
	cs.mu.Unlock()
}

func (cs *connStats) replied(r *request, lat time.Duration) {
	ms := lat.Milliseconds()
	cs.mu.Lock()
	if r.conn != nil && r.op != proto.OpCreateSession {
		cs.outstanding--
	}
	cs.lastOp = r.op.ShortName()
	if r.xid > 0 {
		cs.lastCxid = r.xid
	}
	cs.lastZxid = r.zxid
	cs.lastResp = time.Now()
	cs.lastLat = ms
	if cs.minLat < 0 || ms < cs.minLat {
		cs.minLat = ms
	}
	if ms > cs.maxLat {
		cs.maxLat = ms
	}
	cs.totalLat += ms
	cs.count++
	cs.mu.Unlock()
}

// bufferStats is Apache's BufferStats: the last, smallest and largest
// size seen since the last reset, -1 before any. Written by the driver,
// read by the admin surface.
type bufferStats struct {
	mu             sync.Mutex
	last, min, max int64
	seen           bool
}

func (b *bufferStats) record(n int64) {
	b.mu.Lock()
	if !b.seen {
		b.min, b.max, b.seen = n, n, true
	}
	b.last, b.min, b.max = n, min(b.min, n), max(b.max, n)
	b.mu.Unlock()
}

func (b *bufferStats) values() (last, smallest, largest int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.seen {
		return -1, -1, -1
	}
	return b.last, b.min, b.max
}

func (b *bufferStats) reset() {
	b.mu.Lock()
	b.seen = false
	b.mu.Unlock()
}
