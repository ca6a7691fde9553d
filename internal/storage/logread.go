package storage

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/adler32"
	"io"
	"log/slog"
	"math"
	"os"

	"github.com/zkd/zkd/internal/jute"
)

var (
	// ErrCorrupt means a file's contents fail a check (magic, checksum,
	// framing). Errors matching it are *CorruptError values naming the file
	// and offset.
	ErrCorrupt = errors.New("storage: corrupt file")
	// ErrLogGap means the logs do not continue from the requested zxid: in
	// the same epoch, the first txn after it is not the next counter value.
	ErrLogGap = errors.New("storage: transaction log does not continue from the snapshot")
)

const (
	logMagic       = 0x5A4B4C47 // "ZKLG"
	snapshotMagic  = 0x5A4B534E // "ZKSN"
	fileVersion    = 2
	fileHeaderSize = 16 // int magic, int version, long dbid
	recordHeader   = 12 // long checksum, int length
	recordOverhead = recordHeader + 1
	endOfRecord    = 'B'
	txnHeaderSize  = 32 // the smallest possible entry: a TxnHeader
	zxidOffset     = 12 // of the zxid inside a TxnHeader
	sectorSize     = 512
)

// CorruptError reports where a file fails its checks.
type CorruptError struct {
	Path   string
	Offset int64
	Reason string
	Err    error // underlying cause, if any (a decompression or tree error)
}

func (e *CorruptError) Error() string {
	msg := fmt.Sprintf("storage: %s: corrupt at offset %d: %s", e.Path, e.Offset, e.Reason)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Is makes errors.Is(err, ErrCorrupt) true.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

// Unwrap returns the underlying cause.
func (e *CorruptError) Unwrap() error { return e.Err }

// ReadOptions tune log reading. The zero value reads ZooKeeper's defaults.
type ReadOptions struct {
	// MaxEntrySize is jute.maxbuffer (0: jute.DefaultMaxBuffer). Like
	// ZooKeeper, entries up to MaxEntrySize + max(1024, MaxEntrySize) bytes
	// (jute.maxbuffer.extrasize) are accepted.
	MaxEntrySize int
	// Logger receives warnings about torn tails; nil discards them.
	Logger *slog.Logger
}

func maxRecordLen(maxEntry int) int {
	if maxEntry <= 0 {
		maxEntry = jute.DefaultMaxBuffer
	}
	return maxEntry + max(1024, maxEntry)
}

func orDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

// entryZxid is the zxid inside an entry's TxnHeader.
func entryZxid(entry []byte) int64 {
	return int64(binary.BigEndian.Uint64(entry[zxidOffset:]))
}

// epochOf is the high 32 bits of a zxid.
func epochOf(zxid int64) int64 { return zxid >> 32 }

// fileHeaderState classifies a file's first 16 bytes.
type fileHeaderState int

const (
	headerOK    fileHeaderState = iota
	headerEmpty                 // all zero, or a torn prefix of the header: created, never written whole
)

func checkFileHeader(f File, path string, size int64, magic int32) (fileHeaderState, error) {
	if size < fileHeaderSize {
		zero, err := allZero(f, 0, size)
		if err != nil {
			return 0, err
		}
		if zero || headerPrefix(f, size, magic) {
			// A crash after the file was created and before its header was
			// on disk (the directory entry can reach the disk first).
			return headerEmpty, nil
		}
		return 0, &CorruptError{Path: path, Offset: 0, Reason: fmt.Sprintf("file of %d bytes is shorter than its header", size)}
	}
	var hdr [fileHeaderSize]byte
	if _, err := f.ReadAt(hdr[:], 0); err != nil {
		return 0, err
	}
	if hdr == ([fileHeaderSize]byte{}) {
		return headerEmpty, nil
	}
	gotMagic := int32(binary.BigEndian.Uint32(hdr[0:]))
	version := int32(binary.BigEndian.Uint32(hdr[4:]))
	if gotMagic != magic {
		return 0, &CorruptError{Path: path, Offset: 0, Reason: fmt.Sprintf("magic %#x, want %#x", uint32(gotMagic), uint32(magic))}
	}
	if version != fileVersion {
		return 0, &CorruptError{Path: path, Offset: 4, Reason: fmt.Sprintf("format version %d, want %d", version, fileVersion)}
	}
	return headerOK, nil
}

// headerPrefix reports whether f's size bytes are the start of the header
// written for magic (with dbid 0).
func headerPrefix(f File, size int64, magic int32) bool {
	var want [fileHeaderSize]byte
	binary.BigEndian.PutUint32(want[0:], uint32(magic))
	binary.BigEndian.PutUint32(want[4:], fileVersion)
	got := make([]byte, size)
	if _, err := f.ReadAt(got, 0); err != nil {
		return false
	}
	return bytes.Equal(got, want[:size])
}

// allZero reports whether bytes [from, to) of f are all zero.
func allZero(f File, from, to int64) (bool, error) {
	buf := make([]byte, min(64<<10, max(to-from, 0)))
	skipper, sparse := f.(interface{ nextData(int64) (int64, bool) })
	for off := from; off < to; {
		if sparse {
			if next, ok := skipper.nextData(off); ok {
				if next >= to {
					return true, nil
				}
				off = max(off, next)
			}
		}
		n := int(min(int64(len(buf)), to-off))
		if _, err := f.ReadAt(buf[:n], off); err != nil {
			return false, err
		}
		if !bytes.Equal(buf[:n], zeros[:n]) {
			return false, nil
		}
		off += int64(n)
	}
	return true, nil
}

// scanResult says how a log file's records ended.
type scanResult struct {
	records  int
	lastZxid int64 // of the last good record (unset when records == 0)
	goodEnd  int64 // offset just past the last good record
	tornAt   int64 // offset of a torn tail, or -1 when the records end cleanly
}

// scanLog reads every record of an open log file after checking its
// header, calling fn for each good one (entry is only valid during the
// call). prevZxid is the zxid of the record before the file; zxids must
// increase.
//
// The records end cleanly at end of file or where only zeros remain (the
// preallocated tail). Any other bad record ends them as a torn tail when
// isTornTail says so, and is corruption otherwise.
func scanLog(f File, path string, size int64, maxLen int, prevZxid int64, fn func(zxid int64, entry []byte, end int64) error) (scanResult, error) {
	res := scanResult{goodEnd: fileHeaderSize, tornAt: -1}
	state, err := checkFileHeader(f, path, size, logMagic)
	if err != nil {
		return res, err
	}
	if state == headerEmpty {
		res.goodEnd = 0
		if size > 0 {
			res.tornAt = 0
		}
		return res, nil
	}
	br := bufio.NewReaderSize(io.NewSectionReader(f, fileHeaderSize, size-fileHeaderSize), 256<<10)
	var hdr [recordHeader]byte
	var entry []byte
	off := int64(fileHeaderSize)
	for off < size {
		bad := true
		var length int32
		var crc uint64
		if size-off >= recordHeader {
			if _, err := io.ReadFull(br, hdr[:]); err != nil {
				return res, err
			}
			crc = binary.BigEndian.Uint64(hdr[0:])
			length = int32(binary.BigEndian.Uint32(hdr[8:]))
			bad = length < txnHeaderSize || int(length) > maxLen || off+recordOverhead+int64(length) > size
		}
		if !bad {
			if cap(entry) < int(length)+1 {
				entry = make([]byte, length+1)
			}
			entry = entry[:length+1]
			if _, err := io.ReadFull(br, entry); err != nil {
				return res, err
			}
			bad = entry[length] != endOfRecord || uint64(adler32.Checksum(entry[:length])) != crc
		}
		if bad {
			torn, reason, err := classifyBadRecord(f, size, off, maxLen, prevZxid)
			if err != nil {
				return res, err
			}
			if reason != "" {
				return res, &CorruptError{Path: path, Offset: off, Reason: reason}
			}
			if torn {
				res.tornAt = off
			}
			return res, nil
		}
		zxid := entryZxid(entry)
		if zxid <= prevZxid {
			return res, &CorruptError{Path: path, Offset: off, Reason: fmt.Sprintf("zxid %#x does not follow %#x", zxid, prevZxid)}
		}
		end := off + recordOverhead + int64(length)
		if fn != nil {
			if err := fn(zxid, entry[:length], end); err != nil {
				return res, err
			}
		}
		prevZxid = zxid
		res.records++
		res.lastZxid = zxid
		res.goodEnd = end
		off = end
	}
	return res, nil
}

// classifyBadRecord decides what a record at offset x that fails its checks
// means (etcd's isTornEntry idea, adapted to unaligned records). It returns
// torn=false, reason="" for a clean end (only zeros remain), torn=true for a
// torn write, and a non-empty reason for corruption.
//
// A crash while appending leaves the unsynced tail as a mix of written data
// and never-written (zero) pages, possibly cut short by end of file. So a
// bad record is torn only when
//   - its length field is zero (ZooKeeper's end-of-log marker), or its
//     claimed bytes run past end of file, or overlap a zero-filled 512-byte
//     sector (counting only bytes from x on), or end in zeros that run to
//     the end of their sector (a tear inside a sector), and
//   - no valid record starts after x before that zero sector (or end of
//     file): a valid record there would have been written after the bad
//     one with no hole in between, so the bad one was once complete.
//
// Everything else (a checksum mismatch in a complete record, a missing end
// marker with no hole nearby, an impossible length) is corruption.
func classifyBadRecord(f File, size, x int64, maxLen int, prevZxid int64) (torn bool, reason string, err error) {
	zero, err := allZero(f, x, size)
	if err != nil || zero {
		return false, "", err
	}
	window := min(size-x, 2*int64(maxLen+recordOverhead)+2*sectorSize)
	buf := make([]byte, window)
	if _, err := f.ReadAt(buf, x); err != nil && !(errors.Is(err, io.EOF) && x+window == size) {
		return false, "", err
	}
	claimedEnd := x + recordHeader // an unusable length claims just the header
	var length int32
	var crc uint64
	headerComplete := size-x >= recordHeader
	if headerComplete {
		crc = binary.BigEndian.Uint64(buf[0:])
		length = int32(binary.BigEndian.Uint32(buf[8:]))
		if length >= txnHeaderSize && int(length) <= maxLen {
			claimedEnd = x + recordOverhead + int64(length)
		}
	}
	// The first zero sector at or after x, within the claimed bytes.
	zeroAt := int64(-1)
	for s := x - x%sectorSize; s < min(claimedEnd, size); s += sectorSize {
		lo, hi := max(s, x), min(s+sectorSize, size)
		if isZero(buf[lo-x : hi-x]) {
			zeroAt = s
			break
		}
	}
	// A zero length is ZooKeeper's end-of-log marker: the tail of a
	// preallocated file, possibly with garbage after it.
	zeroLength := headerComplete && length == 0
	// A tear inside a sector: the record's last byte (where 'B' belongs) is
	// zero and zeros run from it to the end of its sector.
	zeroEnd := false
	if claimedEnd <= size {
		b := claimedEnd - 1
		zeroEnd = isZero(buf[b-x : min(b-b%sectorSize+sectorSize, size)-x])
	}
	if claimedEnd <= size && zeroAt < 0 && !zeroLength && !zeroEnd {
		switch {
		case !headerComplete:
			return false, "record header cut short", nil
		case length < txnHeaderSize || int(length) > maxLen:
			return false, fmt.Sprintf("record length %d out of range [%d, %d]", length, txnHeaderSize, maxLen), nil
		case buf[claimedEnd-x-1] != endOfRecord:
			return false, "record does not end with 'B'", nil
		default:
			return false, fmt.Sprintf("checksum %#x does not match entry (Adler32 %#x)", crc,
				adler32.Checksum(buf[recordHeader:claimedEnd-x-1])), nil
		}
	}
	searchEnd := size
	if zeroAt >= 0 {
		searchEnd = max(zeroAt, x+1)
	}
	for y := x + 1; y < searchEnd && y-x < window; y++ {
		if validRecordAt(buf[y-x:], maxLen, prevZxid) {
			return false, fmt.Sprintf("bad record followed by a valid record at offset %d", y), nil
		}
	}
	return true, "", nil
}

// zeros is compared against with bytes.Equal, which is vectorized: a
// preallocated log's 64 MiB zero tail is checked at memory speed.
var zeros [64 << 10]byte

// isZero reports whether b is non-empty and all zero.
func isZero(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for len(b) > 0 {
		n := min(len(b), len(zeros))
		if !bytes.Equal(b[:n], zeros[:n]) {
			return false
		}
		b = b[n:]
	}
	return true
}

// validRecordAt reports whether b starts with a complete, checksummed record
// whose zxid follows prevZxid.
func validRecordAt(b []byte, maxLen int, prevZxid int64) bool {
	if len(b) < recordOverhead+txnHeaderSize {
		return false
	}
	length := int32(binary.BigEndian.Uint32(b[8:]))
	if length < txnHeaderSize || int(length) > maxLen || int(length)+recordOverhead > len(b) {
		return false
	}
	if b[recordHeader+int(length)] != endOfRecord {
		return false
	}
	entry := b[recordHeader : recordHeader+int(length)]
	return uint64(adler32.Checksum(entry)) == binary.BigEndian.Uint64(b) && entryZxid(entry) > prevZxid
}

// ReadLog replays the transaction logs under dataLogDir/version-2: it calls
// fn for every entry whose zxid is above fromZxid, in zxid order, reading
// the log file that starts at or before fromZxid and all later ones (as
// ZooKeeper's FileTxnLog.read does). entry is only valid during the call.
//
// It returns the zxid of the last entry passed to fn (fromZxid if none).
// A torn tail ends a file without error and reading goes on with the next
// file (ZooKeeper leaves torn tails behind when it restarts); corruption
// returns an error matching ErrCorrupt. When the first entry after fromZxid
// is in fromZxid's epoch but is not fromZxid+1, txns are missing and the
// error matches ErrLogGap. ReadLog never modifies files.
func ReadLog(fsys FS, dataLogDir string, fromZxid int64, opts ReadOptions, fn func(zxid int64, entry []byte) error) (int64, error) {
	logs, err := ListLogs(fsys, dataLogDir)
	if err != nil {
		return fromZxid, err
	}
	logger := orDiscard(opts.Logger)
	maxLen := maxRecordLen(opts.MaxEntrySize)
	first := 0
	for i, lf := range logs {
		if lf.Zxid <= fromZxid {
			first = i
		}
	}
	last := fromZxid
	prev := int64(math.MinInt64)
	delivered := false
	for i, lf := range logs[first:] {
		res, err := readOneLog(fsys, lf.Path, maxLen, prev, func(zxid int64, entry []byte, _ int64) error {
			if zxid <= fromZxid {
				return nil
			}
			if !delivered && epochOf(zxid) == epochOf(fromZxid) && zxid != fromZxid+1 {
				return fmt.Errorf("%w: first txn after %#x is %#x (%s)", ErrLogGap, fromZxid, zxid, lf.Path)
			}
			delivered = true
			last = zxid
			return fn(zxid, entry)
		})
		if err != nil {
			return last, err
		}
		if res.records > 0 {
			prev = res.lastZxid
		}
		if res.tornAt >= 0 {
			logger.Warn("storage: transaction log ends in a torn write", "file", lf.Path,
				"offset", res.tornAt, "newest", first+i == len(logs)-1)
		}
	}
	return last, nil
}

func readOneLog(fsys FS, path string, maxLen int, prev int64, fn func(zxid int64, entry []byte, end int64) error) (scanResult, error) {
	f, err := fsys.OpenFile(path, os.O_RDONLY)
	if err != nil {
		return scanResult{}, err
	}
	defer f.Close()
	info, err := fsys.Stat(path)
	if err != nil {
		return scanResult{}, err
	}
	return scanLog(f, path, info.Size(), maxLen, prev, fn)
}
