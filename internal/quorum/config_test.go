package quorum

import (
	"errors"
	"reflect"
	"testing"
)

func TestConfigText(t *testing.T) {
	// QuorumMaj.toString and QuorumServer.toString: the type is always
	// written, the client address only when the server line declared one,
	// IPv6 hosts in brackets, the version in hex, no trailing newline.
	text := "server.1=127.0.0.1:2888:3888:participant;127.0.0.1:2181\n" +
		"server.2=[::1]:2889:3889:participant\n" +
		"server.3=c:2890:3890:observer;0.0.0.0:2183\n" +
		"server.4=d1:2891:3891|d2:2892:3892:participant\n" +
		"version=10000000a"
	want := QuorumConfig{
		Members: []Member{
			{ID: 1, Addresses: []PeerAddress{{"127.0.0.1", 2888, 3888}}, ClientHost: "127.0.0.1", ClientPort: 2181},
			{ID: 2, Addresses: []PeerAddress{{"::1", 2889, 3889}}},
			{ID: 3, Addresses: []PeerAddress{{"c", 2890, 3890}}, Observer: true, ClientHost: "0.0.0.0", ClientPort: 2183},
			{ID: 4, Addresses: []PeerAddress{{"d1", 2891, 3891}, {"d2", 2892, 3892}}},
		},
		Version: 0x10000000a,
	}
	got, err := ParseConfig(text)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("ParseConfig = %+v, %v\nwant %+v", got, err, want)
	}
	if s := got.String(); s != text {
		t.Fatalf("String =\n%s\nwant\n%s", s, text)
	}
	if v := got.Voters(); !reflect.DeepEqual(v, []int64{1, 2, 4}) {
		t.Fatalf("Voters = %v, want [1 2 4]", v)
	}
}

func TestConfigTextLenient(t *testing.T) {
	// What zoo.cfg-style lines allow and Apache's reader takes: no type,
	// a bare client port, any member order, comments, spaces around '=',
	// the type in any case, no version line.
	got, err := ParseConfig("# comment\n\nserver.2 = b:1:2;2182\r\nserver.1=a:1:2:OBSERVER\n")
	want := QuorumConfig{Members: []Member{
		{ID: 1, Addresses: []PeerAddress{{"a", 1, 2}}, Observer: true},
		{ID: 2, Addresses: []PeerAddress{{"b", 1, 2}}, ClientHost: "0.0.0.0", ClientPort: 2182},
	}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("ParseConfig = %+v, %v\nwant %+v", got, err, want)
	}
	if s := got.String(); s != "server.1=a:1:2:observer\nserver.2=b:1:2:participant;0.0.0.0:2182\nversion=0" {
		t.Fatalf("String = %q", s)
	}
}

func TestConfigTextRefusals(t *testing.T) {
	for _, text := range []string{
		"server.1",                                  // not key=value
		"server.x=a:1:2",                            // bad id
		"server.1=a:1",                              // no election port
		"server.1=a:1:2:leader",                     // unknown type
		"server.1=a:1:2:participant:5",              // too many parts
		"server.1=a:1:1",                            // "Client and election port must be different"
		"server.1=a:1:70000",                        // port out of range
		"server.1=a:1:2;b:3;4",                      // two client parts
		"server.1=a:1:2;b:c",                        // client port not a number
		"server.1=a:1:2:observer|b:3:4:participant", // "Multiple addresses should have similar roles"
		"server.1=[::1:1:2",                         // no closing bracket
		"server.1=a:1:2\nserver.1=b:1:2",            // twice
		"version=xyz",                               // not hex
		"version=-1",                                // negative
		"version=1\nversion=2",                      // twice
		"group.1=1:2",                               // hierarchical
		"clientPort=2181",                           // "Unrecognised parameter"
	} {
		if c, err := ParseConfig(text); !errors.Is(err, ErrConfig) {
			t.Errorf("ParseConfig(%q) = %+v, %v; want ErrConfig", text, c, err)
		}
	}
}
