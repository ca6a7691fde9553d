package storage

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

func TestPurge(t *testing.T) {
	// Snapshots at 0x10, 0x20, 0x30, 0x40, 0x50 (plus a torn one and junk);
	// logs starting at 0x1, 0xc, 0x18, 0x25, 0x45.
	fsys := NewMemFS()
	body := testBody(1, 1)
	for _, z := range []int64{0x10, 0x20, 0x30, 0x40, 0x50} {
		writeTestSnapshot(t, fsys, z, body, "")
	}
	writeFile(t, fsys, "/d/version-2/snapshot.60", []byte("torn")) // fails the quick check
	writeFile(t, fsys, "/d/version-2/snapshot.8.broken", []byte("x"))
	writeFile(t, fsys, "/d/version-2/snapshot.9.tmp", []byte("x"))
	writeFile(t, fsys, "/d/version-2/notes.txt", []byte("x"))
	for _, z := range []int64{0x1, 0xc, 0x18, 0x25, 0x45} {
		writeFile(t, fsys, "/d/version-2/"+LogName(z), []byte("log"))
	}
	if _, err := Purge(fsys, "/d", "/d", 2); !errors.Is(err, ErrRetainCount) {
		t.Fatalf("retain 2: %v", err)
	}
	removed, err := Purge(fsys, "/d", "/d", 3)
	if err != nil {
		t.Fatal(err)
	}
	// Kept: snapshots 0x30, 0x40, 0x50; log.25 holds 0x30 and is kept with
	// the later logs; everything named below 0x30 goes.
	want := []string{"log.1", "log.c", "log.18", "snapshot.10", "snapshot.20", "snapshot.8.broken", "snapshot.9.tmp"}
	var got []string
	for _, p := range removed {
		got = append(got, p[len("/d/version-2/"):])
	}
	if !slices.Equal(got, want) {
		t.Fatalf("removed %v, want %v", got, want)
	}
	names, _ := fsys.ReadDir("/d/version-2")
	wantLeft := []string{"log.25", "log.45", "notes.txt", "snapshot.30", "snapshot.40", "snapshot.50", "snapshot.60"}
	if !slices.Equal(names, wantLeft) {
		t.Fatalf("left %v, want %v", names, wantLeft)
	}
	// Durable: the removals survive a crash.
	if names, _ := fsys.CrashClone().ReadDir("/d/version-2"); !slices.Equal(names, wantLeft) {
		t.Fatalf("after crash %v", names)
	}
}

func TestPurgeKeepsReplayable(t *testing.T) {
	// With separate dirs and a real log: after purging, the oldest kept
	// snapshot still replays to the end.
	fsys := NewMemFS()
	l, _ := OpenLog(fsys, "/logs", LogOptions{PreAllocSize: 4096})
	body := testBody(1, 1)
	for z := int64(1); z <= 60; z++ {
		appendAll(t, l, z)
		if z%10 == 0 {
			if _, err := WriteSnapshot(fsys, "/snaps", Snapshot{Zxid: z - 3}, streamBody(body), SnapshotOptions{}); err != nil {
				t.Fatal(err)
			}
			l.Roll()
		}
	}
	l.Close()
	if _, err := Purge(fsys, "/snaps", "/logs", 3); err != nil {
		t.Fatal(err)
	}
	snaps, _ := ListSnapshots(fsys, "/snaps")
	if len(snaps) != 3 || snaps[0].Zxid != 37 {
		t.Fatalf("snapshots %+v", snaps)
	}
	recs, last, err := readAll(t, fsys, "/logs", snaps[0].Zxid)
	if err != nil || last != 60 || recs[0].zxid != 38 {
		t.Fatalf("replay from %d: first %v last %d err %v", snaps[0].Zxid, fmt.Sprint(zxids(recs)[:1]), last, err)
	}
}
