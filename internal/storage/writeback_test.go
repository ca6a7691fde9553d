package storage

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

type writebackCall struct {
	off, n int64
	wait   bool
}

type recordingWriteback struct {
	bytes.Buffer
	calls []writebackCall
	fail  error
}

func (r *recordingWriteback) StartWriteback(off, n int64, wait bool) error {
	r.calls = append(r.calls, writebackCall{off, n, wait})
	return r.fail
}

// TestSnapshotWritebackRefusedIsNoError: a file system that refuses
// sync_file_range costs the snapshot nothing but the early writeback.
func TestSnapshotWritebackRefusedIsNoError(t *testing.T) {
	f := &recordingWriteback{fail: errors.New("EINVAL")}
	cw := &countingWriter{w: f, wb: f}
	piece := bytes.Repeat([]byte{7}, 1<<20)
	for range 20 {
		if _, err := cw.Write(piece); err != nil {
			t.Fatalf("write: %v", err)
		}
	}
	if len(f.calls) != 1 || f.Len() != 20<<20 {
		t.Fatalf("%d writeback calls, %d bytes written; want 1 call, then none, and every byte", len(f.calls), f.Len())
	}
}

// TestSnapshotWritebackChunks: a snapshot's writer starts the writeback of
// every 8 MiB it has written and waits for the chunk before, so that at
// most two chunks are dirty at a time.
func TestSnapshotWritebackChunks(t *testing.T) {
	f := &recordingWriteback{}
	cw := &countingWriter{w: f, wb: f}
	piece := bytes.Repeat([]byte{7}, 1<<20)
	for range 26 {
		if _, err := cw.Write(piece); err != nil {
			t.Fatal(err)
		}
	}
	const mib = 1 << 20
	want := []writebackCall{
		{0, 8 * mib, false},
		{0, 8 * mib, true}, {8 * mib, 8 * mib, false},
		{8 * mib, 8 * mib, true}, {16 * mib, 8 * mib, false},
	}
	if fmt.Sprint(f.calls) != fmt.Sprint(want) {
		t.Fatalf("writeback calls %v; want %v", f.calls, want)
	}
	if f.Len() != 26*mib || cw.n != 26*mib {
		t.Fatalf("wrote %d bytes, counted %d; want %d", f.Len(), cw.n, 26*mib)
	}
}

// TestOSFileStartWriteback: sync_file_range on a real file succeeds, with
// and without waiting, and leaves the data as written.
func TestOSFileStartWriteback(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	f, err := OSFS{}.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data := bytes.Repeat([]byte("zkd"), 1<<20)
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	wb, ok := f.(writebacker)
	if !ok {
		t.Fatal("OSFS's files cannot start their writeback")
	}
	if err := wb.StartWriteback(0, int64(len(data)), false); err != nil {
		t.Fatal(err)
	}
	if err := wb.StartWriteback(0, int64(len(data)), true); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes (%v); want the %d written", len(got), err, len(data))
	}
}
