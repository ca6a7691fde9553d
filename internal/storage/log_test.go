package storage

import (
	"encoding/binary"
	"errors"
	"hash/adler32"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestLogRoundTrip(t *testing.T) {
	fsys := NewMemFS()
	l, err := OpenLog(fsys, "/data", LogOptions{PreAllocSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	appendAll(t, l, seq(1, 5)...)
	if err := l.Roll(); err != nil {
		t.Fatal(err)
	}
	appendAll(t, l, seq(6, 9)...)
	if got := l.LastZxid(); got != 9 {
		t.Fatalf("LastZxid = %#x, want 9", got)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	logs, err := ListLogs(fsys, "/data")
	if err != nil {
		t.Fatal(err)
	}
	if len(logs) != 2 || logs[0].Path != "/data/version-2/log.1" || logs[1].Path != "/data/version-2/log.6" {
		t.Fatalf("logs = %+v, want log.1 and log.6", logs)
	}
	recs, last, err := readAll(t, fsys, "/data", 0)
	if err != nil {
		t.Fatal(err)
	}
	if last != 9 || !slices.Equal(zxids(recs), seq(1, 9)) {
		t.Fatalf("read zxids %v last %#x", zxids(recs), last)
	}
	for _, r := range recs {
		if !slices.Equal(r.entry, entry(r.zxid)) {
			t.Fatalf("entry %#x differs after round trip", r.zxid)
		}
	}
}

func TestLogRecordBytes(t *testing.T) {
	// "checksum long = Adler32 of the entry bytes only, int length, entry, 0x42".
	fsys := NewMemFS()
	l, err := OpenLog(fsys, "/d", LogOptions{PreAllocSize: -1})
	if err != nil {
		t.Fatal(err)
	}
	appendAll(t, l, 1)
	l.Close()
	b := fileBytes(t, fsys, "/d/version-2/log.1")
	e := entry(1)
	want := []byte{'Z', 'K', 'L', 'G', 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0}
	want = binary.BigEndian.AppendUint64(want, uint64(adler32.Checksum(e)))
	want = binary.BigEndian.AppendUint32(want, uint32(len(e)))
	want = append(append(want, e...), 'B')
	if !slices.Equal(b, want) {
		t.Fatalf("file bytes\n got %x\nwant %x", b, want)
	}
}

func TestReadLogFrom(t *testing.T) {
	fsys := NewMemFS()
	l, _ := OpenLog(fsys, "/d", LogOptions{PreAllocSize: 4096})
	appendAll(t, l, seq(1, 4)...)
	l.Roll()
	appendAll(t, l, seq(5, 8)...)
	l.Roll()
	appendAll(t, l, seq(9, 10)...)
	l.Close()
	for _, tc := range []struct {
		from int64
		want []int64
	}{
		{0, seq(1, 10)}, {3, seq(4, 10)}, {4, seq(5, 10)}, {5, seq(6, 10)}, {9, []int64{10}}, {10, nil},
	} {
		recs, last, err := readAll(t, fsys, "/d", tc.from)
		if err != nil {
			t.Fatalf("from %d: %v", tc.from, err)
		}
		wantLast := tc.from
		if len(tc.want) > 0 {
			wantLast = tc.want[len(tc.want)-1]
		}
		if !slices.Equal(zxids(recs), tc.want) || last != wantLast {
			t.Errorf("from %d: got %v last %d, want %v last %d", tc.from, zxids(recs), last, tc.want, wantLast)
		}
	}
}

func TestReadLogGap(t *testing.T) {
	fsys := NewMemFS()
	l, _ := OpenLog(fsys, "/d", LogOptions{PreAllocSize: 4096})
	appendAll(t, l, 5, 6, 7, 1<<32|1, 1<<32|2)
	l.Close()
	// Replaying from snapshot 2 needs txns 3 and 4, which are not there.
	if _, _, err := readAll(t, fsys, "/d", 2); !errors.Is(err, ErrLogGap) {
		t.Fatalf("from 2: err = %v, want ErrLogGap", err)
	}
	// A new epoch restarts the counter: no gap.
	recs, _, err := readAll(t, fsys, "/d", 7)
	if err != nil || !slices.Equal(zxids(recs), []int64{1<<32 | 1, 1<<32 | 2}) {
		t.Fatalf("from 7: %v %v", zxids(recs), err)
	}
}

func TestAppendValidation(t *testing.T) {
	fsys := NewMemFS()
	l, _ := OpenLog(fsys, "/d", LogOptions{PreAllocSize: 4096, MaxEntrySize: 1000})
	appendAll(t, l, 1)
	for _, tc := range []struct {
		name string
		zxid int64
		e    []byte
		want error
	}{
		{"short", 2, entry(2)[:31], ErrBadEntry},
		{"mismatched zxid", 2, entry(5), ErrBadEntry},
		{"not increasing", 1, entry(1), ErrZxidOrder},
		{"too long", 2, append(entry(2), make([]byte, 2000)...), ErrBadEntry},
	} {
		if err := l.Append(tc.zxid, tc.e); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
	// Validation errors leave the log usable.
	appendAll(t, l, 2)
	l.Close()
	recs, _, err := readAll(t, fsys, "/d", 0)
	if err != nil || !slices.Equal(zxids(recs), []int64{1, 2}) {
		t.Fatalf("got %v, %v", zxids(recs), err)
	}
}

func TestPaddedSize(t *testing.T) {
	// FilePadding.calculateFileSizeWithPadding, case by case.
	const p = 64 << 20
	for _, tc := range []struct{ pos, size, prealloc, want int64 }{
		{16, 16, p, 16 + p},                  // new file: one block past the header
		{1000, 16 + p, p, 16 + p},            // far from the end: unchanged
		{16 + p - 4096, 16 + p, p, 16 + 2*p}, // within 4 KB: one more block
		{16 + p - 4097, 16 + p, p, 16 + p},
		{3*p + 5, 16 + p, p, 4 * p}, // past the end: next multiple above position
		{100, 16, 0, 16},            // preallocation off
	} {
		if got := paddedSize(tc.pos, tc.size, tc.prealloc); got != tc.want {
			t.Errorf("paddedSize(%d, %d, %d) = %d, want %d", tc.pos, tc.size, tc.prealloc, got, tc.want)
		}
	}
}

func TestPreallocationOnDisk(t *testing.T) {
	// "A new log is therefore 16 + 67,108,864 = 67,108,880 bytes long (observed)."
	dir := t.TempDir()
	l, err := OpenLog(OSFS{}, dir, LogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	appendAll(t, l, 1, 2)
	l.Close()
	info, err := os.Stat(filepath.Join(dir, "version-2", "log.1"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Size() != 67108880 {
		t.Fatalf("log size %d, want 67108880", info.Size())
	}
	recs, _, err := readAll(t, OSFS{}, dir, 0)
	if err != nil || len(recs) != 2 {
		t.Fatalf("read back %d records, %v", len(recs), err)
	}
}

func TestPreallocationGrows(t *testing.T) {
	fsys := NewMemFS()
	l, _ := OpenLog(fsys, "/d", LogOptions{PreAllocSize: 1024})
	e := entry(1)
	per := int64(len(e) + recordOverhead)
	n := int64(60)
	appendAll(t, l, seq(1, n)...)
	l.Close()
	size := int64(len(fileBytes(t, fsys, "/d/version-2/log.1")))
	end := 16 + n*per
	// Each append grows the file when it starts within 4 KB of the end, so the
	// file always extends at least 4 KB minus one record past the last record.
	if size < end || size-end > 4096+1024 || (size-16)%1024 != 0 {
		t.Fatalf("size %d for %d bytes of records", size, end)
	}
}

func TestOpenLogStartsNewFile(t *testing.T) {
	fsys := NewMemFS()
	l, _ := OpenLog(fsys, "/d", LogOptions{PreAllocSize: 4096})
	appendAll(t, l, 1, 2, 3)
	l.Close()
	l, err := OpenLog(fsys, "/d", LogOptions{PreAllocSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	if l.LastZxid() != 3 {
		t.Fatalf("LastZxid after reopen = %d", l.LastZxid())
	}
	if err := l.Append(3, entry(3)); !errors.Is(err, ErrZxidOrder) {
		t.Fatalf("re-append of 3: %v", err)
	}
	appendAll(t, l, 4)
	l.Close()
	names, _ := fsys.ReadDir("/d/version-2")
	if strings.Join(names, ",") != "log.1,log.4" {
		t.Fatalf("files %v", names)
	}
}

func TestTruncate(t *testing.T) {
	fsys := NewMemFS()
	l, _ := OpenLog(fsys, "/d", LogOptions{PreAllocSize: 4096})
	appendAll(t, l, seq(1, 5)...)
	l.Roll()
	appendAll(t, l, seq(6, 9)...)
	if err := l.Truncate(3); err != nil {
		t.Fatal(err)
	}
	if l.LastZxid() != 3 {
		t.Fatalf("LastZxid = %d", l.LastZxid())
	}
	appendAll(t, l, 4, 5)
	l.Close()
	recs, _, err := readAll(t, fsys, "/d", 0)
	if err != nil || !slices.Equal(zxids(recs), seq(1, 5)) {
		t.Fatalf("after truncate: %v %v", zxids(recs), err)
	}
	names, _ := fsys.ReadDir("/d/version-2")
	if strings.Join(names, ",") != "log.1,log.4" {
		t.Fatalf("files %v", names)
	}
}

func TestSlowSyncIsLogged(t *testing.T) {
	slow := InjectorFunc(func(op Op, _ string) error {
		if op == OpSync {
			time.Sleep(5 * time.Millisecond)
		}
		return nil
	})
	var logs testLogger
	l, _ := OpenLog(NewErrorFS(NewMemFS(), slow), "/d", LogOptions{PreAllocSize: 4096, SlowSync: time.Millisecond, Logger: logs.logger()})
	appendAll(t, l, 1)
	st := l.Stats()
	if st.Syncs != 1 || st.SlowSyncs != 1 || st.SyncTime < 5*time.Millisecond {
		t.Fatalf("stats %+v", st)
	}
	if !strings.Contains(logs.buf.String(), "fsync of the transaction log was slow") || !strings.Contains(logs.buf.String(), "took=") {
		t.Fatalf("log:\n%s", logs.buf.String())
	}
}

func TestNoSyncNeverFsyncs(t *testing.T) {
	inj := &FailNth{N: -1, Ops: []Op{OpSync, OpSyncDir}}
	l, _ := OpenLog(NewErrorFS(NewMemFS(), inj), "/d", LogOptions{PreAllocSize: 4096, NoSync: true})
	before := inj.Count()
	appendAll(t, l, 1, 2)
	l.Roll()
	appendAll(t, l, 3)
	l.Close()
	if inj.Count() != before {
		t.Fatalf("%d fsyncs with forceSync=no", inj.Count()-before)
	}
}
