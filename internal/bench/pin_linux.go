package bench

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"unsafe"
)

// cpuSet is a Linux CPU affinity mask (up to 1024 CPUs, like glibc's cpu_set_t).
type cpuSet [16]uint64

func (s *cpuSet) has(cpu int) bool { return s[cpu/64]&(1<<(cpu%64)) != 0 }
func (s *cpuSet) add(cpu int)      { s[cpu/64] |= 1 << (cpu % 64) }

func allowedCPUs() ([]int, error) {
	var set cpuSet
	if _, _, e := syscall.RawSyscall(syscall.SYS_SCHED_GETAFFINITY, 0, unsafe.Sizeof(set), uintptr(unsafe.Pointer(&set))); e != 0 {
		return nil, fmt.Errorf("sched_getaffinity: %w", e)
	}
	var cpus []int
	for cpu := 0; cpu < len(set)*64; cpu++ {
		if set.has(cpu) {
			cpus = append(cpus, cpu)
		}
	}
	return cpus, nil
}

// pinProcess binds every thread of this process to cpus. Threads the Go
// runtime starts later inherit the mask of the thread that creates them.
func pinProcess(cpus []int) error {
	var set cpuSet
	for _, c := range cpus {
		set.add(c)
	}
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return err
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		if _, _, e := syscall.RawSyscall(syscall.SYS_SCHED_SETAFFINITY, uintptr(tid), unsafe.Sizeof(set), uintptr(unsafe.Pointer(&set))); e != 0 && e != syscall.ESRCH {
			return fmt.Errorf("sched_setaffinity(%d): %w", tid, e)
		}
	}
	return nil
}

// cpuList spells cpus as taskset and /proc do: "1,2,3".
func cpuList(cpus []int) string {
	s := make([]string, len(cpus))
	for i, c := range cpus {
		s[i] = strconv.Itoa(c)
	}
	return strings.Join(s, ",")
}

// pinnedSpec runs spec's command under `taskset -c cpus`, so that the server
// and every thread it starts stay on those CPUs from exec on.
func pinnedSpec(spec ServerSpec, cpus []int) (ServerSpec, error) {
	taskset, err := exec.LookPath("taskset")
	if err != nil {
		return spec, fmt.Errorf("bench: --pin needs taskset (Debian's util-linux): %w", err)
	}
	wrap := func(inner func(string) []string) func(string) []string {
		return func(zooCfg string) []string {
			return append([]string{taskset, "-c", cpuList(cpus)}, inner(zooCfg)...)
		}
	}
	spec.Argv = wrap(spec.Argv)
	if spec.MemberArgv != nil {
		spec.MemberArgv = wrap(spec.MemberArgv)
	}
	return spec, nil
}

// splitCPUs gives the load generator the first allowed CPU and the servers
// the rest.
func splitCPUs() (client, servers []int, err error) {
	cpus, err := allowedCPUs()
	if err != nil {
		return nil, nil, err
	}
	if len(cpus) < 2 {
		return nil, nil, fmt.Errorf("%w: --pin needs at least 2 CPUs, this process may use %d", ErrCompareConfig, len(cpus))
	}
	return cpus[:1], cpus[1:], nil
}
