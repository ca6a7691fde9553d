package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/adler32"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/zkd/zkd/internal/jute"
)

// testBody encodes a tree body: an empty ACL cache, the root, /zookeeper,
// n more nodes with dataSize bytes each, and the "/" end marker.
func testBody(n, dataSize int) []byte {
	e := jute.NewEncoder(nil)
	e.Int(0)
	node := func(path string, data []byte) {
		e.String(path)
		e.Buffer(data)
		e.Long(-1)
		for range 4 {
			e.Long(1)
		}
		e.Int(0)
		e.Int(0)
		e.Int(0)
		e.Long(0)
		e.Long(1)
	}
	node("", nil)
	node("/zookeeper", nil)
	for i := range n {
		node(fmt.Sprintf("/n%d", i), bytes.Repeat([]byte{byte(i)}, dataSize))
	}
	e.String("/")
	return e.Bytes()
}

// noisyBody is testBody with values of random bytes, which no compressor
// shrinks.
func noisyBody(n, dataSize int) []byte {
	body := testBody(n, dataSize)
	rng := rand.New(rand.NewPCG(uint64(n), uint64(dataSize)))
	value := bytes.Repeat([]byte{0}, dataSize)
	for i := range n {
		// Each value follows its path and length prefix.
		at := bytes.Index(body, fmt.Appendf(nil, "/n%d\x00\x00", i)) + len(fmt.Sprintf("/n%d", i)) + 4
		copy(value, body[at:at+dataSize])
		for j := range value {
			value[j] = byte(rng.Uint32())
		}
		copy(body[at:], value)
	}
	return body
}

// streamBody writes body through flush in pieces, like tree.SerializeStream.
func streamBody(body []byte) func(e *jute.Encoder, flush func([]byte) error) error {
	return func(e *jute.Encoder, flush func([]byte) error) error {
		for chunk := range slices.Chunk(body, 4096) {
			e.Raw(chunk)
			if e.Len() >= 64<<10 {
				if err := flush(e.Bytes()); err != nil {
					return err
				}
				e.Reset()
			}
		}
		return nil
	}
}

// bodyReader captures the body a load hands to readTree.
type bodyReader struct {
	body  treeBody
	calls int
}

func (b *bodyReader) read(whole func() []byte) func(d *jute.Decoder) error {
	return func(d *jute.Decoder) error {
		b.calls++
		b.body = treeBody{}
		start := d.Offset()
		if err := parseTreeBody(d, nil, &b.body); err != nil {
			return err
		}
		if whole != nil {
			b.body.raw = bytes.Clone(whole()[start:d.Offset()])
		}
		return nil
	}
}

func writeTestSnapshot(t *testing.T, fsys FS, zxid int64, body []byte, compression string) SnapshotInfo {
	t.Helper()
	snap := Snapshot{Zxid: zxid, Sessions: map[int64]int32{zxid: 30000}, Digest: &ZxidDigest{Zxid: zxid, Version: 2, Digest: zxid * 31}}
	info, err := WriteSnapshot(fsys, "/d", snap, streamBody(body), SnapshotOptions{Compression: compression})
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func TestSnapshotRoundTrip(t *testing.T) {
	sessions := map[int64]int32{0x100000001: 30000, 0x100000002: 4000, -5: 1}
	for _, compression := range []string{CompressionNone, CompressionGzip, CompressionSnappy} {
		for _, digest := range []*ZxidDigest{nil, {Zxid: 0x100000007, Version: 2, Digest: -1234567}} {
			for _, nodes := range []int{0, 3, 1000} {
				fsys := NewMemFS()
				body := testBody(nodes, 500)
				snap := Snapshot{Zxid: 0x100000009, Sessions: sessions, Digest: digest}
				info, err := WriteSnapshot(fsys, "/d", snap, streamBody(body), SnapshotOptions{Compression: compression})
				if err != nil {
					t.Fatal(err)
				}
				wantName := "/d/version-2/snapshot.100000009"
				if compression != "" {
					wantName += "." + compression
				}
				if info.Path != wantName || info.Zxid != snap.Zxid || info.Compression != compression {
					t.Fatalf("info %+v", info)
				}
				raw := fileBytes(t, fsys, info.Path)
				if info.Size != int64(len(raw)) {
					t.Fatalf("info.Size %d, the file has %d bytes", info.Size, len(raw))
				}
				info.Size = 0 // only WriteSnapshot knows it
				whole, err := decompress(raw, compression)
				if err != nil {
					t.Fatal(err)
				}
				var br bodyReader
				got, ginfo, err := LoadNewestSnapshot(fsys, "/d", SnapshotOptions{}, br.read(func() []byte { return whole }))
				if err != nil {
					t.Fatalf("%q digest %v nodes %d: %v", compression, digest != nil, nodes, err)
				}
				if ginfo != info || got.Zxid != snap.Zxid || !maps.Equal(got.Sessions, sessions) || !bytes.Equal(br.body.raw, body) {
					t.Fatalf("%q: read back %+v %+v", compression, ginfo, got)
				}
				if (got.Digest == nil) != (digest == nil) || digest != nil && *got.Digest != *digest {
					t.Fatalf("digest %+v, want %+v", got.Digest, digest)
				}
				if compression == CompressionNone && len(raw) != len(whole) {
					t.Fatal("uncompressed file differs from its content")
				}
				if compression != CompressionNone && nodes == 1000 && len(raw) > len(whole)/5 {
					t.Fatalf("%q: %d bytes compressed to %d", compression, len(whole), len(raw))
				}
			}
		}
	}
}

func TestSnapshotLayout(t *testing.T) {
	// FileHeader, sessions, body, seal, ZxidDigest, seal (disk.md §5).
	fsys := NewMemFS()
	body := testBody(0, 0)
	info, err := WriteSnapshot(fsys, "/d", Snapshot{Zxid: 0xc, Sessions: map[int64]int32{7: 5000},
		Digest: &ZxidDigest{Zxid: 0xb, Version: 2, Digest: 99}}, streamBody(body), SnapshotOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e := jute.NewEncoder(nil)
	e.Int(0x5A4B534E)
	e.Int(2)
	e.Long(-1)
	e.Int(1)
	e.Long(7)
	e.Int(5000)
	e.Raw(body)
	e.Long(int64(adler32.Checksum(e.Bytes())))
	e.String("/")
	e.Long(0xb)
	e.Int(2)
	e.Long(99)
	e.Long(int64(adler32.Checksum(e.Bytes())))
	e.String("/")
	if got := fileBytes(t, fsys, info.Path); !bytes.Equal(got, e.Bytes()) {
		t.Fatalf("layout\n got %x\nwant %x", got, e.Bytes())
	}
	if names, _ := fsys.ReadDir("/d/version-2"); !slices.Equal(names, []string{"snapshot.c"}) {
		t.Fatalf("files %v (temporary file left?)", names)
	}
}

func TestSnapshotFallsBackAndQuarantines(t *testing.T) {
	body := testBody(5, 100)
	damage := map[string]func([]byte) []byte{
		"bit flip in body":   func(b []byte) []byte { b[60] ^= 4; return b },
		"truncated":          func(b []byte) []byte { return b[:len(b)-1] },
		"truncated mid-file": func(b []byte) []byte { return b[:len(b)/2] },
		"empty":              func([]byte) []byte { return nil },
		"bad first seal": func(b []byte) []byte {
			// Recompute the final seal so only the first one is wrong.
			i := bytes.Index(b, []byte{0, 0, 0, 1, '/'}) - 8
			b[i] ^= 1
			binary.BigEndian.PutUint64(b[len(b)-sealSize:], uint64(adler32.Checksum(b[:len(b)-sealSize])))
			return b
		},
	}
	for name, damageFn := range damage {
		for _, compression := range []string{CompressionNone, CompressionGzip, CompressionSnappy} {
			fsys := NewMemFS()
			writeTestSnapshot(t, fsys, 5, body, compression)
			writeTestSnapshot(t, fsys, 10, body, compression)
			newest := writeTestSnapshot(t, fsys, 15, body, compression)
			raw := fileBytes(t, fsys, newest.Path)
			if compression != CompressionNone {
				whole, _ := decompress(raw, compression)
				whole = damageFn(whole)
				if name == "bit flip in body" || name == "bad first seal" {
					raw = recompress(t, whole, compression)
				} else {
					raw = damageFn(raw) // damage the compressed stream itself
				}
			} else {
				raw = damageFn(raw)
			}
			writeFile(t, fsys, newest.Path, raw)
			var logs testLogger
			var br bodyReader
			snap, info, err := LoadNewestSnapshot(fsys, "/d", SnapshotOptions{Logger: logs.logger()}, br.read(nil))
			if err != nil || info.Zxid != 10 || snap.Sessions[10] != 30000 {
				t.Fatalf("%s %q: loaded %+v, %v", name, compression, info, err)
			}
			if _, err := fsys.Stat(newest.Path + ".broken"); err != nil {
				t.Fatalf("%s %q: broken snapshot not kept aside: %v", name, compression, err)
			}
			if !strings.Contains(logs.buf.String(), "renamedTo=") {
				t.Fatalf("%s: nothing logged:\n%s", name, logs.buf.String())
			}
			if snaps, _ := ListSnapshots(fsys, "/d"); len(snaps) != 2 {
				t.Fatalf("%s: listing still shows the broken snapshot: %+v", name, snaps)
			}
		}
	}
}

// recompress compresses data as WriteSnapshot would.
func recompress(t *testing.T, data []byte, compression string) []byte {
	t.Helper()
	var buf bytes.Buffer
	out, comp := compressor(&buf, compression)
	if _, err := out.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := comp.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestSnapshotReadTreeErrorFallsBack(t *testing.T) {
	fsys := NewMemFS()
	writeTestSnapshot(t, fsys, 5, testBody(1, 1), "")
	writeTestSnapshot(t, fsys, 6, testBody(1, 1), "")
	bad := errors.New("tree: duplicate node")
	calls := 0
	_, info, err := LoadNewestSnapshot(fsys, "/d", SnapshotOptions{}, func(d *jute.Decoder) error {
		calls++
		if calls == 1 {
			return bad
		}
		var b treeBody
		return parseTreeBody(d, nil, &b)
	})
	if err != nil || info.Zxid != 5 || calls != 2 {
		t.Fatalf("loaded %+v after %d calls: %v", info, calls, err)
	}
	// The tree's error is visible through the corruption error.
	_, err = ReadSnapshot(fsys, "/d/version-2/snapshot.6.broken", SnapshotOptions{}, func(*jute.Decoder) error { return bad })
	if !errors.Is(err, bad) || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("ReadSnapshot error %v", err)
	}
}

func TestSnapshotIOErrorStops(t *testing.T) {
	mem := NewMemFS()
	writeTestSnapshot(t, mem, 5, testBody(1, 1), "")
	writeTestSnapshot(t, mem, 6, testBody(1, 1), "")
	fsys := NewErrorFS(mem, &FailNth{N: 0, Ops: []Op{OpReadAt}})
	var br bodyReader
	_, _, err := LoadNewestSnapshot(fsys, "/d", SnapshotOptions{}, br.read(nil))
	if !errors.Is(err, ErrInjected) {
		t.Fatalf("err = %v", err)
	}
	if _, err := mem.Stat("/d/version-2/snapshot.6"); err != nil {
		t.Fatal("snapshot renamed after an I/O error")
	}
}

func TestNoSnapshot(t *testing.T) {
	var br bodyReader
	if _, _, err := LoadNewestSnapshot(NewMemFS(), "/d", SnapshotOptions{}, br.read(nil)); !errors.Is(err, ErrNoSnapshot) {
		t.Fatalf("err = %v", err)
	}
	fsys := NewMemFS()
	for z := int64(1); z <= MaxSnapshotCandidates+1; z++ {
		writeFile(t, fsys, fmt.Sprintf("/d/version-2/snapshot.%x", z), []byte("garbage"))
	}
	_, _, err := LoadNewestSnapshot(fsys, "/d", SnapshotOptions{}, br.read(nil))
	if !errors.Is(err, ErrNoValidSnapshot) {
		t.Fatalf("err = %v", err)
	}
	// The 101st newest was not tried.
	if _, err := fsys.Stat("/d/version-2/snapshot.1"); err != nil {
		t.Fatalf("snapshot beyond the candidate limit was touched: %v", err)
	}
}

func TestSnapshot39Trailer(t *testing.T) {
	// ZooKeeper 3.9 appends long lastProcessedZxid and a third seal.
	fsys := NewMemFS()
	info := writeTestSnapshot(t, fsys, 7, testBody(1, 1), "")
	e := jute.NewEncoder(fileBytes(t, fsys, info.Path))
	e.Long(0x9)
	e.Long(int64(adler32.Checksum(e.Bytes())))
	e.String("/")
	writeFile(t, fsys, info.Path, e.Bytes())
	var br bodyReader
	snap, _, err := LoadNewestSnapshot(fsys, "/d", SnapshotOptions{}, br.read(nil))
	if err != nil || snap.LastProcessedZxid != 9 || snap.Digest == nil {
		t.Fatalf("%+v %v", snap, err)
	}
}

func TestSnapshotWriteErrorSweep(t *testing.T) {
	body := testBody(50, 2000)
	for _, compression := range []string{CompressionNone, CompressionSnappy} {
		for n := int64(0); ; n++ {
			mem := NewMemFS()
			writeTestSnapshot(t, mem, 5, body, compression)
			inj := &FailNth{N: n}
			_, werr := WriteSnapshot(NewErrorFS(mem, inj), "/d", Snapshot{Zxid: 9, Sessions: map[int64]int32{9: 1}},
				streamBody(body), SnapshotOptions{Compression: compression})
			for _, disk := range []*MemFS{mem, mem.CrashClone()} {
				var br bodyReader
				_, info, err := LoadNewestSnapshot(disk, "/d", SnapshotOptions{}, br.read(nil))
				if err != nil || (info.Zxid != 5 && info.Zxid != 9) {
					t.Fatalf("fail op %d: load %+v %v", n, info, err)
				}
				if werr == nil && info.Zxid != 9 {
					t.Fatalf("fail op %d: written snapshot lost", n)
				}
			}
			if !inj.Hit() {
				if werr != nil {
					t.Fatal(werr)
				}
				break
			}
		}
	}
}

func TestSnappyStreamFraming(t *testing.T) {
	// SnappyOutputStream: 16-byte header, then int length + raw block per
	// 32 KiB of input; concatenated streams are read through.
	data := bytes.Repeat([]byte("zookeeper snapshot "), 5000) // ~95 KB: 3 blocks
	var buf bytes.Buffer
	w := newSnappyWriter(&buf)
	w.Write(data)
	w.Close()
	b := buf.Bytes()
	if !bytes.Equal(b[:16], []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1}) {
		t.Fatalf("header %x", b[:16])
	}
	chunks := 0
	for pos := 16; pos < len(b); chunks++ {
		pos += 4 + int(binary.BigEndian.Uint32(b[pos:]))
	}
	if chunks != 3 {
		t.Fatalf("%d chunks, want 3", chunks)
	}
	twice := append(slices.Clone(b), b...)
	got, err := decodeSnappyStream(twice)
	if err != nil || !bytes.Equal(got, append(slices.Clone(data), data...)) {
		t.Fatalf("concatenated stream: %v", err)
	}
	for _, bad := range [][]byte{b[:10], b[:len(b)-1], append(slices.Clone(b), 0, 0)} {
		if _, err := decodeSnappyStream(bad); err == nil {
			t.Fatalf("accepted a damaged stream of %d bytes", len(bad))
		}
	}
}

// A read that fails anywhere in a streamed snapshot, the first read or one
// deep in the tree body, stops the load with the I/O error: it is not
// mistaken for corruption, and no snapshot is moved aside.
func TestSnapshotStreamIOErrorSweep(t *testing.T) {
	// ~800 KB of incompressible values: several windows of the stream,
	// compressed or not.
	body := noisyBody(400, 2000)
	for _, compression := range []string{CompressionNone, CompressionGzip, CompressionSnappy} {
		for n := int64(0); ; n++ {
			mem := NewMemFS()
			writeTestSnapshot(t, mem, 5, body, compression)
			newest := writeTestSnapshot(t, mem, 6, body, compression)
			inj := &FailNth{N: n, Ops: []Op{OpReadAt}}
			var br bodyReader
			_, info, err := LoadNewestSnapshot(NewErrorFS(mem, inj), "/d", SnapshotOptions{}, br.read(nil))
			if err == nil {
				t.Logf("%q: loads once read %d is the first to fail", compression, n)
				if info.Zxid != 6 || n < 3 {
					t.Fatalf("%q: loaded %+v after failing read %d", compression, info, n)
				}
				break
			}
			if !errors.Is(err, ErrInjected) || errors.Is(err, ErrCorrupt) {
				t.Fatalf("%q, read %d fails: err = %v, want the injected I/O error", compression, n, err)
			}
			if _, err := mem.Stat(newest.Path); err != nil {
				t.Fatalf("%q, read %d fails: snapshot moved aside after an I/O error", compression, n)
			}
		}
	}
}

// A seal that fails once the tree body has been read (a bit flipped in the
// body, found only at the seal) still falls back to the previous
// snapshot, whose body is the one handed back.
func TestSnapshotStreamChecksumFailsAfterTheBody(t *testing.T) {
	fsys := NewMemFS()
	writeTestSnapshot(t, fsys, 5, testBody(3, 10), "")
	newest := writeTestSnapshot(t, fsys, 6, testBody(4, 10), "")
	raw := fileBytes(t, fsys, newest.Path)
	i := bytes.Index(raw, []byte("/n2")) + 10 // inside /n2's data
	raw[i] ^= 0x40
	writeFile(t, fsys, newest.Path, raw)
	var br bodyReader
	_, info, err := LoadNewestSnapshot(fsys, "/d", SnapshotOptions{}, br.read(nil))
	if err != nil || info.Zxid != 5 || br.calls != 2 || len(br.body.paths) != 5 {
		t.Fatalf("loaded %+v (%d paths) after %d tree reads: %v; want the previous snapshot's 5 znodes", info, len(br.body.paths), br.calls, err)
	}
}
