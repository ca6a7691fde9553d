package admin

import (
	"fmt"
	"os"
	"runtime"
	"syscall"
)

// envPair is one line of envi and one field of the environment command.
type envPair struct{ Key, Value string }

// environment is Apache's Environment.list with a Go process's answers:
// the java.* keys keep their names so that parsers find them, and say
// what stands in their place.
func (a *Admin) environment() []envPair {
	host, _ := os.Hostname()
	wd, _ := os.Getwd()
	exe, _ := os.Executable()
	home, _ := os.UserHomeDir()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return []envPair{
		{"zookeeper.version", a.version},
		{"host.name", host},
		{"java.version", "n/a (zkd is a Go program, " + runtime.Version() + ")"},
		{"java.vendor", "n/a"},
		{"java.home", "n/a"},
		{"java.class.path", exe},
		{"java.library.path", ""},
		{"java.io.tmpdir", os.TempDir()},
		{"java.compiler", "<NA>"},
		{"os.name", osName()},
		{"os.arch", runtime.GOARCH},
		{"os.version", osVersion()},
		{"user.name", os.Getenv("USER")},
		{"user.home", home},
		{"user.dir", wd},
		{"os.memory.free", fmt.Sprintf("%dMB", ms.HeapIdle>>20)},
		{"os.memory.max", fmt.Sprintf("%dMB", ms.Sys>>20)},
		{"os.memory.total", fmt.Sprintf("%dMB", ms.HeapSys>>20)},
	}
}

func osName() string {
	if runtime.GOOS == "linux" {
		return "Linux"
	}
	return runtime.GOOS
}

func osVersion() string {
	var uts syscall.Utsname
	if syscall.Uname(&uts) != nil {
		return ""
	}
	out := make([]byte, 0, len(uts.Release))
	for _, c := range uts.Release {
		if c == 0 {
			break
		}
		out = append(out, byte(c))
	}
	return string(out)
}

// fdCounts are the open and the maximum file descriptors of the process.
func fdCounts() (open int, max uint64) {
	entries, _ := os.ReadDir("/proc/self/fd")
	var rl syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl)
	return len(entries), rl.Cur
}
