package session

import (
	"math"
	"testing"
)

func TestInitialID(t *testing.T) {
	for _, tc := range []struct {
		name            string
		serverID, nowMs int64
		want            uint64
	}{
		// The Apache standalone server above (server id 1) started its ids at
		// 0x01000006e03a0000: elapsed ms 0x6e03a in bytes 2..6.
		{"apache standalone", 1, 0x6e03a, 0x01000006e03a0000},
		{"clock bits above 40 are dropped", 1, 1<<40 | 0x6e03a, 0x01000006e03a0000},
		{"clock never leaks into the server byte", 3, 0xffffffffff, 0x03ffffffffff0000},
		{"server 255", 255, 1, 0xff00000000010000},
		{"server 128 at clock 0 would be the container marker", 128, 0, 0x8000000000000001},
		{"server 0", 0, 0x123, 0x0000000001230000},
	} {
		if got := uint64(InitialID(tc.serverID, tc.nowMs)); got != tc.want {
			t.Errorf("%s: InitialID(%d, %#x) = %#016x, want %#016x", tc.name, tc.serverID, tc.nowMs, got, tc.want)
		}
	}
}

func TestNegotiateTimeout(t *testing.T) {
	for _, tc := range []struct{ req, min, max, want int32 }{
		{10000, 4000, 40000, 10000},
		{1000, 4000, 40000, 4000},
		{100000, 4000, 40000, 40000},
		{0, 4000, 40000, 4000},
		{-5, 4000, 40000, 4000},
		{5000, 6000, 3000, 3000}, // min applied first, then max
	} {
		if got := NegotiateTimeout(tc.req, tc.min, tc.max); got != tc.want {
			t.Errorf("NegotiateTimeout(%d, %d, %d) = %d, want %d", tc.req, tc.min, tc.max, got, tc.want)
		}
	}
}

func TestNextIDCountsUpAndSkipsUsedIDs(t *testing.T) {
	tb := NewTable(2000, 1, 0x6e03a)
	if got := uint64(tb.NextID()); got != 0x01000006e03a0000 {
		t.Fatalf("first id %#x", got)
	}
	tb.Add(0x01000006e03a0002, 5000, 0) // e.g. restored from a snapshot
	if got := uint64(tb.NextID()); got != 0x01000006e03a0001 {
		t.Fatalf("second id %#x", got)
	}
	if got := uint64(tb.NextID()); got != 0x01000006e03a0003 {
		t.Fatalf("third id %#x, want the restored id skipped", got)
	}
}

func TestNextIDNeverReturnsContainerMarker(t *testing.T) {
	tb := NewTable(2000, 0, 0)
	tb.nextID = math.MaxInt64
	if got := tb.NextID(); got != math.MaxInt64 {
		t.Fatalf("got %#x", got)
	}
	if got := tb.NextID(); got == math.MinInt64 {
		t.Fatal("NextID returned the container ephemeralOwner")
	}
}
