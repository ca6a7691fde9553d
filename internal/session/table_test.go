package session

import (
	"maps"
	"reflect"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

const tick = 2000

func TestExpiryIsRoundedUpToTheNextTick(t *testing.T) {
	tb := NewTable(tick, 1, 0)
	// SessionTrackerImpl: expiry = roundToNextInterval(now + timeout), so a
	// session touched at 3500 with a 4000 ms timeout is due at 8000.
	tb.Add(7, 4000, 3500)
	if got := tb.Buckets(); !reflect.DeepEqual(got, []Bucket{{Expiry: 8000, Sessions: []int64{7}}}) {
		t.Fatalf("buckets %+v", got)
	}
	if got := tb.Expired(7999); len(got) != 0 {
		t.Fatalf("expired early: %v", got)
	}
	if got := tb.Expired(8000); !reflect.DeepEqual(got, []int64{7}) {
		t.Fatalf("Expired(8000) = %v, want [7]", got)
	}
	if !tb.Closing(7) {
		t.Fatal("an expired session must be closing")
	}
	if tb.Touch(7, 8001) {
		t.Fatal("a closing session was touched")
	}
	if _, ok := tb.Get(7); !ok {
		t.Fatal("the session must stay until Remove")
	}
	tb.Remove(7)
	if _, ok := tb.Get(7); ok || tb.Len() != 0 {
		t.Fatal("Remove left the session")
	}
}

func TestBoundaryTimeoutGetsAFullExtraTick(t *testing.T) {
	tb := NewTable(tick, 1, 0)
	tb.Add(1, 4000, 4000) // 8000 is a multiple of tick: next interval is 10000
	if got := tb.Buckets()[0].Expiry; got != 10000 {
		t.Fatalf("expires at %d, want 10000", got)
	}
}

func TestTouchMovesSessionAndLeavesEmptyBucket(t *testing.T) {
	tb := NewTable(tick, 1, 0)
	tb.Add(1, 4000, 0)
	tb.Add(2, 4000, 0)
	if !tb.Touch(1, 3000) {
		t.Fatal("touch failed")
	}
	want := []Bucket{{Expiry: 6000, Sessions: []int64{2}}, {Expiry: 8000, Sessions: []int64{1}}}
	if got := tb.Buckets(); !reflect.DeepEqual(got, want) {
		t.Fatalf("buckets %+v, want %+v", got, want)
	}
	tb.Remove(2)
	// ExpiryQueue keeps emptied buckets until their time passes; dump shows them.
	want = []Bucket{{Expiry: 6000}, {Expiry: 8000, Sessions: []int64{1}}}
	if got := tb.Buckets(); !reflect.DeepEqual(got, want) {
		t.Fatalf("buckets %+v, want %+v", got, want)
	}
	if got := tb.Expired(6000); len(got) != 0 {
		t.Fatalf("Expired(6000) = %v", got)
	}
	if got := tb.Buckets(); len(got) != 1 {
		t.Fatalf("passed bucket kept: %+v", got)
	}
	if tb.Touch(99, 6000) {
		t.Fatal("unknown session touched")
	}
}

func TestSetClosingStopsTouchButNotExpiry(t *testing.T) {
	tb := NewTable(tick, 1, 0)
	tb.Add(5, 4000, 0)
	tb.SetClosing(5)
	if tb.Touch(5, 1000) {
		t.Fatal("closing session touched")
	}
	if got := tb.Expired(6000); !reflect.DeepEqual(got, []int64{5}) {
		t.Fatalf("Expired = %v; a slow close must still be reported", got)
	}
}

func TestExpiredCatchesUpSeveralBucketsInOrder(t *testing.T) {
	tb := NewTable(tick, 1, 0)
	tb.Add(30, 9000, 0) // 10000
	tb.Add(10, 1000, 0) // 2000
	tb.Add(20, 5000, 0) // 6000
	tb.Add(11, 1000, 0) // 2000
	if got := tb.Expired(50000); !reflect.DeepEqual(got, []int64{10, 11, 20, 30}) {
		t.Fatalf("Expired = %v", got)
	}
	if tb.NextExpiry() != 52000 {
		t.Fatalf("next expiry %d", tb.NextExpiry())
	}
}

func TestAddKeepsClosingAndUpdatesTimeout(t *testing.T) {
	tb := NewTable(tick, 1, 0)
	tb.Add(1, 4000, 0)
	tb.SetClosing(1)
	tb.Add(1, 10000, 0)
	if to, _ := tb.Get(1); to != 10000 || !tb.Closing(1) {
		t.Fatalf("timeout %d closing %v", to, tb.Closing(1))
	}
	if got := tb.Snapshot(); !reflect.DeepEqual(got, map[int64]int32{1: 10000}) {
		t.Fatalf("snapshot %v", got)
	}
}

func TestClockGoingBackwardsCannotMakeASessionImmortal(t *testing.T) {
	tb := NewTable(tick, 1, 0)
	tb.Expired(100000)
	tb.Add(1, 4000, 0) // a stale now: would land in a bucket already passed
	if got := tb.Expired(102000); !reflect.DeepEqual(got, []int64{1}) {
		t.Fatalf("Expired = %v", got)
	}
}

// model is a naive session tracker: every session remembers its deadline,
// and expiry scans them all.
type model struct {
	nextExpiry int64
	sessions   map[int64]*modelSession
	keys       map[int64]bool // bucket times created and not yet handed out
}

type modelSession struct {
	timeout   int32
	closing   bool
	deadline  int64
	scheduled bool
}

func roundUp(ms int64) int64 { return (ms/tick + 1) * tick }

func (m *model) schedule(s *modelSession, now int64) {
	d := max(roundUp(now+int64(s.timeout)), m.nextExpiry)
	if s.scheduled && s.deadline == d {
		return
	}
	s.deadline, s.scheduled = d, true
	m.keys[d] = true
}

func (m *model) expired(now int64) []int64 {
	var out []int64
	var ids []int64
	for id, s := range m.sessions {
		if s.scheduled && s.deadline <= now {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, func(a, b int64) int {
		if da, db := m.sessions[a].deadline, m.sessions[b].deadline; da != db {
			return int(da - db)
		}
		return int(a - b)
	})
	for _, id := range ids {
		m.sessions[id].closing, m.sessions[id].scheduled = true, false
		out = append(out, id)
	}
	for k := range m.keys {
		if k <= now {
			delete(m.keys, k)
		}
	}
	if now >= m.nextExpiry {
		m.nextExpiry = max(m.nextExpiry, roundUp(now))
	}
	return out
}

func (m *model) buckets() []Bucket {
	var out []Bucket
	for _, k := range slices.Sorted(maps.Keys(m.keys)) {
		b := Bucket{Expiry: k}
		for id, s := range m.sessions {
			if s.scheduled && s.deadline == k {
				b.Sessions = append(b.Sessions, id)
			}
		}
		slices.Sort(b.Sessions)
		out = append(out, b)
	}
	return out
}

func TestTableMatchesNaiveModel(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		now := rapid.Int64Range(0, 10*tick).Draw(rt, "start")
		tb := NewTable(tick, 1, now)
		m := &model{nextExpiry: roundUp(now), sessions: map[int64]*modelSession{}, keys: map[int64]bool{}}
		id := rapid.Int64Range(1, 6)
		for range rapid.IntRange(1, 60).Draw(rt, "steps") {
			switch op := rapid.IntRange(0, 5).Draw(rt, "op"); op {
			case 0:
				now += rapid.Int64Range(0, 3*tick).Draw(rt, "dt")
			case 1:
				sid, to := id.Draw(rt, "id"), rapid.Int32Range(0, 5*tick).Draw(rt, "timeout")
				tb.Add(sid, to, now)
				s := m.sessions[sid]
				if s == nil {
					s = &modelSession{}
					m.sessions[sid] = s
				}
				s.timeout = to
				m.schedule(s, now)
			case 2:
				sid := id.Draw(rt, "id")
				s := m.sessions[sid]
				want := s != nil && !s.closing
				if want {
					m.schedule(s, now)
				}
				if got := tb.Touch(sid, now); got != want {
					rt.Fatalf("Touch(%d) = %v, want %v", sid, got, want)
				}
			case 3:
				sid := id.Draw(rt, "id")
				tb.SetClosing(sid)
				if s := m.sessions[sid]; s != nil {
					s.closing = true
				}
			case 4:
				sid := id.Draw(rt, "id")
				tb.Remove(sid)
				delete(m.sessions, sid)
			case 5:
				got, want := tb.Expired(now), m.expired(now)
				if !slices.Equal(got, want) {
					rt.Fatalf("Expired(%d) = %v, want %v", now, got, want)
				}
			}
			if got, want := tb.Buckets(), m.buckets(); (len(got) != 0 || len(want) != 0) && !reflect.DeepEqual(got, want) {
				rt.Fatalf("Buckets() = %+v, want %+v", got, want)
			}
			snap := map[int64]int32{}
			for sid, s := range m.sessions {
				snap[sid] = s.timeout
				if tb.Closing(sid) != s.closing {
					rt.Fatalf("Closing(%d) = %v, want %v", sid, tb.Closing(sid), s.closing)
				}
			}
			if got := tb.Snapshot(); !maps.Equal(got, snap) {
				rt.Fatalf("Snapshot() = %v, want %v", got, snap)
			}
		}
	})
}

// A session kept alive by nothing expires no earlier than now+timeout and no
// later than one tick after it: the guarantee clients rely on.
func TestExpiryWindowProperty(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		start := rapid.Int64Range(0, 100*tick).Draw(rt, "start")
		touched := start + rapid.Int64Range(0, 5*tick).Draw(rt, "touchedAfter")
		timeout := rapid.Int32Range(1, 20*tick).Draw(rt, "timeout")
		tb := NewTable(tick, 1, start)
		tb.Add(1, timeout, start)
		tb.Touch(1, touched)
		var expiredAt int64 = -1
		for now := touched; now <= touched+int64(timeout)+2*tick; now += rapid.Int64Range(1, tick/2).Draw(rt, "step") {
			if len(tb.Expired(now)) > 0 {
				expiredAt = now
				break
			}
		}
		if expiredAt < touched+int64(timeout) {
			rt.Fatalf("expired at %d, before touch %d + timeout %d", expiredAt, touched, timeout)
		}
		if expiredAt > touched+int64(timeout)+tick+tick/2 {
			rt.Fatalf("expired at %d, more than a tick after %d", expiredAt, touched+int64(timeout))
		}
	})
}

// SessionTrackerImpl.checkSession: an unknown session, a closing one, and
// one owned by another server are refused; a session without an owner
// becomes the first checker's; setOwner (REVALIDATE) moves it.
func TestSessionOwners(t *testing.T) {
	tb := NewTable(tick, 1, 0)
	if err := tb.CheckSession(7, 2); err != ErrUnknown {
		t.Fatalf("unknown session: %v", err)
	}
	// createSession prepared through learner 2, not applied yet.
	tb.Claim(7, 2)
	if err := tb.CheckSession(7, 2); err != nil {
		t.Fatalf("the creator's request: %v", err)
	}
	if err := tb.CheckSession(7, 3); err != ErrMoved {
		t.Fatalf("another server's request: %v", err)
	}
	tb.Add(7, 4000, 0)
	if !tb.SetOwner(7, 3) {
		t.Fatal("SetOwner of a live session failed")
	}
	if err := tb.CheckSession(7, 2); err != ErrMoved {
		t.Fatalf("the old owner after the move: %v", err)
	}
	if err := tb.CheckSession(7, 3); err != nil {
		t.Fatalf("the new owner: %v", err)
	}
	tb.ClearOwners()
	if err := tb.CheckSession(7, 4); err != nil {
		t.Fatalf("a session without owner is the first checker's: %v", err)
	}
	if o, ok := tb.Owner(7); !ok || o != 4 {
		t.Fatalf("owner %d %v after the claim, want 4", o, ok)
	}
	tb.SetClosing(7)
	if err := tb.CheckSession(7, 4); err != ErrClosing {
		t.Fatalf("a closing session: %v", err)
	}
	if tb.SetOwner(7, 4) {
		t.Fatal("SetOwner of a closing session succeeded")
	}
	tb.Remove(7)
	if _, ok := tb.Owner(7); ok {
		t.Fatal("Remove kept the owner")
	}
	if tb.SetOwner(8, 1) {
		t.Fatal("SetOwner of an unknown session succeeded")
	}
}
