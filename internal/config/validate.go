package config

import (
	"fmt"
	"path/filepath"
	"strconv"
)

// Standalone reports whether zkd runs as a single server: no servers, or
// one voting server with standaloneEnabled (Apache's isDistributed is the
// opposite). With standaloneEnabled=false even one server forms a quorum,
// so that reconfig can grow it later.
func (c *Config) Standalone() bool {
	return len(c.Servers) == 0 || (c.StandaloneEnabled && c.voters() <= 1)
}

// IsQuorum reports whether zkd runs as a member of an ensemble.
func (c *Config) IsQuorum() bool { return !c.Standalone() }

func (c *Config) voters() int {
	n := 0
	for _, s := range c.Servers {
		if !s.Observer {
			n++
		}
	}
	return n
}

// Validate checks a Config, whether parsed or built in code. Errors name
// the zoo.cfg key and the value.
func (c *Config) Validate() error {
	bad := func(key string, value any, problem string) error {
		return &Error{Path: c.Path, Key: key, Value: fmt.Sprint(value), HasValue: true, Problem: problem, Err: ErrBadValue}
	}
	conflict := func(key string, value any, problem string) error {
		return &Error{Path: c.Path, Key: key, Value: fmt.Sprint(value), HasValue: true, Problem: problem, Err: ErrConflict}
	}
	ints := []struct {
		key   string
		value int64
		ok    bool
		want  string
	}{
		{keyTickTime, int64(c.TickTime), c.TickTime > 0, wantPositiveMs},
		{keyClientPort, int64(c.ClientPort), isPort(int64(c.ClientPort)), wantPort},
		{keyMaxClientCnxns, int64(c.MaxClientCnxns), c.MaxClientCnxns >= 0, wantCnxns},
		{keyMinSessionTimeout, int64(c.MinSessionTimeout), c.MinSessionTimeout > 0, wantPositiveMs},
		{keyMaxSessionTimeout, int64(c.MaxSessionTimeout), c.MaxSessionTimeout > 0, wantPositiveMs},
		{keyInitLimit, int64(c.InitLimit), c.InitLimit > 0, wantTicks},
		{keySyncLimit, int64(c.SyncLimit), c.SyncLimit > 0, wantTicks},
		{keyCnxTimeout, int64(c.CnxTimeout), c.CnxTimeout > 0, wantPositiveMs},
		{keyFinalizeWait, int64(c.FinalizeWait), c.FinalizeWait > 0, wantPositiveMs},
		{keyElectionBindRetry, int64(c.ElectionPortBindRetry), c.ElectionPortBindRetry >= 0, "want the number of tries, 0 for no limit"},
		{keySnapRetainCount, int64(c.AutopurgeSnapRetainCount), c.AutopurgeSnapRetainCount >= MinSnapRetainCount, "want 3 or more"},
		{keyPurgeInterval, int64(c.AutopurgePurgeInterval), c.AutopurgePurgeInterval >= 0, wantHours},
		{keySnapCount, int64(c.SnapCount), c.SnapCount >= MinSnapCount, "want 2 or more"},
		{keyPreAllocSize, c.PreAllocSize, c.PreAllocSize >= 0, "want a size of 0 or more bytes"},
		{keyJuteMaxBuffer, int64(c.JuteMaxBuffer), c.JuteMaxBuffer > 0, wantBytes},
		{keyListenBacklog, int64(c.ClientPortListenBacklog), c.ClientPortListenBacklog >= -1, wantBacklog},
	}
	for _, k := range ints {
		if !k.ok {
			return bad(k.key, k.value, k.want)
		}
	}
	if c.MinSessionTimeout > c.MaxSessionTimeout {
		return conflict(keyMinSessionTimeout, c.MinSessionTimeout,
			fmt.Sprintf("must not be larger than maxSessionTimeout (%d)", c.MaxSessionTimeout))
	}
	for _, d := range []struct{ key, dir string }{{keyDataDir, c.DataDir}, {keyDataLogDir, c.DataLogDir}} {
		if d.dir == "" || !filepath.IsAbs(d.dir) {
			return bad(d.key, d.dir, "want an absolute directory path")
		}
	}
	if _, ok := bareHost(c.ClientPortAddress); !ok {
		return bad(keyClientPortAddress, c.ClientPortAddress, wantAddress)
	}
	switch c.SnapshotCompression {
	case "", "gz", "snappy":
	default:
		return bad(keySnapCompression, c.SnapshotCompression, wantCompression)
	}
	if c.SuperDigest != "" && !validSuperDigest(c.SuperDigest) {
		return bad(keySuperDigest, c.SuperDigest, wantDigest)
	}
	for w := range c.FourLetterWords {
		if !isFourLetterWord(w) {
			return bad(keyFourLetterWhitelist, w, "not a four-letter word ZooKeeper knows")
		}
	}
	if c.MyID < 0 {
		return bad("myid", c.MyID, wantServerID)
	}
	if c.ExtendedTypesEnabled && c.MyID > maxExtendedTypesServerID {
		return conflict("myid", c.MyID, fmt.Sprintf("must be at most %d when %s=true", maxExtendedTypesServerID, keyExtendedTypes))
	}
	if err := c.validateObservability(); err != nil {
		return err
	}
	if err := c.validateLogging(); err != nil {
		return err
	}
	return c.validateServers()
}

func (c *Config) validateServers() error {
	seen := map[int64]bool{}
	for _, s := range c.Servers {
		key := "server." + strconv.FormatInt(s.ID, 10)
		if s.ID < 1 {
			return &Error{Path: c.Path, Key: key, Problem: wantServerKey, Err: ErrBadValue}
		}
		if seen[s.ID] {
			return &Error{Path: c.Path, Key: key, Problem: "server id given twice", Err: ErrConflict}
		}
		seen[s.ID] = true
		host, ok := bareHost(s.Host)
		if !ok || host == "" || !isPort(int64(s.QuorumPort)) || !isPort(int64(s.ElectionPort)) ||
			(s.ClientPort != 0 && !isPort(int64(s.ClientPort))) {
			return &Error{Path: c.Path, Key: key, Value: s.String(), HasValue: true, Problem: wantServer, Err: ErrBadValue}
		}
		if _, ok := bareHost(s.ClientAddress); !ok {
			return &Error{Path: c.Path, Key: key, Value: s.String(), HasValue: true, Problem: wantServer, Err: ErrBadValue}
		}
	}
	// The same membership rules as Apache's QuorumPeerConfig.
	voters, observers := c.voters(), len(c.Servers)-c.voters()
	switch {
	case observers > 0 && voters == 0:
		return &Error{Path: c.Path, Key: "server.N", Problem: "observers without participants is an invalid configuration", Err: ErrConflict}
	case observers > 0 && voters == 1 && c.StandaloneEnabled:
		return &Error{Path: c.Path, Key: "server.N", Problem: "observers without a quorum (one participant and standaloneEnabled=true) is an invalid configuration", Err: ErrConflict}
	}
	if c.Standalone() {
		return nil
	}
	if c.MyID == 0 {
		return &Error{Path: c.Path, Key: "myid", Problem: fmt.Sprintf("missing: an ensemble member needs %s, %s or %s (or %s=true in a StatefulSet)",
			filepath.Join(c.DataDir, myIDFileName), EnvZooMyID, EnvMyID, EnvMyIDFromHostname), Err: ErrMissing}
	}
	if c.server(c.MyID) == nil {
		return &Error{Path: c.Path, Key: "myid", Value: strconv.FormatInt(c.MyID, 10), HasValue: true,
			Problem: "not in the server list (no server." + strconv.FormatInt(c.MyID, 10) + " line)", Err: ErrConflict}
	}
	return nil
}

// String renders a server in zoo.cfg syntax (the value of server.N).
func (s Server) String() string {
	out := joinHost(s.Host) + ":" + strconv.Itoa(s.QuorumPort) + ":" + strconv.Itoa(s.ElectionPort) + ":" + roleName(s.Observer)
	if s.ClientPort != 0 {
		out += ";"
		if s.ClientAddress != "" {
			out += joinHost(s.ClientAddress) + ":"
		}
		out += strconv.Itoa(s.ClientPort)
	}
	return out
}

// joinHost brackets IPv6 literals.
func joinHost(h string) string {
	for i := 0; i < len(h); i++ {
		if h[i] == ':' {
			return "[" + h + "]"
		}
	}
	return h
}
