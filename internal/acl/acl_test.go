package acl

import (
	"errors"
	"net/netip"
	"reflect"
	"testing"

	"github.com/zkd/zkd/internal/proto"
)

// Cases marked "(Apache)" were checked against Apache ZooKeeper 3.8.0
// standalone with kazoo: create with the given ACL, then getAcl, on a server
// started with -Dzookeeper.DigestAuthenticationProvider.superDigest=super:lK75jTNcA+U9vtVEw5vB51mj/w4=
// (the digest of super:secret).

var (
	local      = proto.ID{Scheme: SchemeIP, ID: "127.0.0.1"}
	userDigest = proto.ID{Scheme: SchemeDigest, ID: "user:2Om+GBbT2q/tS6pdvACZbbm7/1A="} // user:pw
	aDigest    = proto.ID{Scheme: SchemeDigest, ID: "a:3om/rwYkUJGnhzKQp5NgRhIwIkc="}    // a:1
	bDigest    = proto.ID{Scheme: SchemeDigest, ID: "b:zdbHuLwinQKXeWY2Cch1CZ4zJUE="}    // b:2
	superHash  = "super:lK75jTNcA+U9vtVEw5vB51mj/w4="
)

func acl(perms int32, scheme, id string) proto.ACL {
	return proto.ACL{Perms: perms, ID: proto.ID{Scheme: scheme, ID: id}}
}

func TestAuthenticate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		scheme string
		auth   string
		want   []proto.ID
		err    error
	}{
		{"digest", "digest", "user:pw", []proto.ID{userDigest}, nil},
		{"a:1", "digest", "a:1", []proto.ID{aDigest}, nil},
		// (Apache) whoami after addauth digest super:secret lists super and digest.
		{"super", "digest", "super:secret", []proto.ID{Super, {Scheme: SchemeDigest, ID: superHash}}, nil},
		{"wrong super password", "digest", "super:guess", []proto.ID{{Scheme: SchemeDigest, ID: Digest("super:guess")}}, nil},
		// (Apache) addauth ip 1.2.3.4 succeeds; whoami still shows only ip:127.0.0.1.
		{"ip adds the connection's own address", "ip", "1.2.3.4", []proto.ID{local}, nil},
		// (Apache) addauth foo bar: AuthFailed, then the connection is dropped.
		{"unknown scheme", "foo", "bar", nil, proto.ErrAuthFailed},
		{"sasl is not registered", "sasl", "x", nil, proto.ErrAuthFailed},
		{"world cannot be authenticated", "world", "anyone", nil, proto.ErrAuthFailed},
		{"super is not a provider", "super", "secret", nil, proto.ErrAuthFailed},
	} {
		got, err := Authenticate(tc.scheme, []byte(tc.auth), local, superHash)
		if !errors.Is(err, tc.err) || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: Authenticate = %v, %v; want %v, %v", tc.name, got, err, tc.want, tc.err)
		}
	}
	if got, _ := Authenticate("digest", []byte("super:secret"), local, ""); len(got) != 1 {
		t.Errorf("without a configured super digest nobody is super: %v", got)
	}
}

func TestAddIDsKeepsOneOfEach(t *testing.T) {
	ids := AddIDs(nil, local)
	ids = AddIDs(ids, local, userDigest)
	ids = AddIDs(ids, userDigest, Super)
	if want := []proto.ID{local, userDigest, Super}; !reflect.DeepEqual(ids, want) {
		t.Fatalf("AddIDs = %v, want %v", ids, want)
	}
}

func TestIsSuper(t *testing.T) {
	if !IsSuper([]proto.ID{local, Super}, "") {
		t.Error("super id not recognised")
	}
	if !IsSuper([]proto.ID{{Scheme: SchemeDigest, ID: superHash}}, superHash) {
		t.Error("digest equal to superDigest not recognised")
	}
	if IsSuper([]proto.ID{{Scheme: SchemeDigest, ID: superHash}}, "") {
		t.Error("super without a configured superDigest")
	}
	if IsSuper([]proto.ID{local, userDigest}, superHash) {
		t.Error("ordinary ids counted as super")
	}
}

func TestCheck(t *testing.T) {
	read, write, admin := proto.PermRead, proto.PermWrite, proto.PermAdmin
	for _, tc := range []struct {
		name string
		acl  []proto.ACL
		perm int32
		ids  []proto.ID
		want bool
	}{
		{"empty ACL passes", nil, admin, nil, true},
		{"world:anyone", proto.OpenACLUnsafe, write, nil, true},
		{"world:anyone without the bit", proto.ReadACLUnsafe, write, []proto.ID{local}, false},
		{"digest exact", []proto.ACL{acl(read, "digest", userDigest.ID)}, read, []proto.ID{local, userDigest}, true},
		{"digest other user", []proto.ACL{acl(read, "digest", aDigest.ID)}, read, []proto.ID{local, userDigest}, false},
		{"digest needs the digest scheme", []proto.ACL{acl(read, "digest", "127.0.0.1")}, read, []proto.ID{local}, false},
		{"any of the requested bits", []proto.ACL{acl(read, "digest", userDigest.ID)}, read | admin, []proto.ID{userDigest}, true},
		{"perm 0 never matches", []proto.ACL{acl(proto.PermAll, "world", "anyone")}, 0, nil, false},
		// (Apache) ip:127.0.0.1 and ip:127.0.0.0/8 readable from loopback, ip:10.0.0.0/8 NoAuth.
		{"ip exact", []proto.ACL{acl(proto.PermAll, "ip", "127.0.0.1")}, read, []proto.ID{local}, true},
		{"ip prefix", []proto.ACL{acl(proto.PermAll, "ip", "127.0.0.0/8")}, read, []proto.ID{local}, true},
		{"ip other net", []proto.ACL{acl(proto.PermAll, "ip", "10.0.0.0/8")}, read, []proto.ID{local}, false},
		{"ip malformed entry never matches", []proto.ACL{acl(proto.PermAll, "ip", "127.0.0.1/33")}, read, []proto.ID{local}, false},
		// (Apache) super reads a node only ip:10.0.0.0/8 may read.
		{"super passes", []proto.ACL{acl(proto.PermAll, "ip", "10.0.0.0/8")}, admin, []proto.ID{local, Super}, true},
		{"unknown scheme never matches", []proto.ACL{acl(proto.PermAll, "sasl", "x")}, read, []proto.ID{{Scheme: "sasl", ID: "x"}}, false},
		{"world non-anyone never matches", []proto.ACL{acl(proto.PermAll, "world", "x")}, read, []proto.ID{{Scheme: "world", ID: "x"}}, false},
		{"ipv6 loopback", []proto.ACL{acl(read, "ip", "::1")}, read, []proto.ID{{Scheme: "ip", ID: "0:0:0:0:0:0:0:1"}}, true},
		{"ipv6 prefix", []proto.ACL{acl(read, "ip", "2001:db8::/32")}, read, []proto.ID{{Scheme: "ip", ID: "2001:db8:85a3:0:0:8a2e:370:7334"}}, true},
		{"ipv6 outside prefix", []proto.ACL{acl(read, "ip", "2001:db8::/32")}, read, []proto.ID{{Scheme: "ip", ID: "2001:db9:0:0:0:0:0:1"}}, false},
		{"ipv4 never matches ipv6", []proto.ACL{acl(read, "ip", "::/0")}, read, []proto.ID{local}, false},
	} {
		if got := Check(tc.acl, tc.perm, tc.ids); got != tc.want {
			t.Errorf("%s: Check = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestFixupACLExpandsAuth(t *testing.T) {
	for _, tc := range []struct {
		name string
		ids  []proto.ID
		in   []proto.ACL
		want []proto.ACL
		err  error
	}{
		// (Apache) create with auth ACL and no addauth: InvalidACL.
		{"auth with only an ip id", []proto.ID{local}, []proto.ACL{acl(31, "auth", "")}, nil, proto.ErrInvalidACL},
		// (Apache) stored as digest:user:<hash>, whatever the auth id says.
		{"auth", []proto.ID{local, userDigest}, []proto.ACL{acl(31, "auth", "whatever")}, []proto.ACL{{Perms: 31, ID: userDigest}}, nil},
		// (Apache) a:1, b:2 and super:secret then auth(READ|CREATE): three digest entries, no super entry.
		{"auth expands to every digest id, not super",
			[]proto.ID{local, aDigest, bDigest, Super, {Scheme: SchemeDigest, ID: superHash}},
			[]proto.ACL{acl(5, "auth", ""), acl(1, "world", "anyone")},
			[]proto.ACL{{Perms: 5, ID: aDigest}, {Perms: 5, ID: bDigest}, {Perms: 5, ID: proto.ID{Scheme: SchemeDigest, ID: superHash}}, acl(1, "world", "anyone")},
			nil},
		// (Apache) both orders store two identical entries.
		{"auth then the same digest", []proto.ID{userDigest}, []proto.ACL{acl(3, "auth", ""), {Perms: 3, ID: userDigest}},
			[]proto.ACL{{Perms: 3, ID: userDigest}, {Perms: 3, ID: userDigest}}, nil},
		{"digest then auth", []proto.ID{userDigest}, []proto.ACL{{Perms: 3, ID: userDigest}, acl(3, "auth", "")},
			[]proto.ACL{{Perms: 3, ID: userDigest}, {Perms: 3, ID: userDigest}}, nil},
		// (Apache) exact duplicates collapse; same id with other perms stays.
		{"duplicates", nil, []proto.ACL{acl(1, "world", "anyone"), acl(1, "world", "anyone"), acl(3, "world", "anyone")},
			[]proto.ACL{acl(1, "world", "anyone"), acl(3, "world", "anyone")}, nil},
		{"empty", []proto.ID{userDigest}, nil, nil, proto.ErrInvalidACL},
		{"empty non-nil", []proto.ID{userDigest}, []proto.ACL{}, nil, proto.ErrInvalidACL},
		// (Apache) perms are not validated: 0 and 0x7fffffff are stored.
		{"perms unchecked", nil, []proto.ACL{acl(0x7fffffff, "world", "anyone"), acl(0, "ip", "127.0.0.1")},
			[]proto.ACL{acl(0x7fffffff, "world", "anyone"), acl(0, "ip", "127.0.0.1")}, nil},
	} {
		got, err := FixupACL("/n", tc.ids, tc.in)
		if !errors.Is(err, tc.err) || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: FixupACL = %v, %v; want %v, %v", tc.name, got, err, tc.want, tc.err)
		}
	}
}

func TestFixupACLValidatesIDs(t *testing.T) {
	for _, tc := range []struct {
		scheme, id string
		valid      bool
	}{
		// (Apache) digest ids: Java's id.split(":") must have two parts.
		{"digest", "user:2Om+GBbT2q/tS6pdvACZbbm7/1A=", true},
		{"digest", "user", false},
		{"digest", "a:b:", true},
		{"digest", "user:", false},
		{"digest", ":x", true},
		{"digest", "a:b:c", false},
		{"digest", "::", false},
		{"digest", "a::", false},
		{"digest", "", false},
		{"digest", "u3:a\nb", true},
		// (Apache) ip ids.
		{"ip", "10.0.0.0/8", true},
		{"ip", "127.0.0.1", true},
		{"ip", "10.0.0.0/33", false},
		{"ip", "10.0.0.256", false},
		{"ip", "1.2.3", false},
		{"ip", "10.0.0.0/", false},
		{"ip", "10.0.0.0/+8", true},
		{"ip", "+1.2.3.4", true},
		{"ip", "01.2.3.4", true},
		{"ip", "10.0.0.0/8/9", false},
		{"ip", "1.2.3.4.", false},
		{"ip", "abc", false},
		// IPv6 (ZOOKEEPER-4240, 3.9.x; Apache 3.8.0 rejects every IPv6 id).
		{"ip", "::1", true},
		{"ip", "::", true},
		{"ip", "2001:db8::8a2e:370:7334", true},
		{"ip", "2001:0db8:85a3:0000:0000:8a2e:0370:7334", true},
		{"ip", "2001:db8::/32", true},
		{"ip", "::/0", true},
		{"ip", "::1/129", false},
		{"ip", "1::", true},
		{"ip", ":::", false},
		{"ip", "1::2::3", false},
		{"ip", "1:2:3:4:5:6:7:8:9", false},
		{"ip", "1:2:3:4::5:6:7:8", false},
		{"ip", "1:2:3:4:5:6:7", false},
		{"ip", "12345::", false},
		{"ip", "::ffff:1.2.3.4", false},
		{"ip", "fe80::1%eth0", false},
		{"ip", ":1:2:3:4:5:6:7", false},
		// (Apache) no provider for these.
		{"world", "foo", false},
		{"super", "", false},
		{"x509", "CN=a", false},
		{"sasl", "a", false},
	} {
		_, err := FixupACL("/n", nil, []proto.ACL{acl(31, tc.scheme, tc.id)})
		if valid := err == nil; valid != tc.valid {
			t.Errorf("%s:%q valid = %v (%v), want %v", tc.scheme, tc.id, valid, err, tc.valid)
		} else if err != nil && !errors.Is(err, proto.ErrInvalidACL) {
			t.Errorf("%s:%q: error %v, want InvalidACL", tc.scheme, tc.id, err)
		}
	}
}

func TestMaskDigests(t *testing.T) {
	// (Apache) getAcl by a client without ADMIN on the node.
	in := []proto.ACL{
		{Perms: 1, ID: userDigest},
		acl(1, "world", "anyone"),
		acl(1, "digest", "u2:ab:"),
		acl(1, "digest", "u3:a\nb"),
		acl(1, "digest", "nocolon\u2028:z"),
		acl(16, "ip", "10.0.0.0/8"),
	}
	want := []proto.ACL{
		acl(1, "digest", "user:x"),
		acl(1, "world", "anyone"),
		acl(1, "digest", "u2:x"),
		acl(1, "digest", "u3:x\nb"),
		acl(1, "digest", "nocolon\u2028:x"),
		acl(16, "ip", "10.0.0.0/8"),
	}
	orig := append([]proto.ACL(nil), in...)
	if got := MaskDigests(in); !reflect.DeepEqual(got, want) {
		t.Fatalf("MaskDigests =\n%q\nwant\n%q", got, want)
	}
	if !reflect.DeepEqual(in, orig) {
		t.Fatal("MaskDigests modified its input")
	}
	for in, want := range map[string]string{
		"nocolon":       "nocolon",
		"a:b\r:c":       "a:x\r:x",
		"a:b\u2029c:d":  "a:x\u2029c:x",
		"a:\xff\n:\xfe": "a:x\n:x",
		"\xff:a":        "\xff:x",
	} {
		if got := maskDigest(in); got != want {
			t.Errorf("maskDigest(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestIPID(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1":               "127.0.0.1",
		"::ffff:10.1.2.3":         "10.1.2.3",
		"::1":                     "0:0:0:0:0:0:0:1",
		"2001:db8::8a2e:370:7334": "2001:db8:0:0:0:8a2e:370:7334",
		"fe80::1%eth0":            "fe80:0:0:0:0:0:0:1%eth0",
	} {
		got := IPID(netip.MustParseAddr(in))
		if got != (proto.ID{Scheme: "ip", ID: want}) {
			t.Errorf("IPID(%s) = %v, want ip:%s", in, got, want)
		}
	}
}

func FuzzIPPattern(f *testing.F) {
	for _, s := range []string{"10.0.0.0/8", "127.0.0.1", "::1", "2001:db8::/32", "1::2::3", "+1.2.3.4", "::ffff:1.2.3.4", "-1::/16"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		addr, bits, ok := ipPattern(expr)
		if !ok {
			if matchIP("127.0.0.1", expr) || matchIP("0:0:0:0:0:0:0:1", expr) {
				t.Fatalf("invalid pattern %q matched", expr)
			}
			return
		}
		if len(addr) != 4 && len(addr) != 16 || bits < 0 || bits > 8*len(addr) {
			t.Fatalf("ipPattern(%q) = %x/%d", expr, addr, bits)
		}
		// Every valid pattern matches its own address.
		self := netip.AddrFrom16([16]byte(append(make([]byte, 16-len(addr)), addr...)))
		if len(addr) == 4 {
			self = netip.AddrFrom4([4]byte(addr))
		} else if self.Is4In6() {
			return // a connection never has this address: Java turns it into IPv4
		}
		if !matchIP(IPID(self).ID, expr) {
			t.Fatalf("%q does not match its own address %s", expr, IPID(self).ID)
		}
	})
}
