package session

import (
	"errors"
	"fmt"
	"maps"
	"slices"
)

// The errors CheckSession returns: SessionTrackerImpl.checkSession's
// UnknownSessionException, SessionExpiredException and SessionMovedException.
var (
	ErrUnknown = errors.New("session: unknown session")
	ErrClosing = errors.New("session: session closing")
	ErrMoved   = errors.New("session: session moved")
)

// Bucket is one expiry bucket: the sessions due at Expiry (a multiple of
// tickTime, in the caller's clock). A bucket may be empty: like ZooKeeper's
// ExpiryQueue, a bucket stays until its time has passed even after every
// session moved out of it, and the dump four-letter word shows it.
type Bucket struct {
	Expiry   int64
	Sessions []int64 // ascending
}

type entry struct {
	timeoutMs int32
	closing   bool
	// expiresAt is the bucket holding the session; 0 with inBucket false
	// once that bucket has been handed out by Expired.
	expiresAt int64
	inBucket  bool
}

// Table tracks live sessions and their expiry buckets, as ZooKeeper's
// SessionTrackerImpl does with its ExpiryQueue. A session's expiry time is
// roundToNextInterval(now + timeout): the first multiple of tickTime strictly
// after now+timeout, which gives every session up to one tick of grace and
// lets sessions expire in batches.
//
// Times are milliseconds of a monotonic clock; callers must not pass a now
// smaller than one passed before.
//
// Table is not safe for concurrent use.
type Table struct {
	tickTime int64
	nextID   int64
	// nextExpiry is the next bucket time Expired will hand out.
	// Invariant: a multiple of tickTime; every bucket key is >= nextExpiry.
	nextExpiry int64
	sessions   map[int64]*entry
	// buckets maps an expiry time to the sessions due then.
	// Invariant: s is in buckets[t] iff sessions[s].inBucket && sessions[s].expiresAt == t.
	buckets map[int64]map[int64]struct{}
	// owners is the server that owns each session (SessionImpl.owner):
	// only a leader sets them, and a request from a server that does not
	// own its session is refused. A session may have an owner before it is
	// tracked (its createSession is prepared, not yet applied).
	owners map[int64]int64
}

// NewTable returns an empty table for a server whose tick is tickTime ms.
// Session ids start at InitialID(serverID, nowMillis). It panics if tickTime
// is not positive (the configuration must have rejected it).
func NewTable(tickTime int64, serverID int64, nowMillis int64) *Table {
	if tickTime <= 0 {
		panic(fmt.Sprintf("session: tickTime must be positive, got %d", tickTime))
	}
	t := &Table{
		tickTime: tickTime,
		nextID:   InitialID(serverID, nowMillis),
		sessions: make(map[int64]*entry),
		buckets:  make(map[int64]map[int64]struct{}),
		owners:   make(map[int64]int64),
	}
	t.nextExpiry = t.roundToNextInterval(nowMillis)
	return t
}

// roundToNextInterval is ExpiryQueue.roundToNextInterval.
func (t *Table) roundToNextInterval(ms int64) int64 {
	return (ms/t.tickTime + 1) * t.tickTime
}

// NextID returns a fresh session id and advances the counter, as
// SessionTrackerImpl.createSession does. It skips the container marker and
// ids already in the table (ZooKeeper never checks; an id restored from a
// snapshot can only collide after the 40-bit clock field wraps).
func (t *Table) NextID() int64 {
	for {
		id := t.nextID
		t.nextID++
		if id == containerOwner {
			continue
		}
		if _, used := t.sessions[id]; used {
			continue
		}
		return id
	}
}

// Add tracks a session with the given timeout, or updates the timeout of a
// tracked one, and schedules its expiry from nowMillis. It serves both a new
// session and replaying createSession from a log or snapshot
// (SessionTrackerImpl.trackSession + commitSession). A closing session stays
// closing.
func (t *Table) Add(id int64, timeoutMs int32, nowMillis int64) {
	e, ok := t.sessions[id]
	if !ok {
		e = &entry{}
		t.sessions[id] = e
	}
	e.timeoutMs = timeoutMs
	t.schedule(id, e, nowMillis)
}

// Touch pushes a session's expiry to nowMillis + its timeout (any client
// traffic does this). It returns false if the session is unknown or closing,
// the cases where ZooKeeper's touchSession fails.
func (t *Table) Touch(id int64, nowMillis int64) bool {
	e, ok := t.sessions[id]
	if !ok || e.closing {
		return false
	}
	t.schedule(id, e, nowMillis)
	return true
}

// schedule is ExpiryQueue.update: move the session to the bucket of
// roundToNextInterval(now + timeout) unless it is already there.
func (t *Table) schedule(id int64, e *entry, nowMillis int64) {
	at := t.roundToNextInterval(nowMillis + int64(e.timeoutMs))
	// Only a clock running backwards gets here; a bucket before nextExpiry
	// would never be handed out and the session would never expire.
	at = max(at, t.nextExpiry)
	if e.inBucket && e.expiresAt == at {
		return
	}
	t.unbucket(id, e)
	b := t.buckets[at]
	if b == nil {
		b = make(map[int64]struct{})
		t.buckets[at] = b
	}
	b[id] = struct{}{}
	e.expiresAt, e.inBucket = at, true
}

// unbucket takes the session out of its bucket, leaving the bucket itself
// (possibly empty) in place, as ExpiryQueue.remove does.
func (t *Table) unbucket(id int64, e *entry) {
	if !e.inBucket {
		return
	}
	if b := t.buckets[e.expiresAt]; b != nil {
		delete(b, id)
	}
	e.expiresAt, e.inBucket = 0, false
}

// SetClosing marks a session whose closeSession is in flight: it can no
// longer be touched. It stays in its bucket, so if the close is slow the
// session is still reported by Expired, as in ZooKeeper.
func (t *Table) SetClosing(id int64) {
	if e, ok := t.sessions[id]; ok {
		e.closing = true
	}
}

// Closing reports whether a tracked session is closing.
func (t *Table) Closing(id int64) bool {
	e, ok := t.sessions[id]
	return ok && e.closing
}

// Remove forgets a session (its closeSession has been applied).
func (t *Table) Remove(id int64) {
	e, ok := t.sessions[id]
	if !ok {
		return
	}
	t.unbucket(id, e)
	delete(t.sessions, id)
	delete(t.owners, id)
}

// Claim makes owner the session's owner whether or not it is tracked yet:
// its createSession is being prepared (PrepRequestProcessor's trackSession
// and setOwner), and the owner holds from then on.
func (t *Table) Claim(id, owner int64) { t.owners[id] = owner }

// SetOwner is SessionTrackerImpl.setOwner: a session revalidated through
// owner now belongs to it. It returns false, changing nothing, for an
// unknown or closing session.
func (t *Table) SetOwner(id, owner int64) bool {
	e, ok := t.sessions[id]
	if !ok || e.closing {
		return false
	}
	t.owners[id] = owner
	return true
}

// CheckSession is SessionTrackerImpl.checkSession for a request of the
// session that reached this server through owner: ErrUnknown when the
// session is neither tracked nor being created, ErrClosing when it is
// closing, ErrMoved when another owner holds it. A session without an
// owner (after an election) becomes owner's.
func (t *Table) CheckSession(id, owner int64) error {
	e, tracked := t.sessions[id]
	o, owned := t.owners[id]
	switch {
	case !tracked && !owned:
		return ErrUnknown
	case tracked && e.closing:
		return ErrClosing
	case !owned:
		t.owners[id] = owner
	case o != owner:
		return ErrMoved
	}
	return nil
}

// Owner returns the session's owner, if it has one.
func (t *Table) Owner(id int64) (owner int64, ok bool) {
	owner, ok = t.owners[id]
	return owner, ok
}

// ClearOwners forgets every owner, as a new leader's session tracker
// starts without them.
func (t *Table) ClearOwners() { clear(t.owners) }

// Expired hands out every bucket whose time is <= nowMillis, oldest first,
// and returns their sessions (ascending within a bucket) after marking them
// closing. The sessions stay in the table until Remove; the caller is
// expected to submit a closeSession for each. A session already closing is
// returned too if its bucket passes before it is removed, as in ZooKeeper.
func (t *Table) Expired(nowMillis int64) []int64 {
	if nowMillis < t.nextExpiry {
		return nil
	}
	var due []int64
	for at := range t.buckets {
		if at <= nowMillis {
			due = append(due, at)
		}
	}
	slices.Sort(due)
	var out []int64
	for _, at := range due {
		ids := slices.Sorted(maps.Keys(t.buckets[at]))
		delete(t.buckets, at)
		for _, id := range ids {
			e := t.sessions[id]
			e.closing = true
			e.expiresAt, e.inBucket = 0, false
		}
		out = append(out, ids...)
	}
	// ExpiryQueue.poll advances one interval per call and SessionTracker
	// polls until it has caught up; jump straight there.
	t.nextExpiry = max(t.nextExpiry, t.roundToNextInterval(nowMillis))
	return out
}

// NextExpiry is the time of the next bucket Expired will hand out; the
// server's session timer can sleep until then (ExpiryQueue.getWaitTime).
func (t *Table) NextExpiry() int64 { return t.nextExpiry }

// Get returns a session's timeout.
func (t *Table) Get(id int64) (timeoutMs int32, ok bool) {
	e, ok := t.sessions[id]
	if !ok {
		return 0, false
	}
	return e.timeoutMs, true
}

// Len is the number of tracked sessions, closing ones included.
func (t *Table) Len() int { return len(t.sessions) }

// Snapshot returns every tracked session with its timeout, the map a
// snapshot file stores.
func (t *Table) Snapshot() map[int64]int32 {
	out := make(map[int64]int32, len(t.sessions))
	for id, e := range t.sessions {
		out[id] = e.timeoutMs
	}
	return out
}

// Buckets returns the expiry buckets not yet handed out, oldest first, for
// the dump four-letter word ("Session Sets (<len>)/(<Len()>)").
func (t *Table) Buckets() []Bucket {
	out := make([]Bucket, 0, len(t.buckets))
	for _, at := range slices.Sorted(maps.Keys(t.buckets)) {
		out = append(out, Bucket{Expiry: at, Sessions: slices.Sorted(maps.Keys(t.buckets[at]))})
	}
	return out
}
