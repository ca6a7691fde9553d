package interop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/zkd/zkd/internal/launch"
)

var errNoNetNamespace = errors.New("interop: cannot create a private network namespace (unshare -n)")

// envGoZkSuiteSkip, when set, is passed to go-zookeeper's suite as -test.skip.
// "-" skips nothing. Against zkd the default is reconfigTests.
const envGoZkSuiteSkip = "ZKD_GOZK_SUITE_SKIP"

// reconfigTests are the suite's dynamic reconfiguration tests,
// TestIntegration_Reconfig and TestIntegration_IncrementalReconfig: they
// remove a server from a running 3-server ensemble with the reconfig op
// (reconfigEnabled=true, the client authenticated as super) and add it
// back. zkd has no dynamic reconfiguration: its ensemble's membership is
// the server.N lines it started with, and reconfig answers Unimplemented
// (-6), as a standalone Apache ZooKeeper does with reconfigEnabled=true.
// Apache 3.8 passes both (ZKD_INTEROP_SELFTEST=1). The suite's other
// ensemble tests (BasicCluster, ClientClusterFailover, NoQuorum,
// RecurringReAuthHang, DNSHostProviderReconnect) run against zkd's
// ensemble.
const reconfigTests = "Reconfig"

// TestGoZookeeperSuite runs go-zookeeper/zk's own integration tests with
// ZOOKEEPER_BIN_PATH pointing at test/zkshim/bin, whose zkServer.sh execs zkd
// (or Apache with ZKD_INTEROP_SELFTEST=1).
//
// That suite picks random ports in 10000-16000 (and the 2888/3888 defaults),
// outside the range this package may use, so it runs in a private network
// namespace (unshare -n, loopback only) where it cannot collide with anyone.
func TestGoZookeeperSuite(t *testing.T) {
	if testing.Short() {
		t.Skip("go-zookeeper's own suite takes minutes; skipped with -short")
	}
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if err := exec.Command("unshare", "-n", "true").Run(); err != nil {
		t.Fatalf("%v: %v (needs root or user namespaces; the suite's ports must not reach the shared loopback)", errNoNetNamespace, err)
	}
	tmp := t.TempDir()
	suite := filepath.Join(tmp, "zk.test")
	build := exec.Command("go", "test", "-c", "-o", suite, "github.com/go-zookeeper/zk")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build go-zookeeper's tests: %v\n%s", err, out)
	}
	list := exec.Command("go", "list", "-f", "{{.Dir}}", "github.com/go-zookeeper/zk")
	list.Dir = root
	pkgDir, err := list.Output()
	if err != nil {
		t.Fatalf("go list github.com/go-zookeeper/zk: %v", err)
	}

	env := append(os.Environ(), "ZOOKEEPER_BIN_PATH="+filepath.Join(root, "test", "zkshim", "bin"))
	if os.Getenv("ZK_VERSION") == "" {
		// The reconfig tests skip without it; any version >= 3.5 enables them.
		env = append(env, "ZK_VERSION=3.8.0")
	}
	if SelfTest() {
		requireApache(t)
		classes, err := compileApacheVersion(tmp)
		if err != nil {
			t.Fatal(err)
		}
		env = append(env, "ZKD_SHIM_APACHE_EXTRA_CP="+classes)
	} else {
		bin, err := launch.ZkdBinary()
		if err != nil {
			t.Fatalf("zkd binary: %v", err)
		}
		env = append(env, envZkdBin+"="+bin)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	args := []string{"-n", "sh", "-c", `ip link set lo up && exec "$@"`, "sh",
		suite, "-test.v", "-test.count=1", "-test.timeout=7m"}
	skip := os.Getenv(envGoZkSuiteSkip)
	if skip == "" && !SelfTest() {
		skip = reconfigTests
	}
	if skip != "" && skip != "-" {
		args = append(args, "-test.skip="+skip)
		t.Logf("skipping go-zookeeper tests matching %q (%s)", skip, envGoZkSuiteSkip)
	}
	cmd := exec.CommandContext(ctx, "unshare", args...)
	cmd.Dir = strings.TrimSpace(string(pkgDir))
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	start := time.Now()
	runErr := cmd.Run()
	elapsed := time.Since(start).Round(time.Second)

	logPath := filepath.Join(transcriptDir(t), "gozk-suite.txt")
	if err := os.WriteFile(logPath, out.Bytes(), 0o644); err != nil {
		t.Errorf("save suite output: %v", err)
	}
	counts := countGoTestResults(out.String())
	t.Logf("go-zookeeper suite against %s in %v: %s (output in %s)", suiteTarget(), elapsed, counts, logPath)
	if len(counts.failed) > 0 {
		t.Errorf("go-zookeeper tests failed against %s: %s", suiteTarget(), strings.Join(counts.failed, ", "))
	}
	if runErr != nil {
		t.Errorf("go-zookeeper suite exited with %v; output tail:\n%s", runErr, tailLines(out.String(), 60))
	}
	if counts.passed == 0 {
		t.Errorf("go-zookeeper suite passed no tests")
	}
}

func suiteTarget() string {
	if SelfTest() {
		return "Apache ZooKeeper (self-test)"
	}
	return "zkd"
}

// compileApacheVersion compiles testdata/apacheversion (a Version class whose
// srvr version line go-zookeeper's FLWSrvr can parse) into dir/classes.
func compileApacheVersion(dir string) (string, error) {
	if _, err := exec.LookPath("javac"); err != nil {
		return "", fmt.Errorf("javac not found (%v): install a JDK (Debian default-jdk-headless) for the self-test of go-zookeeper's suite", err)
	}
	src, err := filepath.Abs(filepath.Join("testdata", "apacheversion", "org", "apache", "zookeeper", "Version.java"))
	if err != nil {
		return "", err
	}
	classes := filepath.Join(dir, "classes")
	if out, err := exec.Command("javac", "-d", classes, src).CombinedOutput(); err != nil {
		return "", fmt.Errorf("javac %s: %v\n%s", src, err, out)
	}
	return classes, nil
}

type goTestCounts struct {
	passed, skipped int
	failed          []string
}

func (c goTestCounts) String() string {
	return fmt.Sprintf("%d passed, %d failed, %d skipped (tests and subtests)", c.passed, len(c.failed), c.skipped)
}

var goTestResultRE = regexp.MustCompile(`^\s*--- (PASS|FAIL|SKIP): (\S+)`)

// countGoTestResults counts the "--- PASS/FAIL/SKIP: Name" lines of go test -v.
func countGoTestResults(output string) goTestCounts {
	var c goTestCounts
	for _, l := range strings.Split(output, "\n") {
		m := goTestResultRE.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		switch m[1] {
		case "PASS":
			c.passed++
		case "SKIP":
			c.skipped++
		case "FAIL":
			c.failed = append(c.failed, m[2])
		}
	}
	return c
}
