package launch

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

var (
	ErrNoJava      = errors.New("launch: java not found")
	ErrNoZooKeeper = errors.New("launch: Apache ZooKeeper not found")
)

// Where Debian's packages put Apache ZooKeeper.
const (
	ZooKeeperJar  = "/usr/share/java/zookeeper.jar"
	debianConfDir = "/etc/zookeeper/conf"
	// DebianEnvironment is the shell file that sets CLASSPATH for Debian's scripts.
	DebianEnvironment = debianConfDir + "/environment"
	// debianClasspath is the environment file's CLASSPATH when it has none.
	debianClasspath = debianConfDir + ":" + ZooKeeperJar
)

// Apache ZooKeeper's main classes: StandaloneMain is what zkServer.sh runs
// for a server without peers; QuorumPeerMain runs one with peers and hands a
// standalone zoo.cfg to StandaloneMain.
const (
	StandaloneMain = "org.apache.zookeeper.server.ZooKeeperServerMain"
	QuorumPeerMain = "org.apache.zookeeper.server.quorum.QuorumPeerMain"
)

// LoggingClasspath runs Apache ZooKeeper with its log on stdout: Debian's
// conf directory for its log4j.properties (whose root logger comes from
// -Dzookeeper.root.logger, as zkServer.sh sets it), zookeeper.jar (its
// manifest names every other jar it needs) and one SLF4J binding with
// log4j 1.2. The wildcard /usr/share/java/* is not used: it holds several
// SLF4J bindings (the NOP one may win, hiding the log) and
// log4j-over-slf4j, which makes slf4j-log4j12 abort.
var LoggingClasspath = strings.Join([]string{
	debianConfDir,
	ZooKeeperJar,
	"/usr/share/java/slf4j-log4j12.jar",
	"/usr/share/java/log4j-1.2.jar",
}, ":")

// Apache is how to run Apache ZooKeeper in a JVM.
type Apache struct {
	// Java is the java binary; "java" from PATH when empty.
	Java string
	// Classpath is LoggingClasspath when empty, with the root logger set
	// to INFO on the console; a class path given is used as it is.
	Classpath string
	// Main is StandaloneMain when empty.
	Main string
	// JVMFlags come before -cp: heap and GC settings, -D properties.
	JVMFlags []string
}

// Argv is the command line that runs a on zooCfg.
func (a Apache) Argv(zooCfg string) []string {
	java, classpath, main := a.Java, a.Classpath, a.Main
	if java == "" {
		java = "java"
	}
	if main == "" {
		main = StandaloneMain
	}
	argv := []string{java}
	if classpath == "" {
		classpath = LoggingClasspath
		argv = append(argv, "-Dzookeeper.root.logger=INFO,CONSOLE")
	}
	argv = append(argv, a.JVMFlags...)
	return append(argv, "-cp", classpath, main, zooCfg)
}

// Check says what is missing to run a: java (ErrNoJava) or Apache
// ZooKeeper's files (ErrNoZooKeeper): every entry of LoggingClasspath, or
// some zookeeper jar on a given class path.
func (a Apache) Check() error {
	java := a.Java
	if java == "" {
		java = "java"
	}
	if _, err := exec.LookPath(java); err != nil {
		return fmt.Errorf("%w: %v", ErrNoJava, err)
	}
	if a.Classpath != "" {
		if !HasZooKeeperJar(a.Classpath) {
			return fmt.Errorf("%w: no zookeeper jar on class path %q", ErrNoZooKeeper, a.Classpath)
		}
		return nil
	}
	for _, entry := range filepath.SplitList(LoggingClasspath) {
		if _, err := os.Stat(entry); err != nil {
			return fmt.Errorf("%w: %v", ErrNoZooKeeper, err)
		}
	}
	return nil
}

// DebianClasspath is the CLASSPATH of DebianEnvironment,
// which the package's own scripts use.
func DebianClasspath() string { return classpathFromEnvironment(DebianEnvironment) }

func classpathFromEnvironment(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return debianClasspath
	}
	for _, line := range strings.Split(string(data), "\n") {
		if value, ok := strings.CutPrefix(strings.TrimSpace(line), "CLASSPATH="); ok {
			return strings.Trim(value, `"'`)
		}
	}
	return debianClasspath
}

// HasZooKeeperJar reports whether some class path entry is, or expands to,
// a zookeeper jar.
func HasZooKeeperJar(classpath string) bool {
	for _, entry := range filepath.SplitList(classpath) {
		matches, _ := filepath.Glob(entry)
		if strings.HasSuffix(entry, "*") {
			matches, _ = filepath.Glob(entry + ".jar")
		}
		for _, m := range matches {
			if strings.HasPrefix(filepath.Base(m), "zookeeper") && strings.HasSuffix(m, ".jar") {
				return true
			}
		}
	}
	return false
}

// ZkdArgv is the command line that runs the zkd binary bin on zooCfg.
func ZkdArgv(bin, zooCfg string) []string { return []string{bin, "serve", "--config", zooCfg} }

const (
	zkdPackage = "github.com/zkd/zkd/cmd/zkd"
	// EnvZkdBin names a prebuilt zkd binary for ZkdBinary to use.
	EnvZkdBin = "ZKD_BIN"
)

// BuildZkd runs go build of ./cmd/zkd into dir and returns the binary's
// path. It must run inside the zkd module, as tests do.
func BuildZkd(dir string) (string, error) {
	bin := filepath.Join(dir, "zkd")
	if out, err := exec.Command("go", "build", "-o", bin, zkdPackage).CombinedOutput(); err != nil {
		return "", fmt.Errorf("launch: go build %s: %w\n%s", zkdPackage, err, out)
	}
	return bin, nil
}

// The binary ZkdBinary built, at most once per process.
var zkdBuild struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

// ZkdBinary returns $ZKD_BIN when set, or else builds zkd once per process
// into a temporary directory that RemoveZkdBuild deletes.
func ZkdBinary() (string, error) {
	zkdBuild.once.Do(func() {
		if bin := os.Getenv(EnvZkdBin); bin != "" {
			zkdBuild.bin = bin
			return
		}
		dir, err := os.MkdirTemp("", "zkd-build-")
		if err != nil {
			zkdBuild.err = err
			return
		}
		zkdBuild.dir = dir
		zkdBuild.bin, zkdBuild.err = BuildZkd(dir)
	})
	return zkdBuild.bin, zkdBuild.err
}

// RemoveZkdBuild deletes what ZkdBinary built, if anything; call it from
// TestMain after m.Run.
func RemoveZkdBuild() {
	if zkdBuild.dir != "" {
		os.RemoveAll(zkdBuild.dir)
	}
}
