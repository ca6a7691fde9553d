package config

import (
	"sort"
	"strings"
)

// Keys zkd reads into typed Config fields.
const (
	keyTickTime            = "tickTime"
	keyDataDir             = "dataDir"
	keyDataLogDir          = "dataLogDir"
	keyClientPort          = "clientPort"
	keyClientPortAddress   = "clientPortAddress"
	keyMaxClientCnxns      = "maxClientCnxns"
	keyMinSessionTimeout   = "minSessionTimeout"
	keyMaxSessionTimeout   = "maxSessionTimeout"
	keyInitLimit           = "initLimit"
	keySyncLimit           = "syncLimit"
	keySnapRetainCount     = "autopurge.snapRetainCount"
	keyPurgeInterval       = "autopurge.purgeInterval"
	keyReconfigEnabled     = "reconfigEnabled"
	keyStandaloneEnabled   = "standaloneEnabled"
	keyListenBacklog       = "clientPortListenBacklog"
	keyOutstandingLimit    = "globalOutstandingLimit"
	keyDynamicConfigFile   = "dynamicConfigFile"
	keyPeerType            = "peerType"
	keyElectionAlg         = "electionAlg"
	keyFourLetterWhitelist = "4lw.commands.whitelist"
	keySnapCount           = "snapCount"
	keyPreAllocSize        = "preAllocSize"
	keyJuteMaxBuffer       = "jute.maxbuffer"
	keyExtendedTypes       = "extendedTypesEnabled"
	keySuperDigest         = "DigestAuthenticationProvider.superDigest"
	keyForceSync           = "forceSync"
	keySnapCompression     = "snapshot.compression.method"
	keyDigestEnabled       = "digest.enabled"
	keyAdminEnable         = "admin.enableServer"
	keyAdminAddress        = "admin.serverAddress"
	keyAdminPort           = "admin.serverPort"
	keyAdminCommandURL     = "admin.commandURL"
	keyAdminIdleTimeout    = "admin.idleTimeout"
	keyMetricsClass        = "metricsProvider.className"
	keyMetricsHost         = "metricsProvider.httpHost"
	keyMetricsPort         = "metricsProvider.httpPort"
	keyMetricsJVMInfo      = "metricsProvider.exportJvmInfo"
	keyCnxTimeout          = "cnxTimeout"
	keyElectionBindRetry   = "electionPortBindRetry"
	keySyncEnabled         = "syncEnabled"
	// zkd's own: FastLeaderElection's finalizeWait, a constant in Apache.
	keyFinalizeWait = "zkd.election.finalizeWait"
	// zkd's own: a standalone server may start on an ensemble member's data.
	keyStandaloneFromEnsembleData = "zkd.standalone.fromEnsembleData"
)

// Environment variables read by Parse (see doc.go).
const (
	EnvZooMyID       = "ZOO_MY_ID"
	EnvMyID          = "MYID"
	EnvZooServers    = "ZOO_SERVERS"
	EnvServers       = "SERVERS"
	EnvSuperDigest   = "ZK_SUPER_DIGEST"
	EnvDataDir       = "ZKD_DATA_DIR"
	envXDGDataHome   = "XDG_DATA_HOME"
	envHome          = "HOME"
	syspropPrefix    = "zookeeper."
	serverKeyPrefix  = "server."
	defaultQuorumPrt = 2888
	defaultElectPort = 3888
)

// syspropKeys are the keys Apache reads as Java system properties
// "zookeeper.<key>". ZooKeeper exports every unrecognised zoo.cfg key
// under that prefix, so the short form works in zoo.cfg; zkd also accepts
// the long form. When both are present the short one wins, as in Apache,
// where a long key in zoo.cfg would become "zookeeper.zookeeper.<key>".
var syspropKeys = map[string]bool{
	keyFourLetterWhitelist: true,
	keySnapCount:           true,
	keyPreAllocSize:        true,
	keyJuteMaxBuffer:       true,
	keyExtendedTypes:       true,
	keySuperDigest:         true,
	keyForceSync:           true,
	keySnapCompression:     true,
	keyDigestEnabled:       true,
	// QuorumCnxManager reads these two as system properties only.
	keyCnxTimeout:        true,
	keyElectionBindRetry: true,
	// Apache's JettyAdminServer reads these as system properties only;
	// zoo.cfg sets them because every key it does not know is exported.
	keyAdminEnable:      true,
	keyAdminAddress:     true,
	keyAdminPort:        true,
	keyAdminCommandURL:  true,
	keyAdminIdleTimeout: true,
}

// typedKeys are the keys that set Config fields directly.
var typedKeys = map[string]bool{
	keyTickTime: true, keyDataDir: true, keyDataLogDir: true, keyClientPort: true,
	keyClientPortAddress: true, keyMaxClientCnxns: true, keyMinSessionTimeout: true,
	keyMaxSessionTimeout: true, keyInitLimit: true, keySyncLimit: true,
	keySnapRetainCount: true, keyPurgeInterval: true, keyReconfigEnabled: true,
	keyStandaloneEnabled: true, keyListenBacklog: true, keyDynamicConfigFile: true,
	keyOutstandingLimit: true,
	keyPeerType:         true, keyElectionAlg: true, keySyncEnabled: true,
	keyMetricsClass: true, keyMetricsHost: true, keyMetricsPort: true, keyMetricsJVMInfo: true,
	keyLogFormat: true, keyLogLevel: true, keyFinalizeWait: true, keyStandaloneFromEnsembleData: true,
}

// silentKeys are Apache ZooKeeper keys zkd accepts without a warning; they
// stay in Config.Raw for whoever needs them.
var silentKeys = map[string]bool{
	"secureClientPort": true, "secureClientPortAddress": true,
	"localSessionsEnabled": true, "localSessionsUpgradingEnabled": true,
	"leaderServes":         true,
	"quorumListenOnAllIPs": true, "maxCnxns": true,
	"snapSizeLimitInKb": true, "txnLogSizeLimitInKb": true, "skipACL": true,
	"sslQuorum": true, "portUnification": true, "connectToLearnerMasterLimit": true,
	"observerMasterPort": true, "sslQuorumReloadCertFiles": true,
	"client.portUnification": true, "quorum.cnxn.threads.size": true,
}

// silentPrefixes are key families accepted without a warning.
var silentPrefixes = []string{
	"admin.", "metricsProvider.", "ssl.", "quorum.auth.", "authProvider.",
	"multiAddress.", "jvm.pause.",
}

// fourLetterWords are Apache's four-letter words (FourLetterCommands).
var fourLetterWords = []string{
	"ruok", "isro", "srvr", "stat", "conf", "cons", "crst", "dump", "envi",
	"wchs", "wchc", "wchp", "mntr", "srst", "hash", "gtmk", "stmk", "dirs",
}

// KnownFourLetterWords returns Apache's four-letter words, sorted.
func KnownFourLetterWords() []string {
	words := append([]string(nil), fourLetterWords...)
	sort.Strings(words)
	return words
}

func isFourLetterWord(w string) bool {
	for _, k := range fourLetterWords {
		if k == w {
			return true
		}
	}
	return false
}

// canonicalKey maps a key as written to the key zkd reads it as; known
// reports whether zkd reads or knowingly ignores it.
func canonicalKey(key string) (canon string, known bool) {
	if typedKeys[key] || syspropKeys[key] || silentKeys[key] {
		return key, true
	}
	if short, ok := strings.CutPrefix(key, syspropPrefix); ok && syspropKeys[short] {
		return short, true
	}
	if isIndexedKey(key, serverKeyPrefix) || isIndexedKey(key, "group.") || isIndexedKey(key, "weight.") {
		return key, true
	}
	for _, p := range silentPrefixes {
		if strings.HasPrefix(key, p) && len(key) > len(p) {
			return key, true
		}
	}
	return key, false
}

// isIndexedKey reports whether key is prefix followed by something (the
// index is checked where it is parsed, so "server.x" gets a clear error).
func isIndexedKey(key, prefix string) bool {
	return strings.HasPrefix(key, prefix) && len(key) > len(prefix)
}
