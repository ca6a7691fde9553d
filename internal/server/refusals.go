package server

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"
)

// refusedMsg is the message of every line about a client the server
// refused or cut off (limits, bad frames, bad handshakes); its reason
// attribute says why.
const refusedMsg = "client refused"

// suppressedMsg reports refused-client lines held back for an address when
// no later refusal carried their count: suppressed=N more refusals, the
// last of them from remote, for reason.
const suppressedMsg = "client refusals suppressed"

// How often one client address may put a refusal line in the log, and how
// many addresses are remembered for it. A flood of bad connections from
// one address (or from many) therefore costs a bounded number of lines a
// second; what was held back is counted on the address's next line.
const (
	refusalInterval = time.Second
	maxRefusalAddrs = 4096
)

// refusals rate-limits the refused-client lines by client IP address: at
// most one line per address per refusalInterval. The next line for the
// address carries suppressed=N, the lines held back since its last one;
// when no next refusal comes, a flush after the interval logs the count
// alone (suppressedMsg). Lines for new addresses while maxRefusalAddrs are held are
// dropped and counted on the next line that passes (suppressed_others).
// Nothing here runs unless the line's level is enabled.
type refusals struct {
	log *slog.Logger

	mu      sync.Mutex
	byAddr  map[string]*refusalState
	others  int // lines dropped while the table was full
	timer   *time.Timer
	stopped bool
}

type refusalState struct {
	last       time.Time
	level      slog.Level
	reason     string // of the last refusal held back
	remote     string // ip:port of the last refusal held back
	suppressed int
}

func newRefusals(log *slog.Logger) *refusals {
	return &refusals{log: log, byAddr: map[string]*refusalState{}}
}

// refuse logs that the client at ip (remote is its ip:port) was refused,
// unless the address already had a line in the last refusalInterval.
func (r *refusals) refuse(level slog.Level, ip, remote, reason string, attrs ...slog.Attr) {
	ctx := context.Background()
	if !r.log.Enabled(ctx, level) {
		return
	}
	now := time.Now()
	r.mu.Lock()
	st := r.byAddr[ip]
	if st != nil && now.Sub(st.last) < refusalInterval {
		st.suppressed++
		st.level, st.reason, st.remote = max(st.level, level), reason, remote
		r.scheduleFlush()
		r.mu.Unlock()
		return
	}
	if st == nil {
		if len(r.byAddr) >= maxRefusalAddrs {
			r.sweep(now)
		}
		if len(r.byAddr) >= maxRefusalAddrs {
			r.others++
			r.mu.Unlock()
			return
		}
		st = &refusalState{}
		r.byAddr[ip] = st
	}
	suppressed, others := st.suppressed, r.others
	st.last, st.suppressed, r.others = now, 0, 0
	r.mu.Unlock()

	all := make([]slog.Attr, 0, len(attrs)+4)
	all = append(all, slog.String("remote", remote), slog.String("reason", reason))
	all = append(all, attrs...)
	if suppressed > 0 {
		all = append(all, slog.Int("suppressed", suppressed))
	}
	if others > 0 {
		all = append(all, slog.Int("suppressed_others", others))
	}
	r.log.LogAttrs(ctx, level, refusedMsg, all...)
}

// sweep forgets the addresses whose interval is over and that have
// nothing held back. Caller holds mu.
func (r *refusals) sweep(now time.Time) {
	for ip, st := range r.byAddr {
		if st.suppressed == 0 && now.Sub(st.last) >= refusalInterval {
			delete(r.byAddr, ip)
		}
	}
}

// scheduleFlush arms the flush that reports held-back lines when no later
// refusal does. Caller holds mu.
func (r *refusals) scheduleFlush() {
	if r.timer == nil && !r.stopped {
		r.timer = time.AfterFunc(refusalInterval, r.flush)
	}
}

// flush logs, for each address whose interval is over, the count of lines
// held back, as one line (which starts the address's next interval).
func (r *refusals) flush() {
	type line struct {
		ip string
		st refusalState
	}
	now := time.Now()
	var lines []line
	r.mu.Lock()
	if r.stopped {
		r.mu.Unlock()
		return
	}
	r.timer = nil
	for ip, st := range r.byAddr {
		switch {
		case st.suppressed > 0 && now.Sub(st.last) >= refusalInterval:
			lines = append(lines, line{ip, *st})
			st.last, st.suppressed = now, 0
		case st.suppressed > 0:
			r.scheduleFlush()
		case now.Sub(st.last) >= refusalInterval:
			delete(r.byAddr, ip)
		}
	}
	r.mu.Unlock()
	for _, l := range lines {
		r.log.LogAttrs(context.Background(), l.st.level, suppressedMsg, slog.String("remote", l.st.remote),
			slog.String("reason", l.st.reason), slog.Int("suppressed", l.st.suppressed))
	}
}

// stop ends the flushes (Close): nothing is logged after it.
func (r *refusals) stop() {
	r.mu.Lock()
	r.stopped = true
	if r.timer != nil {
		r.timer.Stop()
		r.timer = nil
	}
	r.mu.Unlock()
}

// hexValue prints an id or zxid in hex, only when the line is written.
type hexValue int64

func (h hexValue) LogValue() slog.Value {
	return slog.StringValue("0x" + strconv.FormatUint(uint64(h), 16))
}

var _ slog.LogValuer = hexValue(0)
