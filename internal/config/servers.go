package config

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

const (
	myIDFileName  = "myid"
	maxMyIDBytes  = 4096
	wantMyID      = "want the server id (a whole number 1 or more) alone on the first line"
	wantHostList  = "want a comma separated list of host names (server i gets id i+1 and ports 2888:3888)"
	wantServerKey = "want server.N with N a server id (a whole number 1 or more)"
)

// parseServers builds Servers from the server.N lines of zoo.cfg, of the
// dynamicConfigFile, or else from ZOO_SERVERS or SERVERS.
func (p *parser) parseServers() error {
	lines, linesPath := p.servers, p.c.Path
	if dyn := p.values[keyDynamicConfigFile]; dyn != "" {
		if len(lines) > 0 {
			return &Error{Path: p.c.Path, Key: lines[0].Key, Problem: "must be in the dynamic config file when dynamicConfigFile is set", Err: ErrConflict}
		}
		if p.opts.readFiles {
			var err error
			if lines, err = p.readDynamicConfig(dyn); err != nil {
				return err
			}
			linesPath = dyn
		}
	}
	var servers []Server
	for _, line := range lines {
		s, problem := parseServerLine(line.Key, line.Value)
		if problem != "" {
			return &Error{Path: linesPath, Key: line.Key, Value: line.Value, HasValue: true, Problem: problem, Err: ErrBadValue}
		}
		servers = append(servers, s)
	}
	if len(lines) == 0 {
		var err error
		if servers, err = p.serversFromEnv(); err != nil {
			return err
		}
	}
	sort.SliceStable(servers, func(i, j int) bool { return servers[i].ID < servers[j].ID })
	for i := 1; i < len(servers); i++ {
		if servers[i].ID == servers[i-1].ID {
			return &Error{Path: linesPath, Key: fmt.Sprintf("server.%d", servers[i].ID), Problem: "server id given twice", Err: ErrConflict}
		}
	}
	for _, s := range servers {
		if s.ID > maxSessionServerID {
			p.warnf("server.%d: ids above %d collide in session ids (ZooKeeper puts the id in the top byte)", s.ID, maxSessionServerID)
		}
	}
	p.c.Servers = servers
	return nil
}

// readDynamicConfig reads the server list Apache keeps in a separate file
// (dynamicConfigFile, written by reconfig). A relative name resolves
// against the working directory, as in ZooKeeper.
func (p *parser) readDynamicConfig(path string) ([]property, error) {
	fail := func(problem string, err error) error {
		return &Error{Path: p.c.Path, Key: p.written[keyDynamicConfigFile], Value: path, HasValue: true, Problem: problem, Err: err}
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fail(err.Error(), ErrMissing)
	}
	if !st.Mode().IsRegular() {
		return nil, fail("not a regular file", ErrBadValue)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fail(err.Error(), ErrMissing)
	}
	defer f.Close()
	props, err := readProperties(f)
	if err != nil {
		return nil, &Error{Path: path, Problem: err.Error(), Err: ErrSyntax}
	}
	var lines []property
	for _, prop := range props {
		switch {
		case isIndexedKey(prop.Key, serverKeyPrefix):
			lines = append(lines, prop)
		case prop.Key == "version" || isIndexedKey(prop.Key, "group.") || isIndexedKey(prop.Key, "weight."):
		default:
			return nil, &Error{Path: path, Key: prop.Key, Problem: "not allowed in a dynamic config file (only server.N, group.N, weight.N and version)", Err: ErrBadValue}
		}
	}
	return lines, nil
}

// serversFromEnv reads ZOO_SERVERS (space separated server.N=... entries,
// as the official Docker image takes them) or SERVERS (comma separated
// hosts; host i is server i+1 on ports 2888:3888 with clients on 2181).
func (p *parser) serversFromEnv() ([]Server, error) {
	if v := strings.TrimSpace(p.getenv(EnvZooServers)); v != "" {
		var servers []Server
		for _, entry := range strings.Fields(v) {
			key, spec, ok := strings.Cut(entry, "=")
			if !ok || !isIndexedKey(key, serverKeyPrefix) {
				return nil, &Error{Path: p.c.Path, Key: EnvZooServers, Value: entry, HasValue: true, Problem: wantServer, Err: ErrBadValue}
			}
			s, problem := parseServerLine(key, spec)
			if problem != "" {
				return nil, &Error{Path: p.c.Path, Key: EnvZooServers, Value: entry, HasValue: true, Problem: problem, Err: ErrBadValue}
			}
			servers = append(servers, s)
		}
		p.c.EnvUsed = append(p.c.EnvUsed, EnvZooServers)
		return servers, nil
	}
	if v := strings.TrimSpace(p.getenv(EnvServers)); v != "" {
		var servers []Server
		for i, item := range strings.Split(v, ",") {
			host, ok := bareHost(strings.TrimSpace(item))
			if !ok || host == "" || (strings.Contains(host, ":") && net.ParseIP(host) == nil) {
				return nil, &Error{Path: p.c.Path, Key: EnvServers, Value: v, HasValue: true, Problem: wantHostList, Err: ErrBadValue}
			}
			servers = append(servers, Server{ID: int64(i + 1), Host: host, QuorumPort: defaultQuorumPrt, ElectionPort: defaultElectPort, ClientPort: DefaultClientPort})
		}
		p.c.EnvUsed = append(p.c.EnvUsed, EnvServers)
		return servers, nil
	}
	return nil, nil
}

// parseServerLine parses key "server.N" and its value
// host:quorumPort:electionPort[:participant|observer][;[clientAddress:]clientPort].
// It returns a non-empty problem (naming the expected form) on error.
// Only the whole value is trimmed: Apache refuses "a:1:2 ;2181" too.
func parseServerLine(key, spec string) (Server, string) {
	idText := strings.TrimPrefix(key, serverKeyPrefix)
	id, err := strconv.ParseInt(idText, 10, 64)
	if err != nil || id < 1 {
		return Server{}, wantServerKey
	}
	spec = javaTrim(spec)
	if strings.Contains(spec, "|") {
		return Server{}, "multiple addresses (|) are not supported by zkd; " + wantServer
	}
	serverPart, clientPart, hasClient := strings.Cut(spec, ";")
	host, rest, ok := splitLeadingHost(serverPart)
	if !ok || len(rest) < 2 || len(rest) > 3 {
		return Server{}, wantServer
	}
	s := Server{ID: id, Host: host}
	if s.QuorumPort, ok = parsePort(rest[0]); !ok {
		return Server{}, wantServer
	}
	if s.ElectionPort, ok = parsePort(rest[1]); !ok {
		return Server{}, wantServer
	}
	if len(rest) == 3 {
		switch strings.ToLower(rest[2]) {
		case "observer":
			s.Observer = true
		case "participant":
		default:
			return Server{}, wantServer
		}
	}
	if hasClient {
		if strings.Contains(clientPart, ";") {
			return Server{}, wantServer
		}
		addr, port := "", clientPart
		if strings.HasPrefix(clientPart, "[") || strings.Contains(clientPart, ":") {
			h, rest, ok := splitLeadingHost(clientPart)
			if !ok || len(rest) != 1 {
				return Server{}, wantServer
			}
			addr, port = h, rest[0]
		}
		if s.ClientPort, ok = parsePort(port); !ok {
			return Server{}, wantServer
		}
		s.ClientAddress = addr
	}
	return s, ""
}

// splitLeadingHost splits "host:a:b" or "[v6addr]:a:b" into the host
// (without brackets) and the colon separated fields after it.
func splitLeadingHost(s string) (host string, rest []string, ok bool) {
	if strings.HasPrefix(s, "[") {
		end := strings.Index(s, "]")
		if end < 0 || end+1 >= len(s) || s[end+1] != ':' {
			return "", nil, false
		}
		host, rest = s[1:end], strings.Split(s[end+2:], ":")
	} else {
		fields := strings.Split(s, ":")
		host, rest = fields[0], fields[1:]
	}
	host, ok = bareHost(host)
	return host, rest, ok && host != ""
}

// bareHost checks a host name or address and drops IPv6 brackets. The
// empty string is valid (it means "all interfaces" where allowed).
func bareHost(h string) (string, bool) {
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
		if net.ParseIP(h) == nil {
			return "", false
		}
	}
	if strings.ContainsFunc(h, func(r rune) bool { return r <= ' ' || strings.ContainsRune("/;=,|[]#\\", r) }) {
		return "", false
	}
	return h, true
}

func parsePort(s string) (int, bool) {
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil || !isPort(n) {
		return 0, false
	}
	return int(n), true
}

// parseMyID reads <dataDir>/myid as Apache does (first line, parsed as a
// long, no trimming), or else ZOO_MY_ID, or else MYID, or else, when
// ZKD_MYID_FROM_HOSTNAME=true, the StatefulSet ordinal of the host name.
// The ordinal was asked for explicitly, so a file or variable that
// disagrees with it is an error: the volume or the pod belongs to another
// server.
func (p *parser) parseMyID() error {
	var fileID int64
	file := filepath.Join(p.c.DataDir, myIDFileName)
	if p.opts.readFiles {
		if st, err := os.Stat(file); err == nil && st.Mode().IsRegular() {
			line, err := readFirstLine(file)
			if err != nil {
				return &Error{Path: p.c.Path, Key: file, Problem: err.Error(), Err: ErrMyID}
			}
			id, err := strconv.ParseInt(line, 10, 64)
			if err != nil || id < 1 {
				return &Error{Path: p.c.Path, Key: file, Value: line, HasValue: true, Problem: wantMyID, Err: ErrMyID}
			}
			fileID = id
		}
	}
	fromHost := false
	if v := strings.TrimSpace(p.getenv(EnvMyIDFromHostname)); v != "" {
		switch strings.ToLower(v) {
		case "true":
			fromHost = true
		case "false":
		default:
			return &Error{Path: p.c.Path, Key: EnvMyIDFromHostname, Value: v, HasValue: true, Problem: wantTrueFalse, Err: ErrBadValue}
		}
	}
	if fileID != 0 && !fromHost {
		p.c.MyID = fileID
		for _, name := range []string{EnvZooMyID, EnvMyID} {
			if v := strings.TrimSpace(p.getenv(name)); v != "" && v != strconv.FormatInt(fileID, 10) {
				p.warnf("%s=%s: ignored, %s says %d (the file wins, as in ZooKeeper's image)", name, v, file, fileID)
			}
		}
		return nil
	}
	var envID int64
	envName := ""
	for _, name := range []string{EnvZooMyID, EnvMyID} {
		v := strings.TrimSpace(p.getenv(name))
		if v == "" {
			continue
		}
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id < 1 {
			return &Error{Path: p.c.Path, Key: name, Value: v, HasValue: true, Problem: wantServerID, Err: ErrBadValue}
		}
		envID, envName = id, name
		p.c.EnvUsed = append(p.c.EnvUsed, name)
		break
	}
	p.c.MyID = envID
	if !fromHost {
		return nil
	}
	hostID, err := p.myIDFromHostname()
	if err != nil {
		return err
	}
	p.c.EnvUsed = append(p.c.EnvUsed, EnvMyIDFromHostname)
	conflict := func(what string, id int64) error {
		return &Error{Path: p.c.Path, Key: EnvMyIDFromHostname, Value: "true", HasValue: true,
			Problem: fmt.Sprintf("the host name gives server id %d but %s says %d; remove one of them (a data volume must stay with its server)", hostID, what, id), Err: ErrConflict}
	}
	if fileID != 0 && fileID != hostID {
		return conflict(file, fileID)
	}
	if envID != 0 && envID != hostID {
		return conflict(envName, envID)
	}
	p.c.MyID = hostID
	return nil
}

// readFirstLine returns the first line of a file without its terminator
// ("\n", "\r\n" or "\r", as Java's readLine).
func readFirstLine(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	line, err := bufio.NewReader(io.LimitReader(f, maxMyIDBytes)).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", err
	}
	line = strings.TrimSuffix(line, "\n")
	if i := strings.IndexByte(line, '\r'); i >= 0 {
		line = line[:i]
	}
	return line, nil
}

// validSuperDigest checks "user:base64(sha1(user:password))".
func validSuperDigest(s string) bool {
	user, hash, ok := strings.Cut(s, ":")
	if !ok || user == "" {
		return false
	}
	sum, err := base64.StdEncoding.DecodeString(hash)
	return err == nil && len(sum) == sha1.Size
}

// GenerateDigest returns the superDigest value for user and password, the
// same string Apache's DigestAuthenticationProvider.generateDigest prints.
func GenerateDigest(user, password string) string {
	sum := sha1.Sum([]byte(user + ":" + password))
	return user + ":" + base64.StdEncoding.EncodeToString(sum[:])
}
