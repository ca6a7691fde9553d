// Package config turns Apache ZooKeeper's zoo.cfg plus the environment
// into a validated Config.
//
// It owns: Java properties syntax as ZooKeeper reads zoo.cfg (key=value,
// key: value or key value; # and ! comments; backslash continuation;
// keys and values trimmed), Apache's defaults, the server.N grammar
//
//	server.N=host:quorumPort:electionPort[:participant|observer][;[clientAddress:]clientPort]
//
// the <dataDir>/myid file, a dynamicConfigFile holding the server list,
// the environment variables below, and the embedded default config.
//
// It never opens sockets, creates directories or writes files, and never
// starts goroutines. Unknown keys are not fatal: each one adds a line to
// Config.Warnings (ZooKeeper also goes on). A bad value is fatal and the
// error names the key, the value and the expected form, e.g.
//
//	config: zoo.cfg: clientPort="abc": want a port number 1-65535
//
// Keys Apache reads as system properties (snapCount, preAllocSize,
// jute.maxbuffer, forceSync, 4lw.commands.whitelist, digest.enabled,
// extendedTypesEnabled, snapshot.compression.method,
// DigestAuthenticationProvider.superDigest) are accepted with or without
// the "zookeeper." prefix; if both forms are given the short one wins.
//
// Environment (for Kubernetes and Docker layouts):
//
//	ZOO_MY_ID        server id when <dataDir>/myid does not exist
//	MYID             the same, used when ZOO_MY_ID is unset
//	ZOO_SERVERS      when zoo.cfg has no server.N lines: space separated
//	                 "server.N=..." entries, as the official Docker image
//	SERVERS          when zoo.cfg has no server.N lines and ZOO_SERVERS is
//	                 unset: comma separated hosts; host i (from 0) becomes
//	                 server i+1 with ports 2888:3888 and no client port
//	ZK_SUPER_DIGEST  overrides DigestAuthenticationProvider.superDigest
//	ZKD_DATA_DIR     dataDir of the embedded default (see DefaultDataDir)
//
// Precedence: myid file > ZOO_MY_ID > MYID; zoo.cfg (or dynamic file)
// servers > ZOO_SERVERS > SERVERS; ZK_SUPER_DIGEST > the key.
//
// Mode: Standalone when there are no servers, or one voting server and
// standaloneEnabled=true (Apache's isDistributed, inverted). In quorum
// mode the server id is required and must be in the server list.
//
// Differences from Apache ZooKeeper, all deliberate:
//   - defaults for clientPort (2181), initLimit (10) and syncLimit (5)
//     where Apache has none (Apache opens no client port when neither
//     clientPort nor this server's server.N line names one);
//   - booleans must be true/false (forceSync: yes/no), case-insensitive;
//     Apache reads anything else as false (forceSync: anything but "no"
//     as yes);
//   - server ids are 1 or more (0 means "no id" here; Apache takes
//     server.0);
//   - a repeated server id (server.1 twice, or server.1 and server.01) is
//     an error, not "last one wins";
//   - unknown four-letter words in the whitelist are dropped with a
//     warning;
//   - multi-address server lines (a|b) are refused;
//   - bytes are read as UTF-8, not ISO-8859-1.
package config
