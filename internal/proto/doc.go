// Package proto holds the records of ZooKeeper's client protocol (port 2181)
// and the data records shared with the on-disk formats (Stat, StatPersisted,
// ACL, Id): opcodes, error codes, watch enums, request and response bodies,
// and the multi/multiRead envelopes. Layouts follow zookeeper.jute of
// Apache ZooKeeper 3.9 field for field (see shared/protocol/client.md).
//
// It only encodes and decodes; it never does I/O and holds no state.
package proto
