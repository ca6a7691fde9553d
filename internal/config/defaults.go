package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// systemDataDir is the data directory of a server run as root.
const systemDataDir = "/var/lib/zkd"

// DefaultDataDir picks the dataDir of the embedded default:
// $ZKD_DATA_DIR if set; /var/lib/zkd when running as root (uid 0 can
// write there); else $XDG_DATA_HOME/zkd (only an absolute XDG_DATA_HOME
// counts, per the XDG spec); else $HOME/.local/share/zkd; else
// <tmp>/zkd-<uid> as a last resort.
func DefaultDataDir(getenv func(string) string) string {
	return defaultDataDir(getenv, os.Geteuid())
}

func defaultDataDir(getenv func(string) string, euid int) string {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	if d := getenv(EnvDataDir); d != "" {
		if abs, err := filepath.Abs(d); err == nil {
			return abs
		}
	}
	if euid == 0 {
		return systemDataDir
	}
	if x := getenv(envXDGDataHome); filepath.IsAbs(x) {
		return filepath.Join(x, "zkd")
	}
	if h := getenv(envHome); filepath.IsAbs(h) {
		return filepath.Join(h, ".local", "share", "zkd")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("zkd-%d", euid))
}

// DefaultText returns the embedded default configuration as zoo.cfg text
// (the server prints it at start). Its dataDir comes from DefaultDataDir
// with the process environment.
func DefaultText() string {
	return defaultText(DefaultDataDir(os.Getenv))
}

func defaultText(dataDir string) string {
	var b strings.Builder
	b.WriteString(`# zkd embedded default configuration (zoo.cfg syntax).
# A standalone server; clients connect on port 2181 on all interfaces.
# To change anything, save this text as zoo.cfg, edit it and pass the file.
# The number of milliseconds of each tick
tickTime=2000
# The number of ticks that the initial synchronization phase can take
initLimit=10
# The number of ticks that can pass between sending a request and getting
# an acknowledgement
syncLimit=5
# Snapshots, transaction logs and myid. Chosen at start: $ZKD_DATA_DIR, or
# /var/lib/zkd as root, or $XDG_DATA_HOME/zkd, or $HOME/.local/share/zkd.
`)
	fmt.Fprintf(&b, "dataDir=%s\n", escapeValue(dataDir))
	b.WriteString(`# The port at which the clients will connect
clientPort=2181
# The maximum number of client connections per client IP (0 = unlimited)
maxClientCnxns=60
# The number of snapshots (and the logs they need) to keep in dataDir
autopurge.snapRetainCount=3
# Purge older ones every hour (0 disables auto purge, Apache's default): a
# full disk is the most common way a long-running ZooKeeper dies
autopurge.purgeInterval=1
`)
	return b.String()
}

// Default returns the embedded default configuration, parsed from
// DefaultText. It consults no files and no environment beyond choosing the
// data directory, so it cannot fail; use FromEnvironment to honour the
// environment (ZOO_*, MYID, SERVERS, JVMFLAGS, ...) and a myid file.
func Default() *Config {
	c, err := parse(strings.NewReader(DefaultText()), "", nil, false)
	if err != nil {
		// The text is ours; failing to parse it is a bug in this package.
		panic(fmt.Sprintf("config: embedded default does not parse: %v", err))
	}
	return c
}
