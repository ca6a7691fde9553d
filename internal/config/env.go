package config

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
)

// Environment variables beyond the ones in keys.go: the official ZooKeeper
// image's, zkServer.sh's and zkd's own.
const (
	EnvZooCfgExtra       = "ZOO_CFG_EXTRA"
	EnvZooConfDir        = "ZOO_CONF_DIR"
	EnvJVMFlags          = "JVMFLAGS"
	EnvServerJVMFlags    = "SERVER_JVMFLAGS"
	EnvMyIDFromHostname  = "ZKD_MYID_FROM_HOSTNAME"
	envHostname          = "HOSTNAME"
	zooEnvPrefix         = "ZOO_"
	jvmPropertyPrefix    = "-D"
	juteMaxBufferSysprop = "jute.maxbuffer" // Java reads it without the zookeeper. prefix
	observerSyncSysprop  = "zookeeper.observer.syncEnabled"
)

// zooEnvKeys maps the official image's variables to the zoo.cfg keys its
// docker-entrypoint.sh writes them to (ZOO_PORT is the 3.4 images').
var zooEnvKeys = []struct{ env, key string }{
	{"ZOO_DATA_DIR", keyDataDir},
	{"ZOO_DATA_LOG_DIR", keyDataLogDir},
	{"ZOO_TICK_TIME", keyTickTime},
	{"ZOO_INIT_LIMIT", keyInitLimit},
	{"ZOO_SYNC_LIMIT", keySyncLimit},
	{"ZOO_PORT", keyClientPort},
	{"ZOO_MAX_CLIENT_CNXNS", keyMaxClientCnxns},
	{"ZOO_STANDALONE_ENABLED", keyStandaloneEnabled},
	{"ZOO_ADMINSERVER_ENABLED", "admin.enableServer"},
	{"ZOO_AUTOPURGE_PURGEINTERVAL", keyPurgeInterval},
	{"ZOO_AUTOPURGE_SNAPRETAINCOUNT", keySnapRetainCount},
	{"ZOO_4LW_COMMANDS_WHITELIST", keyFourLetterWhitelist},
}

// zooEnvIgnored are the image's variables that configure what zkd does
// not have (log4j, the image's user, the config directory zkd's command
// reads itself); they pass without a warning.
var zooEnvIgnored = map[string]bool{
	EnvZooMyID: true, EnvZooServers: true, EnvZooCfgExtra: true, EnvZooConfDir: true,
	"ZOO_LOG_DIR": true, "ZOO_LOG4J_PROP": true, "ZOO_USER": true,
}

// FromEnvironment is the configuration of a server started without a
// zoo.cfg, as in a container: the embedded default, then the official
// image's ZOO_* variables, then the entries of ZOO_CFG_EXTRA, with the
// server list and id from ZOO_SERVERS/SERVERS and
// ZOO_MY_ID/MYID/ZKD_MYID_FROM_HOSTNAME and the -D properties of
// JVMFLAGS. environ is in os.Environ's form; ZOO_* names zkd does not know
// are warned about (they are usually misspelt).
func FromEnvironment(environ []string) (*Config, error) {
	vars := map[string]string{}
	var names []string
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
		names = append(names, k)
	}
	getenv := func(k string) string { return vars[k] }
	c, err := fromEnv(getenv)
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	for _, name := range names {
		if strings.HasPrefix(name, zooEnvPrefix) && !zooEnvIgnored[name] && zooEnvKey(name) == "" {
			c.Warnings = append(c.Warnings, fmt.Sprintf("%s: not a variable zkd or the official ZooKeeper image reads; ignored", name))
		}
	}
	return c, nil
}

// DefaultFromEnv is FromEnvironment with a getenv function (it cannot
// spot misspelt variables).
func DefaultFromEnv(getenv func(string) string) (*Config, error) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	return fromEnv(getenv)
}

func fromEnv(getenv func(string) string) (*Config, error) {
	return parseLayers(strings.NewReader(defaultText(DefaultDataDir(getenv))), "", getenv, parseOptions{readFiles: true, embedded: true})
}

func zooEnvKey(name string) string {
	for _, z := range zooEnvKeys {
		if z.env == name {
			return z.key
		}
	}
	return ""
}

// zooEnvProperties are the settings of the ZOO_* variables and of
// ZOO_CFG_EXTRA, in the order docker-entrypoint.sh writes them (later
// ones win, as in a properties file). Each property's Origin names the
// variable, so that errors and warnings point at it.
func (p *parser) zooEnvProperties() ([]property, error) {
	var props []property
	for _, z := range zooEnvKeys {
		if v := javaTrim(p.getenv(z.env)); v != "" {
			props = append(props, property{Key: z.key, Value: v, Origin: z.env})
			p.c.EnvUsed = append(p.c.EnvUsed, z.env)
		}
	}
	extra := p.getenv(EnvZooCfgExtra)
	for _, entry := range strings.Fields(extra) {
		prop, err := splitProperty(entry)
		if err != nil || prop.Key == "" || !strings.Contains(entry, "=") {
			return nil, &Error{Path: p.c.Path, Key: EnvZooCfgExtra, Value: entry, HasValue: true,
				Problem: "want space separated key=value entries, as zoo.cfg lines", Err: ErrBadValue}
		}
		prop.Origin = EnvZooCfgExtra + " " + prop.Key
		props = append(props, prop)
	}
	if len(strings.Fields(extra)) > 0 {
		p.c.EnvUsed = append(p.c.EnvUsed, EnvZooCfgExtra)
	}
	return props, nil
}

// overlay applies settings that replace the file's (the ZOO_* layer).
func (p *parser) overlay(props []property) {
	for _, prop := range props {
		p.c.Raw[prop.Key] = prop.Value
		if isIndexedKey(prop.Key, serverKeyPrefix) {
			p.servers = append(p.servers, prop)
			continue
		}
		canon, known := canonicalKey(prop.Key)
		if !known {
			p.warnf("%s: unknown key, ignored", prop.Origin)
			continue
		}
		p.values[canon], p.written[canon] = prop.Value, prop.Origin
		p.overridden[canon] = true
	}
}

// jvmSysprops are the Java system properties zkd honours from JVMFLAGS
// and SERVER_JVMFLAGS, with the key each one sets: the keys Apache reads
// as "zookeeper.<key>" properties, and jute.maxbuffer as Java spells it.
func jvmSysprop(name string) (canon string, ok bool) {
	if name == juteMaxBufferSysprop {
		return keyJuteMaxBuffer, true
	}
	if name == observerSyncSysprop {
		// Apache lets this property win over zoo.cfg's syncEnabled;
		// here zoo.cfg wins, as for every other property.
		return keySyncEnabled, true
	}
	short, found := strings.CutPrefix(name, syspropPrefix)
	if !found {
		return "", false
	}
	if syspropKeys[short] || short == keyOutstandingLimit {
		return short, true
	}
	return "", false
}

// applyJVMFlags honours the -Dzookeeper.* properties of SERVER_JVMFLAGS
// and JVMFLAGS (zkServer.sh passes "$SERVER_JVMFLAGS $JVMFLAGS" to java,
// unquoted, so the words are split on white space and a later -D wins). A
// key set in zoo.cfg or the environment wins over a property, as in
// ZooKeeper, where parsing zoo.cfg sets the property again. Properties
// zkd has no setting for are warned about one by one; every other JVM
// option is listed in a single line.
func (p *parser) applyJVMFlags() {
	type sysprop struct{ word, name, value, origin string }
	var props []sysprop
	var ignored []string
	for _, env := range []string{EnvServerJVMFlags, EnvJVMFlags} {
		words := strings.Fields(p.getenv(env))
		if len(words) > 0 {
			p.c.EnvUsed = append(p.c.EnvUsed, env)
		}
		for _, w := range words {
			name, value, isProp := strings.Cut(strings.TrimPrefix(w, jvmPropertyPrefix), "=")
			if !strings.HasPrefix(w, jvmPropertyPrefix) {
				ignored = append(ignored, w)
				continue
			}
			if !isProp {
				value = ""
			}
			props = append(props, sysprop{w, name, value, env + " " + jvmPropertyPrefix + name})
		}
	}
	byKey := map[string]sysprop{}
	for _, sp := range props {
		canon, ok := jvmSysprop(sp.name)
		switch {
		case ok:
			byKey[canon] = sp
		case strings.HasPrefix(sp.name, syspropPrefix):
			p.warnf("%s: zkd has no such setting; ignored", sp.origin)
		default:
			ignored = append(ignored, sp.word)
		}
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, canon := range keys {
		sp := byKey[canon]
		if _, set := p.values[canon]; set {
			p.warnf("%s: ignored because %s is set", sp.origin, p.written[canon])
			continue
		}
		p.values[canon], p.written[canon] = javaTrim(sp.value), sp.origin
	}
	if len(ignored) > 0 {
		p.warnf("%s/%s: JVM options mean nothing to zkd and are ignored: %s (bound memory with GOMEMLIMIT instead of -Xmx)",
			EnvServerJVMFlags, EnvJVMFlags, strings.Join(ignored, " "))
	}
}

// myIDFromHostname is a StatefulSet pod's server id: its host name ends
// in -<ordinal> counted from 0, and server ids count from 1 (zk-2 is
// server 3), matching SERVERS, where the Nth name is server N.
func (p *parser) myIDFromHostname() (int64, error) {
	host := p.getenv(envHostname)
	if host == "" {
		host, _ = os.Hostname()
	}
	short, _, _ := strings.Cut(host, ".")
	i := strings.LastIndexByte(short, '-')
	ordinal, err := strconv.ParseInt(short[i+1:], 10, 64)
	if i < 0 || err != nil || ordinal < 0 || short[i+1:] != strconv.FormatInt(ordinal, 10) {
		return 0, &Error{Path: p.c.Path, Key: EnvMyIDFromHostname, Value: p.getenv(EnvMyIDFromHostname), HasValue: true,
			Problem: fmt.Sprintf("the host name %q does not end in -<ordinal> as a StatefulSet pod's does (zk-0, zk-1, ...); set MYID instead", host), Err: ErrConflict}
	}
	return ordinal + 1, nil
}
