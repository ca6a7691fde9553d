// Package prep is the prep step of the write pipeline, ZooKeeper's
// PrepRequestProcessor as a pure function over state it owns: given the tree
// as applied (a View), the outstanding changes of txns prepared but not yet
// applied, and a write request, it returns the txn to propose, or an error
// txn carrying the KeeperException code, and records the request's own
// changes as outstanding. With digests on (zookeeper.digest.enabled) each
// change carries its znode's digest term, and every txn but an error txn
// carries the tree digest expected once it is applied: the last outstanding
// change's, or the view's when none is outstanding, moved by the new term
// minus the old one of each znode the txn changes (PrepRequestProcessor's
// precalculated digests), never a walk of the tree.
//
// The server's driver loop owns one State and calls Prepare in zxid order;
// Applied forgets the changes of txns the tree has applied, and Reset drops
// them all when a leader change discards what was prepared.
//
// The package never does I/O, takes no locks, reads no clock (time comes in
// as an argument) and starts no goroutines. It is not safe for concurrent
// use.
package prep
