package acl

import (
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

// Printed by Apache ZooKeeper 3.8.0's own generator:
// java -cp "/usr/share/java/*" org.apache.zookeeper.server.auth.DigestAuthenticationProvider <arg>...
var apacheDigests = map[string]string{
	"user:pw":      "user:2Om+GBbT2q/tS6pdvACZbbm7/1A=",
	"super:secret": "super:lK75jTNcA+U9vtVEw5vB51mj/w4=",
	"nocolon":      "nocolon:Ra+cHr2ZoHvBjtNArFGNGlVie4g=",
	":empty":       ":d28FdgWGP7/+uHX3M9UcKTYVL90=",
	"a:b:c":        "a:cLzgnoJ6mP5qz3w+mwvPE2vDgu0=",
	"ünï:cødé":     "ünï:xQllqDAJT4MXfIfWHQyzwXoGn8M=",
	"user:":        "user:kd7q5xGKLW+18xQTfO8iqRaFvsM=",
	"":             ":2jmj7l5rSw0yVb/vlWAYkK/YBwk=",
}

func TestDigestMatchesApache(t *testing.T) {
	for in, want := range apacheDigests {
		if got := Digest(in); got != want {
			t.Errorf("Digest(%q) = %q, want %q", in, got, want)
		}
	}
}

// How OpenJDK 17 decodes bytes into a String (new String(bytes) with UTF-8,
// which is what DigestAuthenticationProvider does with auth data), printed
// as code points by a small Java program.
var javaDecodings = map[string]string{
	"ff":       "FFFD",
	"e282":     "FFFD",
	"e28241":   "FFFD 41",
	"e282ac":   "20AC",
	"eda080":   "FFFD",
	"f09f98":   "FFFD",
	"f09f9841": "FFFD 41",
	"c080":     "FFFD FFFD",
	"f4908080": "FFFD FFFD FFFD FFFD",
	"8080":     "FFFD FFFD",
	"e0808041": "FFFD FFFD FFFD 41",
	"f0808080": "FFFD FFFD FFFD FFFD",
	"c2":       "FFFD",
	"c241":     "FFFD 41",
	"f09f98a0": "1F620",
	"eda08041": "FFFD 41",
	"efbfbd":   "FFFD",
	"f8888080": "FFFD FFFD FFFD FFFD",
	"e0a0":     "FFFD",
	"ed9fbf":   "D7FF",
}

func codePoints(s string) string {
	var parts []string
	for _, r := range s {
		parts = append(parts, fmt.Sprintf("%X", r))
	}
	return strings.Join(parts, " ")
}

func TestJavaStringMatchesJDK(t *testing.T) {
	for in, want := range javaDecodings {
		b, _ := hex.DecodeString(in)
		if got := codePoints(javaString(b)); got != want {
			t.Errorf("javaString(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestDigestOfInvalidUTF8HashesTheReplacedString(t *testing.T) {
	if got, want := Digest("u:\xe2\x82A"), Digest("u:\uFFFDA"); got != want {
		t.Fatalf("Digest = %q, want %q", got, want)
	}
}

func FuzzJavaString(f *testing.F) {
	for in := range javaDecodings {
		b, _ := hex.DecodeString(in)
		f.Add(b)
	}
	f.Add([]byte("user:pw"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s := javaString(b)
		if !utf8.ValidString(s) {
			t.Fatalf("javaString(%x) is not UTF-8", b)
		}
		if utf8.Valid(b) && s != string(b) {
			t.Fatalf("javaString changed valid input %x", b)
		}
		if javaString([]byte(s)) != s {
			t.Fatalf("javaString is not idempotent on %x", b)
		}
	})
}
