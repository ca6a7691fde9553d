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
// zkd's own keys: zkd.log.format (text or json) and zkd.log.level (debug,
// info, warn or error); Apache ignores them (it exports unknown keys as
// system properties), so such a zoo.cfg still starts Apache ZooKeeper.
//
// Environment (for Kubernetes and Docker layouts), with or without a
// zoo.cfg:
//
//	ZOO_MY_ID        server id when <dataDir>/myid does not exist
//	MYID             the same, used when ZOO_MY_ID is unset
//	ZKD_MYID_FROM_HOSTNAME=true
//	                 the id is a StatefulSet pod's ordinal + 1 (zk-2 is
//	                 server 3); a myid file or variable that disagrees is
//	                 an error
//	ZOO_SERVERS      when zoo.cfg has no server.N lines: space separated
//	                 "server.N=..." entries, as the official Docker image
//	SERVERS          when zoo.cfg has no server.N lines and ZOO_SERVERS is
//	                 unset: comma separated hosts; host i (from 0) becomes
//	                 server i+1 with ports 2888:3888 and clients on 2181
//	ZK_SUPER_DIGEST  overrides DigestAuthenticationProvider.superDigest
//	SERVER_JVMFLAGS, JVMFLAGS
//	                 -Dzookeeper.<key>=value for the keys Apache reads as
//	                 system properties (and -Djute.maxbuffer); a key in
//	                 zoo.cfg or ZOO_* wins, as in Apache; other
//	                 -Dzookeeper.* properties are warned about, other JVM
//	                 options listed in one warning
//
// Without a zoo.cfg (FromEnvironment), also the official image's settings
// over the embedded default: ZOO_DATA_DIR, ZOO_DATA_LOG_DIR, ZOO_TICK_TIME,
// ZOO_INIT_LIMIT, ZOO_SYNC_LIMIT, ZOO_PORT (3.4 images), ZOO_MAX_CLIENT_CNXNS,
// ZOO_STANDALONE_ENABLED, ZOO_ADMINSERVER_ENABLED, ZOO_AUTOPURGE_PURGEINTERVAL,
// ZOO_AUTOPURGE_SNAPRETAINCOUNT, ZOO_4LW_COMMANDS_WHITELIST, then the
// space separated key=value entries of ZOO_CFG_EXTRA (last, so they win,
// as docker-entrypoint.sh appends them); ZKD_DATA_DIR picks the default's
// dataDir (see DefaultDataDir). Other ZOO_* names are warned about.
// Errors name the variable: ZOO_TICK_TIME="2s": want a positive number of
// milliseconds.
//
// Precedence: myid file > ZOO_MY_ID > MYID > host name ordinal; zoo.cfg
// (or dynamic file) servers > ZOO_SERVERS > SERVERS; ZK_SUPER_DIGEST > the
// key > -D property.
//
// The embedded default purges snapshots and logs every hour keeping 3
// (autopurge.purgeInterval=1); a zoo.cfg without the key keeps Apache's 0.
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
