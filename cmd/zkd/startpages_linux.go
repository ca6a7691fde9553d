package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// releaseStartupPages unmaps the executable's read-only pages (code and
// read-only data) once the server serves. Package init, flag and config
// parsing and the runtime's type set-up touch nearly every 64 kB of a
// 16 MB binary once, and the kernel maps the pages around each fault, so
// a server idles with about 10 MB of its binary resident that it never
// runs again. MADV_DONTNEED drops only this process's mappings of those
// clean file pages: the page cache keeps them, and the code that does run
// faults its pages back in (a minor fault each, from the cache). Writable
// mappings (data, bss, heap) are never touched: DONTNEED would zero them.
// It returns the bytes released; a failure only leaves the pages mapped.
func releaseStartupPages() (int64, error) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return 0, err
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var released int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		start, end, ok := readOnlyMappingOf(sc.Text(), exe)
		if !ok {
			continue
		}
		if _, _, errno := syscall.Syscall(syscall.SYS_MADVISE, start, end-start, syscall.MADV_DONTNEED); errno != 0 {
			return released, fmt.Errorf("madvise %x-%x: %w", start, end, errno)
		}
		released += int64(end - start)
	}
	return released, sc.Err()
}

// readOnlyMappingOf parses one /proc/self/maps line ("start-end perms
// offset dev inode path") and reports the range when it maps path without
// write permission.
func readOnlyMappingOf(line, path string) (start, end uintptr, ok bool) {
	fields := strings.Fields(line)
	if len(fields) < 6 || strings.Join(fields[5:], " ") != path {
		return 0, 0, false
	}
	if perms := fields[1]; len(perms) < 4 || perms[0] != 'r' || perms[1] != '-' || perms[3] != 'p' {
		return 0, 0, false
	}
	lo, hi, found := strings.Cut(fields[0], "-")
	if !found {
		return 0, 0, false
	}
	s, err1 := strconv.ParseUint(lo, 16, 64)
	e, err2 := strconv.ParseUint(hi, 16, 64)
	if err1 != nil || err2 != nil || e <= s {
		return 0, 0, false
	}
	return uintptr(s), uintptr(e), true
}
