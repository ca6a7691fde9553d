// Package quorum is ZooKeeper's server-to-server wire: the election port
// (3888) and the quorum port (2888), byte for byte as Apache ZooKeeper 3.5+
// speaks them. All integers are big-endian.
//
// Election connection. The dialer first writes an initial message, then
// both sides exchange length-prefixed frames:
//
//	initial message    long protocolVersion  -65536 (V1) or -65535 (V2, multiAddress)
//	                   long sid
//	                   int  addressLength    1..2048
//	                   addressLength bytes   "host:port" (V2: several joined by '|')
//	pre-3.5 dialers    long sid              (>= 0; nothing follows)
//
//	frame              int  length           1..524288
//	                   length bytes          a notification
//
// Notification (the payload of one frame), and the older shapes receivers
// still accept:
//
//	 0 int  state          LOOKING 0, FOLLOWING 1, LEADING 2, OBSERVING 3
//	 4 long leader         proposed leader's sid
//	12 long zxid           its last zxid
//	20 long electionEpoch  the sender's round
//	28 long peerEpoch      the proposed leader's epoch  (28-byte shape: none, zxid>>32)
//	36 int  version        2                            (40-byte shape: ignored, 0)
//	40 int  configLength   only when version > 1
//	44 configLength bytes  the sender's quorum config text
//
// Only the larger sid's connection survives: a server that accepts a
// connection from a smaller sid closes it and dials back.
//
// Quorum connection. The learner dials the leader and each side writes jute
// QuorumPackets back to back, with no header and no length prefix:
//
//	QuorumPacket       int type, long zxid, buffer data (-1: none),
//	                   vector<Id> authinfo (-1: none; Id = ustring scheme, ustring id)
//	LearnerInfo        long serverid, int protocolVersion 0x10000, long configVersion
//	                   (FOLLOWERINFO/OBSERVERINFO data; read leniently)
//	LEADERINFO data    int protocolVersion 0x10000
//	ACKEPOCH data      int currentEpoch, or -1 when the epoch was already accepted
//
// The codecs are pure functions over byte slices; stream.go cuts messages
// out of an io.Reader for them. The package opens no sockets (the
// connections that will carry zab's messages come later), keeps no state
// and never decides anything: what a message means is zab's business.
package quorum
