package acl

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/zkd/zkd/internal/proto"
)

// IPID is the implicit identity every connection carries, ip:<address>,
// with the address spelled as Java's InetAddress.getHostAddress spells it:
// dotted IPv4 (IPv4-mapped IPv6 addresses count as IPv4, as in Java) or eight
// uncompressed hex groups for IPv6 ("0:0:0:0:0:0:0:1"), plus "%zone" if any.
func IPID(addr netip.Addr) proto.ID {
	addr = addr.Unmap()
	if addr.Is4() {
		return proto.ID{Scheme: SchemeIP, ID: addr.String()}
	}
	b := addr.As16()
	var sb strings.Builder
	for i := 0; i < 16; i += 2 {
		if i > 0 {
			sb.WriteByte(':')
		}
		fmt.Fprintf(&sb, "%x", uint16(b[i])<<8|uint16(b[i+1]))
	}
	if z := addr.Zone(); z != "" {
		sb.WriteString("%" + z)
	}
	return proto.ID{Scheme: SchemeIP, ID: sb.String()}
}

// javaParseInt parses s as Java's Integer.parseInt(s, radix) does for ASCII
// input: an optional sign, then at least one digit, within int32.
func javaParseInt(s string, radix int) (int32, bool) {
	v, err := strconv.ParseInt(s, radix, 32)
	return int32(v), err == nil
}

// ipBytes converts an address as IPAuthenticationProvider.addr2Bytes does:
// anything with a ':' is parsed as IPv6, else anything with a '.' as IPv4.
// It returns nil for anything else or a parse failure.
func ipBytes(s string) []byte {
	switch {
	case strings.Contains(s, ":"):
		return ipv6Bytes(s)
	case strings.Contains(s, "."):
		return ipv4Bytes(s)
	}
	return nil
}

// ipv4Bytes accepts exactly four dot-separated decimal numbers 0..255; like
// Java's parseInt it allows a sign and leading zeros ("+1", "010").
func ipv4Bytes(s string) []byte {
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return nil
	}
	out := make([]byte, 4)
	for i, p := range parts {
		v, ok := javaParseInt(p, 10)
		if !ok || v < 0 || v > 255 {
			return nil
		}
		out[i] = byte(v)
	}
	return out
}

// ipv6Bytes parses eight colon-separated hex groups of at most four
// characters, with at most one "::" standing for at least one zero group
// (ZOOKEEPER-4240). No embedded IPv4 and no zone. Like Java's parseInt a
// group may carry a sign; "-1" becomes ffff.
func ipv6Bytes(s string) []byte {
	var head, tail []string
	switch halves := strings.Split(s, "::"); len(halves) {
	case 1:
		head = strings.Split(s, ":")
		if len(head) != 8 {
			return nil
		}
	case 2:
		if halves[0] != "" {
			head = strings.Split(halves[0], ":")
		}
		if halves[1] != "" {
			tail = strings.Split(halves[1], ":")
		}
		if len(head)+len(tail) >= 8 {
			return nil
		}
	default:
		return nil
	}
	out := make([]byte, 16)
	if !putGroups(out[:2*len(head)], head) || !putGroups(out[16-2*len(tail):], tail) {
		return nil
	}
	return out
}

func putGroups(dst []byte, groups []string) bool {
	for i, g := range groups {
		if g == "" || len(g) > 4 {
			return false
		}
		v, ok := javaParseInt(g, 16)
		if !ok {
			return false
		}
		dst[2*i], dst[2*i+1] = byte(v>>8), byte(v)
	}
	return true
}

// ipPattern parses an ip ACL id: an address optionally followed by
// "/<prefix bits>". ok is false when IPAuthenticationProvider.isValid would
// reject it.
func ipPattern(expr string) (addr []byte, bits int, ok bool) {
	parts := strings.SplitN(expr, "/", 2)
	addr = ipBytes(parts[0])
	if addr == nil {
		return nil, 0, false
	}
	bits = 8 * len(addr)
	if len(parts) == 2 {
		b, ok := javaParseInt(parts[1], 10)
		if !ok || b < 0 || int(b) > 8*len(addr) {
			return nil, 0, false
		}
		bits = int(b)
	}
	return addr, bits, true
}

// validIP reports whether expr is a well-formed ip ACL id.
func validIP(expr string) bool {
	_, _, ok := ipPattern(expr)
	return ok
}

// matchIP reports whether the connection address id (as IPID spells it) is
// inside the ip ACL id expr. IPv4 never matches IPv6 and vice versa.
func matchIP(id, expr string) bool {
	want, bits, ok := ipPattern(expr)
	if !ok {
		return false
	}
	got := ipBytes(id)
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		m := prefixMask(bits, i)
		if got[i]&m != want[i]&m {
			return false
		}
	}
	return true
}

// prefixMask is the mask of byte i under a /bits prefix.
func prefixMask(bits, i int) byte {
	switch {
	case bits >= 8*(i+1):
		return 0xFF
	case bits <= 8*i:
		return 0
	}
	return ^byte(0xFF >> (bits - 8*i))
}
