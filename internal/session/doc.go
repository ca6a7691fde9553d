// Package session owns ZooKeeper's session bookkeeping that every server in
// an ensemble must compute identically: session passwords
// (ZooKeeperServer.generatePasswd), session ids
// (SessionTrackerImpl.initializeNextSessionId), timeout negotiation, and the
// expiry table (SessionTrackerImpl + ExpiryQueue): sessions grouped in buckets
// whose expiry times are multiples of tickTime.
//
// The package is pure and deterministic: callers pass the current time in
// milliseconds of a monotonic clock (ZooKeeper uses Time.currentElapsedTime),
// so the package never reads a clock, starts goroutines or does I/O. It never
// decides what expiry means (closeSession txns, ephemerals, connections);
// it only reports which sessions are due.
//
// Table is not safe for concurrent use; the server calls it under its own lock.
package session
