package config

import (
	"strings"
	"testing"
)

var fuzzSeeds = []string{
	"dataDir=/tmp/zkd-fuzz\nclientPort=2181\n",
	"tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=/tmp/zookeeper\nclientPort=2181\n#maxClientCnxns=60\n",
	"dataDir=/tmp/zkd-fuzz\nserver.1=a:2888:3888;2181\nserver.2=b:2888:3888:observer\nstandaloneEnabled=false\n",
	"dataDir=/tmp/zkd-fuzz\nserver.1=[::1]:2888:3888:participant;[::1]:2181\n",
	"dataDir = /tmp/zkd-fuzz\\\n  /sub\n4lw.commands.whitelist=ruok, *\n",
	"dataDir:/tmp/x\nkey\\u0041=\\uD83D\\uDE00\n! comment\n",
	"dataDir=/tmp/x\na=\\u12\n",
	"dataDir=/tmp/x\nminSessionTimeout=-1\nmaxSessionTimeout=1\n",
	"dataDir=/tmp/x\r\nforceSync=No\rzookeeper.preAllocSize=9007199254740992\n",
	"dataDir=/tmp/x\nserver.01=a:1:2\nserver.1=b:1:2\n",
	"dataDir=/tmp/x\nDigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU=\n",
}

// FuzzParse checks that Parse never panics, and that whatever it accepts
// is valid and survives a round trip through Config.String.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s, "")
	}
	f.Add("dataDir=/tmp/zkd-fuzz\n", "server.1=a:1:2 server.2=b:1:2;2181")
	f.Add("dataDir=/tmp/zkd-fuzz\n", "server.1=a:1:2 server.1=b:1:2")
	f.Fuzz(func(t *testing.T, text, zooServers string) {
		getenv := env(map[string]string{EnvZooServers: zooServers, EnvZooMyID: "1"})
		c, err := Parse(strings.NewReader(text), "fuzz.cfg", getenv)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "config: fuzz.cfg: ") && !strings.HasPrefix(err.Error(), "config: /") {
				t.Fatalf("error without the config file prefix: %v", err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse accepted a Config that Validate refuses: %v", err)
		}
		again, err := Parse(strings.NewReader(c.String()), "fuzz.cfg", getenv)
		if err != nil {
			t.Fatalf("String() does not parse: %v\n%s", err, c.String())
		}
		if again.String() != c.String() {
			t.Fatalf("round trip changed the config:\n%s\n---\n%s", c.String(), again.String())
		}
	})
}
