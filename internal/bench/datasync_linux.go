package bench

import (
	"os"
	"syscall"
)

// datasync is fdatasync(2): the data and the size, not the times, as
// ZooKeeper's FileChannel.force(false) and zkd's log sync.
func datasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }
