package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// environ turns a map into os.Environ's form.
func environ(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}

func warningsContaining(c *Config, s string) int {
	n := 0
	for _, w := range c.Warnings {
		if strings.Contains(w, s) {
			n++
		}
	}
	return n
}

// The write-up's Deployments: MYID and SERVERS, nothing else.
func TestFromEnvironmentMyIDServers(t *testing.T) {
	dir := t.TempDir()
	c, err := FromEnvironment(environ(map[string]string{
		"ZOO_DATA_DIR": dir, "MYID": "2", "SERVERS": "zookeeper1,zookeeper2,zookeeper3",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := []Server{
		{ID: 1, Host: "zookeeper1", QuorumPort: 2888, ElectionPort: 3888, ClientPort: 2181},
		{ID: 2, Host: "zookeeper2", QuorumPort: 2888, ElectionPort: 3888, ClientPort: 2181},
		{ID: 3, Host: "zookeeper3", QuorumPort: 2888, ElectionPort: 3888, ClientPort: 2181},
	}
	if !reflect.DeepEqual(c.Servers, want) || c.MyID != 2 || c.ClientPort != 2181 || !c.IsQuorum() {
		t.Errorf("servers %v myid %d clientPort %d quorum %v", c.Servers, c.MyID, c.ClientPort, c.IsQuorum())
	}
	if c.DataDir != dir || c.DataLogDir != dir || c.TickTime != 2000 {
		t.Errorf("dataDir %q dataLogDir %q tickTime %d", c.DataDir, c.DataLogDir, c.TickTime)
	}
	if c.AutopurgePurgeInterval != 1 || c.AutopurgeSnapRetainCount != 3 {
		t.Errorf("autopurge every %d h keeping %d, want every 1 h keeping 3", c.AutopurgePurgeInterval, c.AutopurgeSnapRetainCount)
	}
	if got := strings.Join(c.EnvUsed, " "); got != "ZOO_DATA_DIR SERVERS MYID" {
		t.Errorf("EnvUsed = %q", got)
	}
	if len(c.Warnings) != 0 {
		t.Errorf("Warnings = %q", c.Warnings)
	}
}

// Every ZOO_* setting of the official image's docker-entrypoint.sh.
func TestFromEnvironmentOfficialImage(t *testing.T) {
	data, logs := t.TempDir(), t.TempDir()
	c, err := FromEnvironment(environ(map[string]string{
		"ZOO_DATA_DIR":                  data,
		"ZOO_DATA_LOG_DIR":              logs,
		"ZOO_TICK_TIME":                 "3000",
		"ZOO_INIT_LIMIT":                "7",
		"ZOO_SYNC_LIMIT":                "3",
		"ZOO_MAX_CLIENT_CNXNS":          "0",
		"ZOO_STANDALONE_ENABLED":        "false",
		"ZOO_ADMINSERVER_ENABLED":       "false",
		"ZOO_AUTOPURGE_PURGEINTERVAL":   "0",
		"ZOO_AUTOPURGE_SNAPRETAINCOUNT": "5",
		"ZOO_4LW_COMMANDS_WHITELIST":    "ruok, mntr",
		"ZOO_CFG_EXTRA":                 "snapCount=5000 forceSync=no tickTime=2500",
		"ZOO_MY_ID":                     "3",
		"ZOO_SERVERS":                   "server.1=zk1:2888:3888;2181 server.2=zk2:2888:3888;2181\nserver.3=0.0.0.0:2888:3888;2182",
		"ZOO_LOG_DIR":                   "/logs", // the image's own; nothing to say about it
	}))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name      string
		got, want any
	}{
		{"DataDir", c.DataDir, data},
		{"DataLogDir", c.DataLogDir, logs},
		{"TickTime (ZOO_CFG_EXTRA wins, as it comes last in zoo.cfg)", c.TickTime, 2500},
		{"InitLimit", c.InitLimit, 7},
		{"SyncLimit", c.SyncLimit, 3},
		{"MaxClientCnxns", c.MaxClientCnxns, 0},
		{"StandaloneEnabled", c.StandaloneEnabled, false},
		{"admin.enableServer", c.Raw["admin.enableServer"], "false"},
		{"AutopurgePurgeInterval", c.AutopurgePurgeInterval, 0},
		{"AutopurgeSnapRetainCount", c.AutopurgeSnapRetainCount, 5},
		{"FourLetterWords", c.FourLetterWords, map[string]bool{"ruok": true, "mntr": true, "srvr": true}},
		{"SnapCount", c.SnapCount, 5000},
		{"ForceSync", c.ForceSync, false},
		{"MyID", c.MyID, int64(3)},
		{"Servers", len(c.Servers), 3},
		{"ClientPort (from this server's line, not the default's 2181)", c.ClientPort, 2182},
		{"Warnings", c.Warnings, []string(nil)},
	}
	for _, tc := range cases {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("%s = %#v, want %#v", tc.name, tc.got, tc.want)
		}
	}
}

func TestFromEnvironmentErrorsNameTheVariable(t *testing.T) {
	cases := []struct {
		name string
		vars map[string]string
		err  string
	}{
		{"tick time", map[string]string{"ZOO_TICK_TIME": "2s"}, `ZOO_TICK_TIME="2s": want a positive number of milliseconds`},
		{"boolean", map[string]string{"ZOO_STANDALONE_ENABLED": "yes"}, `ZOO_STANDALONE_ENABLED="yes": want true or false`},
		{"purge", map[string]string{"ZOO_AUTOPURGE_PURGEINTERVAL": "-1"}, `ZOO_AUTOPURGE_PURGEINTERVAL="-1": want 0 (off) or a positive number of hours`},
		{"data dir", map[string]string{"ZOO_DATA_DIR": "data"}, ""}, // relative: a warning, not an error
		{"extra without =", map[string]string{"ZOO_CFG_EXTRA": "snapCount"}, `ZOO_CFG_EXTRA="snapCount": want space separated key=value entries`},
		{"extra bad value", map[string]string{"ZOO_CFG_EXTRA": "snapCount=many"}, `ZOO_CFG_EXTRA snapCount="many": want a whole number`},
		{"client port against the server line", map[string]string{
			"ZOO_PORT": "2181", "ZOO_MY_ID": "1", "ZOO_SERVERS": "server.1=a:2888:3888;2182 server.2=b:2888:3888;2182",
		}, `ZOO_PORT="2181": differs from the client port 2182 in server.1`},
		{"no id", map[string]string{"SERVERS": "a,b,c"}, "myid: missing: an ensemble member needs"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			vars := map[string]string{"ZKD_DATA_DIR": t.TempDir()}
			for k, v := range tc.vars {
				vars[k] = v
			}
			_, err := FromEnvironment(environ(vars))
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("err = %v, want none", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("err = %v, want it to contain %q", err, tc.err)
			}
		})
	}
}

func TestFromEnvironmentWarnsAboutMisspeltVariables(t *testing.T) {
	c, err := FromEnvironment(environ(map[string]string{
		"ZKD_DATA_DIR": t.TempDir(), "ZOO_TICKTIME": "2000", "ZOO_LOG4J_PROP": "INFO,CONSOLE",
		"ZOO_CFG_EXTRA": "tickTme=2000",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if warningsContaining(c, "ZOO_TICKTIME: not a variable") != 1 || warningsContaining(c, "ZOO_CFG_EXTRA tickTme: unknown key") != 1 || len(c.Warnings) != 2 {
		t.Errorf("Warnings = %q", c.Warnings)
	}
}

func TestJVMFlags(t *testing.T) {
	digest := GenerateDigest("super", "pw")
	flags := "-Xmx512m -Dzookeeper.extendedTypesEnabled=true -Dzookeeper.snapCount=5000 -Djute.maxbuffer=4194304 " +
		"-Dzookeeper.DigestAuthenticationProvider.superDigest=" + digest + " -Dzookeeper.electionPortBindRetry=5 -Dzookeeper.commitLogCount=500 " +
		"-XX:+UseG1GC -Djava.net.preferIPv4Stack=true"
	for _, mode := range []string{"environment", "zoo.cfg"} {
		t.Run(mode, func(t *testing.T) {
			vars := map[string]string{"JVMFLAGS": flags, "SERVER_JVMFLAGS": "-Dzookeeper.snapCount=7 -Xms64m"}
			var c *Config
			var err error
			if mode == "zoo.cfg" {
				c, err = parseWith(t, "", vars)
			} else {
				vars["ZKD_DATA_DIR"] = t.TempDir()
				c, err = FromEnvironment(environ(vars))
			}
			if err != nil {
				t.Fatal(err)
			}
			if !c.ExtendedTypesEnabled || c.SnapCount != 5000 || c.JuteMaxBuffer != 4194304 || c.SuperDigest != digest {
				t.Errorf("extendedTypes %v snapCount %d (JVMFLAGS comes after SERVER_JVMFLAGS) juteMaxBuffer %d superDigest %q",
					c.ExtendedTypesEnabled, c.SnapCount, c.JuteMaxBuffer, c.SuperDigest)
			}
			if c.ElectionPortBindRetry != 5 {
				t.Errorf("electionPortBindRetry %d, want 5 from JVMFLAGS", c.ElectionPortBindRetry)
			}
			if warningsContaining(c, "JVMFLAGS -Dzookeeper.commitLogCount: zkd has no such setting") != 1 {
				t.Errorf("no warning for the unsupported property: %q", c.Warnings)
			}
			if warningsContaining(c, "JVM options mean nothing to zkd and are ignored: -Xms64m -Xmx512m -XX:+UseG1GC -Djava.net.preferIPv4Stack=true") != 1 {
				t.Errorf("JVM options not listed in one line: %q", c.Warnings)
			}
			if len(c.Warnings) != 2 {
				t.Errorf("Warnings = %q, want two", c.Warnings)
			}
		})
	}
	// zoo.cfg sets the property again when ZooKeeper parses it, so it wins.
	c := mustParse(t, "snapCount=300\n", map[string]string{"JVMFLAGS": "-Dzookeeper.snapCount=5000"})
	if c.SnapCount != 300 || warningsContaining(c, "JVMFLAGS -Dzookeeper.snapCount: ignored because snapCount is set") != 1 {
		t.Errorf("snapCount %d, warnings %q", c.SnapCount, c.Warnings)
	}
	if _, err := parseWith(t, "", map[string]string{"JVMFLAGS": "-Dzookeeper.forceSync=maybe"}); err == nil ||
		!strings.Contains(err.Error(), `JVMFLAGS -Dzookeeper.forceSync="maybe": want yes or no`) {
		t.Errorf("bad property: err = %v", err)
	}
}

func TestMyIDFromHostname(t *testing.T) {
	cases := []struct {
		name   string
		vars   map[string]string
		myidIn string // content of <dataDir>/myid, "" = none
		myid   int64
		err    string
	}{
		{"ordinal", map[string]string{"HOSTNAME": "zk-2"}, "", 3, ""},
		{"first pod", map[string]string{"HOSTNAME": "zk-0"}, "", 1, ""},
		{"fully qualified", map[string]string{"HOSTNAME": "zk-1.zk-hs.default.svc.cluster.local"}, "", 2, ""},
		{"myid file agrees", map[string]string{"HOSTNAME": "zk-1"}, "2\n", 2, ""},
		{"myid file disagrees", map[string]string{"HOSTNAME": "zk-1"}, "3\n", 0, "the host name gives server id 2 but"},
		{"MYID disagrees", map[string]string{"HOSTNAME": "zk-1", "MYID": "1"}, "", 0, "the host name gives server id 2 but MYID says 1"},
		{"no ordinal", map[string]string{"HOSTNAME": "zookeeper1"}, "", 0, `the host name "zookeeper1" does not end in -<ordinal>`},
		{"not a number", map[string]string{"HOSTNAME": "zk-x"}, "", 0, `does not end in -<ordinal>`},
		{"not asked", map[string]string{"HOSTNAME": "zk-2", "ZKD_MYID_FROM_HOSTNAME": "false", "MYID": "1"}, "", 1, ""},
		{"bad switch", map[string]string{"HOSTNAME": "zk-2", "ZKD_MYID_FROM_HOSTNAME": "yes"}, "", 0, `ZKD_MYID_FROM_HOSTNAME="yes": want true or false`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.myidIn != "" {
				if err := os.WriteFile(filepath.Join(dir, "myid"), []byte(tc.myidIn), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			vars := map[string]string{"ZOO_DATA_DIR": dir, "SERVERS": "zk-0,zk-1,zk-2", "ZKD_MYID_FROM_HOSTNAME": "true"}
			for k, v := range tc.vars {
				vars[k] = v
			}
			c, err := FromEnvironment(environ(vars))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.MyID != tc.myid {
				t.Errorf("MyID = %d, want %d", c.MyID, tc.myid)
			}
		})
	}
}

// The image semantics: a myid file wins over ZOO_MY_ID, and saying so
// saves an operator from wondering why the variable did nothing.
func TestMyIDFileWinsOverVariableWithWarning(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "myid"), []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := FromEnvironment(environ(map[string]string{"ZOO_DATA_DIR": dir, "ZOO_MY_ID": "2", "SERVERS": "a,b,c"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.MyID != 1 || warningsContaining(c, "ZOO_MY_ID=2: ignored") != 1 {
		t.Errorf("MyID %d, warnings %q", c.MyID, c.Warnings)
	}
}

func TestDefaultPurges(t *testing.T) {
	if c := Default(); c.AutopurgePurgeInterval != 1 || c.AutopurgeSnapRetainCount != 3 {
		t.Errorf("Default() purges every %d h keeping %d, want every 1 h keeping 3", c.AutopurgePurgeInterval, c.AutopurgeSnapRetainCount)
	}
}
