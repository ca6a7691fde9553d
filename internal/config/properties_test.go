package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// The expectations below were checked against java.util.Properties.load
// (OpenJDK 17) followed by String.trim, as QuorumPeerConfig does.
func TestReadPropertiesSyntax(t *testing.T) {
	cases := []struct {
		name string
		text string
		want map[string]string
	}{
		{"equals", "a=b\n", map[string]string{"a": "b"}},
		{"colon", "a: b\n", map[string]string{"a": "b"}},
		{"space", "a b\n", map[string]string{"a": "b"}},
		{"space then equals", "a   =   b\n", map[string]string{"a": "b"}},
		{"second separator is value", "a==b\n", map[string]string{"a": "=b"}},
		{"space equals equals", "a = =b\n", map[string]string{"a": "=b"}},
		{"trailing whitespace trimmed", "a=b \t \n", map[string]string{"a": "b"}},
		{"leading whitespace", "   \t a=b\n", map[string]string{"a": "b"}},
		{"key only", "a\n", map[string]string{"a": ""}},
		{"empty value", "a=\n", map[string]string{"a": ""}},
		{"hash comment", "# a=b\nc=d\n", map[string]string{"c": "d"}},
		{"bang comment", "  ! a=b\nc=d\n", map[string]string{"c": "d"}},
		{"hash inside value", "a=b # not a comment\n", map[string]string{"a": "b # not a comment"}},
		{"blank lines", "\n\n  \t\na=b\n\n", map[string]string{"a": "b"}},
		{"continuation", "a=b\\\n    c\n", map[string]string{"a": "bc"}},
		{"continuation keeps comment chars", "a=b\\\n  # c\n", map[string]string{"a": "b# c"}},
		{"comment does not continue", "# x\\\na=b\n", map[string]string{"a": "b"}},
		{"even backslashes do not continue", "a=b\\\\\nc=d\n", map[string]string{"a": `b\`, "c": "d"}},
		{"continuation at EOF", "a=b\\", map[string]string{"a": "b"}},
		{"CRLF", "a=b\r\nc=d\r\n", map[string]string{"a": "b", "c": "d"}},
		{"CR only", "a=b\rc=d", map[string]string{"a": "b", "c": "d"}},
		{"CRLF continuation", "a=b\\\r\n  c\r\n", map[string]string{"a": "bc"}},
		{"escaped separator in key", `a\=b=c` + "\n", map[string]string{"a=b": "c"}},
		{"escaped space in key", `a\ b c` + "\n", map[string]string{"a b": "c"}},
		{"escapes", `a=x\ty\u0041\q` + "\n", map[string]string{"a": "x\tyAq"}},
		{"surrogate pair", `a=\uD83D\uDE00` + "\n", map[string]string{"a": "\U0001F600"}},
		{"utf8 bytes kept", "dataDir=/données\n", map[string]string{"dataDir": "/données"}},
		{"last duplicate wins", "a=1\na=2\n", map[string]string{"a": "2"}},
		{"no newline at end", "a=b", map[string]string{"a": "b"}},
		{"windows path escapes", `dataDir=C:\\zk\\data` + "\n", map[string]string{"dataDir": `C:\zk\data`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			props, err := readProperties(strings.NewReader(tc.text))
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, p := range props {
				got[p.Key] = p.Value
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestReadPropertiesLineNumbers(t *testing.T) {
	props, err := readProperties(strings.NewReader("# c\n\na=1\\\n 2\nb=3\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(props) != 2 || props[0].Line != 3 || props[1].Line != 5 {
		t.Errorf("props = %+v, want a on line 3 and b on line 5", props)
	}
}

func TestMalformedUnicodeEscapeIsAnError(t *testing.T) {
	_, err := Parse(strings.NewReader("dataDir=/zk\na=\\u12\n"), "zoo.cfg", nil)
	if !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), "zoo.cfg: line 2") {
		t.Fatalf("err = %v, want ErrSyntax naming zoo.cfg line 2", err)
	}
}

func TestEscapeValueRoundTrips(t *testing.T) {
	for _, v := range []string{`/var/lib/zkd`, `C:\zk`, "/a b/c", "/tab\there", "/new\nline", `/ends\`, "/ü/日本"} {
		props, err := readProperties(strings.NewReader("k=" + escapeValue(v) + "\n"))
		if err != nil {
			t.Fatal(err)
		}
		if len(props) != 1 || props[0].Value != v {
			t.Errorf("escapeValue(%q) read back as %+v", v, props)
		}
	}
}
