package durability

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/adler32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// A deliberately small, independent reader of ZooKeeper's transaction log
// (shared/protocol/disk.md §2): the tests locate records with it to damage
// them, and must not trust the code under test to find them.

const (
	logFileHeader = 16 // int magic "ZKLG", int version 2, long dbid
	recordHeader  = 12 // long Adler32 checksum, int entry length
	txnHeaderLen  = 32 // long clientId, int cxid, long zxid, long time, int type
)

// Txn types whose body starts with the path (ustring).
var pathTxnTypes = map[int32]string{
	1: "create", 15: "create2", 19: "createContainer", 21: "createTTL",
	2: "delete", 20: "deleteContainer", 5: "setData", 7: "setACL",
}

// logRecord is one record of a log file.
type logRecord struct {
	Offset int64 // of the checksum field
	End    int64 // just past the 'B'
	Zxid   int64
	Type   int32
	Path   string // for pathTxnTypes
}

// dataFile is a log or snapshot file named for a zxid.
type dataFile struct {
	Path string
	Zxid int64
}

// listDataFiles returns dataDir/version-2/<prefix>.<hex zxid> files in zxid
// order (".tmp" and other suffixes are left out).
func listDataFiles(dataDir, prefix string) ([]dataFile, error) {
	dir := filepath.Join(dataDir, "version-2")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var files []dataFile
	for _, e := range entries {
		hex, ok := strings.CutPrefix(e.Name(), prefix+".")
		if !ok {
			continue
		}
		zxid, err := strconv.ParseUint(hex, 16, 64)
		if err != nil {
			continue
		}
		files = append(files, dataFile{Path: filepath.Join(dir, e.Name()), Zxid: int64(zxid)})
	}
	slices.SortFunc(files, func(a, b dataFile) int { return cmp.Compare(a.Zxid, b.Zxid) })
	return files, nil
}

// readLogRecords decodes path's records up to the first that is not a
// complete, checksummed record; goodEnd is just past the last good one.
func readLogRecords(path string) (records []logRecord, goodEnd int64, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, err
	}
	if len(data) < logFileHeader || string(data[:4]) != "ZKLG" {
		return nil, 0, fmt.Errorf("%s: not a transaction log", path)
	}
	off := int64(logFileHeader)
	for off+recordHeader <= int64(len(data)) {
		crc := binary.BigEndian.Uint64(data[off:])
		length := int64(int32(binary.BigEndian.Uint32(data[off+8:])))
		end := off + recordHeader + length + 1
		if length < txnHeaderLen || end > int64(len(data)) || data[end-1] != 'B' {
			break
		}
		entry := data[off+recordHeader : end-1]
		if uint64(adler32.Checksum(entry)) != crc {
			break
		}
		rec := logRecord{
			Offset: off,
			End:    end,
			Zxid:   int64(binary.BigEndian.Uint64(entry[12:])),
			Type:   int32(binary.BigEndian.Uint32(entry[28:])),
		}
		if _, ok := pathTxnTypes[rec.Type]; ok && len(entry) >= txnHeaderLen+4 {
			n := int(int32(binary.BigEndian.Uint32(entry[txnHeaderLen:])))
			if n >= 0 && txnHeaderLen+4+n <= len(entry) {
				rec.Path = string(entry[txnHeaderLen+4 : txnHeaderLen+4+n])
			}
		}
		records = append(records, rec)
		off = end
	}
	return records, off, nil
}

// copyDir copies a directory tree (regular files only), keeping file
// sizes and holes: preallocated logs are mostly zeros, which are skipped
// rather than written.
func copyDir(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		return copySparse(path, target)
	})
}

// Linux lseek whence values that find data and holes in sparse files.
const (
	seekData = 3
	seekHole = 4
)

func copySparse(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	info, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	buf := make([]byte, 64<<10)
	zero := make([]byte, len(buf))
	for off := int64(0); off < info.Size(); {
		start, end := off, info.Size() // without SEEK_DATA: read it all
		if s, err := in.Seek(off, seekData); errors.Is(err, syscall.ENXIO) {
			break // only a hole remains
		} else if err == nil {
			start = s
			if e, err := in.Seek(start, seekHole); err == nil {
				end = e
			}
		}
		for pos := start; pos < end; {
			n, err := in.ReadAt(buf[:min(int64(len(buf)), end-pos)], pos)
			if n > 0 && !bytes.Equal(buf[:n], zero[:n]) {
				if _, werr := out.WriteAt(buf[:n], pos); werr != nil {
					out.Close()
					return werr
				}
			}
			pos += int64(n)
			if err != nil && !errors.Is(err, io.EOF) {
				out.Close()
				return err
			}
			if n == 0 {
				break
			}
		}
		off = end
	}
	if err := out.Truncate(info.Size()); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// snapshotNode is one node of a snapshot file, with its stored zxids.
type snapshotNode struct {
	Path                string
	Czxid, Mzxid, Pzxid int64
}

// readSnapshotNodes decodes the nodes of an uncompressed snapshot
// (shared/protocol/disk.md §5): header, sessions, ACL cache, then nodes
// until the path "/".
func readSnapshotNodes(path string) ([]snapshotNode, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	d := &juteReader{b: data}
	if d.bytes(4); string(data[:4]) != "ZKSN" {
		return nil, fmt.Errorf("%s: not a snapshot", path)
	}
	d.bytes(12) // version, dbid
	for range d.int() {
		d.bytes(12) // long id, int timeout
	}
	for range d.int() {
		d.bytes(8) // ACL id
		for range d.int() {
			d.bytes(4) // perms
			d.buffer() // scheme
			d.buffer() // id
		}
	}
	var nodes []snapshotNode
	for d.err == nil {
		p := string(d.buffer())
		if p == "/" {
			break
		}
		d.buffer() // data
		d.bytes(8) // ACL id
		st := d.bytes(60)
		if d.err != nil {
			break
		}
		n := snapshotNode{Path: p}
		n.Czxid = int64(binary.BigEndian.Uint64(st[0:]))
		n.Mzxid = int64(binary.BigEndian.Uint64(st[8:]))
		n.Pzxid = int64(binary.BigEndian.Uint64(st[52:]))
		nodes = append(nodes, n)
	}
	if d.err != nil {
		return nil, fmt.Errorf("%s: %w", path, d.err)
	}
	return nodes, nil
}

// juteReader reads big-endian jute fields, remembering the first error.
type juteReader struct {
	b   []byte
	off int
	err error
}

func (r *juteReader) bytes(n int) []byte {
	if r.err != nil || n < 0 || r.off+n > len(r.b) {
		if r.err == nil {
			r.err = fmt.Errorf("truncated at offset %d (want %d bytes)", r.off, n)
		}
		return nil
	}
	b := r.b[r.off : r.off+n]
	r.off += n
	return b
}

func (r *juteReader) int() int {
	b := r.bytes(4)
	if b == nil {
		return 0
	}
	return int(int32(binary.BigEndian.Uint32(b)))
}

// buffer reads an int length and that many bytes (-1: nil).
func (r *juteReader) buffer() []byte {
	n := r.int()
	if n == -1 {
		return nil
	}
	return r.bytes(n)
}
