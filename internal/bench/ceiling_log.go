package bench

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sync"
)

// ceilingLog makes the ceiling a durable limit: every write request is
// appended to one checksummed log and its reply waits for an fdatasync that
// covers it. It is the least a server that acknowledges only durable writes
// must do (one append, one group-committed fdatasync per batch, the file
// preallocated as ZooKeeper's FilePadding does), done with no hand-off: the
// first connection that needs a sync while none runs writes everything
// appended so far and syncs it for all of them; the rest wait for that sync
// or the next. What it leaves out is the work of a real server (prep,
// zxids, the tree, sessions), so zkd's distance from it is the cost of that
// work, and its distance from the plain ceiling is the disk's.
type ceilingLog struct {
	f        *os.File
	prealloc int64                // the file's size after the last preallocation
	sync     func(*os.File) error // fdatasync; a test holds or fails it

	mu       sync.Mutex
	synced   *sync.Cond // broadcast when a sync ends
	buf      []byte     // appended, not yet written
	spare    []byte     // the other buffer, reused by the next sync
	appended int64      // bytes appended in all
	durable  int64      // bytes covered by an fdatasync
	syncing  bool
	err      error // the first write or sync failure; every wait returns it

	// Figures for the log line at close.
	syncs, records int64
}

// ceilingLogPrealloc is zookeeper.preAllocSize's default, as zkd's log uses.
const ceilingLogPrealloc = 64 << 20

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// openCeilingLog creates a fresh log file in dir (an earlier run's is
// replaced: the ceiling keeps nothing it would read back).
func openCeilingLog(dir string) (*ceilingLog, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("%w: log directory: %v", ErrCeilingConfig, err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "ceiling.log"), os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%w: log: %v", ErrCeilingConfig, err)
	}
	l := &ceilingLog{f: f, sync: datasync, buf: make([]byte, 0, 64<<10), spare: make([]byte, 0, 64<<10)}
	l.synced = sync.NewCond(&l.mu)
	return l, nil
}

// append adds one record (length, CRC-32C, the request's frame) and returns
// the log's length after it: the offset a later wait must see durable.
func (l *ceilingLog) append(frame []byte) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		// After a failed sync nothing is made durable again: the write is
		// not kept, and its wait fails.
		return l.durable + 1
	}
	l.buf = binary.BigEndian.AppendUint32(l.buf, uint32(len(frame)))
	l.buf = binary.BigEndian.AppendUint32(l.buf, crc32.Checksum(frame, castagnoli))
	l.buf = append(l.buf, frame...)
	l.appended += int64(8 + len(frame))
	l.records++
	return l.appended
}

// waitDurable returns once the log up to end is fdatasynced, syncing it on
// this goroutine when no sync is running.
func (l *ceilingLog) waitDurable(end int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.durable < end {
		if l.err != nil {
			return l.err
		}
		if l.syncing {
			l.synced.Wait()
			continue
		}
		l.syncing = true
		batch, target := l.buf, l.appended
		l.buf = l.spare[:0]
		l.mu.Unlock()
		err := l.writeAndSync(batch, target)
		l.mu.Lock()
		l.spare = batch[:0]
		l.syncing = false
		l.syncs++
		if err != nil && l.err == nil {
			l.err = err
		} else if err == nil {
			l.durable = target
		}
		l.synced.Broadcast()
	}
	return nil
}

// writeAndSync runs with no lock held; only the goroutine that set syncing
// runs it, so the file and prealloc are its alone.
func (l *ceilingLog) writeAndSync(batch []byte, end int64) error {
	if end > l.prealloc {
		// Extend the file in preallocation blocks with one zero byte at the
		// new end, as ZooKeeper's FilePadding does, so that most syncs
		// change no file size.
		for l.prealloc < end {
			l.prealloc += ceilingLogPrealloc
		}
		if _, err := l.f.WriteAt([]byte{0}, l.prealloc-1); err != nil {
			return err
		}
	}
	if _, err := l.f.WriteAt(batch, end-int64(len(batch))); err != nil {
		return err
	}
	return l.sync(l.f)
}

// close waits for a running sync and closes the file.
func (l *ceilingLog) close() error {
	l.mu.Lock()
	for l.syncing {
		l.synced.Wait()
	}
	if l.err == nil {
		l.err = os.ErrClosed
	}
	l.synced.Broadcast()
	l.mu.Unlock()
	return l.f.Close()
}

// counts are the fdatasyncs run and the write records appended.
func (l *ceilingLog) counts() (syncs, records int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.syncs, l.records
}
