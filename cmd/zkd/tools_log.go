package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/spf13/cobra"

	"github.com/zkd/zkd/internal/config"
	"github.com/zkd/zkd/internal/jute"
	"github.com/zkd/zkd/internal/storage"
	"github.com/zkd/zkd/internal/txn"
)

var (
	// errReadOnly means a tool's read-only file system was asked to change a file.
	errReadOnly = errors.New("tools: read-only file system")
	// errNoLogs means a directory given to log verify holds no log files.
	errNoLogs = errors.New("no transaction log files (log.<zxid>)")
)

// How a log file's records end (logScan.Tail).
const (
	tailEOF       = "eof"       // the last record ends at end of file
	tailPadding   = "padding"   // zeros follow: unused preallocated space
	tailTorn      = "torn"      // bytes that are no valid record: a write cut short by a crash
	tailUnwritten = "unwritten" // the file is all zeros: created, never written
)

// logHeaderView is a log's FileHeader.
type logHeaderView struct {
	Record  string `json:"record"` // "header"
	File    string `json:"file"`
	Magic   string `json:"magic"`
	Version int32  `json:"version"`
	DBID    int64  `json:"dbid"`
	Size    int64  `json:"size"`
}

// logEndView says how a log's records ended.
type logEndView struct {
	Record       string `json:"record"` // "end"
	Txns         int    `json:"txns"`
	Undecodable  int    `json:"undecodable,omitempty"`
	FirstZxid    string `json:"firstZxid,omitempty"`
	LastZxid     string `json:"lastZxid,omitempty"`
	Offset       int64  `json:"offset"` // where the records end
	Size         int64  `json:"size"`
	Tail         string `json:"tail"`
	TailBytes    int64  `json:"tailBytes"`
	firstZ, last int64
}

func (e *logEndView) text() string {
	s := fmt.Sprintf("end: %s", plural(e.Txns, "txn"))
	if e.Txns > 0 {
		s += fmt.Sprintf(" (zxid %s to %s)", e.FirstZxid, e.LastZxid)
	}
	if e.Undecodable > 0 {
		s += fmt.Sprintf(", %d undecodable", e.Undecodable)
	}
	switch e.Tail {
	case tailEOF:
		s += fmt.Sprintf("; records end at end of file (offset %d)", e.Offset)
	case tailPadding:
		s += fmt.Sprintf("; zero padding (preallocated, unused) from offset %d to %d", e.Offset, e.Size)
	case tailTorn:
		s += fmt.Sprintf("; torn tail at offset %d: %d bytes that are not a complete record (a write cut short by a crash; replay ignores them, and recovery cuts them off when this is the newest log)", e.Offset, e.TailBytes)
	case tailUnwritten:
		s += fmt.Sprintf("; the file is %d zero bytes (created but never written)", e.Size)
	}
	return s
}

// logScan is what reading one log file found.
type logScan struct {
	header logHeaderView
	end    logEndView
}

// logRecordFunc receives each record: its offset, and the decoded txn or
// the reason it could not be decoded (tx is then nil; hdr is what the
// TxnHeader holds, if that much could be read).
type logRecordFunc func(offset int64, entry []byte, hdr txn.Header, tx *txn.Txn, decodeErr error) error

// scanLogFile reads every record of one log file with storage.ReadLog, so
// that the checks (header, checksums, framing, torn tails, zxid order) are
// exactly those recovery makes. read counts the bytes read, for progress.
// Corruption is an error matching storage.ErrCorrupt naming path.
func scanLogFile(path string, maxEntry int, read *atomic.Int64, fn logRecordFunc) (*logScan, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if info.IsDir() {
		return nil, fmt.Errorf("%s is a directory; give a log.<zxid> file", path)
	}
	size := info.Size()
	header, unwritten, err := readLogHeader(path, size)
	if err != nil {
		return nil, err
	}
	sc := &logScan{header: header, end: logEndView{Record: "end", Size: size}}

	fsys := &oneLogFS{real: path, read: read}
	maxRecord := maxEntry + max(1024, maxEntry)
	off := int64(16)
	if unwritten {
		off = 0
	}
	_, err = storage.ReadLog(fsys, oneLogDataDir, math.MinInt64, storage.ReadOptions{MaxEntrySize: maxEntry},
		func(zxid int64, entry []byte) error {
			recOff := off
			off += 12 + int64(len(entry)) + 1 // checksum, length, entry, 'B'
			if sc.end.Txns == 0 {
				sc.end.firstZ = zxid
			}
			sc.end.Txns++
			sc.end.last = zxid
			tx, derr := txn.Unmarshal(entry, maxRecord)
			var h txn.Header
			if derr != nil {
				sc.end.Undecodable++
				h.Decode(jute.NewDecoder(entry, maxRecord))
			} else {
				h = tx.Header
			}
			if fn == nil {
				return nil
			}
			return fn(recOff, entry, h, tx, derr)
		})
	if err != nil {
		var ce *storage.CorruptError
		if errors.As(err, &ce) {
			ce.Path = path // storage saw the file under oneLogFS's name
		}
		return sc, err
	}
	if sc.end.Txns > 0 {
		sc.end.FirstZxid, sc.end.LastZxid = hexID(sc.end.firstZ), hexID(sc.end.last)
	}
	sc.end.Offset = min(off, size)
	sc.end.TailBytes = size - sc.end.Offset
	switch {
	case unwritten:
		zero, err := zeroFrom(path, 0, size)
		if err != nil {
			return sc, err
		}
		if zero {
			sc.end.Tail = tailUnwritten
			break
		}
		sc.end.Tail = tailTorn
	case sc.end.TailBytes == 0:
		sc.end.Tail = tailEOF
	default:
		zero, err := zeroFrom(path, sc.end.Offset, size)
		if err != nil {
			return sc, err
		}
		sc.end.Tail = tailTorn
		if zero {
			sc.end.Tail = tailPadding
		}
	}
	return sc, nil
}

// readLogHeader reads a log's FileHeader; unwritten is true when its
// bytes are all zero (ZooKeeper created the file but wrote nothing).
func readLogHeader(path string, size int64) (h logHeaderView, unwritten bool, err error) {
	var hdr [16]byte
	if _, err := readAtMost(path, hdr[:]); err != nil {
		return h, false, err
	}
	h = logHeaderView{
		Record:  "header",
		File:    path,
		Magic:   string(bytes.TrimRight(hdr[:4], "\x00")),
		Version: int32(binary.BigEndian.Uint32(hdr[4:])),
		DBID:    int64(binary.BigEndian.Uint64(hdr[8:])),
		Size:    size,
	}
	return h, hdr == [16]byte{}, nil
}

// readAtMost reads the first len(b) bytes of a file (fewer if it is shorter).
func readAtMost(path string, b []byte) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n, err := io.ReadFull(f, b)
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		err = nil
	}
	return n, err
}

// zeroFrom reports whether bytes [from, to) of a file are all zero.
func zeroFrom(path string, from, to int64) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(io.NewSectionReader(f, from, to-from), 1<<20)
	buf := make([]byte, 1<<20)
	zeros := make([]byte, len(buf))
	for {
		n, err := r.Read(buf)
		if !bytes.Equal(buf[:n], zeros[:n]) {
			return false, nil
		}
		if err == io.EOF {
			return true, nil
		}
		if err != nil {
			return false, err
		}
	}
}

// oneLogDataDir is the data log directory under which oneLogFS shows its file.
const oneLogDataDir = "/zkd-log-file"

// oneLogFS shows one log file, read-only, as the only file of a data log
// directory, so that storage.ReadLog reads exactly that file whatever its
// name. It counts the bytes read.
type oneLogFS struct {
	real string
	read *atomic.Int64
}

var _ storage.FS = (*oneLogFS)(nil)

var oneLogPath = filepath.Join(oneLogDataDir, storage.VersionDir, storage.LogName(0))

func (o *oneLogFS) notFound(op, name string) error {
	return &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
}

func (o *oneLogFS) OpenFile(name string, flag int) (storage.File, error) {
	if name != oneLogPath {
		return nil, o.notFound("open", name)
	}
	if flag != os.O_RDONLY {
		return nil, &fs.PathError{Op: "open", Path: o.real, Err: errReadOnly}
	}
	f, err := os.Open(o.real)
	if err != nil {
		return nil, err
	}
	return &readOnlyFile{f: f, name: o.real, read: o.read}, nil
}

func (o *oneLogFS) Create(name string) (storage.File, error) {
	return nil, &fs.PathError{Op: "create", Path: name, Err: errReadOnly}
}
func (o *oneLogFS) Rename(oldname, newname string) error {
	return &fs.PathError{Op: "rename", Path: oldname, Err: errReadOnly}
}
func (o *oneLogFS) Remove(name string) error {
	return &fs.PathError{Op: "remove", Path: name, Err: errReadOnly}
}
func (o *oneLogFS) MkdirAll(dir string) error {
	return &fs.PathError{Op: "mkdir", Path: dir, Err: errReadOnly}
}
func (o *oneLogFS) SyncDir(dir string) error { return nil }

func (o *oneLogFS) ReadDir(dir string) ([]string, error) {
	if dir != filepath.Dir(oneLogPath) {
		return nil, o.notFound("readdir", dir)
	}
	return []string{filepath.Base(oneLogPath)}, nil
}

func (o *oneLogFS) Stat(name string) (fs.FileInfo, error) {
	if name != oneLogPath {
		return nil, o.notFound("stat", name)
	}
	return os.Stat(o.real)
}

// readOnlyFS is the OS file system, read-only, counting the bytes read:
// what the tools read a data directory through, so that they cannot
// change it.
type readOnlyFS struct {
	read *atomic.Int64
}

var _ storage.FS = readOnlyFS{}

func (r readOnlyFS) OpenFile(name string, flag int) (storage.File, error) {
	if flag != os.O_RDONLY {
		return nil, &fs.PathError{Op: "open", Path: name, Err: errReadOnly}
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	return &readOnlyFile{f: f, name: name, read: r.read}, nil
}
func (readOnlyFS) Create(name string) (storage.File, error) {
	return nil, &fs.PathError{Op: "create", Path: name, Err: errReadOnly}
}
func (readOnlyFS) Rename(oldname, newname string) error {
	return &fs.PathError{Op: "rename", Path: oldname, Err: errReadOnly}
}
func (readOnlyFS) Remove(name string) error {
	return &fs.PathError{Op: "remove", Path: name, Err: errReadOnly}
}
func (readOnlyFS) MkdirAll(dir string) error {
	return &fs.PathError{Op: "mkdir", Path: dir, Err: errReadOnly}
}
func (readOnlyFS) SyncDir(dir string) error              { return nil }
func (readOnlyFS) ReadDir(dir string) ([]string, error)  { return storage.OSFS{}.ReadDir(dir) }
func (readOnlyFS) Stat(name string) (fs.FileInfo, error) { return os.Stat(name) }

// readOnlyFile reads an OS file and counts the bytes read; it refuses
// every change.
type readOnlyFile struct {
	f    *os.File
	name string
	read *atomic.Int64
}

func (r *readOnlyFile) ReadAt(p []byte, off int64) (int, error) {
	n, err := r.f.ReadAt(p, off)
	if r.read != nil {
		r.read.Add(int64(n))
	}
	return n, err
}

func (r *readOnlyFile) Write(p []byte) (int, error) {
	return 0, &fs.PathError{Op: "write", Path: r.name, Err: errReadOnly}
}
func (r *readOnlyFile) WriteAt(p []byte, off int64) (int, error) {
	return 0, &fs.PathError{Op: "write", Path: r.name, Err: errReadOnly}
}
func (r *readOnlyFile) Truncate(size int64) error {
	return &fs.PathError{Op: "truncate", Path: r.name, Err: errReadOnly}
}
func (r *readOnlyFile) Sync() error  { return nil }
func (r *readOnlyFile) Close() error { return r.f.Close() }

type logDumpFlags struct {
	json     bool
	maxData  int
	progress bool
	maxEntry int
}

func logDumpCommand() *cobra.Command {
	var f logDumpFlags
	cmd := &cobra.Command{
		Use:   "dump FILE",
		Short: "Print every txn of a transaction log file (like Apache's TxnLogToolkit dump, but readable)",
		Long: `Print every record of a ZooKeeper transaction log (log.<zxid>, written by
zkd or Apache ZooKeeper): zxid, time (RFC 3339 UTC and ms since the epoch),
session id, cxid, txn type and the body (path, data as a quoted string or
hex:... when binary, cut after --max-data bytes, ACL as scheme:id:perms, versions, each op of a multi,
the ephemerals of a closeSession), the tree digest if present and the
record's offset. A final "end:" line says how the records end: at end of
file, in zero padding (the preallocated space), or in a torn tail.

With --json every line is one JSON object: a "header", one "txn" per
record, then an "end". Data is in "data" with "dataEncoding" utf8 or hex.

A corrupt record (bad checksum, bad framing) stops the dump with exit
status 2 and a message naming the file and the offset.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLogDump(cmd.OutOrStdout(), cmd.ErrOrStderr(), args[0], f)
		},
	}
	cmd.Flags().BoolVar(&f.json, "json", false, "one JSON object per line")
	cmd.Flags().IntVar(&f.maxData, "max-data", defaultMaxData, "in text output, cut data after this many bytes (0: never)")
	cmd.Flags().BoolVar(&f.progress, "progress", false, "print progress on stderr even when it is not a terminal")
	cmd.Flags().IntVar(&f.maxEntry, "jute-maxbuffer", config.DefaultJuteMaxBuffer, "largest entry accepted, as jute.maxbuffer")
	return cmd
}

func runLogDump(stdout, stderr io.Writer, path string, f logDumpFlags) error {
	out := bufio.NewWriterSize(stdout, 64<<10)
	defer out.Flush()
	var read atomic.Int64
	var txns atomic.Int64
	var size atomic.Int64
	if info, err := os.Stat(path); err == nil {
		size.Store(info.Size())
	}
	p := startProgress(stdout, stderr, f.progress, func() string {
		return fmt.Sprintf("log dump %s: read %s of %s, %d txns", filepath.Base(path), mib(read.Load()), mib(size.Load()), txns.Load())
	})
	info, err := os.Stat(path)
	if err != nil {
		p.finish()
		return fmt.Errorf("log dump: %w", err)
	}
	if !info.IsDir() {
		header, _, err := readLogHeader(path, info.Size())
		if err != nil {
			p.finish()
			return fmt.Errorf("log dump: %w", err)
		}
		if f.json {
			err = jsonLine(out, &header)
		} else {
			_, err = fmt.Fprintf(out, "file %s: transaction log, magic %q, format version %d, dbid %d, %d bytes\n",
				header.File, header.Magic, header.Version, header.DBID, header.Size)
		}
		if err != nil {
			p.finish()
			return err
		}
	}
	undecodable := 0
	sc, err := scanLogFile(path, f.maxEntry, &read, func(off int64, entry []byte, h txn.Header, tx *txn.Txn, derr error) error {
		txns.Add(1)
		if derr != nil {
			undecodable++
			v := txnView{Record: "txn", Offset: off, Zxid: hexID(h.Zxid), Time: formatMs(h.Time), TimeMs: h.Time,
				Session: hexID(h.ClientID), Cxid: h.Cxid, Type: h.Type.String()}
			if f.json {
				return jsonLine(out, struct {
					txnView
					DecodeError string `json:"decodeError"`
					Raw         string `json:"raw"`
				}{v, derr.Error(), fmt.Sprintf("%x", entry)})
			}
			_, err := fmt.Fprintf(out, "%s decodeError=%q raw=hex:%x\n", v.text(f.maxData), derr.Error(), entry)
			return err
		}
		v := viewTxn(off, tx)
		if f.json {
			return jsonLine(out, &v)
		}
		_, err := fmt.Fprintln(out, v.text(f.maxData))
		return err
	})
	p.finish()
	if err != nil {
		out.Flush()
		return corruptExit(fmt.Errorf("log dump: %w", err))
	}
	if f.json {
		if err := jsonLine(out, &sc.end); err != nil {
			return err
		}
	} else if _, err := fmt.Fprintln(out, sc.end.text()); err != nil {
		return err
	}
	if undecodable > 0 {
		out.Flush()
		return &exitError{code: exitCorrupt, msg: fmt.Sprintf("log dump: %s: %d records pass their checksum but do not decode as txns", path, undecodable)}
	}
	return nil
}

type logVerifyFlags struct {
	progress bool
	maxEntry int
}

func logVerifyCommand() *cobra.Command {
	var f logVerifyFlags
	cmd := &cobra.Command{
		Use:   "verify FILE|DIR...",
		Short: "Check transaction logs: header, checksums, framing, zxid order, txn bodies",
		Long: `Check transaction log files as recovery reads them: file header, each
record's Adler32 checksum and framing, increasing zxids, and that every
entry decodes as a txn. A DIR is a dataLogDir (or its version-2); all its
log.<zxid> files are checked.

A torn tail (a write cut short by a crash) is reported but is not an error:
ZooKeeper and zkd ignore it on replay. Exit status 2 when a file is
corrupt; the message names the file and the offset.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLogVerify(cmd.OutOrStdout(), cmd.ErrOrStderr(), args, f)
		},
	}
	cmd.Flags().BoolVar(&f.progress, "progress", false, "print progress on stderr even when it is not a terminal")
	cmd.Flags().IntVar(&f.maxEntry, "jute-maxbuffer", config.DefaultJuteMaxBuffer, "largest entry accepted, as jute.maxbuffer")
	return cmd
}

// expandLogArgs turns FILE|DIR arguments into log file paths.
func expandLogArgs(args []string) ([]string, error) {
	var files []string
	for _, a := range args {
		info, err := os.Stat(a)
		if err != nil {
			return nil, fmt.Errorf("log verify: %w", err)
		}
		if !info.IsDir() {
			files = append(files, a)
			continue
		}
		dataLogDir := a
		if abs, err := filepath.Abs(a); err == nil && filepath.Base(abs) == storage.VersionDir {
			dataLogDir = filepath.Dir(abs)
		}
		logs, err := storage.ListLogs(storage.OSFS{}, dataLogDir)
		if err != nil {
			return nil, fmt.Errorf("log verify: %w", err)
		}
		if len(logs) == 0 {
			return nil, fmt.Errorf("log verify: %w in %s", errNoLogs, filepath.Join(dataLogDir, storage.VersionDir))
		}
		for _, l := range logs {
			files = append(files, l.Path)
		}
	}
	return files, nil
}

func runLogVerify(out, stderr io.Writer, args []string, f logVerifyFlags) error {
	files, err := expandLogArgs(args)
	if err != nil {
		return err
	}
	var read atomic.Int64
	var current atomic.Value
	current.Store("")
	p := startProgress(out, stderr, f.progress, func() string {
		return fmt.Sprintf("log verify %s: read %s", current.Load(), mib(read.Load()))
	})
	defer p.finish()
	bad := 0
	for _, path := range files {
		current.Store(filepath.Base(path))
		firstBad := ""
		sc, err := scanLogFile(path, f.maxEntry, &read, func(off int64, _ []byte, h txn.Header, _ *txn.Txn, derr error) error {
			if derr != nil && firstBad == "" {
				firstBad = fmt.Sprintf("txn %s at offset %d does not decode: %v", hexID(h.Zxid), off, derr)
			}
			return nil
		})
		switch {
		case err != nil && errors.Is(err, storage.ErrCorrupt):
			bad++
			fmt.Fprintf(out, "%s: CORRUPT: %v\n", path, err)
		case err != nil:
			return fmt.Errorf("log verify: %s: %w", path, err)
		case firstBad != "":
			bad++
			fmt.Fprintf(out, "%s: CORRUPT: %s (%d undecodable)\n", path, firstBad, sc.end.Undecodable)
		default:
			fmt.Fprintf(out, "%s: ok, %s\n", path, sc.end.text()[len("end: "):])
		}
	}
	if bad > 0 {
		return &exitError{code: exitCorrupt, msg: fmt.Sprintf("log verify: %d of %s corrupt", bad, plural(len(files), "file"))}
	}
	return nil
}
