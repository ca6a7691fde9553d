package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestServerLines(t *testing.T) {
	cases := []struct {
		line string
		want Server
	}{
		{"server.1=zk1:2888:3888", Server{ID: 1, Host: "zk1", QuorumPort: 2888, ElectionPort: 3888}},
		{"server.2=zk2:2888:3888:participant", Server{ID: 2, Host: "zk2", QuorumPort: 2888, ElectionPort: 3888}},
		{"server.3=zk3:2888:3888:observer", Server{ID: 3, Host: "zk3", QuorumPort: 2888, ElectionPort: 3888, Observer: true}},
		{"server.4=zk4:2888:3888:OBSERVER;2181", Server{ID: 4, Host: "zk4", QuorumPort: 2888, ElectionPort: 3888, Observer: true, ClientPort: 2181}},
		{"server.5=zk5:2888:3888;0.0.0.0:2181", Server{ID: 5, Host: "zk5", QuorumPort: 2888, ElectionPort: 3888, ClientAddress: "0.0.0.0", ClientPort: 2181}},
		{"server.6=[::1]:2888:3888;[::1]:2181", Server{ID: 6, Host: "::1", QuorumPort: 2888, ElectionPort: 3888, ClientAddress: "::1", ClientPort: 2181}},
		{"server.7=10.0.0.7:1:65535:participant;10.0.0.7:2181", Server{ID: 7, Host: "10.0.0.7", QuorumPort: 1, ElectionPort: 65535, ClientAddress: "10.0.0.7", ClientPort: 2181}},
		{"server.255 = zk:2888:3888;2181 ", Server{ID: 255, Host: "zk", QuorumPort: 2888, ElectionPort: 3888, ClientPort: 2181}},
	}
	for _, tc := range cases {
		t.Run(tc.line, func(t *testing.T) {
			key, spec, _ := strings.Cut(tc.line, "=")
			got, problem := parseServerLine(strings.TrimSpace(key), spec)
			if problem != "" {
				t.Fatalf("problem %q", problem)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestServerLinesInFileAreSortedAndSetMode(t *testing.T) {
	c := mustParse(t, "server.3=c:2888:3888\nserver.1=a:2888:3888\nserver.2=b:2888:3888;2182\n", map[string]string{EnvZooMyID: "2"})
	var ids []int64
	for _, s := range c.Servers {
		ids = append(ids, s.ID)
	}
	if !reflect.DeepEqual(ids, []int64{1, 2, 3}) {
		t.Errorf("ids = %v, want sorted 1 2 3", ids)
	}
	if !c.IsQuorum() || c.Standalone() {
		t.Errorf("IsQuorum = %v, Standalone = %v, want quorum", c.IsQuorum(), c.Standalone())
	}
	if c.ClientPort != 2182 {
		t.Errorf("ClientPort = %d, want 2182 from server.2's client part", c.ClientPort)
	}
}

func TestBadServerLines(t *testing.T) {
	form := "want server.N=host:quorumPort:electionPort[:participant|observer][;[clientAddress:]clientPort]"
	cases := []struct {
		text string
		want string
		err  error
	}{
		{"server.1=zk1:2888", `server.1="zk1:2888": ` + form, ErrBadValue},
		{"server.1=zk1", `server.1="zk1": ` + form, ErrBadValue},
		{"server.1=zk1:2888:3888:leader", `server.1="zk1:2888:3888:leader": ` + form, ErrBadValue},
		{"server.1=zk1:x:3888", `server.1="zk1:x:3888": ` + form, ErrBadValue},
		{"server.1=zk1:2888:70000", `server.1="zk1:2888:70000": ` + form, ErrBadValue},
		{"server.1=:2888:3888", `server.1=":2888:3888": ` + form, ErrBadValue},
		{"server.1=zk1:2888:3888;", `server.1="zk1:2888:3888;": ` + form, ErrBadValue},
		{"server.1=zk1:2888:3888;a:b:2181", `server.1="zk1:2888:3888;a:b:2181": ` + form, ErrBadValue},
		{"server.1=zk1:2888:3888;2181;2182", `server.1="zk1:2888:3888;2181;2182": ` + form, ErrBadValue},
		{"server.1=zk1:2888:3888:participant:x", `server.1="zk1:2888:3888:participant:x": ` + form, ErrBadValue},
		{"server.1=a:1:2|b:1:2", `server.1="a:1:2|b:1:2": multiple addresses (|) are not supported by zkd; ` + form, ErrBadValue},
		{"server.1=zk1:2888:3888 ;2181", `server.1="zk1:2888:3888 ;2181": ` + form, ErrBadValue},
		{"server.x=zk1:2888:3888", `server.x="zk1:2888:3888": want server.N with N a server id (a whole number 1 or more)`, ErrBadValue},
		{"server.0=zk1:2888:3888", `server.0="zk1:2888:3888": want server.N with N a server id (a whole number 1 or more)`, ErrBadValue},
		{"server.1=a:1:2\nserver.01=b:1:2", "server.1: server id given twice", ErrConflict},
		{"server.1=a:1:2\nserver.1=b:1:2", "server.1: server id given twice", ErrConflict},
		{"server.1=a:1:2:observer", "server.N: observers without participants is an invalid configuration", ErrConflict},
		{"server.1=a:1:2\nserver.2=b:1:2:observer", "server.N: observers without a quorum", ErrConflict},
		{"server.1=a:1:2\nserver.2=b:1:2", "myid: missing: an ensemble member needs", ErrMissing},
	}
	for _, tc := range cases {
		t.Run(tc.text, func(t *testing.T) {
			_, err := parseWith(t, tc.text+"\n", nil)
			if err == nil || !strings.HasPrefix(err.Error(), "config: zoo.cfg: "+tc.want) {
				t.Fatalf("err\n got %v\nwant prefix config: zoo.cfg: %s", err, tc.want)
			}
			if !errors.Is(err, tc.err) {
				t.Errorf("errors.Is(err, %v) = false", tc.err)
			}
		})
	}
}

func TestMode(t *testing.T) {
	cases := []struct {
		name, text string
		vars       map[string]string
		standalone bool
	}{
		{"no servers", "", nil, true},
		{"one server", "server.1=a:1:2\n", nil, true},
		{"one server standaloneEnabled=false", "server.1=a:1:2\nstandaloneEnabled=false\n", map[string]string{EnvZooMyID: "1"}, false},
		{"two servers", "server.1=a:1:2\nserver.2=b:1:2\n", map[string]string{EnvZooMyID: "1"}, false},
		{"one voter one observer, standalone disabled", "server.1=a:1:2\nserver.2=b:1:2:observer\nstandaloneEnabled=false\n", map[string]string{EnvZooMyID: "2"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := mustParse(t, tc.text, tc.vars)
			if c.Standalone() != tc.standalone || c.IsQuorum() == tc.standalone {
				t.Errorf("Standalone = %v, IsQuorum = %v, want standalone %v", c.Standalone(), c.IsQuorum(), tc.standalone)
			}
		})
	}
}

func TestClientPortFromOwnServerLine(t *testing.T) {
	three := "server.1=a:1:2;10.0.0.1:2191\nserver.2=b:1:2;2192\nserver.3=c:1:2\n"
	cases := []struct {
		name, extra, myid string
		port              int
		addr              string
		err               string
	}{
		{"address and port from line", "", "1", 2191, "10.0.0.1", ""},
		{"port from line", "", "2", 2192, "", ""},
		{"no client part keeps default", "", "3", 2181, "", ""},
		{"no client part keeps clientPort", "clientPort=2200\n", "3", 2200, "", ""},
		{"matching clientPort", "clientPort=2191\n", "1", 2191, "10.0.0.1", ""},
		{"conflicting clientPort", "clientPort=2181\n", "1", 0, "", `clientPort="2181": differs from the client port 2191 in server.1`},
		{"conflicting address", "clientPortAddress=10.0.0.9\n", "1", 0, "", `clientPortAddress="10.0.0.9": differs from the client address 10.0.0.1 in server.1`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseWith(t, three+tc.extra, map[string]string{EnvZooMyID: tc.myid})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, ErrConflict) {
					t.Fatalf("err = %v, want ErrConflict containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.ClientPort != tc.port || c.ClientPortAddress != tc.addr {
				t.Errorf("client = %q:%d, want %q:%d", c.ClientPortAddress, c.ClientPort, tc.addr, tc.port)
			}
		})
	}
}

func TestPeerTypeMismatchWarns(t *testing.T) {
	c := mustParse(t, "server.1=a:1:2\nserver.2=b:1:2\nserver.3=c:1:2:observer\npeerType=observer\n", map[string]string{EnvZooMyID: "1"})
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "peerType: observer does not match server.1 (participant)") {
		t.Errorf("Warnings = %q", c.Warnings)
	}
}

func TestEnvironment(t *testing.T) {
	digest := GenerateDigest("super", "pw")
	other := GenerateDigest("other", "pw")
	three := []Server{
		{ID: 1, Host: "zk-0.zk", QuorumPort: 2888, ElectionPort: 3888, ClientPort: 2181},
		{ID: 2, Host: "zk-1.zk", QuorumPort: 2888, ElectionPort: 3888, ClientPort: 2181},
		{ID: 3, Host: "zk-2.zk", QuorumPort: 2888, ElectionPort: 3888, ClientPort: 2181},
	}
	cases := []struct {
		name    string
		text    string
		vars    map[string]string
		myid    int64
		servers []Server
		digest  string
		err     string
	}{
		{name: "ZOO_MY_ID alone", vars: map[string]string{EnvZooMyID: "4"}, myid: 4},
		{name: "MYID alone", vars: map[string]string{EnvMyID: "5"}, myid: 5},
		{name: "ZOO_MY_ID wins over MYID", vars: map[string]string{EnvZooMyID: "4", EnvMyID: "5"}, myid: 4},
		{name: "ZOO_SERVERS", vars: map[string]string{
			EnvZooMyID:    "2",
			EnvZooServers: "server.1=zk-0.zk:2888:3888;2181 server.2=zk-1.zk:2888:3888;2181\n server.3=zk-2.zk:2888:3888:observer;2181",
		}, myid: 2, servers: []Server{
			{ID: 1, Host: "zk-0.zk", QuorumPort: 2888, ElectionPort: 3888, ClientPort: 2181},
			{ID: 2, Host: "zk-1.zk", QuorumPort: 2888, ElectionPort: 3888, ClientPort: 2181},
			{ID: 3, Host: "zk-2.zk", QuorumPort: 2888, ElectionPort: 3888, ClientPort: 2181, Observer: true},
		}},
		{name: "SERVERS", vars: map[string]string{EnvMyID: "3", EnvServers: "zk-0.zk, zk-1.zk,zk-2.zk"}, myid: 3, servers: three},
		{name: "ZOO_SERVERS wins over SERVERS", vars: map[string]string{
			EnvMyID: "1", EnvZooServers: "server.1=x:1:2", EnvServers: "a,b,c",
		}, myid: 1, servers: []Server{{ID: 1, Host: "x", QuorumPort: 1, ElectionPort: 2}}},
		{name: "file servers win over env", text: "server.1=f:1:2\n", vars: map[string]string{
			EnvServers: "a,b,c",
		}, servers: []Server{{ID: 1, Host: "f", QuorumPort: 1, ElectionPort: 2}}},
		{name: "ZK_SUPER_DIGEST", vars: map[string]string{EnvSuperDigest: digest}, digest: digest},
		{name: "ZK_SUPER_DIGEST wins over key", text: "DigestAuthenticationProvider.superDigest=" + other + "\n",
			vars: map[string]string{EnvSuperDigest: digest}, digest: digest},
		{name: "bad ZOO_MY_ID", vars: map[string]string{EnvZooMyID: "one"}, err: `ZOO_MY_ID="one": want a server id`},
		{name: "zero MYID", vars: map[string]string{EnvMyID: "0"}, err: `MYID="0": want a server id`},
		{name: "bad ZOO_SERVERS entry", vars: map[string]string{EnvZooServers: "zk-0:2888:3888"}, err: `ZOO_SERVERS="zk-0:2888:3888": want server.N=host:quorumPort:electionPort`},
		{name: "bad ZOO_SERVERS server", vars: map[string]string{EnvZooServers: "server.1=zk-0:2888"}, err: `ZOO_SERVERS="server.1=zk-0:2888": want server.N=`},
		{name: "duplicate ZOO_SERVERS ids", vars: map[string]string{EnvZooMyID: "1", EnvZooServers: "server.1=a:1:2 server.1=b:1:2"}, err: "server.1: server id given twice"},
		{name: "empty SERVERS item", vars: map[string]string{EnvServers: "a,,c"}, err: `SERVERS="a,,c": want a comma separated list of host names`},
		{name: "SERVERS with ports", vars: map[string]string{EnvServers: "a:2181,b:2181"}, err: `SERVERS="a:2181,b:2181": want a comma separated list`},
		{name: "quorum myid not listed", vars: map[string]string{EnvZooMyID: "9", EnvServers: "a,b,c"}, err: `myid="9": not in the server list`},
		{name: "bad ZK_SUPER_DIGEST", vars: map[string]string{EnvSuperDigest: "super:pw"}, err: `ZK_SUPER_DIGEST="super:pw": want user:base64(sha1(user:password))`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseWith(t, tc.text, tc.vars)
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
			if !reflect.DeepEqual(c.Servers, tc.servers) {
				t.Errorf("Servers = %+v, want %+v", c.Servers, tc.servers)
			}
			if c.SuperDigest != tc.digest {
				t.Errorf("SuperDigest = %q, want %q", c.SuperDigest, tc.digest)
			}
		})
	}
}

func TestMyIDFile(t *testing.T) {
	servers := "server.1=a:1:2\nserver.2=b:1:2\nserver.3=c:1:2\n"
	cases := []struct {
		name    string
		content *string // nil: no file
		vars    map[string]string
		text    string
		myid    int64
		err     string
		errIs   error
	}{
		{name: "plain", content: ptr("2\n"), text: servers, myid: 2},
		{name: "no newline", content: ptr("3"), text: servers, myid: 3},
		{name: "CRLF", content: ptr("1\r\n"), text: servers, myid: 1},
		{name: "only first line read", content: ptr("2\ngarbage\n"), text: servers, myid: 2},
		{name: "file wins over env", content: ptr("1\n"), vars: map[string]string{EnvZooMyID: "3"}, text: servers, myid: 1},
		{name: "absent: env", vars: map[string]string{EnvMyID: "3"}, text: servers, myid: 3},
		{name: "absent standalone", myid: 0},
		{name: "read in standalone too", content: ptr("7\n"), myid: 7},
		{name: "not a number", content: ptr("abc\n"), text: servers, err: `myid="abc": want the server id`, errIs: ErrMyID},
		{name: "trailing space (Apache does not trim)", content: ptr("1 \n"), text: servers, err: `myid="1 ": want the server id`, errIs: ErrMyID},
		{name: "empty", content: ptr(""), err: `myid="": want the server id`, errIs: ErrMyID},
		{name: "zero", content: ptr("0\n"), err: `myid="0"`, errIs: ErrMyID},
		{name: "not listed", content: ptr("4\n"), text: servers, err: `myid="4": not in the server list (no server.4 line)`, errIs: ErrConflict},
		{name: "absent in quorum", text: servers, err: "myid: missing", errIs: ErrMissing},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			myid := filepath.Join(dir, "myid")
			if tc.content != nil {
				if err := os.WriteFile(myid, []byte(*tc.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			c, err := Parse(strings.NewReader("dataDir="+dir+"\n"+tc.text), "zoo.cfg", env(tc.vars))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, tc.errIs) {
					t.Fatalf("err = %v, want %v containing %q", err, tc.errIs, tc.err)
				}
				if tc.errIs == ErrMyID && !strings.Contains(err.Error(), myid) {
					t.Errorf("err = %v, want it to name %s", err, myid)
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

func TestMyIDDirectoryIsIgnored(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "myid"), 0o755); err != nil {
		t.Fatal(err)
	}
	c, err := Parse(strings.NewReader("dataDir="+dir+"\n"), "zoo.cfg", nil)
	if err != nil || c.MyID != 0 {
		t.Fatalf("Parse = %v, %v; want MyID 0 (Apache only reads a regular file)", c, err)
	}
}

func TestDynamicConfigFile(t *testing.T) {
	dir := t.TempDir()
	dyn := filepath.Join(dir, "zoo.cfg.dynamic.100000000")
	write := func(text string) {
		t.Helper()
		if err := os.WriteFile(dyn, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	base := "dataDir=" + dir + "\ndynamicConfigFile=" + dyn + "\n"
	vars := env(map[string]string{EnvZooMyID: "2"})

	write("server.1=a:2888:3888:participant;0.0.0.0:2181\nserver.2=b:2888:3888:participant;0.0.0.0:2181\nversion=100000000\n")
	c, err := Parse(strings.NewReader(base), "zoo.cfg", vars)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Servers) != 2 || c.Servers[1].Host != "b" || !c.IsQuorum() || len(c.Warnings) != 0 {
		t.Errorf("Servers = %+v, IsQuorum = %v, Warnings = %q", c.Servers, c.IsQuorum(), c.Warnings)
	}

	_, err = Parse(strings.NewReader(base+"server.1=a:1:2\n"), "zoo.cfg", vars)
	if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "server.1: must be in the dynamic config file") {
		t.Errorf("static server line with dynamic file: err = %v", err)
	}

	write("server.1=a:2888:3888\ntickTime=5\n")
	_, err = Parse(strings.NewReader(base), "zoo.cfg", vars)
	if !errors.Is(err, ErrBadValue) || !strings.Contains(err.Error(), dyn+": tickTime: not allowed") {
		t.Errorf("non-server key in dynamic file: err = %v", err)
	}

	write("server.1=a:2888\n")
	_, err = Parse(strings.NewReader(base), "zoo.cfg", vars)
	if err == nil || !strings.Contains(err.Error(), dyn+`: server.1="a:2888": want server.N=`) {
		t.Errorf("bad server line in dynamic file: err = %v", err)
	}

	_, err = Parse(strings.NewReader("dataDir="+dir+"\ndynamicConfigFile="+dyn+".absent\n"), "zoo.cfg", vars)
	if !errors.Is(err, ErrMissing) || !strings.Contains(err.Error(), "dynamicConfigFile=") {
		t.Errorf("absent dynamic file: err = %v", err)
	}
}

func ptr(s string) *string { return &s }

func TestServerStringRoundTrips(t *testing.T) {
	for _, s := range []Server{
		{ID: 1, Host: "zk1", QuorumPort: 2888, ElectionPort: 3888},
		{ID: 2, Host: "::1", QuorumPort: 2888, ElectionPort: 3888, Observer: true, ClientAddress: "::1", ClientPort: 2181},
		{ID: 3, Host: "zk3", QuorumPort: 1, ElectionPort: 2, ClientPort: 2181},
	} {
		got, problem := parseServerLine("server."+strconv.FormatInt(s.ID, 10), s.String())
		if problem != "" || got != s {
			t.Errorf("parse(%q) = %+v, %q; want %+v", s.String(), got, problem, s)
		}
	}
}
