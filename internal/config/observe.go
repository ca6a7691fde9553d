package config

import (
	"fmt"
	"strconv"
	"strings"
)

// Apache ZooKeeper's defaults for the AdminServer (JettyAdminServer) and
// the Prometheus provider (PrometheusMetricsProvider).
const (
	DefaultAdminAddress     = "0.0.0.0"
	DefaultAdminPort        = 8080
	DefaultAdminCommandURL  = "/commands"
	DefaultAdminIdleTimeout = 30000
	DefaultMetricsHost      = "0.0.0.0"
	DefaultMetricsPort      = 7000
)

// The metrics providers Apache ships; zkd knows these three.
const (
	PrometheusProvider = "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider"
	DefaultProvider    = "org.apache.zookeeper.metrics.impl.DefaultMetricsProvider"
	NullProvider       = "org.apache.zookeeper.metrics.impl.NullMetricsProvider"
)

const (
	wantCommandURL = `want a URL path starting with "/", such as /commands`
	wantProvider   = "want " + PrometheusProvider + " (Prometheus metrics on metricsProvider.httpPort) or " +
		DefaultProvider + " (none)"
	wantIdleTimeout = "want a positive number of milliseconds"
)

// Prometheus reports whether the Prometheus endpoint is on.
func (c *Config) Prometheus() bool { return c.MetricsProvider == PrometheusProvider }

// AdminAddr is the AdminServer's listen address, host:port.
func (c *Config) AdminAddr() string { return joinHostPort(c.AdminAddress, c.AdminPort) }

// MetricsAddr is the Prometheus endpoint's listen address, host:port.
func (c *Config) MetricsAddr() string { return joinHostPort(c.MetricsHost, c.MetricsPort) }

func joinHostPort(host string, port int) string {
	return joinHost(host) + ":" + strconv.Itoa(port)
}

// parseObservability reads the admin.* and metricsProvider.* keys.
func (p *parser) parseObservability() error {
	c := p.c
	if err := p.parseBool(keyAdminEnable, &c.AdminEnabled, "true", "false", wantTrueFalse); err != nil {
		return err
	}
	if err := p.parseBool(keyMetricsJVMInfo, &c.MetricsExportInfo, "true", "false", wantTrueFalse); err != nil {
		return err
	}
	ints := []struct {
		key  string
		dst  *int
		want string
		ok   func(int64) bool
	}{
		{keyAdminPort, &c.AdminPort, wantPort, isPort},
		{keyAdminIdleTimeout, &c.AdminIdleTimeout, wantIdleTimeout, positive},
		{keyMetricsPort, &c.MetricsPort, wantPort, isPort},
	}
	for _, k := range ints {
		if err := p.parseInt(k.key, k.dst, k.want, k.ok); err != nil {
			return err
		}
	}
	for _, h := range []struct {
		key string
		dst *string
	}{{keyAdminAddress, &c.AdminAddress}, {keyMetricsHost, &c.MetricsHost}} {
		if v, ok := p.values[h.key]; ok {
			host, valid := bareHost(v)
			if !valid || host == "" {
				return p.bad(h.key, v, wantAddress)
			}
			*h.dst = host
		}
	}
	if v, ok := p.values[keyAdminCommandURL]; ok {
		if !strings.HasPrefix(v, "/") || strings.ContainsAny(v, " \t?#") {
			return p.bad(keyAdminCommandURL, v, wantCommandURL)
		}
		c.AdminCommandURL = strings.TrimRight(v, "/")
		if c.AdminCommandURL == "" {
			return p.bad(keyAdminCommandURL, v, wantCommandURL)
		}
	}
	if v, ok := p.values[keyMetricsClass]; ok {
		switch v {
		case PrometheusProvider, DefaultProvider, NullProvider:
			c.MetricsProvider = v
		default:
			return p.bad(keyMetricsClass, v, wantProvider)
		}
	}
	return nil
}

// validateObservability is Validate's share for a Config built in code.
func (c *Config) validateObservability() error {
	bad := func(key string, value any, problem string) error {
		return &Error{Path: c.Path, Key: key, Value: fmt.Sprint(value), HasValue: true, Problem: problem, Err: ErrBadValue}
	}
	if c.AdminEnabled && !isPort(int64(c.AdminPort)) {
		return bad(keyAdminPort, c.AdminPort, wantPort)
	}
	if c.AdminEnabled && !strings.HasPrefix(c.AdminCommandURL, "/") {
		return bad(keyAdminCommandURL, c.AdminCommandURL, wantCommandURL)
	}
	switch c.MetricsProvider {
	case "", PrometheusProvider, DefaultProvider, NullProvider:
	default:
		return bad(keyMetricsClass, c.MetricsProvider, wantProvider)
	}
	if c.Prometheus() && !isPort(int64(c.MetricsPort)) {
		return bad(keyMetricsPort, c.MetricsPort, wantPort)
	}
	return nil
}

// apacheParsed are the zoo.cfg keys (and key families) Apache's
// QuorumPeerConfig consumes itself; it exports every other key as the
// system property zookeeper.<key>.
var (
	apacheParsed = map[string]bool{
		"secureClientPort": true, "secureClientPortAddress": true, "localSessionsEnabled": true,
		"localSessionsUpgradingEnabled": true, "syncEnabled": true, "quorumListenOnAllIPs": true,
		"sslQuorum": true, "portUnification": true, "connectToLearnerMasterLimit": true,
		"observerMasterPort": true, "sslQuorumReloadCertFiles": true, "client.portUnification": true,
		"quorum.cnxn.threads.size": true,
	}
	apacheParsedPrefixes = []string{"metricsProvider.", "multiAddress.", "quorum.auth.", "jvm.pause.", "server.", "group.", "weight."}
)

// SystemProperties are the Java system properties Apache ZooKeeper would
// set from c's zoo.cfg (the system_properties command shows them).
func SystemProperties(c *Config) map[string]string {
	out := map[string]string{}
	for k, v := range c.Raw {
		if typedKeys[k] || apacheParsed[k] || strings.HasPrefix(k, syspropPrefix) {
			continue
		}
		parsed := false
		for _, p := range apacheParsedPrefixes {
			parsed = parsed || strings.HasPrefix(k, p)
		}
		if !parsed {
			out[syspropPrefix+k] = v
		}
	}
	return out
}
