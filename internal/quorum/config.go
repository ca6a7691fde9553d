package quorum

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ErrConfig: the quorum config text is not what QuorumPeer.configFromString
// accepts (or uses what zkd does not support).
var ErrConfig = errors.New("quorum: bad quorum config text")

// PeerAddress is one host:quorumPort:electionPort of a member.
type PeerAddress struct {
	Host         string // without brackets, also for IPv6
	QuorumPort   int
	ElectionPort int
}

// Member is one server.<id> line of the config text.
type Member struct {
	ID int64
	// Addresses has one entry, or several with multiAddress.enabled.
	Addresses []PeerAddress
	Observer  bool
	// ClientHost and ClientPort are the client address the server line
	// declared; ClientHost is "" when it declared none. Apache writes
	// "0.0.0.0" for a line that gave only a port.
	ClientHost string
	ClientPort int
}

// QuorumConfig is the quorum config text a notification carries (and
// NEWLEADER, and zoo.cfg.dynamic): QuorumMaj's toString.
type QuorumConfig struct {
	// Members in ascending id order.
	Members []Member
	// Version is the config's version (the zxid of the reconfig that made
	// it; 0 for a static zoo.cfg).
	Version int64
}

// String is the config text, byte for byte as Apache writes it:
//
//	server.<id>=<host>:<quorumPort>:<electionPort>[|...]:<participant|observer>[;<clientHost>:<clientPort>]
//
// one line per member joined by "\n", then "version=<hex>" with no trailing
// newline. Apache lists members in its HashMap's order, which is ascending
// for small ids, and sorts multiple addresses by host; String keeps the
// order it is given.
func (c QuorumConfig) String() string {
	var b strings.Builder
	for _, m := range c.Members {
		b.WriteString("server.")
		b.WriteString(strconv.FormatInt(m.ID, 10))
		b.WriteByte('=')
		for i, a := range m.Addresses {
			if i > 0 {
				b.WriteByte('|')
			}
			b.WriteString(joinHostPort(a.Host, a.QuorumPort, a.ElectionPort))
		}
		if m.Observer {
			b.WriteString(":observer")
		} else {
			b.WriteString(":participant")
		}
		if m.ClientHost != "" {
			b.WriteByte(';')
			b.WriteString(joinHostPort(m.ClientHost, m.ClientPort))
		}
		b.WriteByte('\n')
	}
	b.WriteString("version=")
	b.WriteString(strconv.FormatUint(uint64(c.Version), 16))
	return b.String()
}

// Voters are the ids of the participants, ascending.
func (c QuorumConfig) Voters() []int64 {
	var ids []int64
	for _, m := range c.Members {
		if !m.Observer {
			ids = append(ids, m.ID)
		}
	}
	return ids
}

// ParseConfig reads config text as QuorumPeer.configFromString does: lines
// of key=value (blank lines and #/! comments skipped), "server.<id>" lines
// and one "version" in hex (0 when absent). A line's peer type may be left
// out (participant) and its client address may be a bare port. Stricter
// than Apache: a server id or a version given twice, or a negative
// version, is an error; hierarchical quorums (group./weight. keys) are not
// supported.
func ParseConfig(text string) (QuorumConfig, error) {
	var c QuorumConfig
	seenVersion := false
	for line := range strings.SplitSeq(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			return QuorumConfig{}, fmt.Errorf("%w: %q is not key=value", ErrConfig, line)
		}
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		switch {
		case key == "version":
			v, err := strconv.ParseInt(value, 16, 64)
			if err != nil || v < 0 || seenVersion {
				return QuorumConfig{}, fmt.Errorf("%w: version=%q", ErrConfig, value)
			}
			c.Version, seenVersion = v, true
		case strings.HasPrefix(key, "server."):
			id, err := strconv.ParseInt(key[len("server."):], 10, 64)
			if err != nil {
				return QuorumConfig{}, fmt.Errorf("%w: %q: bad server id", ErrConfig, key)
			}
			m, err := parseMember(id, value)
			if err != nil {
				return QuorumConfig{}, fmt.Errorf("%w: %s=%s: %v", ErrConfig, key, value, err)
			}
			if slices.ContainsFunc(c.Members, func(o Member) bool { return o.ID == id }) {
				return QuorumConfig{}, fmt.Errorf("%w: server.%d given twice", ErrConfig, id)
			}
			c.Members = append(c.Members, m)
		case strings.HasPrefix(key, "group") || strings.HasPrefix(key, "weight"):
			return QuorumConfig{}, fmt.Errorf("%w: %q: hierarchical quorums are not supported", ErrConfig, key)
		default:
			return QuorumConfig{}, fmt.Errorf("%w: unrecognised parameter %q", ErrConfig, key)
		}
	}
	slices.SortFunc(c.Members, func(a, b Member) int { return cmp.Compare(a.ID, b.ID) })
	return c, nil
}

// parseMember is QuorumServer.initializeWithAddressString:
// addr[|addr...][;[clientHost:]clientPort], addr = host:quorumPort:electionPort[:type].
func parseMember(id int64, value string) (Member, error) {
	m := Member{ID: id}
	server, client, hasClient := strings.Cut(value, ";")
	if hasClient {
		if strings.Contains(client, ";") {
			return Member{}, errors.New("want one ';' before the client address")
		}
		parts, err := splitHostPorts(client)
		if err != nil {
			return Member{}, err
		}
		switch len(parts) {
		case 1: // a bare port: splitHostPorts took it for the host
			m.ClientHost = "0.0.0.0"
			m.ClientPort, err = parsePort(parts[0])
		case 2:
			m.ClientHost = parts[0]
			m.ClientPort, err = parsePort(parts[1])
		default:
			err = errors.New("want [clientHost:]clientPort")
		}
		if err != nil {
			return Member{}, err
		}
	}
	typeSeen := false
	for addr := range strings.SplitSeq(server, "|") {
		parts, err := splitHostPorts(addr)
		if err != nil {
			return Member{}, err
		}
		if len(parts) < 3 || len(parts) > 4 {
			return Member{}, errors.New("want host:quorumPort:electionPort[:participant|observer]")
		}
		a := PeerAddress{Host: parts[0]}
		if a.QuorumPort, err = parsePort(parts[1]); err != nil {
			return Member{}, err
		}
		if a.ElectionPort, err = parsePort(parts[2]); err != nil {
			return Member{}, err
		}
		if a.QuorumPort == a.ElectionPort {
			return Member{}, errors.New("quorum and election port must differ")
		}
		if len(parts) == 4 {
			var observer bool
			switch strings.ToLower(strings.TrimSpace(parts[3])) {
			case "observer":
				observer = true
			case "participant":
			default:
				return Member{}, fmt.Errorf("unrecognised peer type %q", parts[3])
			}
			if typeSeen && observer != m.Observer {
				return Member{}, errors.New("multiple addresses should have similar roles")
			}
			m.Observer, typeSeen = observer, true
		}
		m.Addresses = append(m.Addresses, a)
	}
	return m, nil
}
