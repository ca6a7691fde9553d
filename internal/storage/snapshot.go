package storage

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"hash"
	"hash/adler32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/zkd/zkd/internal/jute"
)

var (
	// ErrNoSnapshot means dataDir holds no snapshot at all.
	ErrNoSnapshot = errors.New("storage: no snapshot found")
	// ErrNoValidSnapshot means every snapshot tried failed its checks.
	ErrNoValidSnapshot = errors.New("storage: no valid snapshot found")
	// ErrCompression means an unknown snapshot compression method.
	ErrCompression = errors.New("storage: unknown snapshot compression method")
)

// MaxSnapshotCandidates is how many of the newest snapshots a load tries,
// as ZooKeeper's FileSnap.deserialize does.
const MaxSnapshotCandidates = 100

// ZxidDigest is the tree digest recorded in a snapshot: the digest of the
// tree after the txn zxid (zero values when none was recorded yet).
type ZxidDigest struct {
	Zxid    int64
	Version int32 // 2 (txn.DigestVersion)
	Digest  int64
}

// Snapshot is everything in a snapshot file but the tree body.
type Snapshot struct {
	// Zxid is the snapshot's name: the last zxid applied when it started
	// (snapshots are fuzzy, so later txns may be in it too).
	Zxid int64
	// Sessions maps session id to timeout in ms.
	Sessions map[int64]int32
	// Digest is nil when the file has no digest section (digest disabled).
	Digest *ZxidDigest
	// LastProcessedZxid is ZooKeeper 3.9's optional trailing section; 0 when
	// absent. zkd writes the 3.8 layout and never sets it.
	LastProcessedZxid int64
}

// SnapshotOptions tune snapshot writing and loading. The zero value writes
// uncompressed snapshots and reads ZooKeeper's default limits.
type SnapshotOptions struct {
	// Compression is CompressionNone, CompressionGzip or CompressionSnappy
	// (zookeeper.snapshot.compression.method); only used when writing.
	Compression string
	// MaxEntrySize is jute.maxbuffer (0: jute.DefaultMaxBuffer); bounds
	// strings and buffers while reading, as for log entries.
	MaxEntrySize int
	// Logger receives warnings about snapshots that fail to load.
	Logger *slog.Logger
}

// snapshotWriter streams a snapshot: jute values go into enc, and spill
// passes them through the Adler32 and the compressor to the file.
type snapshotWriter struct {
	enc  *jute.Encoder
	sum  hash.Hash32
	out  io.Writer // compressor or buffered file
	comp io.WriteCloser
	bw   *bufio.Writer
}

// write passes b to the checksum and the file.
func (w *snapshotWriter) write(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	w.sum.Write(b)
	_, err := w.out.Write(b)
	return err
}

// spill writes what enc holds and empties it.
func (w *snapshotWriter) spill() error {
	err := w.write(w.enc.Bytes())
	w.enc.Reset()
	return err
}

// seal writes ZooKeeper's SnapStream.sealStream: the Adler32 of every byte
// so far as a long, then the string "/".
func (w *snapshotWriter) seal() error {
	if err := w.spill(); err != nil {
		return err
	}
	w.enc.Long(int64(w.sum.Sum32()))
	w.enc.String("/")
	return w.spill()
}

// WriteSnapshot writes dataDir/version-2/snapshot.<zxid>[.gz|.snappy] in
// ZooKeeper 3.8's layout: FileHeader, sessions, the tree body written by
// writeTree, a seal, then (when snap.Digest is set) the ZxidDigest and a
// second seal. It streams to "<name>.tmp", fsyncs, renames and fsyncs the
// directory, so a crash leaves either the whole snapshot or none.
//
// writeTree must encode into e the ACL cache, the nodes and the "/"
// end-of-nodes marker (exactly what ZooKeeper's DataTree.serialize
// writes); e starts empty. To keep memory bounded for large trees it may,
// as often as it likes, call flush(e.Bytes()) and then e.Reset(): flush
// passes the bytes through the checksum (and compressor) to the file.
// Whatever e holds when writeTree returns is written after. tree.Tree's
// SerializeStream has exactly this shape.
func WriteSnapshot(fsys FS, dataDir string, snap Snapshot, writeTree func(e *jute.Encoder, flush func([]byte) error) error, opts SnapshotOptions) (SnapshotInfo, error) {
	switch opts.Compression {
	case CompressionNone, CompressionGzip, CompressionSnappy:
	default:
		return SnapshotInfo{}, fmt.Errorf("%w: %q", ErrCompression, opts.Compression)
	}
	dir := filepath.Join(dataDir, VersionDir)
	if err := ensureDir(fsys, dir); err != nil {
		return SnapshotInfo{}, err
	}
	info := SnapshotInfo{Zxid: snap.Zxid, Path: filepath.Join(dir, SnapshotName(snap.Zxid, opts.Compression)), Compression: opts.Compression}
	tmp := info.Path + tmpSuffix
	f, err := fsys.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		return SnapshotInfo{}, err
	}
	size, err := writeSnapshotTo(f, snap, writeTree, opts.Compression)
	if err != nil {
		f.Close()
		fsys.Remove(tmp)
		return SnapshotInfo{}, err
	}
	if err := f.Close(); err != nil {
		fsys.Remove(tmp)
		return SnapshotInfo{}, err
	}
	if err := fsys.Rename(tmp, info.Path); err != nil {
		fsys.Remove(tmp)
		return SnapshotInfo{}, err
	}
	if err := fsys.SyncDir(dir); err != nil {
		return SnapshotInfo{}, err
	}
	info.Size = size
	return info, nil
}

// writebackEvery is how much of a snapshot is written between two
// writeback calls (RocksDB's bytes_per_sync idea). Without them a large
// snapshot's dirty pages pile up in the page cache and reach the disk
// all at once, at the fsync or when the kernel's dirty limits are hit;
// a transaction log fdatasync in that window waits behind hundreds of
// megabytes (measured: 139 ms writes during a 190 MiB snapshot).
const writebackEvery = 8 << 20

// countingWriter counts the bytes that reach the file and, on files that
// can, starts their writeback every writebackEvery bytes: the chunk just
// written is started, and the chunk before it waited for, so at most two
// chunks are dirty or in flight at a time.
type countingWriter struct {
	w    io.Writer
	n    int64
	wb   writebacker // nil: no early writeback
	mark int64       // bytes up to here have had their writeback started
	prev int64       // where the chunk ending at mark began
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	if err == nil && c.wb != nil && c.n-c.mark >= writebackEvery {
		var werr error
		if c.mark > 0 {
			// Wait for the previous chunk: the disk keeps up, or the
			// snapshot waits for it, not the log.
			werr = c.wb.StartWriteback(c.prev, c.mark-c.prev, true)
		}
		if werr == nil {
			werr = c.wb.StartWriteback(c.mark, c.n-c.mark, false)
		}
		if werr != nil {
			// Only advice (a file system may refuse it): the snapshot
			// goes on without it, and its fsync reports real I/O errors.
			c.wb = nil
		}
		c.prev, c.mark = c.mark, c.n
	}
	return n, err
}

// writeSnapshotTo streams the snapshot into f and returns its size.
func writeSnapshotTo(f File, snap Snapshot, writeTree func(e *jute.Encoder, flush func([]byte) error) error, compression string) (int64, error) {
	cw := &countingWriter{w: f}
	cw.wb, _ = f.(writebacker)
	w := &snapshotWriter{enc: jute.NewEncoder(make([]byte, 0, 64<<10)), sum: adler32.New(), bw: bufio.NewWriterSize(cw, 256<<10)}
	w.out, w.comp = compressor(w.bw, compression)
	e := w.enc
	e.Int(snapshotMagic)
	e.Int(fileVersion)
	e.Long(-1) // dbid: ZooKeeper writes -1 in snapshots
	EncodeSessions(e, snap.Sessions)
	if err := w.spill(); err != nil {
		return 0, err
	}
	if err := writeTree(e, w.write); err != nil {
		return 0, err
	}
	if err := w.seal(); err != nil { // spills what the tree left in e first
		return 0, err
	}
	if snap.Digest != nil {
		e.Long(snap.Digest.Zxid)
		e.Int(snap.Digest.Version)
		e.Long(snap.Digest.Digest)
		if err := w.seal(); err != nil {
			return 0, err
		}
	}
	if w.comp != nil {
		if err := w.comp.Close(); err != nil {
			return 0, err
		}
	}
	if err := w.bw.Flush(); err != nil {
		return 0, err
	}
	return cw.n, f.Sync()
}

// compressor returns the writer for a compression method over w, and the
// compressor to close at the end (nil when uncompressed).
func compressor(w io.Writer, compression string) (io.Writer, io.WriteCloser) {
	switch compression {
	case CompressionGzip:
		z := gzip.NewWriter(w)
		return z, z
	case CompressionSnappy:
		z := newSnappyWriter(w)
		return z, z
	}
	return w, nil
}

// snapshotCompression reads the compression from a snapshot's file name
// (ZooKeeper's SnapStream.getStreamMode: the last extension).
func snapshotCompression(path string) string {
	name := strings.TrimSuffix(filepath.Base(path), brokenSuffix)
	switch {
	case strings.HasSuffix(name, "."+CompressionGzip):
		return CompressionGzip
	case strings.HasSuffix(name, "."+CompressionSnappy):
		return CompressionSnappy
	}
	return CompressionNone
}

// ReadSnapshot reads and verifies one snapshot file. readTree gets a
// decoder positioned at the tree body and must consume it exactly (ACL
// cache, nodes, "/" end marker). Format and checksum failures, and errors
// from readTree, match ErrCorrupt; I/O errors are returned as they are.
//
// The file is read as a stream through a window of a few hundred KiB
// (decompressed on the way), never whole: recovering a large tree then
// needs little more memory than the tree. The Adler-32 of each seal is
// computed as the bytes go by, so readTree runs before the file is known to
// be sound: when a seal then fails, whatever readTree built must be thrown
// away, which FindNewestSnapshot's callers do by keeping only the tree of
// the snapshot it returns. An uncompressed file that does not end with a
// seal (torn) is refused before readTree is called, from its last bytes.
func ReadSnapshot(fsys FS, path string, opts SnapshotOptions, readTree func(d *jute.Decoder) error) (Snapshot, error) {
	f, err := fsys.OpenFile(path, os.O_RDONLY)
	if err != nil {
		return Snapshot{}, err
	}
	defer f.Close()
	info, err := fsys.Stat(path)
	if err != nil {
		return Snapshot{}, err
	}
	size := info.Size()
	compression := snapshotCompression(path)
	if compression == CompressionNone {
		// ZooKeeper's isValidSnapshot: at least 10 bytes, ending in the "/"
		// of a seal.
		var tail [5]byte
		if size < fileHeaderSize+4+sealSize {
			return Snapshot{}, &CorruptError{Path: path, Offset: max(size-5, 0), Reason: "does not end with a seal (incomplete file)"}
		}
		if _, err := f.ReadAt(tail[:], size-5); err != nil {
			return Snapshot{}, err
		}
		if !bytes.Equal(tail[:], []byte{0, 0, 0, 1, '/'}) {
			return Snapshot{}, &CorruptError{Path: path, Offset: size - 5, Reason: "does not end with a seal (incomplete file)"}
		}
	}
	file := &fileReader{r: io.NewSectionReader(f, 0, size)}
	var src io.Reader = file
	limit := size
	switch compression {
	case CompressionGzip:
		zr, err := gzip.NewReader(bufio.NewReaderSize(file, 64<<10))
		if err != nil {
			if file.err != nil {
				return Snapshot{}, file.err
			}
			return Snapshot{}, &CorruptError{Path: path, Reason: "cannot decompress", Err: err}
		}
		// DEFLATE expands at most ~1032 times; a longer stream is corrupt.
		src, limit = zr, size*1100+1<<20
	case CompressionSnappy:
		// A chunk inflates at most 32 times plus 64 bytes (snappyReader).
		src, limit = newSnappyReader(bufio.NewReaderSize(file, 64<<10)), size*33+1<<20
	}
	sum := adler32.New()
	d := jute.NewStreamDecoder(src, maxRecordLen(opts.MaxEntrySize), limit, sum)
	snap, err := parseSnapshot(path, d, sum, readTree)
	if file.err != nil {
		// The disk failed, whatever the parse made of it: not corruption.
		return Snapshot{}, file.err
	}
	if err != nil {
		return Snapshot{}, err
	}
	if z, _, ok := parseName(filepath.Base(path), snapshotPrefix); ok {
		snap.Zxid = z
	}
	return snap, nil
}

func readWholeFile(fsys FS, path string) ([]byte, error) {
	f, err := fsys.OpenFile(path, os.O_RDONLY)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := fsys.Stat(path)
	if err != nil {
		return nil, err
	}
	data := make([]byte, info.Size())
	if _, err := f.ReadAt(data, 0); err != nil && !(errors.Is(err, io.EOF) && len(data) == 0) {
		return nil, err
	}
	return data, nil
}

// fileReader reads a snapshot file and keeps its first read error, which
// tells a failing disk from a corrupt file once the decoder has stopped.
type fileReader struct {
	r   io.Reader
	err error
}

func (f *fileReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) && f.err == nil {
		f.err = err
	}
	return n, err
}

func decompress(raw []byte, compression string) ([]byte, error) {
	switch compression {
	case CompressionGzip:
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, err
		}
		// DEFLATE expands at most ~1032 times; a larger claim is corrupt.
		limit := int64(len(raw))*1100 + 1<<20
		out, err := io.ReadAll(io.LimitReader(zr, limit+1))
		if err != nil {
			return nil, err
		}
		if int64(len(out)) > limit {
			return nil, errors.New("gzip stream expands beyond any valid ratio")
		}
		return out, nil
	case CompressionSnappy:
		return decodeSnappyStream(raw)
	}
	return raw, nil
}

// sealSize is a seal's length: long checksum + ustring "/".
const sealSize = 8 + 4 + 1

// parseSnapshot decodes a snapshot from d, whose sum receives every byte
// consumed: each seal is checked against the Adler-32 of every byte before
// it.
func parseSnapshot(path string, d *jute.Decoder, sum hash.Hash32, readTree func(d *jute.Decoder) error) (Snapshot, error) {
	corrupt := func(off int, format string, args ...any) error {
		return &CorruptError{Path: path, Offset: int64(off), Reason: fmt.Sprintf(format, args...)}
	}
	// failed names a decoder error: a stream that would not decompress, or
	// one that ended or went wrong inside a value.
	failed := func(off int, what string) error {
		if errors.Is(d.Err(), jute.ErrRead) {
			return &CorruptError{Path: path, Offset: int64(off), Reason: "cannot decompress", Err: d.Err()}
		}
		return &CorruptError{Path: path, Offset: int64(off), Reason: what, Err: d.Err()}
	}
	magic, version, _ := d.Int(), d.Int(), d.Long()
	if d.Err() != nil {
		return Snapshot{}, failed(0, "file header")
	}
	if magic != snapshotMagic {
		return Snapshot{}, corrupt(0, "magic %#x, want %#x", uint32(magic), snapshotMagic)
	}
	if version != fileVersion {
		return Snapshot{}, corrupt(4, "format version %d, want %d", version, fileVersion)
	}
	sessions := DecodeSessions(d)
	if d.Err() != nil {
		return Snapshot{}, failed(fileHeaderSize, "sessions")
	}
	if sessions == nil {
		return Snapshot{}, corrupt(fileHeaderSize, "session count out of bounds")
	}
	snap := Snapshot{Sessions: sessions}
	treeStart := d.Offset()
	if err := readTree(d); err != nil {
		if errors.Is(err, jute.ErrRead) {
			return Snapshot{}, failed(d.Offset(), "tree body")
		}
		return Snapshot{}, &CorruptError{Path: path, Offset: int64(treeStart), Reason: "tree body", Err: err}
	}
	if d.Err() != nil {
		return Snapshot{}, failed(d.Offset(), "tree body")
	}
	checkSeal := func() error {
		off := d.Offset()
		d.SumConsumed()
		want := sum.Sum32()
		got := d.Long()
		slash := d.String()
		if d.Err() != nil {
			return failed(off, "seal missing")
		}
		if uint64(got) != uint64(want) || slash != "/" {
			return corrupt(off, "seal checksum %#x %q, computed %#x", got, slash, want)
		}
		return nil
	}
	// atEnd tells a clean end of the file from more bytes, or from a
	// stream that fails at its end (gzip checks its own CRC there).
	atEnd := func() (bool, error) {
		end := d.AtEnd()
		if d.Err() != nil {
			return false, failed(d.Offset(), "end of file")
		}
		return end, nil
	}
	if err := checkSeal(); err != nil {
		return Snapshot{}, err
	}
	if end, err := atEnd(); err != nil {
		return Snapshot{}, err
	} else if end {
		return snap, nil
	}
	off := d.Offset()
	dg := &ZxidDigest{Zxid: d.Long(), Version: d.Int(), Digest: d.Long()}
	if d.Err() != nil || dg.Version != 2 {
		if errors.Is(d.Err(), jute.ErrRead) {
			return Snapshot{}, failed(off, "digest section")
		}
		return Snapshot{}, corrupt(off, "digest section with version %d (only version 2 is read)", dg.Version)
	}
	if err := checkSeal(); err != nil {
		return Snapshot{}, err
	}
	snap.Digest = dg
	if end, err := atEnd(); err != nil {
		return Snapshot{}, err
	} else if end {
		return snap, nil
	}
	// ZooKeeper 3.9: long lastProcessedZxid and a third seal, then the end.
	off = d.Offset()
	snap.LastProcessedZxid = d.Long()
	if d.Err() != nil {
		return Snapshot{}, failed(off, "bytes after the digest")
	}
	if err := checkSeal(); err != nil {
		return Snapshot{}, err
	}
	if end, err := atEnd(); err != nil {
		return Snapshot{}, err
	} else if !end {
		return Snapshot{}, corrupt(d.Offset(), "unexpected bytes after the trailer")
	}
	return snap, nil
}

// FindNewestSnapshot loads the newest snapshot under dataDir/version-2
// that verifies, trying at most MaxSnapshotCandidates, and changes
// nothing. A snapshot that fails (ErrCorrupt: bad format, checksum or tree
// body) is skipped, as ZooKeeper skips it, and returned as a repair that
// moves it aside. readTree may thus be called several times: only the call
// for the snapshot returned counts. An I/O error stops the search and is
// returned.
func FindNewestSnapshot(fsys FS, dataDir string, opts SnapshotOptions, readTree func(d *jute.Decoder) error) (Snapshot, SnapshotInfo, []Repair, error) {
	logger := orDiscard(opts.Logger)
	snaps, err := ListSnapshots(fsys, dataDir)
	if err != nil {
		return Snapshot{}, SnapshotInfo{}, nil, err
	}
	if len(snaps) == 0 {
		return Snapshot{}, SnapshotInfo{}, nil, ErrNoSnapshot
	}
	var lastErr error
	var repairs []Repair
	for i := len(snaps) - 1; i >= 0 && i >= len(snaps)-MaxSnapshotCandidates; i-- {
		info := snaps[i]
		snap, err := ReadSnapshot(fsys, info.Path, opts, readTree)
		if err == nil {
			return snap, info, repairs, nil
		}
		if !errors.Is(err, ErrCorrupt) {
			return Snapshot{}, SnapshotInfo{}, nil, err
		}
		lastErr = err
		logger.Warn("storage: snapshot failed to load; trying the previous one", "file", info.Path, "err", err)
		repairs = append(repairs, Repair{Kind: MoveSnapshotAside, Path: info.Path, Why: err.Error()})
	}
	return Snapshot{}, SnapshotInfo{}, repairs, fmt.Errorf("%w: %w", ErrNoValidSnapshot, lastErr)
}

// LoadNewestSnapshot is FindNewestSnapshot followed by ApplyRepairs: the
// snapshots that failed are renamed to "<name>.broken".
func LoadNewestSnapshot(fsys FS, dataDir string, opts SnapshotOptions, readTree func(d *jute.Decoder) error) (Snapshot, SnapshotInfo, error) {
	snap, info, repairs, err := FindNewestSnapshot(fsys, dataDir, opts, readTree)
	ApplyRepairs(fsys, repairs, opts.Logger) // snapshot repairs only log their failures
	return snap, info, err
}

// quickSnapshotCheck is ZooKeeper's SnapStream.isValidSnapshot: an
// uncompressed file must be at least 10 bytes and end with the "/" of a
// seal; a compressed one must start with its codec's magic.
func quickSnapshotCheck(fsys FS, info SnapshotInfo) (bool, error) {
	f, err := fsys.OpenFile(info.Path, os.O_RDONLY)
	if err != nil {
		return false, err
	}
	defer f.Close()
	st, err := fsys.Stat(info.Path)
	if err != nil {
		return false, err
	}
	size := st.Size()
	var b [8]byte
	switch info.Compression {
	case CompressionGzip:
		if size < 2 {
			return false, nil
		}
		_, err := f.ReadAt(b[:2], 0)
		return err == nil && b[0] == 0x1f && b[1] == 0x8b, err
	case CompressionSnappy:
		if size < 8 {
			return false, nil
		}
		_, err := f.ReadAt(b[:8], 0)
		return err == nil && b == snappyMagic, err
	}
	if size < 10 {
		return false, nil
	}
	if _, err := f.ReadAt(b[:5], size-5); err != nil {
		return false, err
	}
	return bytes.Equal(b[:5], []byte{0, 0, 0, 1, '/'}), nil
}

// EncodeSessions writes the sessions section of a snapshot (count, then
// id and timeout in ascending id order), as a snapshot file and a
// leader's SNAP stream hold it.
func EncodeSessions(e *jute.Encoder, sessions map[int64]int32) {
	ids := make([]int64, 0, len(sessions))
	for id := range sessions {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	e.Int(int32(len(ids)))
	for _, id := range ids {
		e.Long(id)
		e.Int(sessions[id])
	}
}

// DecodeSessions reads the sessions section; nil when its count does not
// fit in what is left.
func DecodeSessions(d *jute.Decoder) map[int64]int32 {
	count := d.Int()
	if d.Err() != nil || count < 0 || int64(count)*12 > int64(d.Remaining()) {
		return nil
	}
	sessions := make(map[int64]int32, count)
	for range count {
		id := d.Long()
		sessions[id] = d.Int()
	}
	return sessions
}
