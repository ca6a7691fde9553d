package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDefault(t *testing.T) {
	c := Default()
	if c.Path != "" || c.TickTime != 2000 || c.ClientPort != 2181 || c.ClientPortAddress != "" {
		t.Errorf("Default() = path %q tick %d client %q:%d", c.Path, c.TickTime, c.ClientPortAddress, c.ClientPort)
	}
	if c.MinSessionTimeout != 4000 || c.MaxSessionTimeout != 40000 || !c.Standalone() || len(c.Warnings) != 0 {
		t.Errorf("Default() sessions %d..%d standalone %v warnings %q", c.MinSessionTimeout, c.MaxSessionTimeout, c.Standalone(), c.Warnings)
	}
	if want := DefaultDataDir(os.Getenv); c.DataDir != want || c.DataLogDir != want {
		t.Errorf("DataDir = %q, DataLogDir = %q, want %q", c.DataDir, c.DataLogDir, want)
	}
	if !strings.Contains(DefaultText(), "\ndataDir="+c.DataDir+"\n") {
		t.Errorf("DefaultText does not carry dataDir %q:\n%s", c.DataDir, DefaultText())
	}
}

// Default must be exactly what DefaultText says: the same text through a
// plain Parse gives the same Config.
func TestDefaultIsParsedFromDefaultText(t *testing.T) {
	c, err := Parse(strings.NewReader(DefaultText()), "", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	d := Default()
	c.MyID, d.MyID = 0, 0 // Parse may find a myid file in the real data dir
	if got, want := c.String(), d.String(); got != want {
		t.Errorf("Parse(DefaultText()) =\n%s\nDefault() =\n%s", got, want)
	}
}

func TestDefaultFromEnv(t *testing.T) {
	dir := t.TempDir()
	c, err := DefaultFromEnv(env(map[string]string{
		EnvDataDir:    dir,
		EnvZooMyID:    "2",
		EnvZooServers: "server.1=a:2888:3888;2181 server.2=b:2888:3888;2181 server.3=c:2888:3888;2181",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != dir || c.MyID != 2 || len(c.Servers) != 3 || !c.IsQuorum() {
		t.Errorf("DefaultFromEnv: dataDir %q myid %d servers %d quorum %v", c.DataDir, c.MyID, len(c.Servers), c.IsQuorum())
	}
	if err := os.WriteFile(filepath.Join(dir, "myid"), []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := DefaultFromEnv(env(map[string]string{EnvDataDir: dir})); err == nil || !strings.Contains(err.Error(), "(default config): "+filepath.Join(dir, "myid")) {
		t.Errorf("bad myid under the default: err = %v", err)
	}
}

func TestDefaultDataDir(t *testing.T) {
	cases := []struct {
		name string
		vars map[string]string
		euid int
		want string
	}{
		{"ZKD_DATA_DIR wins", map[string]string{EnvDataDir: "/srv/zk", "HOME": "/home/u"}, 0, "/srv/zk"},
		{"root", map[string]string{"HOME": "/root", "XDG_DATA_HOME": "/x"}, 0, "/var/lib/zkd"},
		{"XDG_DATA_HOME", map[string]string{"HOME": "/home/u", "XDG_DATA_HOME": "/home/u/data"}, 1000, "/home/u/data/zkd"},
		{"relative XDG_DATA_HOME ignored", map[string]string{"HOME": "/home/u", "XDG_DATA_HOME": "data"}, 1000, "/home/u/.local/share/zkd"},
		{"HOME", map[string]string{"HOME": "/home/u"}, 1000, "/home/u/.local/share/zkd"},
		{"nothing", nil, 1000, filepath.Join(os.TempDir(), "zkd-1000")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := defaultDataDir(env(tc.vars), tc.euid); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	cwd, _ := os.Getwd()
	if got := defaultDataDir(env(map[string]string{EnvDataDir: "rel"}), 1000); got != filepath.Join(cwd, "rel") {
		t.Errorf("relative ZKD_DATA_DIR: got %q", got)
	}
}

func TestDefaultTextEscapesOddDataDir(t *testing.T) {
	for _, dir := range []string{`/tmp/a b`, `/tmp/back\slash`, `/tmp/#hash`, `/tmp/ü`} {
		c, err := parse(strings.NewReader(defaultText(dir)), "", nil, false)
		if err != nil || c.DataDir != dir {
			t.Errorf("defaultText(%q) parses to %v, %v", dir, c, err)
		}
	}
}

// Apache's own sample config, as Debian installs it, must load.
func TestDebianSampleConfig(t *testing.T) {
	var path string
	for _, p := range []string{"/etc/zookeeper/conf_example/zoo.cfg", "/etc/zookeeper/conf/zoo.cfg"} {
		if _, err := os.Stat(p); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("no Debian zoo.cfg found; CI must install the zookeeper package")
		}
		t.Skip("no /etc/zookeeper/conf_example/zoo.cfg or /etc/zookeeper/conf/zoo.cfg")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Keep the test hermetic: the sample points at /tmp/zookeeper, where a
	// stray myid file could change MyID, so read it through Parse with a
	// clean environment and check the values the sample sets.
	c, err := Parse(strings.NewReader(string(data)), path, func(string) string { return "" })
	if err != nil {
		t.Fatalf("Parse(%s): %v", path, err)
	}
	if c.TickTime != 2000 || c.InitLimit != 10 || c.SyncLimit != 5 || c.ClientPort != 2181 {
		t.Errorf("%s: tick %d init %d sync %d client %d", path, c.TickTime, c.InitLimit, c.SyncLimit, c.ClientPort)
	}
	if c.DataDir == "" || !filepath.IsAbs(c.DataDir) {
		t.Errorf("%s: DataDir = %q", path, c.DataDir)
	}
	if len(c.Warnings) != 0 {
		t.Errorf("%s: Warnings = %q, want none for Apache's own sample", path, c.Warnings)
	}
}
