package storage

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// buildLog writes records 1..n with zkd's Log into a fresh MemFS and returns
// the bytes of log.1 and each record's end offset.
func buildLog(t *testing.T, n int64, prealloc int64) ([]byte, []int64) {
	t.Helper()
	fsys := NewMemFS()
	l, err := OpenLog(fsys, "/d", LogOptions{PreAllocSize: prealloc})
	if err != nil {
		t.Fatal(err)
	}
	appendAll(t, l, seq(1, n)...)
	l.Close()
	data := fileBytes(t, fsys, "/d/version-2/log.1")
	ends := []int64{}
	off := int64(fileHeaderSize)
	for z := int64(1); z <= n; z++ {
		off += int64(len(entry(z)) + recordOverhead)
		ends = append(ends, off)
	}
	return data, ends
}

// withLogFile returns a MemFS holding data as /d/version-2/log.1.
func withLogFile(t *testing.T, data []byte) *MemFS {
	t.Helper()
	fsys := NewMemFS()
	writeFile(t, fsys, "/d/version-2/log.1", data)
	return fsys
}

// completeBefore is how many records end at or before offset cut.
func completeBefore(ends []int64, cut int64) int64 {
	n := int64(0)
	for _, e := range ends {
		if e <= cut {
			n++
		}
	}
	return n
}

func TestRecoverTruncatedAtEveryOffset(t *testing.T) {
	// "a record ... cut short at the end of the newest file is a torn tail
	// -> truncate to the last good record".
	data, ends := buildLog(t, 6, -1)
	for cut := ends[2]; cut <= int64(len(data)); cut++ {
		for _, zeroFill := range []bool{false, true} {
			img := slices.Clone(data[:cut])
			if zeroFill { // the rest of a preallocated block never got written
				img = append(img, make([]byte, 2000)...)
			}
			fsys := withLogFile(t, img)
			var logs testLogger
			l, err := OpenLog(fsys, "/d", LogOptions{PreAllocSize: 4096, Logger: logs.logger()})
			if err != nil {
				t.Fatalf("cut %d zeroFill %v: %v", cut, zeroFill, err)
			}
			want := completeBefore(ends, cut)
			if l.LastZxid() != want {
				t.Fatalf("cut %d: LastZxid %d, want %d", cut, l.LastZxid(), want)
			}
			recs, _, err := readAll(t, fsys, "/d", 0)
			if err != nil || !slices.Equal(zxids(recs), seq(1, want)) {
				t.Fatalf("cut %d: read %v, %v", cut, zxids(recs), err)
			}
			size := int64(len(fileBytes(t, fsys, "/d/version-2/log.1")))
			// The checksum's high bytes are zero, so a cut just after a
			// record can leave only zeros: that is a clean end.
			torn := !isZero(img[ends[want-1]:]) && len(img) > int(ends[want-1])
			switch {
			case torn && size != ends[want-1]:
				t.Fatalf("cut %d: torn tail kept, size %d, want %d", cut, size, ends[want-1])
			case torn && !strings.Contains(logs.buf.String(), "droppedBytes="):
				t.Fatalf("cut %d: no log line about dropped bytes:\n%s", cut, logs.buf.String())
			case !torn && size != int64(len(img)):
				t.Fatalf("cut %d at a record boundary: file changed to %d bytes", cut, size)
			}
			// Appending goes on after the recovered records.
			appendAll(t, l, want+1)
			l.Close()
			recs, _, err = readAll(t, fsys, "/d", 0)
			if err != nil || !slices.Equal(zxids(recs), seq(1, want+1)) {
				t.Fatalf("cut %d: after append read %v, %v", cut, zxids(recs), err)
			}
		}
	}
}

func TestRecoverZeroTailIsClean(t *testing.T) {
	data, ends := buildLog(t, 5, 64<<10)
	if int64(len(data)) != 16+64<<10 {
		t.Fatalf("preallocated size %d", len(data))
	}
	fsys := withLogFile(t, data)
	var logs testLogger
	l, err := OpenLog(fsys, "/d", LogOptions{Logger: logs.logger()})
	if err != nil || l.LastZxid() != 5 {
		t.Fatalf("open: %v, last %d", err, l.LastZxid())
	}
	if got := fileBytes(t, fsys, "/d/version-2/log.1"); !bytes.Equal(got, data) {
		t.Fatalf("clean log was modified")
	}
	if strings.Contains(logs.buf.String(), "WARN") {
		t.Fatalf("warnings for a clean log:\n%s", logs.buf.String())
	}
	_ = ends
}

func TestRecoverTornPage(t *testing.T) {
	// A crash wrote the first part of a record but not the sector holding
	// its end: from that sector on the file reads as zeros.
	data, ends := buildLog(t, 40, 64<<10)
	last := 39
	for ends[last-1]/sectorSize == (ends[last]-1)/sectorSize {
		last-- // find the last record that crosses a sector boundary
	}
	start := ends[last-1]
	hole := (start/sectorSize + 1) * sectorSize
	img := slices.Clone(data)
	clear(img[hole:])
	fsys := withLogFile(t, img)
	l, err := OpenLog(fsys, "/d", LogOptions{})
	if err != nil || l.LastZxid() != int64(last) {
		t.Fatalf("open: %v, last %d, want %d", err, l.LastZxid(), last)
	}
	if size := len(fileBytes(t, fsys, "/d/version-2/log.1")); int64(size) != start {
		t.Fatalf("size after recovery %d, want %d", size, start)
	}
}

func TestRecoverHoleBeforeUnsyncedRecords(t *testing.T) {
	// Pages of an unsynced batch reach the disk out of order: a zeroed
	// sector in record 30, records after it intact. Nothing after the hole
	// can have been acknowledged, so the tail from record 30 is torn.
	data, ends := buildLog(t, 40, 64<<10)
	start := ends[20]
	s := (start/sectorSize + 1) * sectorSize
	if s+sectorSize > ends[37] {
		t.Fatal("test layout: records too small")
	}
	img := slices.Clone(data)
	clear(img[s : s+sectorSize])
	fsys := withLogFile(t, img)
	l, err := OpenLog(fsys, "/d", LogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := completeBefore(ends, s)
	if l.LastZxid() != want {
		t.Fatalf("LastZxid %d, want %d", l.LastZxid(), want)
	}
}

func TestCorruptionInTheMiddleIsAnError(t *testing.T) {
	// "a CRC mismatch in the middle (followed by valid data) is corruption
	// -> error naming file and offset".
	data, ends := buildLog(t, 10, 4096)
	img := slices.Clone(data)
	img[ends[3]+40] ^= 0x10 // inside record 5's entry
	fsys := withLogFile(t, img)
	_, err := OpenLog(fsys, "/d", LogOptions{})
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.Path != "/d/version-2/log.1" || ce.Offset != ends[3] {
		t.Fatalf("err = %v, want CorruptError at log.1 offset %d", err, ends[3])
	}
	if !strings.Contains(err.Error(), "log.1") || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("error text %q", err)
	}
	if _, _, err := readAll(t, fsys, "/d", 0); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("ReadLog: %v", err)
	}
	// Recovery must not have touched the file.
	if !bytes.Equal(fileBytes(t, fsys, "/d/version-2/log.1"), img) {
		t.Fatal("corrupt log was modified")
	}
}

func TestBitFlipsAreDetected(t *testing.T) {
	data, ends := buildLog(t, 4, -1)
	orig := make(map[int64][]byte)
	for z := int64(1); z <= 4; z++ {
		orig[z] = entry(z)
	}
	for bit := 0; bit < len(data)*8; bit++ {
		img := slices.Clone(data)
		img[bit/8] ^= 1 << (bit % 8)
		off := int64(bit / 8)
		fsys := withLogFile(t, img)
		recs, _, rerr := readAll(t, fsys, "/d", 0)
		_, oerr := OpenLog(fsys, "/d", LogOptions{PreAllocSize: -1})
		for _, err := range []error{rerr, oerr} {
			if err != nil && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("bit %d: unexpected error %v", bit, err)
			}
		}
		// Never a changed entry: what is returned is a prefix of the originals.
		for i, r := range recs {
			if r.zxid != int64(i+1) || !bytes.Equal(r.entry, orig[r.zxid]) {
				t.Fatalf("bit %d: returned altered record %#x", bit, r.zxid)
			}
		}
		// Damage before the last record is always reported, except in
		// the header's dbid, which ZooKeeper never reads either.
		dbid := off >= 8 && off < fileHeaderSize
		if off < ends[2] && !dbid && (rerr == nil || oerr == nil) {
			t.Fatalf("bit %d (offset %d, before the last record): not detected (read %v, open %v)", bit, off, rerr, oerr)
		}
		// Damage in the last record may only lose that record.
		if off >= ends[2] && rerr == nil && len(recs) < 3 {
			t.Fatalf("bit %d: lost records before the damage: %v", bit, zxids(recs))
		}
	}
}

func TestZeroLengthRecordWithGarbageIsTorn(t *testing.T) {
	data, ends := buildLog(t, 3, 4096)
	img := slices.Clone(data)
	copy(img[ends[2]:], []byte{0xde, 0xad, 0xbe, 0xef}) // checksum bytes, length stays 0
	fsys := withLogFile(t, img)
	l, err := OpenLog(fsys, "/d", LogOptions{})
	if err != nil || l.LastZxid() != 3 {
		t.Fatalf("open: %v last %d", err, l.LastZxid())
	}
}

func TestRecoverRemovesEmptyNewestFile(t *testing.T) {
	data, _ := buildLog(t, 3, 4096)
	for _, empty := range [][]byte{nil, make([]byte, 10), make([]byte, 4096)} {
		fsys := withLogFile(t, data)
		writeFile(t, fsys, "/d/version-2/log.4", empty)
		l, err := OpenLog(fsys, "/d", LogOptions{PreAllocSize: 4096})
		if err != nil || l.LastZxid() != 3 {
			t.Fatalf("%d-byte newest file: %v last %d", len(empty), err, l.LastZxid())
		}
		// The next append may reuse the name.
		appendAll(t, l, 4)
		l.Close()
		recs, _, err := readAll(t, fsys, "/d", 0)
		if err != nil || !slices.Equal(zxids(recs), seq(1, 4)) {
			t.Fatalf("read %v %v", zxids(recs), err)
		}
	}
}

// TestRecoverRemovesTornHeader: a crash can keep a new log file's
// directory entry and only the first bytes of its header (found by
// internal/sim); that file held no record and goes, while a short file
// that is not a prefix of the header is corruption.
func TestRecoverRemovesTornHeader(t *testing.T) {
	data, _ := buildLog(t, 3, -1)
	for n := 1; n < fileHeaderSize; n++ {
		fsys := withLogFile(t, data)
		writeFile(t, fsys, "/d/version-2/log.4", data[:n])
		l, err := OpenLog(fsys, "/d", LogOptions{PreAllocSize: -1})
		if err != nil || l.LastZxid() != 3 {
			t.Fatalf("%d bytes of header: %v", n, err)
		}
		l.Close()
	}
	fsys := withLogFile(t, data)
	writeFile(t, fsys, "/d/version-2/log.4", []byte("ZKLX"))
	if _, err := OpenLog(fsys, "/d", LogOptions{}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("a short file that is not a header: err = %v", err)
	}
}

func TestBadMagicIsAnError(t *testing.T) {
	data, _ := buildLog(t, 3, 4096)
	img := slices.Clone(data)
	img[0] = 'X'
	if _, err := OpenLog(withLogFile(t, img), "/d", LogOptions{}); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "magic") {
		t.Fatalf("err = %v", err)
	}
}

func TestFailedSyncStopsTheLog(t *testing.T) {
	inj := &FailNth{N: 1, Ops: []Op{OpSync}}
	fsys := NewErrorFS(NewMemFS(), inj)
	l, err := OpenLog(fsys, "/d", LogOptions{PreAllocSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	appendAll(t, l, 1)
	if err := l.Append(2, entry(2)); err != nil {
		t.Fatal(err)
	}
	err = l.Sync()
	if !errors.Is(err, ErrLogFailed) || !errors.Is(err, ErrInjected) {
		t.Fatalf("sync: %v", err)
	}
	for name, call := range map[string]func() error{
		"append": func() error { return l.Append(3, entry(3)) },
		"sync":   l.Sync,
		"roll":   l.Roll,
	} {
		if err := call(); !errors.Is(err, ErrLogFailed) {
			t.Errorf("%s after failed fsync: %v", name, err)
		}
	}
	if !errors.Is(l.Err(), ErrLogFailed) {
		t.Errorf("Err() = %v", l.Err())
	}
}

func TestCrashLosesOnlyUnsynced(t *testing.T) {
	mem := NewMemFS()
	l, err := OpenLog(mem, "/d", LogOptions{PreAllocSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	appendAll(t, l, seq(1, 5)...)
	for _, z := range seq(6, 8) {
		l.Append(z, entry(z))
	}
	l.Roll() // writes 6..8 to the OS, but nothing fsyncs them
	l.Append(9, entry(9))
	crashed := mem.CrashClone()
	l2, err := OpenLog(crashed, "/d", LogOptions{PreAllocSize: 4096})
	if err != nil || l2.LastZxid() != 5 {
		t.Fatalf("after crash: %v last %d", err, l2.LastZxid())
	}
	recs, _, err := readAll(t, crashed, "/d", 0)
	if err != nil || !slices.Equal(zxids(recs), seq(1, 5)) {
		t.Fatalf("after crash read %v %v", zxids(recs), err)
	}
	// Once synced, all of it survives, including the rolled-to file.
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	recs, _, err = readAll(t, mem.CrashClone(), "/d", 0)
	if err != nil || !slices.Equal(zxids(recs), seq(1, 9)) {
		t.Fatalf("after sync and crash read %v %v", zxids(recs), err)
	}
}

func TestMemFSCrashSemantics(t *testing.T) {
	m := NewMemFS()
	m.MkdirAll("/a")
	f, _ := m.Create("/a/f")
	f.Write([]byte("hello"))
	f.Sync()
	if _, err := m.CrashClone().Stat("/a/f"); err == nil {
		t.Fatal("file survived a crash without a directory sync")
	}
	m.SyncDir("/")
	m.SyncDir("/a")
	f.Write([]byte(" world"))
	if got := fileBytes(t, m.CrashClone(), "/a/f"); string(got) != "hello" {
		t.Fatalf("crash kept %q, want the synced %q", got, "hello")
	}
	m.Rename("/a/f", "/a/g")
	c := m.CrashClone()
	if _, err := c.Stat("/a/g"); err == nil {
		t.Fatal("unsynced rename survived a crash")
	}
	m.SyncDir("/a")
	if _, err := m.CrashClone().Stat("/a/g"); err != nil {
		t.Fatal("synced rename lost")
	}
}

// TestErrorSweep fails operation 0, 1, 2, ... of a log workload (pebble's
// TestErrors) and checks that every record acknowledged by a successful
// Sync is there afterwards, both as the program left the disk and after a
// crash.
func TestErrorSweep(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := int64(0); ; n++ {
		mem := NewMemFS()
		inj := &FailNth{N: n}
		fsys := NewErrorFS(mem, inj)
		acked := int64(0)
		func() {
			l, err := OpenLog(fsys, "/d", LogOptions{PreAllocSize: 1024})
			if err != nil {
				return
			}
			defer l.Close()
			for z := int64(1); z <= 30; z++ {
				if err := l.Append(z, entry(z)); err != nil {
					return
				}
				if rng.IntN(3) == 0 || z == 30 {
					if err := l.Sync(); err != nil {
						return
					}
					acked = z
				}
				if z%10 == 0 {
					if err := l.Roll(); err != nil {
						return
					}
				}
			}
		}()
		for _, disk := range []*MemFS{mem, mem.CrashClone()} {
			l, err := OpenLog(disk, "/d", LogOptions{PreAllocSize: 1024})
			if err != nil {
				t.Fatalf("fail op %d: reopen: %v", n, err)
			}
			recs, _, err := readAll(t, disk, "/d", 0)
			if err != nil {
				t.Fatalf("fail op %d: read: %v", n, err)
			}
			if int64(len(recs)) < acked || !slices.Equal(zxids(recs), seq(1, int64(len(recs)))) {
				t.Fatalf("fail op %d: read %v, acked up to %d", n, zxids(recs), acked)
			}
			l.Close()
		}
		if !inj.Hit() {
			if acked != 30 {
				t.Fatalf("workload without failure acked %d", acked)
			}
			return
		}
	}
}
