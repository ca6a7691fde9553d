package acl

import (
	"strings"
	"unicode/utf8"

	"github.com/zkd/zkd/internal/proto"
)

// Scheme names.
const (
	SchemeWorld  = "world"
	SchemeAuth   = "auth"
	SchemeDigest = "digest"
	SchemeIP     = "ip"
	SchemeSuper  = "super"
)

// Identity is an authenticated id of a connection, e.g. ip:127.0.0.1,
// digest:user:hash or super: (empty id).
type Identity = proto.ID

// Anyone is world:anyone, the id every connection matches.
var Anyone = proto.ID{Scheme: SchemeWorld, ID: "anyone"}

// Super is the id a connection gets when it authenticates with the
// configured super digest.
var Super = proto.ID{Scheme: SchemeSuper, ID: ""}

// Authenticate returns the ids an auth packet adds to a connection, or
// proto.ErrAuthFailed (after which ZooKeeper closes the connection).
//
//   - digest: the digest identity of the auth bytes ("user:password"),
//     preceded by Super when it equals superDigest ("super:<base64>", the
//     zookeeper.DigestAuthenticationProvider.superDigest property; "" for none).
//   - ip: succeeds without looking at the bytes and adds the connection's own
//     address again (self, as built by IPID), as IPAuthenticationProvider does;
//     a client cannot claim another address.
//   - anything else: no such provider, AuthFailed.
func Authenticate(scheme string, auth []byte, self proto.ID, superDigest string) ([]proto.ID, error) {
	switch scheme {
	case SchemeDigest:
		id := proto.ID{Scheme: SchemeDigest, ID: Digest(string(auth))}
		if superDigest != "" && id.ID == superDigest {
			return []proto.ID{Super, id}, nil
		}
		return []proto.ID{id}, nil
	case SchemeIP:
		return []proto.ID{self}, nil
	}
	return nil, proto.ErrAuthFailed
}

// AddIDs appends to have the ids it lacks, keeping one copy of each, the
// way ServerCnxn.addAuthInfo treats a connection's auth info as a set.
func AddIDs(have []proto.ID, add ...proto.ID) []proto.ID {
	for _, id := range add {
		if !containsID(have, id) {
			have = append(have, id)
		}
	}
	return have
}

func containsID(ids []proto.ID, id proto.ID) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// IsSuper reports whether a connection with these ids is the super user.
// ZooKeeper decides this when the digest auth packet arrives (Authenticate
// adds Super); a digest id equal to superDigest counts too, so ids built
// without Authenticate give the same answer.
func IsSuper(ids []proto.ID, superDigest string) bool {
	for _, id := range ids {
		if id.Scheme == SchemeSuper {
			return true
		}
		if superDigest != "" && id.Scheme == SchemeDigest && id.ID == superDigest {
			return true
		}
	}
	return false
}

// Check reports whether a connection with the given ids may perform an
// operation needing perm on a node with this ACL (ZooKeeperServer.checkACL):
// an empty ACL and the super user pass everything; otherwise some entry
// granting one of the perm bits must be world:anyone or match one of the
// ids of the same scheme: digest ids exactly, ip ids by address or prefix
// ("10.0.0.0/8", IPv4 and IPv6). Entries of other schemes never match.
func Check(acl []proto.ACL, perm int32, ids []proto.ID) bool {
	if len(acl) == 0 {
		return true
	}
	for _, id := range ids {
		if id.Scheme == SchemeSuper {
			return true
		}
	}
	for _, a := range acl {
		if a.Perms&perm == 0 {
			continue
		}
		if a.ID == Anyone {
			return true
		}
		for _, id := range ids {
			if id.Scheme == a.ID.Scheme && matches(a.ID.Scheme, id.ID, a.ID.ID) {
				return true
			}
		}
	}
	return false
}

// matches is the provider's matches(id, aclExpr) for the providers zkd has.
func matches(scheme, id, expr string) bool {
	switch scheme {
	case SchemeDigest:
		return id == expr
	case SchemeIP:
		return matchIP(id, expr)
	}
	return false
}

// FixupACL validates the ACL of a create or setACL and expands it
// (PrepRequestProcessor.fixupACL). Exact duplicate entries are dropped
// first, keeping the first of each; then world:anyone is kept, every auth
// entry is replaced by one entry per authenticated id of the caller (digest
// ids; ip and super ids are not "authenticated"), and digest and ip entries
// must be well formed. The id of an auth entry is ignored. Duplicates that
// the expansion creates are kept, as in ZooKeeper. Perms are not checked.
//
// The error is proto.ErrInvalidACL for an empty list, an auth entry when the
// caller has no authenticated id, a malformed id or any other scheme. path is
// the znode being created or changed; like ZooKeeper, which only puts it in
// the exception message, the rules do not depend on it.
func FixupACL(path string, ids []proto.ID, acls []proto.ACL) ([]proto.ACL, error) {
	uniq := make([]proto.ACL, 0, len(acls))
	for _, a := range acls {
		if !containsACL(uniq, a) {
			uniq = append(uniq, a)
		}
	}
	if len(uniq) == 0 {
		return nil, proto.ErrInvalidACL
	}
	out := make([]proto.ACL, 0, len(uniq))
	for _, a := range uniq {
		switch {
		case a.ID == Anyone:
			out = append(out, a)
		case a.ID.Scheme == SchemeAuth:
			expanded := false
			for _, id := range ids {
				if authenticatedScheme(id.Scheme) {
					out = append(out, proto.ACL{Perms: a.Perms, ID: id})
					expanded = true
				}
			}
			if !expanded {
				return nil, proto.ErrInvalidACL
			}
		case validID(a.ID.Scheme, a.ID.ID):
			out = append(out, a)
		default:
			return nil, proto.ErrInvalidACL
		}
	}
	return out, nil
}

func containsACL(acls []proto.ACL, a proto.ACL) bool {
	for _, x := range acls {
		if x == a {
			return true
		}
	}
	return false
}

// authenticatedScheme is the provider's isAuthenticated: whether ids of the
// scheme stand for a user an "auth" ACL entry may name.
func authenticatedScheme(scheme string) bool { return scheme == SchemeDigest }

// validID is the provider's isValid. world ids other than anyone, super and
// unknown schemes have no provider and are never valid.
func validID(scheme, id string) bool {
	switch scheme {
	case SchemeDigest:
		return javaSplitLen(id, ":") == 2
	case SchemeIP:
		return validIP(id)
	}
	return false
}

// javaSplitLen is len(s.split(sep)) in Java: trailing empty strings are
// dropped, so "a:b:" has two parts and "user:" one.
func javaSplitLen(s, sep string) int {
	parts := strings.Split(s, sep)
	if len(parts) == 1 {
		return 1
	}
	n := len(parts)
	for n > 0 && parts[n-1] == "" {
		n--
	}
	return n
}

// MaskDigests returns the ACL as getACL shows it to a caller without ADMIN
// on the node: each digest id has everything from its first colon to the end
// of the line replaced by ":x" (Java's replaceAll(":.*", ":x"), where '.'
// stops at line terminators), so "user:hash" reads "user:x". Other entries
// are unchanged; acl itself is not modified.
func MaskDigests(acl []proto.ACL) []proto.ACL {
	if acl == nil {
		return nil
	}
	out := make([]proto.ACL, len(acl))
	for i, a := range acl {
		if a.ID.Scheme == SchemeDigest {
			a.ID.ID = maskDigest(a.ID.ID)
		}
		out[i] = a
	}
	return out
}

func maskDigest(id string) string {
	if !strings.Contains(id, ":") {
		return id
	}
	var sb strings.Builder
	inMatch := false
	for i := 0; i < len(id); {
		r, n := utf8.DecodeRuneInString(id[i:])
		switch {
		case isJavaLineTerminator(r):
			inMatch = false
			sb.WriteString(id[i : i+n])
		case inMatch:
		case r == ':':
			sb.WriteString(":x")
			inMatch = true
		default:
			sb.WriteString(id[i : i+n]) // bytes as they were, even if not UTF-8
		}
		i += n
	}
	return sb.String()
}

// isJavaLineTerminator lists the characters java.util.regex's '.' does not
// match by default.
func isJavaLineTerminator(r rune) bool {
	switch r {
	case '\n', '\r', '\u0085', '\u2028', '\u2029':
		return true
	}
	return false
}
