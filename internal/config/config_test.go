package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// env turns a map into a getenv function.
func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// parseWith parses text with a fresh temporary dataDir prepended (so no
// stray myid file is read) and the given environment.
func parseWith(t *testing.T, text string, vars map[string]string) (*Config, error) {
	t.Helper()
	return Parse(strings.NewReader("dataDir="+t.TempDir()+"\n"+text), "zoo.cfg", env(vars))
}

func mustParse(t *testing.T, text string, vars map[string]string) *Config {
	t.Helper()
	c, err := parseWith(t, text, vars)
	if err != nil {
		t.Fatalf("Parse(%q): %v", text, err)
	}
	return c
}

func TestDefaultsWhenKeysAbsent(t *testing.T) {
	dir := t.TempDir()
	c, err := Parse(strings.NewReader("dataDir="+dir+"\n"), "zoo.cfg", nil)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name      string
		got, want any
	}{
		{"Path", c.Path, "zoo.cfg"},
		{"TickTime", c.TickTime, 3000},
		{"DataDir", c.DataDir, dir},
		{"DataLogDir", c.DataLogDir, dir},
		{"ClientPort", c.ClientPort, 2181},
		{"ClientPortAddress", c.ClientPortAddress, ""},
		{"MaxClientCnxns", c.MaxClientCnxns, 60},
		{"MinSessionTimeout", c.MinSessionTimeout, 6000},
		{"MaxSessionTimeout", c.MaxSessionTimeout, 60000},
		{"InitLimit", c.InitLimit, 10},
		{"SyncLimit", c.SyncLimit, 5},
		{"Servers", len(c.Servers), 0},
		{"MyID", c.MyID, int64(0)},
		{"FourLetterWords", c.FourLetterWords, map[string]bool{"srvr": true}},
		{"AllFourLetterWords", c.AllFourLetterWords, false},
		{"AutopurgeSnapRetainCount", c.AutopurgeSnapRetainCount, 3},
		{"AutopurgePurgeInterval", c.AutopurgePurgeInterval, 0},
		{"SnapCount", c.SnapCount, 100000},
		{"PreAllocSize", c.PreAllocSize, int64(65536 * 1024)},
		{"JuteMaxBuffer", c.JuteMaxBuffer, 0xfffff},
		{"ExtendedTypesEnabled", c.ExtendedTypesEnabled, false},
		{"SuperDigest", c.SuperDigest, ""},
		{"ForceSync", c.ForceSync, true},
		{"SnapshotCompression", c.SnapshotCompression, ""},
		{"DigestEnabled", c.DigestEnabled, true},
		{"ReconfigEnabled", c.ReconfigEnabled, false},
		{"StandaloneEnabled", c.StandaloneEnabled, true},
		{"ClientPortListenBacklog", c.ClientPortListenBacklog, -1},
		{"Raw", c.Raw, map[string]string{"dataDir": dir}},
		{"Warnings", len(c.Warnings), 0},
		{"Standalone", c.Standalone(), true},
		{"IsQuorum", c.IsQuorum(), false},
	}
	for _, tc := range cases {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("%s = %#v, want %#v", tc.name, tc.got, tc.want)
		}
	}
}

func TestParsedValues(t *testing.T) {
	digest := GenerateDigest("super", "secret")
	cases := []struct {
		line string
		get  func(*Config) any
		want any
	}{
		{"tickTime=2000", func(c *Config) any { return c.TickTime }, 2000},
		{"tickTime=2000", func(c *Config) any { return c.MinSessionTimeout }, 4000},
		{"tickTime=2000", func(c *Config) any { return c.MaxSessionTimeout }, 40000},
		{"dataLogDir=/var/log/zk", func(c *Config) any { return c.DataLogDir }, "/var/log/zk"},
		{"dataLogDir=/var/log/zk/../zk2/", func(c *Config) any { return c.DataLogDir }, "/var/log/zk2"},
		{"clientPort=2281", func(c *Config) any { return c.ClientPort }, 2281},
		{"clientPortAddress=127.0.0.1", func(c *Config) any { return c.ClientPortAddress }, "127.0.0.1"},
		{"clientPortAddress=[::1]", func(c *Config) any { return c.ClientPortAddress }, "::1"},
		{"clientPortAddress=", func(c *Config) any { return c.ClientPortAddress }, ""},
		{"maxClientCnxns=0", func(c *Config) any { return c.MaxClientCnxns }, 0},
		{"maxClientCnxns=500", func(c *Config) any { return c.MaxClientCnxns }, 500},
		{"minSessionTimeout=1000", func(c *Config) any { return c.MinSessionTimeout }, 1000},
		{"minSessionTimeout=-1", func(c *Config) any { return c.MinSessionTimeout }, 6000},
		{"maxSessionTimeout=90000", func(c *Config) any { return c.MaxSessionTimeout }, 90000},
		{"maxSessionTimeout=-1", func(c *Config) any { return c.MaxSessionTimeout }, 60000},
		{"initLimit=20", func(c *Config) any { return c.InitLimit }, 20},
		{"syncLimit=2", func(c *Config) any { return c.SyncLimit }, 2},
		{"tickTime=2000", func(c *Config) any { return c.CnxTimeout }, 5000},
		{"cnxTimeout=800", func(c *Config) any { return c.CnxTimeout }, 800},
		{"tickTime=2000", func(c *Config) any { return c.FinalizeWait }, 200},
		{"zkd.election.finalizeWait=50", func(c *Config) any { return c.FinalizeWait }, 50},
		{"zookeeper.cnxTimeout=900", func(c *Config) any { return c.CnxTimeout }, 900},
		{"tickTime=2000", func(c *Config) any { return c.ElectionPortBindRetry }, 3},
		{"electionPortBindRetry=0", func(c *Config) any { return c.ElectionPortBindRetry }, 0},
		{"tickTime=2000", func(c *Config) any { return c.SyncEnabled }, true},
		{"syncEnabled=false", func(c *Config) any { return c.SyncEnabled }, false},
		{"4lw.commands.whitelist=ruok, mntr ,stat", func(c *Config) any { return sortedWords(c) }, "mntr ruok srvr stat"},
		{"zookeeper.4lw.commands.whitelist=ruok", func(c *Config) any { return sortedWords(c) }, "ruok srvr"},
		{"4lw.commands.whitelist=*", func(c *Config) any { return c.AllFourLetterWords }, true},
		{"4lw.commands.whitelist=*", func(c *Config) any { return len(c.FourLetterWords) }, 18},
		{"4lw.commands.whitelist=ruok,*", func(c *Config) any { return len(c.FourLetterWords) }, 18},
		{"4lw.commands.whitelist=", func(c *Config) any { return sortedWords(c) }, "srvr"},
		{"autopurge.snapRetainCount=7", func(c *Config) any { return c.AutopurgeSnapRetainCount }, 7},
		{"autopurge.snapRetainCount=1", func(c *Config) any { return c.AutopurgeSnapRetainCount }, 3},
		{"autopurge.purgeInterval=24", func(c *Config) any { return c.AutopurgePurgeInterval }, 24},
		{"snapCount=5000", func(c *Config) any { return c.SnapCount }, 5000},
		{"zookeeper.snapCount=6000", func(c *Config) any { return c.SnapCount }, 6000},
		{"snapCount=1", func(c *Config) any { return c.SnapCount }, 2},
		{"preAllocSize=1024", func(c *Config) any { return c.PreAllocSize }, int64(1 << 20)},
		{"zookeeper.preAllocSize=0", func(c *Config) any { return c.PreAllocSize }, int64(0)},
		{"jute.maxbuffer=4194304", func(c *Config) any { return c.JuteMaxBuffer }, 4194304},
		{"zookeeper.jute.maxbuffer=100", func(c *Config) any { return c.JuteMaxBuffer }, 100},
		{"extendedTypesEnabled=true", func(c *Config) any { return c.ExtendedTypesEnabled }, true},
		{"zookeeper.extendedTypesEnabled=TRUE", func(c *Config) any { return c.ExtendedTypesEnabled }, true},
		{"zookeeper.DigestAuthenticationProvider.superDigest=" + digest, func(c *Config) any { return c.SuperDigest }, digest},
		{"DigestAuthenticationProvider.superDigest=" + digest, func(c *Config) any { return c.SuperDigest }, digest},
		{"forceSync=no", func(c *Config) any { return c.ForceSync }, false},
		{"forceSync=YES", func(c *Config) any { return c.ForceSync }, true},
		{"zookeeper.forceSync=No", func(c *Config) any { return c.ForceSync }, false},
		{"zookeeper.snapshot.compression.method=gz", func(c *Config) any { return c.SnapshotCompression }, "gz"},
		{"snapshot.compression.method=snappy", func(c *Config) any { return c.SnapshotCompression }, "snappy"},
		{"snapshot.compression.method=", func(c *Config) any { return c.SnapshotCompression }, ""},
		{"digest.enabled=false", func(c *Config) any { return c.DigestEnabled }, false},
		{"zookeeper.digest.enabled=False", func(c *Config) any { return c.DigestEnabled }, false},
		{"reconfigEnabled=true", func(c *Config) any { return c.ReconfigEnabled }, true},
		{"standaloneEnabled=false", func(c *Config) any { return c.StandaloneEnabled }, false},
		{"clientPortListenBacklog=128", func(c *Config) any { return c.ClientPortListenBacklog }, 128},
		{"electionAlg=3", func(c *Config) any { return len(c.Warnings) }, 0},
		{"peerType=observer", func(c *Config) any { return len(c.Warnings) }, 0},
	}
	for _, tc := range cases {
		t.Run(tc.line, func(t *testing.T) {
			c := mustParse(t, tc.line+"\n", nil)
			if got := tc.get(c); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v, want %#v", got, tc.want)
			}
			key, value, _ := strings.Cut(tc.line, "=")
			if c.Raw[key] != value {
				t.Errorf("Raw[%q] = %q, want %q", key, c.Raw[key], value)
			}
		})
	}
}

func sortedWords(c *Config) string {
	var w []string
	for k, on := range c.FourLetterWords {
		if on {
			w = append(w, k)
		}
	}
	sort.Strings(w)
	return strings.Join(w, " ")
}

func TestRelativeDataDirResolvesAgainstWorkingDirectory(t *testing.T) {
	cwd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse(strings.NewReader("dataDir=zkdata-does-not-exist\n"), "/elsewhere/zoo.cfg", nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(cwd, "zkdata-does-not-exist"); c.DataDir != want || c.DataLogDir != want {
		t.Errorf("DataDir, DataLogDir = %q, %q, want %q", c.DataDir, c.DataLogDir, want)
	}
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "dataDir") {
		t.Errorf("Warnings = %q, want one naming dataDir", c.Warnings)
	}
}

func TestBadValuesNameKeyValueAndForm(t *testing.T) {
	cases := []struct {
		text string
		want string // full message after "config: zoo.cfg: "
		err  error
	}{
		{"clientPort=abc", `clientPort="abc": want a port number 1-65535`, ErrBadValue},
		{"clientPort=0", `clientPort="0": want a port number 1-65535`, ErrBadValue},
		{"clientPort=65536", `clientPort="65536": want a port number 1-65535`, ErrBadValue},
		{"tickTime=0", `tickTime="0": want a positive number of milliseconds`, ErrBadValue},
		{"tickTime=-5", `tickTime="-5": want a positive number of milliseconds`, ErrBadValue},
		{"tickTime=2s", `tickTime="2s": want a positive number of milliseconds`, ErrBadValue},
		{"tickTime=99999999999", `tickTime="99999999999": want a positive number of milliseconds`, ErrBadValue},
		{"maxClientCnxns=-1", `maxClientCnxns="-1": want 0 (unlimited) or a positive number of connections`, ErrBadValue},
		{"minSessionTimeout=0", `minSessionTimeout="0": want -1 (default) or a positive number of milliseconds`, ErrBadValue},
		{"maxSessionTimeout=x", `maxSessionTimeout="x": want -1 (default) or a positive number of milliseconds`, ErrBadValue},
		{"minSessionTimeout=50000\nmaxSessionTimeout=40000", `minSessionTimeout="50000": must not be larger than maxSessionTimeout (40000)`, ErrConflict},
		{"minSessionTimeout=70000", `minSessionTimeout="70000": must not be larger than maxSessionTimeout (60000)`, ErrConflict},
		{"initLimit=0", `initLimit="0": want a positive number of ticks`, ErrBadValue},
		{"syncLimit=five", `syncLimit="five": want a positive number of ticks`, ErrBadValue},
		{"cnxTimeout=5s", `cnxTimeout="5s": want a positive number of milliseconds`, ErrBadValue},
		{"zkd.election.finalizeWait=0", `zkd.election.finalizeWait="0": want a positive number of milliseconds`, ErrBadValue},
		{"electionPortBindRetry=-1", `electionPortBindRetry="-1": want the number of tries, 0 for no limit`, ErrBadValue},
		{"syncEnabled=maybe", `syncEnabled="maybe": want true or false`, ErrBadValue},
		{"autopurge.snapRetainCount=many", `autopurge.snapRetainCount="many": want a whole number`, ErrBadValue},
		{"autopurge.purgeInterval=-1", `autopurge.purgeInterval="-1": want 0 (off) or a positive number of hours`, ErrBadValue},
		{"snapCount=1e5", `snapCount="1e5": want a whole number`, ErrBadValue},
		{"zookeeper.snapCount=1e5", `zookeeper.snapCount="1e5": want a whole number`, ErrBadValue},
		{"preAllocSize=-1", `preAllocSize="-1": want a size in KB, 0 or more`, ErrBadValue},
		{"preAllocSize=64MB", `preAllocSize="64MB": want a size in KB, 0 or more`, ErrBadValue},
		{"jute.maxbuffer=0", `jute.maxbuffer="0": want a positive number of bytes`, ErrBadValue},
		{"jute.maxbuffer=-1", `jute.maxbuffer="-1": want a positive number of bytes`, ErrBadValue},
		{"zookeeper.jute.maxbuffer=0x100", `zookeeper.jute.maxbuffer="0x100": want a positive number of bytes`, ErrBadValue},
		{"extendedTypesEnabled=yes", `extendedTypesEnabled="yes": want true or false`, ErrBadValue},
		{"forceSync=true", `forceSync="true": want yes or no`, ErrBadValue},
		{"digest.enabled=1", `digest.enabled="1": want true or false`, ErrBadValue},
		{"reconfigEnabled=on", `reconfigEnabled="on": want true or false`, ErrBadValue},
		{"standaloneEnabled=", `standaloneEnabled="": want true or false`, ErrBadValue},
		{"snapshot.compression.method=zstd", `snapshot.compression.method="zstd": want "" (none), "gz" or "snappy"`, ErrBadValue},
		{"DigestAuthenticationProvider.superDigest=super", `DigestAuthenticationProvider.superDigest="super": want user:base64(sha1(user:password))`, ErrBadValue},
		{"zookeeper.DigestAuthenticationProvider.superDigest=super:abc", `zookeeper.DigestAuthenticationProvider.superDigest="super:abc": want user:base64(sha1(user:password))`, ErrBadValue},
		{"clientPortListenBacklog=-2", `clientPortListenBacklog="-2": want -1 (system default) or a backlog of 0 or more`, ErrBadValue},
		{"clientPortAddress=a b", `clientPortAddress="a b": want a host name or IP address`, ErrBadValue},
		{"electionAlg=0", `electionAlg="0": want 3 (the only election algorithm ZooKeeper supports)`, ErrBadValue},
		{"peerType=leader", `peerType="leader": want observer or participant`, ErrBadValue},
		{"dataLogDir=", `dataLogDir="": want a directory path`, ErrBadValue},
	}
	for _, tc := range cases {
		t.Run(tc.text, func(t *testing.T) {
			_, err := parseWith(t, tc.text+"\n", nil)
			if err == nil {
				t.Fatalf("Parse succeeded, want error %q", tc.want)
			}
			if got, want := err.Error(), "config: zoo.cfg: "+tc.want; got != want {
				t.Errorf("error\n got %s\nwant %s", got, want)
			}
			if !errors.Is(err, tc.err) {
				t.Errorf("errors.Is(%v, %v) = false", err, tc.err)
			}
			var cerr *Error
			if !errors.As(err, &cerr) || cerr.Key == "" {
				t.Errorf("error %v is not a *Error naming a key", err)
			}
		})
	}
}

func TestMissingDataDir(t *testing.T) {
	_, err := Parse(strings.NewReader("clientPort=2181\n"), "conf/zoo.cfg", nil)
	if !errors.Is(err, ErrMissing) || !strings.Contains(err.Error(), "conf/zoo.cfg: dataDir") {
		t.Fatalf("err = %v, want ErrMissing naming conf/zoo.cfg and dataDir", err)
	}
	_, err = Parse(strings.NewReader("dataDir=\n"), "zoo.cfg", nil)
	if !errors.Is(err, ErrBadValue) || !strings.Contains(err.Error(), `dataDir=""`) {
		t.Fatalf("err = %v, want ErrBadValue naming dataDir", err)
	}
}

func TestWarnings(t *testing.T) {
	cases := []struct {
		name string
		text string
		want []string // substrings, one per warning, in order
	}{
		{"unknown key", "fooBar=1\n", []string{"fooBar: unknown key"}},
		{"two unknown keys sorted", "zeta=1\nalpha=2\n", []string{"alpha: unknown key", "zeta: unknown key"}},
		{"prefixed unknown", "zookeeper.fooBar=1\n", []string{"zookeeper.fooBar: unknown key"}},
		{"unknown four-letter word", "4lw.commands.whitelist=ruok,kill\n", []string{`unknown four-letter word "kill"`}},
		{"short form shadows long", "snapCount=10\nzookeeper.snapCount=20\n", []string{"zookeeper.snapCount: ignored because snapCount is also set"}},
		{"repeated key", "tickTime=10\ntickTime=20\n", []string{"tickTime: repeated on lines 2 and 3"}},
		{"retain count raised", "autopurge.snapRetainCount=2\n", []string{"autopurge.snapRetainCount: 2 is below the minimum; using 3"}},
		{"snapCount raised", "snapCount=0\n", []string{"snapCount: 0 is below the minimum; using 2"}},
		{"known keys are silent", strings.Join([]string{
			"secureClientPort=2182", "secureClientPortAddress=0.0.0.0", "admin.enableServer=false",
			"admin.serverPort=8080", "admin.serverAddress=0.0.0.0", "metricsProvider.className=org.apache.zookeeper.metrics.impl.DefaultMetricsProvider",
			"metricsProvider.httpPort=7000", "localSessionsEnabled=true", "localSessionsUpgradingEnabled=true",
			"globalOutstandingLimit=1000", "electionAlg=3", "peerType=participant", "syncEnabled=true",
			"leaderServes=yes", "cnxTimeout=5000", "quorumListenOnAllIPs=true", "maxCnxns=0",
			"clientPortListenBacklog=50", "snapSizeLimitInKb=4194304", "txnLogSizeLimitInKb=-1", "skipACL=no",
			"ssl.keyStore.location=/k", "ssl.quorum.trustStore.location=/t", "quorum.auth.enableSasl=false",
			"authProvider.1=org.x", "sslQuorum=false", "portUnification=false", "group.1=1:2:3", "weight.1=1",
			"connectToLearnerMasterLimit=10", "initLimit=10", "syncLimit=5", "minSessionTimeout=6000",
			"maxSessionTimeout=60000", "observerMasterPort=2191", "multiAddress.enabled=false",
			"jvm.pause.monitor=false",
		}, "\n"), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := mustParse(t, tc.text, nil)
			if len(c.Warnings) != len(tc.want) {
				t.Fatalf("Warnings = %q, want %d", c.Warnings, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.Contains(c.Warnings[i], w) {
					t.Errorf("Warnings[%d] = %q, want it to contain %q", i, c.Warnings[i], w)
				}
			}
		})
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(path, []byte("dataDir="+dir+"\nclientPort=2300\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Path != path || c.ClientPort != 2300 {
		t.Errorf("Path, ClientPort = %q, %d", c.Path, c.ClientPort)
	}
	if _, err := Load(filepath.Join(dir, "absent.cfg")); err == nil || !strings.Contains(err.Error(), "absent.cfg") {
		t.Errorf("Load(absent) = %v, want an error naming the file", err)
	}
}

func TestValidateConfigBuiltInCode(t *testing.T) {
	valid := func() *Config {
		c := Default()
		c.DataDir, c.DataLogDir = "/zk", "/zk"
		return c
	}
	if err := valid().Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
	cases := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"tickTime", func(c *Config) { c.TickTime = 0 }, `tickTime="0"`},
		{"relative dataDir", func(c *Config) { c.DataDir = "zk" }, `dataDir="zk"`},
		{"jute", func(c *Config) { c.JuteMaxBuffer = 0 }, `jute.maxbuffer="0"`},
		{"retain", func(c *Config) { c.AutopurgeSnapRetainCount = 2 }, `autopurge.snapRetainCount="2"`},
		{"compression", func(c *Config) { c.SnapshotCompression = "lz4" }, `snapshot.compression.method="lz4"`},
		{"word", func(c *Config) { c.FourLetterWords["kill"] = true }, `4lw.commands.whitelist="kill"`},
		{"duplicate ids", func(c *Config) {
			c.Servers = []Server{{ID: 1, Host: "a", QuorumPort: 1, ElectionPort: 2}, {ID: 1, Host: "b", QuorumPort: 1, ElectionPort: 2}}
		}, "server.1: server id given twice"},
		{"bad server port", func(c *Config) {
			c.Servers = []Server{{ID: 1, Host: "a", QuorumPort: 0, ElectionPort: 2}}
		}, "server.1="},
		{"quorum without myid", func(c *Config) {
			c.Servers = []Server{{ID: 1, Host: "a", QuorumPort: 1, ElectionPort: 2}, {ID: 2, Host: "b", QuorumPort: 1, ElectionPort: 2}}
		}, "myid: missing"},
		{"extended types id", func(c *Config) { c.ExtendedTypesEnabled, c.MyID = true, 255 }, `myid="255": must be at most 254`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			tc.mutate(c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestStringRoundTrips(t *testing.T) {
	text := strings.Join([]string{
		"tickTime=1000", "initLimit=7", "syncLimit=3", "clientPortAddress=127.0.0.1",
		"maxClientCnxns=0", "minSessionTimeout=1500", "maxSessionTimeout=9000",
		"autopurge.snapRetainCount=5", "autopurge.purgeInterval=1", "snapCount=1000",
		"preAllocSize=128", "jute.maxbuffer=2048", "forceSync=no", "digest.enabled=false",
		"extendedTypesEnabled=true", "snapshot.compression.method=gz", "reconfigEnabled=true",
		"4lw.commands.whitelist=ruok,mntr", "DigestAuthenticationProvider.superDigest=" + GenerateDigest("a", "b"),
		"server.1=a:2888:3888;2185", "server.2=b:2888:3888;2185", "server.3=c:2888:3888:observer;2185",
		"clientPortListenBacklog=64",
	}, "\n")
	c := mustParse(t, text, map[string]string{EnvZooMyID: "1"})
	again, err := Parse(strings.NewReader(c.String()), "zoo.cfg", env(map[string]string{EnvZooMyID: "1"}))
	if err != nil {
		t.Fatalf("String() does not parse: %v\n%s", err, c)
	}
	if again.String() != c.String() {
		t.Errorf("round trip changed the config:\n%s\n---\n%s", c, again)
	}
	for _, want := range []string{"# myid=1\n", "clientPort=2185\n", "preAllocSize=128\n", "forceSync=no\n",
		"4lw.commands.whitelist=mntr,ruok,srvr\n", "server.3=c:2888:3888:observer;2185\n"} {
		if !strings.Contains(c.String(), want) {
			t.Errorf("String() lacks %q:\n%s", want, c)
		}
	}
}
