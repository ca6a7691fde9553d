package launch

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// This package's tests start servers on 25850-25859 (25840-25844 belong
// to TestPortsAreFreeDistinctAndInRange).
var testPorts = &Ports{Low: 25850, High: 25859}

func TestMain(m *testing.M) {
	code := m.Run()
	RemoveZkdBuild()
	os.Exit(code)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	port, err := testPorts.Alloc()
	if err != nil {
		t.Fatal(err)
	}
	return Loopback(port)
}

// writeZooCfg writes dir/zoo.cfg for a standalone server on addr.
func writeZooCfg(t *testing.T, dir, addr string) string {
	t.Helper()
	_, port, _ := net.SplitHostPort(addr)
	cfg := filepath.Join(dir, "zoo.cfg")
	conf := fmt.Sprintf("tickTime=2000\ndataDir=%s\nclientPort=%s\nclientPortAddress=127.0.0.1\n"+
		"4lw.commands.whitelist=*\nadmin.enableServer=false\n", filepath.Join(dir, "data"), port)
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// unusedAddr is a loopback address nothing listens on.
func unusedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// script runs a shell script as the "server", on an address nothing serves.
func script(t *testing.T, body string) Options {
	t.Helper()
	return Options{
		Name:    "script",
		Argv:    []string{"/bin/sh", "-c", body},
		Addr:    unusedAddr(t),
		LogPath: filepath.Join(t.TempDir(), "script.log"),
	}
}

// waitForLog waits until the process has written want to its log.
func waitForLog(t *testing.T, p *Process, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.Tail(0), want) {
		if time.Now().After(deadline) {
			t.Fatalf("%q never appeared in the log:\n%s", want, p.Tail(0))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestZkdStartsServesAndStops(t *testing.T) {
	bin, err := ZkdBinary()
	if err != nil {
		t.Fatal(err)
	}
	dir, addr := t.TempDir(), freeAddr(t)
	cfg := writeZooCfg(t, dir, addr)
	p, err := StartServing(Options{Name: "zkd", Argv: ZkdArgv(bin, cfg), Dir: dir, Addr: addr,
		LogPath: filepath.Join(dir, "zkd.log")}, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Kill() })
	if reply, err := FourLetterWord(addr, "ruok", time.Second); err != nil || reply != "imok" {
		t.Fatalf("ruok: %q, %v", reply, err)
	}
	if err := ProbeSession(addr); err != nil {
		t.Errorf("a serving zkd grants no session: %v", err)
	}
	if p.ServingSince().Before(p.Started()) {
		t.Errorf("serving at %v, before its start at %v", p.ServingSince(), p.Started())
	}

	// A second server on the same port is refused before it runs, and the
	// refusal names the process that holds the port.
	_, err = Start(Options{Argv: ZkdArgv(bin, cfg), Addr: addr, LogPath: filepath.Join(dir, "second.log")})
	if !errors.Is(err, ErrPortInUse) {
		t.Fatalf("second start on %s: %v, want ErrPortInUse", addr, err)
	}
	if want := fmt.Sprintf("held by pid %d: %s", p.Pid(), bin); !strings.Contains(err.Error(), want) {
		t.Errorf("refusal %q does not say %q", err, want)
	}

	if err := p.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if p.Running() {
		t.Fatal("running after Stop")
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatalf("%s still answers after Stop", addr)
	}
	if err := p.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func TestZkdRefusingItsConfigSaysWhy(t *testing.T) {
	bin, err := ZkdBinary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(cfg, []byte("dataDir="+dir+"\nclientPort=abc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = StartServing(Options{Name: "zkd", Argv: ZkdArgv(bin, cfg), Addr: unusedAddr(t),
		LogPath: filepath.Join(dir, "zkd.log")}, 30*time.Second)
	if !errors.Is(err, ErrExited) || !strings.Contains(err.Error(), "clientPort") {
		t.Fatalf("zkd on clientPort=abc: %v; want ErrExited with zkd's complaint", err)
	}
}

func TestApacheStartsWithItsLogOnStdout(t *testing.T) {
	apache := Apache{JVMFlags: []string{"-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"}}
	if err := apache.Check(); err != nil {
		t.Fatalf("%v: install the Debian packages default-jre-headless zookeeper libslf4j-java liblog4j1.2-java", err)
	}
	dir, addr := t.TempDir(), freeAddr(t)
	cfg := writeZooCfg(t, dir, addr)
	p, err := StartServing(Options{Name: "apache", Argv: apache.Argv(cfg), Dir: dir, Addr: addr,
		LogPath: filepath.Join(dir, "apache.log")}, 60*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Kill() })
	if srvr, err := FourLetterWord(addr, "srvr", time.Second); err != nil || !strings.Contains(srvr, "Mode: standalone") {
		t.Fatalf("srvr: %q, %v", srvr, err)
	}
	if err := p.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	// Its log reached the file: the class path has one working binding.
	if log := p.Tail(0); !strings.Contains(log, "INFO") || !strings.Contains(log, "binding to port") {
		t.Errorf("Apache's log did not reach %s:\n%s", p.LogPath(), log)
	}
}

func TestServerThatExitsAtOnceReportsItsLog(t *testing.T) {
	o := script(t, `echo "zoo.cfg: dataDir is missing" >&2; exit 3`)
	p, err := Start(o)
	if err != nil {
		t.Fatal(err)
	}
	err = p.WaitServing(10 * time.Second)
	if !errors.Is(err, ErrExited) || !strings.Contains(err.Error(), "zoo.cfg: dataDir is missing") || !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("WaitServing: %v; want ErrExited with the exit status and the log", err)
	}
	if code, err := p.WaitExit(time.Second); err != nil || code != 3 {
		t.Errorf("WaitExit: %d, %v", code, err)
	}
	if err := p.Stop(); !errors.Is(err, ErrUncleanExit) {
		t.Errorf("Stop after an exit with 3: %v, want ErrUncleanExit", err)
	}
}

func TestServerThatNeverServesTimesOut(t *testing.T) {
	p, err := Start(script(t, `echo listening soon; exec sleep 30`))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Kill() })
	began := time.Now()
	err = p.WaitServing(300 * time.Millisecond)
	if !errors.Is(err, ErrNotServing) || !strings.Contains(err.Error(), "listening soon") || !strings.Contains(err.Error(), "last probe") {
		t.Fatalf("WaitServing: %v; want ErrNotServing with the last probe and the log", err)
	}
	if waited := time.Since(began); waited > 5*time.Second {
		t.Errorf("WaitServing(300ms) took %v", waited)
	}
	if !p.Running() {
		t.Error("WaitServing's timeout ended the process; the caller decides")
	}
}

func TestStopKillsAfterGraceWhenTermIsIgnored(t *testing.T) {
	o := script(t, `trap "" TERM; echo trapped; while :; do sleep 0.05; done`)
	o.StopGrace = 300 * time.Millisecond
	p, err := Start(o)
	if err != nil {
		t.Fatal(err)
	}
	waitForLog(t, p, "trapped")
	began := time.Now()
	err = p.Stop()
	took := time.Since(began)
	if !errors.Is(err, ErrKilled) {
		t.Fatalf("Stop: %v, want ErrKilled", err)
	}
	if took < o.StopGrace || took > o.StopGrace+5*time.Second {
		t.Errorf("Stop took %v with a grace of %v", took, o.StopGrace)
	}
	if code, _ := p.WaitExit(0); code != -1 {
		t.Errorf("exit code %d, want -1 (killed by a signal)", code)
	}
	if err := p.Kill(); !errors.Is(err, ErrKilled) {
		t.Errorf("Kill after Stop returns %v, want Stop's result", err)
	}
}

func TestKillEndsAtOnce(t *testing.T) {
	o := script(t, `trap "" TERM; echo trapped; while :; do sleep 0.05; done`)
	o.StopGrace = time.Minute
	p, err := Start(o)
	if err != nil {
		t.Fatal(err)
	}
	waitForLog(t, p, "trapped")
	began := time.Now()
	if err := p.Kill(); err != nil {
		t.Fatalf("Kill: %v", err)
	}
	if took := time.Since(began); took > 5*time.Second {
		t.Errorf("Kill took %v", took)
	}
	if p.Running() || p.ExitErr() == nil {
		t.Errorf("after Kill: running %v, exit %v", p.Running(), p.ExitErr())
	}
}

func TestStopAcceptsTheWaysAServerEndsOnTerm(t *testing.T) {
	for name, body := range map[string]string{
		"dies of it":  `echo up; exec sleep 30`,
		"exits 0":     `trap "exit 0" TERM; echo up; while :; do sleep 0.05; done`,
		"exits 143":   `trap "exit 143" TERM; echo up; while :; do sleep 0.05; done`,
		"exits 1 (!)": `trap "exit 1" TERM; echo up; while :; do sleep 0.05; done`,
	} {
		t.Run(name, func(t *testing.T) {
			p, err := Start(script(t, body))
			if err != nil {
				t.Fatal(err)
			}
			waitForLog(t, p, "up")
			err = p.Stop()
			if strings.HasSuffix(name, "(!)") {
				if !errors.Is(err, ErrUncleanExit) || !strings.Contains(err.Error(), "exit status 1") {
					t.Errorf("Stop: %v, want ErrUncleanExit", err)
				}
			} else if err != nil {
				t.Errorf("Stop: %v", err)
			}
		})
	}
}

func TestEnvReachesTheServer(t *testing.T) {
	o := script(t, `echo "flag=$ZKD_LAUNCH_TEST_FLAG"`)
	o.Env = []string{"ZKD_LAUNCH_TEST_FLAG=first", "ZKD_LAUNCH_TEST_FLAG=second"}
	p, err := Start(o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.WaitExit(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if got := p.Tail(0); got != "flag=second" {
		t.Errorf("log %q, want flag=second", got)
	}
}

func TestTailIsThisProcessesBoundedEnd(t *testing.T) {
	o := script(t, `echo from the first run`)
	first, err := Start(o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := first.WaitExit(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	// 2000 lines of 100 bytes: more than the 64 KiB a tail reads.
	o.Argv = []string{"/bin/sh", "-c", `i=0; while [ $i -lt 2000 ]; do printf '%099d\n' $i; i=$((i+1)); done; echo last line`}
	second, err := Start(o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := second.WaitExit(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	all := second.Tail(0)
	lines := strings.Split(all, "\n")
	if len(all) > tailBytes || !strings.HasSuffix(all, "\nlast line") || len(lines[0]) != 99 {
		t.Errorf("tail of %d bytes, first line %q, ends %q", len(all), lines[0], all[max(0, len(all)-20):])
	}
	if got := second.Tail(2); got != fmt.Sprintf("%099d\nlast line", 1999) {
		t.Errorf("Tail(2) = %q", got)
	}
	if strings.Contains(all, "first run") {
		t.Error("the second process's tail holds the first one's output")
	}
	data, _ := os.ReadFile(o.LogPath)
	if !strings.HasPrefix(string(data), "from the first run\n") {
		t.Errorf("the log file lost the first run: %.40q", data)
	}
}

func TestApacheArgv(t *testing.T) {
	got := Apache{JVMFlags: []string{"-Xmx1g"}}.Argv("/d/zoo.cfg")
	want := []string{"java", "-Dzookeeper.root.logger=INFO,CONSOLE", "-Xmx1g", "-cp", LoggingClasspath, StandaloneMain, "/d/zoo.cfg"}
	if !slices.Equal(got, want) {
		t.Errorf("default class path: %q\nwant %q", got, want)
	}
	got = Apache{Java: "/usr/bin/java", Classpath: "/x/zookeeper.jar", Main: QuorumPeerMain}.Argv("zoo.cfg")
	want = []string{"/usr/bin/java", "-cp", "/x/zookeeper.jar", QuorumPeerMain, "zoo.cfg"}
	if !slices.Equal(got, want) {
		t.Errorf("given class path: %q\nwant %q", got, want)
	}
}

func TestClasspathDiscovery(t *testing.T) {
	dir := t.TempDir()
	jar := filepath.Join(dir, "zookeeper-3.8.4.jar")
	if err := os.WriteFile(jar, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for cp, want := range map[string]bool{
		jar:                         true,
		"/etc/conf:" + dir + "/*":   true,
		filepath.Join(dir, "z*"):    true,
		"/etc/conf:" + dir:          false,
		filepath.Join(dir, "x.jar"): false,
	} {
		if got := HasZooKeeperJar(cp); got != want {
			t.Errorf("HasZooKeeperJar(%q) = %v", cp, got)
		}
	}
	env := filepath.Join(dir, "environment")
	if err := os.WriteFile(env, []byte("JAVA=/usr/bin/java\nCLASSPATH=\"/etc/zookeeper/conf:/opt/zk.jar\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := classpathFromEnvironment(env); got != "/etc/zookeeper/conf:/opt/zk.jar" {
		t.Errorf("CLASSPATH from %s: %q", env, got)
	}
	if got := classpathFromEnvironment(filepath.Join(dir, "missing")); got != debianClasspath {
		t.Errorf("without an environment file: %q", got)
	}
}
