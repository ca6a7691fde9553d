package storage

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/adler32"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

var (
	// ErrLogFailed wraps the I/O error that stopped a Log: after a failed
	// write or fsync nothing is known about what reached the disk, so every
	// later call returns this error and the server must stop accepting writes.
	ErrLogFailed = errors.New("storage: transaction log failed")
	// ErrLogClosed means the Log was closed.
	ErrLogClosed = errors.New("storage: transaction log closed")
	// ErrBadEntry means Append was given an entry that cannot be logged
	// (too short for a TxnHeader, too long, or its zxid differs from the
	// zxid argument).
	ErrBadEntry = errors.New("storage: bad log entry")
	// ErrZxidOrder means Append was given a zxid not above the last one.
	ErrZxidOrder = errors.New("storage: zxid not above the last logged zxid")
)

const (
	// DefaultPreAllocSize is zookeeper.preAllocSize's default (65536 KB).
	DefaultPreAllocSize = 64 << 20
	// DefaultSlowSync is fsync.warningthresholdms's default.
	DefaultSlowSync = time.Second
	// writeBufferSize is how much Append buffers before handing bytes to
	// the OS even without a Sync.
	writeBufferSize = 256 << 10
	// padWindow: ZooKeeper grows the file when the write position comes
	// within this many bytes of its end (FilePadding).
	padWindow = 4096
)

// LogOptions configure a Log. The zero value is ZooKeeper's defaults.
type LogOptions struct {
	// PreAllocSize is the preallocation block in bytes
	// (zookeeper.preAllocSize is in KB). 0 means DefaultPreAllocSize;
	// negative disables preallocation.
	PreAllocSize int64
	// NoSync is zoo.cfg forceSync=no: Sync hands data to the OS but never
	// fsyncs.
	NoSync bool
	// MaxEntrySize is jute.maxbuffer (0: jute.DefaultMaxBuffer); see ReadOptions.
	MaxEntrySize int
	// SlowSync is the fsync duration above which a warning is logged
	// (0: DefaultSlowSync).
	SlowSync time.Duration
	// Logger receives recovery and slow-fsync messages; nil discards them.
	Logger *slog.Logger
}

// LogStats counts a Log's work.
type LogStats struct {
	Appends   int64         // records appended
	Syncs     int64         // fsyncs of the active file
	SlowSyncs int64         // fsyncs slower than SlowSync
	SyncTime  time.Duration // total time spent in fsync
}

// Log appends entries to ZooKeeper transaction log files
// (dataLogDir/version-2/log.<zxid>). It is safe for concurrent use, but
// callers normally drive it from one goroutine (see Committer).
type Log struct {
	mu       sync.Mutex
	fs       FS
	dir      string // dataLogDir/version-2
	opts     LogOptions
	logger   *slog.Logger
	maxLen   int
	prealloc int64

	file     File   // active file; nil until the first Append after open or Roll
	filePath string // of file
	fileSize int64  // file's size including preallocation
	written  int64  // bytes handed to the OS (file offset of buf[0])
	buf      []byte // records appended but not yet written
	// sealed are rolled files whose data is written but not yet fsynced.
	sealed []File
	// dirDirty means a log file was created since the directory was synced.
	dirDirty bool

	// Invariant: lastZxid is the zxid of the last appended (or recovered) record.
	lastZxid int64
	err      error // sticky: ErrLogFailed-wrapped I/O error, or ErrLogClosed
	closed   bool
	stats    LogStats
}

func (o LogOptions) preAllocSize() int64 {
	switch {
	case o.PreAllocSize == 0:
		return DefaultPreAllocSize
	case o.PreAllocSize < 0:
		return 0
	}
	return o.PreAllocSize
}

// OpenLog opens the logs under dataLogDir/version-2, creating the
// directory if needed, and repairs the newest file (see RecoverLog). The
// first Append then starts a new file, as ZooKeeper does after a restart.
func OpenLog(fsys FS, dataLogDir string, opts LogOptions) (*Log, error) {
	if opts.SlowSync <= 0 {
		opts.SlowSync = DefaultSlowSync
	}
	l := &Log{
		fs:       fsys,
		dir:      filepath.Join(dataLogDir, VersionDir),
		opts:     opts,
		logger:   orDiscard(opts.Logger),
		maxLen:   maxRecordLen(opts.MaxEntrySize),
		prealloc: opts.preAllocSize(),
	}
	if err := ensureDir(fsys, l.dir); err != nil {
		return nil, err
	}
	last, err := RecoverLog(fsys, dataLogDir, ReadOptions{MaxEntrySize: opts.MaxEntrySize, Logger: opts.Logger})
	if err != nil {
		return nil, err
	}
	l.lastZxid = last
	return l, nil
}

// LastZxid is the zxid of the last record appended or recovered (0 if none).
func (l *Log) LastZxid() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lastZxid
}

// Stats returns counters of the Log's work.
func (l *Log) Stats() LogStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stats
}

// Err returns the error that stopped the Log, or nil.
func (l *Log) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

func (l *Log) fail(err error) error {
	if l.err == nil {
		l.err = fmt.Errorf("%w: %w", ErrLogFailed, err)
		l.logger.Error("storage: transaction log failed; refusing further writes", "err", err)
	}
	return l.err
}

// Append buffers one record. entry is a whole log entry (TxnHeader, body,
// optional TxnDigest; txn.Marshal's output) whose TxnHeader carries zxid.
// It is durable only after Sync. Validation errors (ErrBadEntry,
// ErrZxidOrder) leave the Log usable; I/O errors stop it.
func (l *Log) Append(zxid int64, entry []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return l.err
	}
	switch {
	case len(entry) < txnHeaderSize:
		return fmt.Errorf("%w: %d bytes is shorter than a TxnHeader", ErrBadEntry, len(entry))
	case len(entry) > l.maxLen:
		return fmt.Errorf("%w: %d bytes exceeds the %d-byte limit", ErrBadEntry, len(entry), l.maxLen)
	case entryZxid(entry) != zxid:
		return fmt.Errorf("%w: entry holds zxid %#x, not %#x", ErrBadEntry, entryZxid(entry), zxid)
	case zxid <= l.lastZxid:
		return fmt.Errorf("%w: %#x after %#x", ErrZxidOrder, zxid, l.lastZxid)
	}
	if l.file == nil {
		if err := l.createFile(zxid); err != nil {
			return l.fail(err)
		}
	}
	if err := l.pad(l.written + int64(len(l.buf))); err != nil {
		return l.fail(err)
	}
	l.buf = binary.BigEndian.AppendUint64(l.buf, uint64(adler32.Checksum(entry)))
	l.buf = binary.BigEndian.AppendUint32(l.buf, uint32(len(entry)))
	l.buf = append(l.buf, entry...)
	l.buf = append(l.buf, endOfRecord)
	l.lastZxid = zxid
	l.stats.Appends++
	if len(l.buf) >= writeBufferSize {
		if err := l.flush(); err != nil {
			return l.fail(err)
		}
	}
	return nil
}

// createFile starts log.<zxid> with its FileHeader.
func (l *Log) createFile(zxid int64) error {
	path := filepath.Join(l.dir, LogName(zxid))
	f, err := l.fs.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL)
	if err != nil {
		return err
	}
	var hdr [fileHeaderSize]byte
	binary.BigEndian.PutUint32(hdr[0:], logMagic)
	binary.BigEndian.PutUint32(hdr[4:], fileVersion)
	// dbid 0: ZooKeeper has always written 0 here.
	if _, err := f.WriteAt(hdr[:], 0); err != nil {
		f.Close()
		return err
	}
	if l.logger.Enabled(context.Background(), slog.LevelInfo) {
		l.logger.Info("storage: creating new log file", "file", path, "zxid", "0x"+strconv.FormatUint(uint64(zxid), 16))
	}
	l.file, l.filePath = f, path
	l.fileSize = fileHeaderSize
	l.written = fileHeaderSize
	l.dirDirty = true
	return nil
}

// pad grows the file like ZooKeeper's FilePadding.padFile: when position is
// within 4 KB of the file's end, write one zero byte at the end of the next
// preallocation block (the file system leaves the gap sparse).
func (l *Log) pad(position int64) error {
	newSize := paddedSize(position, l.fileSize, l.prealloc)
	if newSize == l.fileSize {
		return nil
	}
	if _, err := l.file.WriteAt([]byte{0}, newSize-1); err != nil {
		return err
	}
	l.fileSize = newSize
	return nil
}

// paddedSize is FilePadding.calculateFileSizeWithPadding.
func paddedSize(position, fileSize, preAllocSize int64) int64 {
	if preAllocSize > 0 && position+padWindow >= fileSize {
		if position > fileSize {
			fileSize = position + preAllocSize
			fileSize -= fileSize % preAllocSize
		} else {
			fileSize += preAllocSize
		}
	}
	return fileSize
}

// flush hands the buffered records to the OS.
func (l *Log) flush() error {
	if len(l.buf) == 0 {
		return nil
	}
	if _, err := l.file.WriteAt(l.buf, l.written); err != nil {
		return err
	}
	l.written += int64(len(l.buf))
	l.fileSize = max(l.fileSize, l.written)
	l.buf = l.buf[:0]
	return nil
}

// Sync writes the buffered records and fsyncs them (unless NoSync), along
// with files rolled away from and a newly created file's directory entry.
// When it returns nil every appended record is durable. A failure stops
// the Log.
func (l *Log) Sync() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.syncLocked()
}

func (l *Log) syncLocked() error {
	if l.err != nil {
		return l.err
	}
	if l.file != nil {
		if err := l.flush(); err != nil {
			return l.fail(err)
		}
	}
	for len(l.sealed) > 0 {
		f := l.sealed[0]
		if !l.opts.NoSync {
			if err := f.Sync(); err != nil {
				return l.fail(err)
			}
		}
		if err := f.Close(); err != nil {
			return l.fail(err)
		}
		l.sealed = l.sealed[1:]
	}
	if l.opts.NoSync {
		return nil
	}
	if l.file != nil {
		start := time.Now()
		err := l.file.Sync()
		took := time.Since(start)
		l.stats.Syncs++
		l.stats.SyncTime += took
		if took > l.opts.SlowSync {
			l.stats.SlowSyncs++
			l.logger.Warn("storage: fsync of the transaction log was slow; this adds to write latency",
				"file", l.filePath, "took", took, "threshold", l.opts.SlowSync)
		}
		if err != nil {
			return l.fail(err)
		}
	}
	if l.dirDirty {
		if err := l.fs.SyncDir(l.dir); err != nil {
			return l.fail(err)
		}
		l.dirDirty = false
	}
	return nil
}

// Roll makes the next Append start a new log file (ZooKeeper rolls the log
// when it starts a snapshot). Records appended before Roll are written now
// and fsynced by the next Sync.
func (l *Log) Roll() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return l.err
	}
	if l.file == nil {
		return nil
	}
	if err := l.flush(); err != nil {
		return l.fail(err)
	}
	l.sealed = append(l.sealed, l.file)
	l.file, l.filePath = nil, ""
	return nil
}

// Truncate removes every record with a zxid above zxid (a learner's TRUNC):
// the log file holding zxid is cut after it and later files are removed.
// Pending records are synced first. The next Append starts a new file.
func (l *Log) Truncate(zxid int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.syncLocked(); err != nil {
		return err
	}
	if l.file != nil {
		l.file.Close()
		l.file, l.filePath = nil, ""
	}
	logs, err := ListLogs(l.fs, filepath.Dir(l.dir))
	if err != nil {
		return err
	}
	keep := -1
	for i, lf := range logs {
		if lf.Zxid <= zxid {
			keep = i
		}
	}
	if keep < 0 && len(logs) > 0 {
		return fmt.Errorf("storage: cannot truncate the log to %#x: the oldest log starts at %#x", zxid, logs[0].Zxid)
	}
	// ZooKeeper sets its last zxid to the truncation point; zkd keeps the
	// last record actually left, which is never above it.
	last := min(l.lastZxid, zxid)
	if keep >= 0 {
		kept, lastKept, err := l.truncateFile(logs[keep].Path, zxid)
		if err != nil {
			return l.fail(err)
		}
		if kept > 0 {
			last = lastKept
		}
	}
	for _, lf := range logs[keep+1:] {
		if err := l.fs.Remove(lf.Path); err != nil {
			return l.fail(err)
		}
	}
	if err := l.fs.SyncDir(l.dir); err != nil {
		return l.fail(err)
	}
	l.lastZxid = last
	return nil
}

// truncateFile cuts path after its last record with zxid <= zxid and
// returns how many records were kept and the last kept zxid.
func (l *Log) truncateFile(path string, zxid int64) (int, int64, error) {
	f, err := l.fs.OpenFile(path, os.O_RDWR)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	info, err := l.fs.Stat(path)
	if err != nil {
		return 0, 0, err
	}
	end := int64(fileHeaderSize)
	kept, last := 0, int64(0)
	stop := errors.New("stop")
	_, err = scanLog(f, path, info.Size(), l.maxLen, math.MinInt64, func(z int64, _ []byte, recEnd int64) error {
		if z > zxid {
			return stop
		}
		kept++
		last, end = z, recEnd
		return nil
	})
	if err != nil && err != stop {
		return 0, 0, err
	}
	if err := f.Truncate(end); err != nil {
		return 0, 0, err
	}
	return kept, last, f.Sync()
}

// Close syncs pending records and closes the files. The Log is unusable
// afterwards; a second Close returns nil.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	err := l.syncLocked()
	for _, f := range l.sealed {
		f.Close()
	}
	l.sealed = nil
	if l.file != nil {
		if cerr := l.file.Close(); err == nil && cerr != nil {
			err = cerr
		}
		l.file = nil
	}
	if l.err == nil {
		l.err = ErrLogClosed
	}
	return err
}
