package main

import (
	"fmt"
	"sort"
	"testing"
)

func TestReadOnlyMappingOf(t *testing.T) {
	const exe = "/usr/local/bin/zkd"
	for _, c := range []struct {
		line       string
		start, end uintptr
		ok         bool
	}{
		{"00400000-009a3000 r-xp 00000000 08:01 1234 /usr/local/bin/zkd", 0x400000, 0x9a3000, true},
		{"009a3000-00f1b000 r--p 005a3000 08:01 1234 /usr/local/bin/zkd", 0x9a3000, 0xf1b000, true},
		// Data and bss: DONTNEED would zero them.
		{"00f1b000-00f5c000 rw-p 00b1b000 08:01 1234 /usr/local/bin/zkd", 0, 0, false},
		{"c000000000-c000400000 rw-p 00000000 00:00 0", 0, 0, false},
		{"7f00000000-7f00001000 r--p 00000000 08:01 99 /usr/lib/other.so", 0, 0, false},
		{"7f00000000-7f00001000 r--s 00000000 08:01 1234 /usr/local/bin/zkd", 0, 0, false},
		{"garbage", 0, 0, false},
		{"00400000 r-xp 00000000 08:01 1234 /usr/local/bin/zkd", 0, 0, false},
	} {
		start, end, ok := readOnlyMappingOf(c.line, exe)
		if start != c.start || end != c.end || ok != c.ok {
			t.Errorf("%q: %x-%x %v, want %x-%x %v", c.line, start, end, ok, c.start, c.end, c.ok)
		}
	}
}

// The test binary releases its own code and read-only data and goes on
// running: code not yet run since (sort, fmt's verbs) faults back in.
func TestReleaseStartupPages(t *testing.T) {
	n, err := releaseStartupPages()
	if err != nil {
		t.Fatal(err)
	}
	if n < 1<<20 {
		t.Fatalf("released %d bytes of the test binary, want its text and rodata", n)
	}
	words := []string{"ok", "a", "m"}
	sort.Strings(words)
	if got := fmt.Sprintf("%08.3f|%x|%q", 3.14159, 255, words); got != `0003.142|ff|["a" "m" "ok"]` {
		t.Fatalf("after the release: %q", got)
	}
}
