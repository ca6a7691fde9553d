package config

import (
	"fmt"
	"sort"
	"strings"
)

// String renders the effective configuration as zoo.cfg text with every
// setting spelled out (defaults included), for `--check` style output and
// diagnostics. Parsing it again gives the same settings; MyID is shown as
// a comment because it lives in the myid file, not in zoo.cfg.
func (c *Config) String() string {
	var b strings.Builder
	line := func(key string, value any) { fmt.Fprintf(&b, "%s=%v\n", key, value) }
	if c.MyID != 0 {
		fmt.Fprintf(&b, "# myid=%d\n", c.MyID)
	}
	line(keyTickTime, c.TickTime)
	line(keyInitLimit, c.InitLimit)
	line(keySyncLimit, c.SyncLimit)
	line(keyDataDir, escapeValue(c.DataDir))
	line(keyDataLogDir, escapeValue(c.DataLogDir))
	line(keyClientPort, c.ClientPort)
	line(keyClientPortAddress, c.ClientPortAddress)
	line(keyMaxClientCnxns, c.MaxClientCnxns)
	line(keyMinSessionTimeout, c.MinSessionTimeout)
	line(keyMaxSessionTimeout, c.MaxSessionTimeout)
	line(keyListenBacklog, c.ClientPortListenBacklog)
	line(keySnapRetainCount, c.AutopurgeSnapRetainCount)
	line(keyPurgeInterval, c.AutopurgePurgeInterval)
	line(keySnapCount, c.SnapCount)
	line(keyPreAllocSize, c.PreAllocSize/1024)
	line(keyJuteMaxBuffer, c.JuteMaxBuffer)
	line(keyForceSync, map[bool]string{true: "yes", false: "no"}[c.ForceSync])
	line(keyDigestEnabled, c.DigestEnabled)
	line(keyExtendedTypes, c.ExtendedTypesEnabled)
	line(keySnapCompression, c.SnapshotCompression)
	line(keyReconfigEnabled, c.ReconfigEnabled)
	line(keyStandaloneEnabled, c.StandaloneEnabled)
	if c.IsQuorum() {
		line(keyCnxTimeout, c.CnxTimeout)
		line(keyElectionBindRetry, c.ElectionPortBindRetry)
		line(keySyncEnabled, c.SyncEnabled)
		line(keyFinalizeWait, c.FinalizeWait)
	} else if c.StandaloneFromEnsembleData {
		line(keyStandaloneFromEnsembleData, c.StandaloneFromEnsembleData)
	}
	line(keyFourLetterWhitelist, c.fourLetterWhitelist())
	line(keyAdminEnable, c.AdminEnabled)
	line(keyAdminAddress, c.AdminAddress)
	line(keyAdminPort, c.AdminPort)
	line(keyAdminCommandURL, c.AdminCommandURL)
	line(keyAdminIdleTimeout, c.AdminIdleTimeout)
	if c.MetricsProvider != "" {
		line(keyMetricsClass, c.MetricsProvider)
	}
	line(keyMetricsHost, c.MetricsHost)
	line(keyMetricsPort, c.MetricsPort)
	line(keyMetricsJVMInfo, c.MetricsExportInfo)
	if c.LogFormat != "" {
		line(keyLogFormat, c.LogFormat)
	}
	line(keyLogLevel, LogLevelName(c.LogLevel))
	if c.SuperDigest != "" {
		line(keySuperDigest, c.SuperDigest)
	}
	for _, s := range c.Servers {
		fmt.Fprintf(&b, "server.%d=%s\n", s.ID, s)
	}
	return b.String()
}

func (c *Config) fourLetterWhitelist() string {
	if c.AllFourLetterWords {
		return "*"
	}
	var words []string
	for w, on := range c.FourLetterWords {
		if on {
			words = append(words, w)
		}
	}
	sort.Strings(words)
	return strings.Join(words, ",")
}
