// Command treeload measures what restarting on a large data directory costs
// the data tree: it writes (once) a snapshot of N znodes of 100 bytes below
// /zkbench/data, the shape `zkd bench --prepopulate` leaves, then times
// storage.LoadNewestSnapshot with tree.Deserialize and reports the live heap
// and the process's peak RSS. It is a benchmark helper only: nothing in zkd
// imports it, and it never touches a data directory it did not create.
//
//	go run ./internal/tree/treeload -dir /tmp/treeload -znodes 1000000
package main
