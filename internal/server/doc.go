// Package server is the glue of zkd: it accepts client connections on the
// client port, runs the write pipeline (prep → propose → persist → commit →
// apply → reply) and answers reads from the tree.
//
// A standalone server is an ensemble of one: the propose/commit step is a
// local quorum of one voter, so the pipeline the replicated ensemble uses is
// the same code path.
//
// Concurrency: each connection has a reader goroutine that decodes requests
// and a writer goroutine that flushes replies and notifications in batches.
// The submitting goroutine (a connection's reader, the ticker) runs prep under
// proposeMu: it validates a write against the tree plus the changes of
// writes still in flight (ZooKeeper's outstanding changes), gives it the next
// zxid and hands its txn to the log's group commit; one apply goroutine
// applies committed txns in zxid order, triggers watches and completes the
// requests. Snapshots are fuzzy: the snapshot goroutine holds applyMu in
// slices of about a millisecond while it writes the tree. Reads run on the connection's
// goroutine under the tree's read lock, behind that connection's pending
// writes (ZooKeeper's FIFO client order).
//
// Lock order: proposeMu → prepMu → dbMu, applyMu → dbMu; sessMu, the watch
// manager's mutex and a connection's locks are leaves.
package server
