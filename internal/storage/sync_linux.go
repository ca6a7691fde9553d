//go:build linux

package storage

import (
	"os"
	"syscall"
)

// datasync is fdatasync(2): like ZooKeeper's FileChannel.force(false) it
// skips metadata that is not needed to read the data back (mtime).
func datasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			if err != nil {
				return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: err}
			}
			return nil
		}
	}
}

// startWriteback is sync_file_range(2) over [off, off+n): it starts the
// writeback of those pages (SYNC_FILE_RANGE_WRITE) and, when wait is set,
// first waits for earlier writeback of them and then for this one to end.
// Nothing about it is durable: it only keeps a large file's dirty pages
// from piling up until its fsync.
func startWriteback(f *os.File, off, n int64, wait bool) error {
	const (
		waitBefore = 1 // SYNC_FILE_RANGE_WAIT_BEFORE
		write      = 2 // SYNC_FILE_RANGE_WRITE
		waitAfter  = 4 // SYNC_FILE_RANGE_WAIT_AFTER
	)
	flags := write
	if wait {
		flags = waitBefore | write | waitAfter
	}
	for {
		_, _, e := syscall.Syscall6(syscall.SYS_SYNC_FILE_RANGE, f.Fd(), uintptr(off), uintptr(n), uintptr(flags), 0, 0)
		if e != syscall.EINTR {
			if e != 0 {
				return &os.PathError{Op: "sync_file_range", Path: f.Name(), Err: e}
			}
			return nil
		}
	}
}
