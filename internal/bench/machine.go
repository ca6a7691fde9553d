package bench

import (
	"bufio"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// MachineInfo is what docs/benchmarks.md states about the machine.
type MachineInfo struct {
	CPU         string `json:"cpu"`
	Cores       int    `json:"cores"`
	MemoryBytes int64  `json:"memory_bytes"`
	OS          string `json:"os"`
	Kernel      string `json:"kernel"`
	GoVersion   string `json:"go_version"`
	Java        string `json:"java"`
	// WorkDirFS is the file system both servers' data directories share.
	WorkDirFS string `json:"work_dir_fs"`
}

func describeMachine(workDir string) MachineInfo {
	m := MachineInfo{
		CPU:       procField("/proc/cpuinfo", "model name"),
		Cores:     runtime.NumCPU(),
		OS:        strings.Trim(procField("/etc/os-release", "PRETTY_NAME"), `"`),
		GoVersion: runtime.Version(),
		WorkDirFS: fileSystemOf(workDir),
	}
	if kb, err := strconv.ParseInt(strings.TrimSuffix(procField("/proc/meminfo", "MemTotal"), " kB"), 10, 64); err == nil {
		m.MemoryBytes = kb * 1024
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(data))
	}
	return m
}

// procField returns the value of the first "name: value" or "name=value"
// line in a file.
func procField(path, name string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		for _, sep := range []string{":", "="} {
			if key, value, ok := strings.Cut(line, sep); ok && strings.TrimSpace(key) == name {
				return strings.TrimSpace(value)
			}
		}
	}
	return ""
}

// fileSystemOf names the mount that holds path: device, mount point and
// type, from /proc/self/mounts (the longest mount point that is a prefix).
func fileSystemOf(path string) string {
	data, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return ""
	}
	best, bestLen := "", -1
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		mount := f[1]
		if (path == mount || strings.HasPrefix(path, strings.TrimSuffix(mount, "/")+"/")) && len(mount) > bestLen {
			best, bestLen = f[0]+" on "+mount+" ("+f[2]+")", len(mount)
		}
	}
	return best
}

// javaVersion is the first line of `java -version`.
func javaVersion(java string) string {
	out, err := exec.Command(java, "-version").CombinedOutput()
	if err != nil {
		return ""
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line
}

// serverVersion is what the server's srvr reply says it is.
func serverVersion(ctx context.Context, endpoint string) string {
	st, err := srvr(ctx, endpoint)
	if err != nil {
		return ""
	}
	return st.version
}

// diskUsage returns the bytes a directory occupies on disk (allocated
// blocks) and the sum of its files' lengths. They differ for Apache's
// transaction logs, which are preallocated sparsely in 64 MiB steps.
func diskUsage(dir string) (allocated, apparent int64) {
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		apparent += info.Size()
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			allocated += st.Blocks * 512
		}
		return nil
	})
	return allocated, apparent
}
