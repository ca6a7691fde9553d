package ops

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// A Server is one member of the ensemble as the operator named it.
type Server struct {
	// Name is what {name} expands to: the part before '=' in
	// "name=host:port", else the host (host:port when hosts repeat).
	Name string
	// Addr is the client port's host:port.
	Addr string
	Host string
	Port int
	// Index is the 1-based position in the list; it stands in for myid
	// when conf is not answered.
	Index int
}

// ParseServers reads a comma-separated list of name=host:port or
// host:port entries.
func ParseServers(spec string) ([]Server, error) {
	var out []Server
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, addr, named := strings.Cut(item, "=")
		if !named {
			addr, name = name, ""
		}
		host, portText, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, fmt.Errorf("ops: server %q: want name=host:port or host:port", item)
		}
		port, err := strconv.Atoi(portText)
		if err != nil || port <= 0 || port > 65535 {
			return nil, fmt.Errorf("ops: server %q: bad port %q", item, portText)
		}
		if host == "" {
			return nil, fmt.Errorf("ops: server %q: no host", item)
		}
		if named && name == "" {
			return nil, fmt.Errorf("ops: server %q: empty name", item)
		}
		out = append(out, Server{Name: name, Addr: net.JoinHostPort(host, portText), Host: host, Port: port, Index: len(out) + 1})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("ops: no servers in %q", spec)
	}
	hosts := map[string]int{}
	for _, s := range out {
		if s.Name == "" {
			hosts[s.Host]++
		}
	}
	names := map[string]bool{}
	addrs := map[string]bool{}
	for i := range out {
		s := &out[i]
		if s.Name == "" {
			s.Name = s.Host
			if hosts[s.Host] > 1 {
				s.Name = s.Addr
			}
		}
		if names[s.Name] {
			return nil, fmt.Errorf("ops: server name %q given twice", s.Name)
		}
		if addrs[s.Addr] {
			return nil, fmt.Errorf("ops: address %s given twice", s.Addr)
		}
		names[s.Name], addrs[s.Addr] = true, true
	}
	return out, nil
}

// Addrs are the servers' client addresses, in order.
func Addrs(servers []Server) []string {
	out := make([]string, len(servers))
	for i, s := range servers {
		out[i] = s.Addr
	}
	return out
}
