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
