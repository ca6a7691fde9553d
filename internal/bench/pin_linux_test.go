package bench

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

func TestPinnedSpecRunsTheServerUnderTaskset(t *testing.T) {
	if _, err := exec.LookPath("taskset"); err != nil {
		t.Fatalf("taskset (Debian's util-linux) is needed: %v", err)
	}
	spec, err := pinnedSpec(ZkdSpec("/bin/zkd"), []int{1, 3})
	if err != nil {
		t.Fatal(err)
	}
	argv := spec.Argv("/x/zoo.cfg")
	if !strings.HasSuffix(argv[0], "taskset") || argv[1] != "-c" || argv[2] != "1,3" ||
		!slices.Equal(argv[3:], []string{"/bin/zkd", "serve", "--config", "/x/zoo.cfg"}) {
		t.Fatalf("argv = %q", argv)
	}
	// The wrapped command really runs on those CPUs.
	cpus, err := allowedCPUs()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("taskset", "-c", cpuList(cpus[:1]), "grep", "Cpus_allowed_list", "/proc/self/status").Output()
	if err != nil || !strings.Contains(string(out), "\t"+cpuList(cpus[:1])+"\n") {
		t.Fatalf("taskset -c %d: %q %v", cpus[0], out, err)
	}
}

func TestPinProcessBindsEveryThreadAndRestores(t *testing.T) {
	all, err := allowedCPUs()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < 2 {
		t.Skipf("one CPU: nothing to pin apart (the comparison refuses --pin here)")
	}
	if err := pinProcess(all[:1]); err != nil {
		t.Fatal(err)
	}
	got, err := allowedCPUs()
	if restoreErr := pinProcess(all); restoreErr != nil {
		t.Fatal(restoreErr)
	}
	if err != nil || !slices.Equal(got, all[:1]) {
		t.Fatalf("after pinning to %v this thread may use %v (%v)", all[:1], got, err)
	}
	if back, _ := allowedCPUs(); !slices.Equal(back, all) {
		t.Fatalf("restored to %v, want %v", back, all)
	}
}
