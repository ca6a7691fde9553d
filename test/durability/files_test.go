package durability

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"hash/adler32"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
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

// copyDir copies a directory tree (regular files only), keeping file sizes.
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
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
}
