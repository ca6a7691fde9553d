package config

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

var (
	// ErrSyntax: the file is not valid Java properties text.
	ErrSyntax = errors.New("config: bad properties syntax")
	// ErrBadValue: a key or environment variable has a value of the wrong form.
	ErrBadValue = errors.New("config: bad value")
	// ErrMissing: a required setting is absent.
	ErrMissing = errors.New("config: required setting missing")
	// ErrConflict: settings that are fine alone contradict each other.
	ErrConflict = errors.New("config: conflicting settings")
	// ErrMyID: the myid file cannot be used.
	ErrMyID = errors.New("config: bad myid file")
)

// Apache ZooKeeper defaults (zkd uses the same so a zoo.cfg means the same
// thing to both).
const (
	DefaultTickTime       = 3000
	DefaultClientPort     = 2181
	DefaultMaxClientCnxns = 60
	DefaultInitLimit      = 10
	// DefaultCnxTimeout is QuorumCnxManager's cnxTO (ms): an election
	// connection's dial and initial message.
	DefaultCnxTimeout = 5000
	// DefaultElectionBindRetry is the Listener's DEFAULT_PORT_BIND_MAX_RETRY.
	DefaultElectionBindRetry = 3
	// DefaultFinalizeWait is FastLeaderElection.finalizeWait (ms).
	DefaultFinalizeWait    = 200
	DefaultSyncLimit       = 5
	DefaultSnapRetainCount = 3
	MinSnapRetainCount     = 3
	DefaultSnapCount       = 100000
	MinSnapCount           = 2
	DefaultPreAllocSizeKB  = 65536
	DefaultJuteMaxBuffer   = 0xfffff
	DefaultListenBacklog   = -1
	// DefaultGlobalOutstandingLimit is ZooKeeper's globalOutstandingLimit.
	DefaultGlobalOutstandingLimit = 1000
	maxExtendedTypesServerID      = 254 // EphemeralType reserves the top byte value
	maxSessionServerID            = 255 // session ids carry the server id in one byte
)

// Server is one server.N line.
type Server struct {
	ID                       int64
	Host                     string // without IPv6 brackets
	QuorumPort, ElectionPort int
	Observer                 bool   // ":observer" role; ":participant" or absent = voter
	ClientAddress            string // from ";[addr:]port", may be ""
	ClientPort               int    // 0 if absent
}

// Config is a validated zoo.cfg plus environment.
type Config struct {
	Path                                 string // file it came from ("" for the embedded default)
	TickTime                             int    // ms
	DataDir, DataLogDir                  string // absolute; DataLogDir defaults to DataDir
	ClientPort                           int
	ClientPortAddress                    string // "" = all interfaces
	MaxClientCnxns                       int    // per client IP, 0 = unlimited
	MinSessionTimeout, MaxSessionTimeout int    // ms, defaults 2*TickTime and 20*TickTime
	InitLimit, SyncLimit                 int    // ticks
	// CnxTimeout bounds an election connection's dial and initial message
	// (ms); ElectionPortBindRetry is how many times binding the election
	// port is tried, a second apart, before the server gives up (0: for
	// ever). SyncEnabled: an observer logs and snapshots what it
	// replicates (false: it keeps it in memory only, as Apache's).
	CnxTimeout, ElectionPortBindRetry int
	SyncEnabled                       bool
	// FinalizeWait (ms, zkd.election.finalizeWait): how long a quorum's
	// agreement on a vote must stand, with no better vote, before the
	// election ends; Apache's finalizeWait is a constant 200.
	FinalizeWait int
	// StandaloneFromEnsembleData (zkd.standalone.fromEnsembleData): a
	// standalone server may start on a data directory an ensemble member
	// wrote (epoch above 0); by default it refuses, since it would serve
	// that data as an ensemble of its own, diverging from its old peers.
	StandaloneFromEnsembleData bool
	Servers                    []Server
	MyID                       int64 // 0 when no id was given (standalone)
	FourLetterWords            map[string]bool
	AllFourLetterWords         bool // "*" given
	AutopurgeSnapRetainCount   int
	AutopurgePurgeInterval     int // hours, 0 = off
	SnapCount                  int
	PreAllocSize               int64 // bytes (the key is in KB)
	JuteMaxBuffer              int   // bytes
	ExtendedTypesEnabled       bool
	SuperDigest                string // "user:base64sha1" or ""
	ForceSync                  bool
	SnapshotCompression        string // "", "gz" or "snappy"
	DigestEnabled              bool
	ReconfigEnabled            bool
	StandaloneEnabled          bool
	ClientPortListenBacklog    int
	// GlobalOutstandingLimit: reading from clients pauses while this many
	// requests are in the server (ZooKeeper's globalOutstandingLimit).
	GlobalOutstandingLimit int
	// The AdminServer (admin.*): on by default, as in Apache.
	AdminEnabled     bool
	AdminAddress     string // "0.0.0.0" = all interfaces
	AdminPort        int
	AdminCommandURL  string
	AdminIdleTimeout int // ms
	// The metrics provider (metricsProvider.*): MetricsProvider is the
	// class name as given, "" when unset; Prometheus is on only for
	// PrometheusMetricsProvider.
	MetricsProvider   string
	MetricsHost       string
	MetricsPort       int
	MetricsExportInfo bool // exportJvmInfo: zkd's Go runtime and process metrics
	// zkd's own logging keys: zkd.log.format (LogFormatText, the default,
	// or LogFormatJSON) and zkd.log.level (info by default).
	LogFormat string
	LogLevel  slog.Level
	Raw       map[string]string // every key as read (trimmed)
	Warnings  []string          // unknown or ignored keys, one line each
	// EnvUsed names the environment variables that set something, in the
	// order they were applied (for the config printed at start).
	EnvUsed []string
}

// Error is a configuration error naming the key (or environment variable
// or file), the offending value and what was expected.
type Error struct {
	Path     string // config file; "" for the embedded default
	Key      string // key, environment variable or file name; may be ""
	Value    string
	HasValue bool
	Problem  string // what was expected, or what is wrong
	Err      error  // one of the sentinel errors above
}

func (e *Error) Error() string {
	where := e.Path
	if where == "" {
		where = "(default config)"
	}
	switch {
	case e.Key == "":
		return fmt.Sprintf("config: %s: %s", where, e.Problem)
	case e.HasValue:
		return fmt.Sprintf("config: %s: %s=%q: %s", where, e.Key, e.Value, e.Problem)
	default:
		return fmt.Sprintf("config: %s: %s: %s", where, e.Key, e.Problem)
	}
}

func (e *Error) Unwrap() error { return e.Err }

// Expected forms, shared by parsing and Validate.
const (
	wantPort        = "want a port number 1-65535"
	wantPositiveMs  = "want a positive number of milliseconds"
	wantSessionMs   = "want -1 (default) or a positive number of milliseconds"
	wantTicks       = "want a positive number of ticks"
	wantCnxns       = "want 0 (unlimited) or a positive number of connections"
	wantWhole       = "want a whole number"
	wantHours       = "want 0 (off) or a positive number of hours"
	wantKB          = "want a size in KB, 0 or more"
	wantBytes       = "want a positive number of bytes"
	wantTrueFalse   = "want true or false"
	wantYesNo       = "want yes or no"
	wantBacklog     = "want -1 (system default) or a backlog of 0 or more"
	wantCompression = `want "" (none), "gz" or "snappy"`
	wantDigest      = "want user:base64(sha1(user:password))"
	wantDir         = "want a directory path"
	wantAddress     = "want a host name or IP address"
	wantServer      = "want server.N=host:quorumPort:electionPort[:participant|observer][;[clientAddress:]clientPort]"
	wantServerID    = "want a server id, a whole number 1 or more"
	wantPeerType    = "want observer or participant"
	wantElectionAlg = "want 3 (the only election algorithm ZooKeeper supports)"
)

// Load reads and parses the zoo.cfg at path, with os.Getenv as environment.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	return Parse(f, path, os.Getenv)
}

// Parse reads zoo.cfg text from r. path names the file in messages; a
// relative dataDir resolves against the process working directory, as in
// ZooKeeper. getenv supplies the environment (nil = empty). Parse reads
// <dataDir>/myid and a dynamicConfigFile when present, and returns a
// Config that passes Validate.
func Parse(r io.Reader, path string, getenv func(string) string) (*Config, error) {
	return parse(r, path, getenv, true)
}

// parser holds the state of one Parse call.
type parser struct {
	c          *Config
	getenv     func(string) string
	opts       parseOptions
	values     map[string]string
	written    map[string]string // canonical key -> key as written, or the variable it came from
	overridden map[string]bool   // canonical keys the ZOO_* layer set
	servers    []property        // server.N lines in file order
	peerType   string
}

type parseOptions struct {
	readFiles bool // false only for Default: no myid, no dynamic file
	// embedded: the text is the embedded default and the official image's
	// ZOO_* variables apply over it (a container without a zoo.cfg).
	embedded bool
}

func parse(r io.Reader, path string, getenv func(string) string, readFiles bool) (*Config, error) {
	return parseLayers(r, path, getenv, parseOptions{readFiles: readFiles})
}

func parseLayers(r io.Reader, path string, getenv func(string) string, opts parseOptions) (*Config, error) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	props, err := readProperties(r)
	if err != nil {
		return nil, &Error{Path: path, Problem: err.Error(), Err: ErrSyntax}
	}
	p := &parser{
		c:          baseConfig(path),
		getenv:     getenv,
		opts:       opts,
		values:     map[string]string{},
		written:    map[string]string{},
		overridden: map[string]bool{},
	}
	p.collect(props)
	if opts.embedded {
		envProps, err := p.zooEnvProperties()
		if err != nil {
			return nil, err
		}
		p.overlay(envProps)
	}
	p.applyJVMFlags()
	steps := []func() error{
		p.parseScalars, p.parseDirs, p.parseFourLetterWords, p.parseSuperDigest,
		p.parseServers, p.parseMyID, p.reconcileClientPort, p.checkPeerType,
		p.parseObservability, p.parseLogging,
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	if err := p.c.Validate(); err != nil {
		return nil, err
	}
	return p.c, nil
}

// baseConfig is a Config holding Apache's defaults for everything that a
// file may leave out.
func baseConfig(path string) *Config {
	return &Config{
		Path:                     path,
		TickTime:                 DefaultTickTime,
		ClientPort:               DefaultClientPort,
		MaxClientCnxns:           DefaultMaxClientCnxns,
		MinSessionTimeout:        -1,
		MaxSessionTimeout:        -1,
		InitLimit:                DefaultInitLimit,
		SyncLimit:                DefaultSyncLimit,
		CnxTimeout:               DefaultCnxTimeout,
		ElectionPortBindRetry:    DefaultElectionBindRetry,
		SyncEnabled:              true,
		FinalizeWait:             DefaultFinalizeWait,
		FourLetterWords:          map[string]bool{"srvr": true},
		AutopurgeSnapRetainCount: DefaultSnapRetainCount,
		SnapCount:                DefaultSnapCount,
		PreAllocSize:             DefaultPreAllocSizeKB * 1024,
		JuteMaxBuffer:            DefaultJuteMaxBuffer,
		ForceSync:                true,
		DigestEnabled:            true,
		StandaloneEnabled:        true,
		ClientPortListenBacklog:  DefaultListenBacklog,
		GlobalOutstandingLimit:   DefaultGlobalOutstandingLimit,
		AdminEnabled:             true,
		AdminAddress:             DefaultAdminAddress,
		AdminPort:                DefaultAdminPort,
		AdminCommandURL:          DefaultAdminCommandURL,
		AdminIdleTimeout:         DefaultAdminIdleTimeout,
		MetricsHost:              DefaultMetricsHost,
		MetricsPort:              DefaultMetricsPort,
		MetricsExportInfo:        true,
		LogFormat:                LogFormatText,
		LogLevel:                 slog.LevelInfo,
		Raw:                      map[string]string{},
	}
}

func (p *parser) warnf(format string, args ...any) {
	p.c.Warnings = append(p.c.Warnings, fmt.Sprintf(format, args...))
}

// collect fills Raw, sorts keys into typed values and server lines, and
// warns about unknown, repeated and shadowed keys.
func (p *parser) collect(props []property) {
	lineOf := map[string]int{}
	for _, prop := range props {
		if prev, dup := lineOf[prop.Key]; dup {
			p.warnf("%s: repeated on lines %d and %d; the last value wins", prop.Key, prev, prop.Line)
		}
		lineOf[prop.Key] = prop.Line
		p.c.Raw[prop.Key] = prop.Value
		if isIndexedKey(prop.Key, serverKeyPrefix) {
			p.servers = append(p.servers, prop)
		}
	}
	keys := make([]string, 0, len(p.c.Raw))
	for k := range p.c.Raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		canon, known := canonicalKey(key)
		switch {
		case !known:
			p.warnf("%s: unknown key, ignored", key)
		case canon != key:
			if _, short := p.c.Raw[canon]; short {
				p.warnf("%s: ignored because %s is also set", key, canon)
				continue
			}
			p.values[canon], p.written[canon] = p.c.Raw[key], key
		default:
			p.values[canon], p.written[canon] = p.c.Raw[key], key
		}
	}
}

// bad reports a bad value for a canonical key, naming it as written.
func (p *parser) bad(canon, value, want string) error {
	key := canon
	if w, ok := p.written[canon]; ok {
		key = w
	}
	return &Error{Path: p.c.Path, Key: key, Value: value, HasValue: true, Problem: want, Err: ErrBadValue}
}

// parseInt parses a Java int (32-bit) and checks it with ok.
func (p *parser) parseInt(canon string, dst *int, want string, ok func(int64) bool) error {
	v, present := p.values[canon]
	if !present {
		return nil
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil || !ok(n) {
		return p.bad(canon, v, want)
	}
	*dst = int(n)
	return nil
}

// parseBool accepts yes/no words case-insensitively.
func (p *parser) parseBool(canon string, dst *bool, yes, no, want string) error {
	v, present := p.values[canon]
	if !present {
		return nil
	}
	switch strings.ToLower(v) {
	case yes:
		*dst = true
	case no:
		*dst = false
	default:
		return p.bad(canon, v, want)
	}
	return nil
}

func isPort(n int64) bool      { return n >= 1 && n <= 65535 }
func positive(n int64) bool    { return n > 0 }
func nonNegative(n int64) bool { return n >= 0 }
func anyInt(int64) bool        { return true }

func (p *parser) parseScalars() error {
	c := p.c
	sessionOK := func(n int64) bool { return n == -1 || n > 0 }
	ints := []struct {
		key  string
		dst  *int
		want string
		ok   func(int64) bool
	}{
		{keyTickTime, &c.TickTime, wantPositiveMs, positive},
		{keyClientPort, &c.ClientPort, wantPort, isPort},
		{keyMaxClientCnxns, &c.MaxClientCnxns, wantCnxns, nonNegative},
		{keyMinSessionTimeout, &c.MinSessionTimeout, wantSessionMs, sessionOK},
		{keyMaxSessionTimeout, &c.MaxSessionTimeout, wantSessionMs, sessionOK},
		{keyInitLimit, &c.InitLimit, wantTicks, positive},
		{keySyncLimit, &c.SyncLimit, wantTicks, positive},
		{keyCnxTimeout, &c.CnxTimeout, wantPositiveMs, positive},
		{keyFinalizeWait, &c.FinalizeWait, wantPositiveMs, positive},
		{keyElectionBindRetry, &c.ElectionPortBindRetry, "want the number of tries, 0 for no limit", nonNegative},
		{keySnapRetainCount, &c.AutopurgeSnapRetainCount, wantWhole, anyInt},
		{keyPurgeInterval, &c.AutopurgePurgeInterval, wantHours, nonNegative},
		{keySnapCount, &c.SnapCount, wantWhole, anyInt},
		{keyJuteMaxBuffer, &c.JuteMaxBuffer, wantBytes, positive},
		{keyListenBacklog, &c.ClientPortListenBacklog, wantBacklog, func(n int64) bool { return n >= -1 }},
		{keyOutstandingLimit, &c.GlobalOutstandingLimit, "want a positive number of requests", positive},
	}
	for _, k := range ints {
		if err := p.parseInt(k.key, k.dst, k.want, k.ok); err != nil {
			return err
		}
	}
	// Apache raises these two with a warning instead of failing.
	if c.AutopurgeSnapRetainCount < MinSnapRetainCount {
		p.warnf("%s: %d is below the minimum; using %d", p.written[keySnapRetainCount], c.AutopurgeSnapRetainCount, MinSnapRetainCount)
		c.AutopurgeSnapRetainCount = MinSnapRetainCount
	}
	if c.SnapCount < MinSnapCount {
		p.warnf("%s: %d is below the minimum; using %d", p.written[keySnapCount], c.SnapCount, MinSnapCount)
		c.SnapCount = MinSnapCount
	}
	if c.MinSessionTimeout == -1 {
		c.MinSessionTimeout = 2 * c.TickTime
	}
	if c.MaxSessionTimeout == -1 {
		c.MaxSessionTimeout = 20 * c.TickTime
	}

	if v, ok := p.values[keyPreAllocSize]; ok {
		kb, err := strconv.ParseInt(v, 10, 64)
		if err != nil || kb < 0 || kb > (1<<53)/1024 {
			return p.bad(keyPreAllocSize, v, wantKB)
		}
		c.PreAllocSize = kb * 1024
	}

	bools := []struct {
		key     string
		dst     *bool
		yes, no string
		want    string
	}{
		{keyForceSync, &c.ForceSync, "yes", "no", wantYesNo},
		{keyExtendedTypes, &c.ExtendedTypesEnabled, "true", "false", wantTrueFalse},
		{keyDigestEnabled, &c.DigestEnabled, "true", "false", wantTrueFalse},
		{keyReconfigEnabled, &c.ReconfigEnabled, "true", "false", wantTrueFalse},
		{keyStandaloneEnabled, &c.StandaloneEnabled, "true", "false", wantTrueFalse},
		{keySyncEnabled, &c.SyncEnabled, "true", "false", wantTrueFalse},
		{keyStandaloneFromEnsembleData, &c.StandaloneFromEnsembleData, "true", "false", wantTrueFalse},
	}
	for _, b := range bools {
		if err := p.parseBool(b.key, b.dst, b.yes, b.no, b.want); err != nil {
			return err
		}
	}

	if v, ok := p.values[keySnapCompression]; ok {
		switch m := strings.ToLower(v); m {
		case "", "gz", "snappy":
			c.SnapshotCompression = m
		default:
			return p.bad(keySnapCompression, v, wantCompression)
		}
	}
	if v, ok := p.values[keyClientPortAddress]; ok {
		host, valid := bareHost(v)
		if !valid {
			return p.bad(keyClientPortAddress, v, wantAddress)
		}
		c.ClientPortAddress = host
	}
	if v, ok := p.values[keyElectionAlg]; ok && v != "3" {
		return p.bad(keyElectionAlg, v, wantElectionAlg)
	}
	if v, ok := p.values[keyPeerType]; ok {
		switch strings.ToLower(v) {
		case "observer", "participant":
			p.peerType = strings.ToLower(v)
		default:
			return p.bad(keyPeerType, v, wantPeerType)
		}
	}
	return nil
}

// parseDirs resolves dataDir and dataLogDir to absolute paths.
func (p *parser) parseDirs() error {
	v, ok := p.values[keyDataDir]
	if !ok {
		return &Error{Path: p.c.Path, Key: keyDataDir, Problem: "not set; Apache ZooKeeper requires dataDir too", Err: ErrMissing}
	}
	dir, err := p.absDir(keyDataDir, v)
	if err != nil {
		return err
	}
	p.c.DataDir, p.c.DataLogDir = dir, dir
	if v, ok := p.values[keyDataLogDir]; ok {
		if p.c.DataLogDir, err = p.absDir(keyDataLogDir, v); err != nil {
			return err
		}
	}
	return nil
}

func (p *parser) absDir(canon, v string) (string, error) {
	if v == "" || strings.ContainsRune(v, 0) {
		return "", p.bad(canon, v, wantDir)
	}
	if filepath.IsAbs(v) {
		return filepath.Clean(v), nil
	}
	abs, err := filepath.Abs(v)
	if err != nil {
		return "", p.bad(canon, v, wantDir+" ("+err.Error()+")")
	}
	// ZooKeeper warns the same way (VerifyingFileFactory).
	p.warnf("%s: %q is relative; using %s (resolved against the working directory)", p.written[canon], v, abs)
	return abs, nil
}

// parseFourLetterWords reads 4lw.commands.whitelist the way Apache's
// FourLetterCommands does: comma separated, trimmed, "*" = every word and
// ends the list, empty items skipped; "srvr" is always on (zkServer.sh
// needs it). Words Apache does not know are dropped with a warning.
func (p *parser) parseFourLetterWords() error {
	v, ok := p.values[keyFourLetterWhitelist]
	if !ok {
		return nil
	}
	words := map[string]bool{"srvr": true}
	for _, item := range strings.Split(v, ",") {
		w := javaTrim(item)
		if w == "*" {
			for _, k := range fourLetterWords {
				words[k] = true
			}
			p.c.AllFourLetterWords = true
			break
		}
		switch {
		case w == "":
		case isFourLetterWord(w):
			words[w] = true
		default:
			p.warnf("%s: unknown four-letter word %q ignored", p.written[keyFourLetterWhitelist], w)
		}
	}
	p.c.FourLetterWords = words
	return nil
}

// parseSuperDigest takes ZK_SUPER_DIGEST over the key.
func (p *parser) parseSuperDigest() error {
	if env := p.getenv(EnvSuperDigest); env != "" {
		if !validSuperDigest(env) {
			return &Error{Path: p.c.Path, Key: EnvSuperDigest, Value: env, HasValue: true, Problem: wantDigest, Err: ErrBadValue}
		}
		p.c.SuperDigest = env
		return nil
	}
	if v, ok := p.values[keySuperDigest]; ok && v != "" {
		if !validSuperDigest(v) {
			return p.bad(keySuperDigest, v, wantDigest)
		}
		p.c.SuperDigest = v
	}
	return nil
}

// reconcileClientPort applies the client address from this server's own
// server.N line, as Apache does when zoo.cfg has no clientPort, and
// refuses a clientPort that contradicts it.
func (p *parser) reconcileClientPort() error {
	me := p.c.server(p.c.MyID)
	if me == nil || me.ClientPort == 0 {
		return nil
	}
	// The embedded default's clientPort=2181 is no one's choice: the
	// server line decides.
	userSet := !p.opts.embedded || p.overridden[keyClientPort]
	if v, set := p.values[keyClientPort]; set && userSet && p.c.ClientPort != me.ClientPort {
		return &Error{Path: p.c.Path, Key: p.written[keyClientPort], Value: v, HasValue: true,
			Problem: fmt.Sprintf("differs from the client port %d in server.%d", me.ClientPort, me.ID), Err: ErrConflict}
	}
	p.c.ClientPort = me.ClientPort
	if me.ClientAddress == "" || isWildcard(me.ClientAddress) {
		return nil
	}
	if v, set := p.values[keyClientPortAddress]; set && v != "" && !isWildcard(p.c.ClientPortAddress) && p.c.ClientPortAddress != me.ClientAddress {
		return &Error{Path: p.c.Path, Key: p.written[keyClientPortAddress], Value: v, HasValue: true,
			Problem: fmt.Sprintf("differs from the client address %s in server.%d", me.ClientAddress, me.ID), Err: ErrConflict}
	}
	p.c.ClientPortAddress = me.ClientAddress
	return nil
}

// checkPeerType warns, as Apache does, when peerType disagrees with this
// server's role in the server list; the list wins.
func (p *parser) checkPeerType() error {
	me := p.c.server(p.c.MyID)
	if p.peerType == "" || me == nil {
		return nil
	}
	if listed := roleName(me.Observer); listed != p.peerType {
		p.warnf("%s: %s does not match server.%d (%s); using the server list", p.written[keyPeerType], p.peerType, me.ID, listed)
	}
	return nil
}

func roleName(observer bool) string {
	if observer {
		return "observer"
	}
	return "participant"
}

func isWildcard(host string) bool { return host == "0.0.0.0" || host == "::" }

func (c *Config) server(id int64) *Server {
	if id == 0 {
		return nil
	}
	for i := range c.Servers {
		if c.Servers[i].ID == id {
			return &c.Servers[i]
		}
	}
	return nil
}
