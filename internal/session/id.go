package session

import "math"

// containerOwner is the ephemeralOwner that marks container znodes
// (EphemeralType.CONTAINER_EPHEMERAL_OWNER); no session may have this id.
const containerOwner = math.MinInt64

// InitialID is the first session id a server hands out
// (SessionTrackerImpl.initializeNextSessionId): the high byte is the server
// id, the next five bytes are the low 40 bits of nowMillis, the low two bytes
// are zero. The unsigned shift keeps the high byte entirely the server id
// (ZOOKEEPER-1622).
func InitialID(serverID int64, nowMillis int64) int64 {
	next := int64(uint64(nowMillis<<24)>>8) | serverID<<56
	if next == containerOwner {
		next++
	}
	return next
}

// NegotiateTimeout clamps a requested session timeout to [min, max] the way
// ZooKeeperServer.processConnectRequest does: the minimum is applied first,
// so max wins when min > max.
func NegotiateTimeout(requested, min, max int32) int32 {
	t := requested
	if t < min {
		t = min
	}
	if t > max {
		t = max
	}
	return t
}
