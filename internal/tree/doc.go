// Package tree is ZooKeeper's data tree (DataTree) as a deterministic state
// machine: znodes with data, resolved ACLs and persisted Stats; the children of
// each znode; the ephemerals of each session; container and TTL candidates;
// the reference-counted ACL cache of snapshots; quota bookkeeping under
// /zookeeper/quota; the incremental tree digest (digest version 2); and the
// snapshot body that DataTree.serialize writes.
//
// Apply(txn) is the only way a Tree changes. It mirrors DataTree.processTxn of
// Apache ZooKeeper 3.9, including its replay rules for fuzzy snapshots (a
// create that meets an existing node still raises the parent's cversion, a
// delete of a missing child still raises the parent's pzxid). Time comes from
// txn headers only.
//
// Layout, built for millions of znodes: a Node is 128 bytes (its exported
// fields and three small words); no full path is stored per znode (only the
// paths of ephemeral, container and TTL znodes are kept, in their sets).
// Each znode with children owns a childSet: the children's names, stored
// once in an append-only arena whose offsets double as insertion order, and
// an index over the children (a sorted slice while small, an open-addressing
// hash table above 32 children, a Go map should crafted names make the
// table's fixed hash collide). A lookup walks the path's components. Equal
// ACL lists are interned and shared. Snapshots list siblings in the order
// Java's HashSet iterates them (bucket of String.hashCode, then insertion
// order), so a tree built by the same transactions serializes to the same
// bytes as Apache ZooKeeper. Deserialize uses the pre-order of snapshots:
// it fills each parent's children in bulk and indexes them once.
//
// A Tree is not safe for concurrent use: the server serializes access. The
// package never starts goroutines, reads clocks, opens files or sockets, and
// does no I/O except through the jute encoders and decoders handed to it.
package tree
