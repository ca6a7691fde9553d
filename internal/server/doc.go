// Package server is the glue of zkd: it accepts client connections on the
// client port, runs the write path (prep → propose → persist → commit →
// apply → reply) around zab's state machine and answers reads from the tree.
//
// A standalone server is an ensemble of one voter (a zab.Peer with
// Standalone set, on an ensemble.Replica that opens no port): zab assigns
// the zxids, says what to persist and what is committed, and the local
// fsync completion is stepped back into it as that voter's ACK. Standalone,
// leader and follower run the same driver (ensemble.go) and the same
// apply path: there is one write pipeline.
//
// Goroutines:
//   - each connection has a reader, which decodes requests, answers reads
//     with nothing ahead of them at once, and submits writes to the
//     driver's bounded queue; and, only while replies wait, a writer,
//     which flushes queued replies and notifications in batches and ends
//     when the queue is empty (one at a time, so replies keep their order;
//     an idle connection costs one goroutine);
//   - the replica's driver is the only goroutine that touches zab and
//     prep (every method of replicated runs there): it prepares writes
//     against the tree plus the changes still in flight (ZooKeeper's
//     outstanding changes), proposes them (or forwards them to the
//     leader), carries out each Ready (epoch files, appends through the
//     log's group commit, quorum messages, committed txns handed to the
//     apply step) and runs the ticks (session expiry, containers, TTLs).
//     It holds no lock while it waits;
//   - the log's committer fsyncs and completes appends;
//   - the apply goroutine applies committed txns in zxid order, keyed on
//     the txn, not on a request: the connection that asked for it, if it
//     is here, is matched by the request the driver recorded for the zxid;
//   - the snapshot goroutine writes fuzzy snapshots, holding applyMu only
//     in slices of about a millisecond and never across I/O.
//
// Reads run on the goroutine that finds them at the head of their
// connection's FIFO (the reader, or the apply goroutine completing the
// write ahead of them) under the tree's read lock, behind that connection's
// pending writes (ZooKeeper's FIFO client order).
//
// Every queue is bounded: the driver's queue, globalOutstandingLimit on
// requests queued in the server (readers pause, as ZooKeeper's do), and per
// connection the replies waiting to be written (reading pauses past
// readPauseBytes, the connection is closed past maxQueuedBytes).
//
// Lock order (a lock is only taken while holding locks to its left):
//
//	applyMu → dbMu → digestMu
//	applyMu → sessMu
//	fifoMu → dbMu (read) → watch manager → a connection's authMu
//	dbMu → a connection's outMu (watch events are queued under the tree's lock)
//	fifoMu → outMu, fifoMu → throttleMu, fifoMu → stats
//	connMu → outMu (Close closes every connection)
//
// sessMu, digestMu, throttleMu, authMu, outMu and the stats mutexes are
// leaves: nothing is locked while one of them is held. No lock is held
// across a wait on the disk or a socket.
package server
