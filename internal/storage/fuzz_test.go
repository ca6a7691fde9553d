package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/adler32"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/zkd/zkd/internal/jute"
)

// logSeeds are real and zkd-written logs, whole and damaged.
func logSeeds(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join(zkTestdata, VersionDir, "log.*"))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)-7])
		f.Add(append(slices.Clone(b), make([]byte, 600)...))
	}
	mem := NewMemFS()
	l, _ := OpenLog(mem, "/d", LogOptions{PreAllocSize: 1024})
	for z := int64(1); z <= 5; z++ {
		l.Append(z, entry(z))
	}
	l.Close()
	b := fileBytes(f, mem, "/d/version-2/log.1")
	f.Add(b)
	flipped := slices.Clone(b)
	flipped[100] ^= 1
	f.Add(flipped)
	f.Add([]byte{})
	f.Add(make([]byte, 40))
}

// FuzzReadLog feeds arbitrary bytes as the newest log file: reading and
// recovery never panic, only return records that are in the file, and
// recovery is idempotent.
func FuzzReadLog(f *testing.F) {
	logSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := NewMemFS()
		writeFile(t, fsys, "/d/version-2/log.1", data)
		recs, _, rerr := readAll(t, fsys, "/d", -1)
		if rerr != nil && !errors.Is(rerr, ErrCorrupt) {
			t.Fatalf("unexpected error type: %v", rerr)
		}
		// What was returned is exactly the file's first records.
		e := jute.NewEncoder(slices.Clone(data[:min(len(data), fileHeaderSize)]))
		for _, r := range recs {
			e.Long(int64(adler32.Checksum(r.entry)))
			e.Int(int32(len(r.entry)))
			e.Raw(r.entry)
			e.Byte('B')
			if binary.BigEndian.Uint64(r.entry[zxidOffset:]) != uint64(r.zxid) {
				t.Fatal("zxid not from the entry")
			}
		}
		if !bytes.HasPrefix(data, e.Bytes()) {
			t.Fatal("returned records are not the file's")
		}
		last, err := RecoverLog(fsys, "/d", ReadOptions{})
		if (err == nil) != (rerr == nil) {
			t.Fatalf("ReadLog: %v but RecoverLog: %v", rerr, err)
		}
		if err != nil {
			return
		}
		if len(recs) > 0 && last != recs[len(recs)-1].zxid {
			t.Fatalf("recovered last %d, read %d records", last, len(recs))
		}
		after, _, err := readAll(t, fsys, "/d", -1)
		if err != nil || len(after) != len(recs) {
			t.Fatalf("after recovery: %d records, %v (before %d)", len(after), err, len(recs))
		}
		snapshotOfDir, _ := fsys.ReadDir("/d/version-2")
		var before []byte
		if len(snapshotOfDir) > 0 {
			before = fileBytes(t, fsys, "/d/version-2/log.1")
		}
		if _, err := RecoverLog(fsys, "/d", ReadOptions{}); err != nil {
			t.Fatal(err)
		}
		if len(snapshotOfDir) > 0 && !bytes.Equal(before, fileBytes(t, fsys, "/d/version-2/log.1")) {
			t.Fatal("second recovery changed the file")
		}
	})
}

// FuzzReadSnapshot feeds arbitrary bytes as a snapshot (plain, gz or
// snappy): no panic, only ErrCorrupt errors, and whatever loads writes back
// to a snapshot that loads the same.
func FuzzReadSnapshot(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join(zkTestdata, VersionDir, "snapshot.*"))
	for _, p := range paths {
		b, _ := os.ReadFile(p)
		f.Add(b, uint8(0))
		f.Add(b[:len(b)-1], uint8(0))
	}
	for i, name := range []string{"snapshot.14.gz", "snapshot.14.snappy"} {
		b, _ := os.ReadFile(filepath.Join("testdata", name))
		f.Add(b, uint8(i+1))
	}
	names := []string{"snapshot.5", "snapshot.5.gz", "snapshot.5.snappy"}
	f.Fuzz(func(t *testing.T, data []byte, kind uint8) {
		fsys := NewMemFS()
		path := "/d/version-2/" + names[int(kind)%len(names)]
		writeFile(t, fsys, path, data)
		whole, _ := decompress(data, snapshotCompression(path))
		var body treeBody
		snap, err := ReadSnapshot(fsys, path, SnapshotOptions{}, func(d *jute.Decoder) error {
			return parseTreeBody(d, whole, &body)
		})
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("unexpected error type: %v", err)
			}
			return
		}
		again := NewMemFS()
		info, err := WriteSnapshot(again, "/d", snap, func(e *jute.Encoder, _ func([]byte) error) error {
			e.Raw(body.raw)
			return nil
		}, SnapshotOptions{Compression: snapshotCompression(path)})
		if err != nil {
			t.Fatal(err)
		}
		var body2 treeBody
		whole2, _ := decompress(fileBytes(t, again, info.Path), info.Compression)
		snap2, err := ReadSnapshot(again, info.Path, SnapshotOptions{}, func(d *jute.Decoder) error {
			return parseTreeBody(d, whole2, &body2)
		})
		if err != nil || !bytes.Equal(body.raw, body2.raw) || len(snap.Sessions) != len(snap2.Sessions) ||
			(snap.Digest == nil) != (snap2.Digest == nil) {
			t.Fatalf("rewrite differs: %v", err)
		}
	})
}

// FuzzSnappyStream: decoding never panics, and the writer's output decodes
// to its input.
func FuzzSnappyStream(f *testing.F) {
	b, _ := os.ReadFile(filepath.Join("testdata", "snapshot.14.snappy"))
	f.Add(b)
	f.Add(bytes.Repeat([]byte("abc"), 20000))
	f.Fuzz(func(t *testing.T, data []byte) {
		decodeSnappyStream(data)
		var buf bytes.Buffer
		w := newSnappyWriter(&buf)
		w.Write(data)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		got, err := decodeSnappyStream(buf.Bytes())
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("round trip: %v", err)
		}
	})
}
