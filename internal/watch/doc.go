// Package watch owns the server side of ZooKeeper watches: which connection
// watches which path in which mode, and who is notified when the tree
// changes. It follows the 3.9 WatchManager (with ZOOKEEPER-4466/4471/4472):
// two tables, one for data watches (getData and exists watches, which
// ZooKeeper does not tell apart, plus persistent and persistent-recursive
// watches) and one for child watches (getChildren watches plus persistent
// watches), where a (path, client) pair holds a set of modes: standard
// (one-shot), persistent, persistent-recursive.
//
// Trigger rules for one tree event on path P:
//
//   - NodeCreated, NodeDataChanged: data-table watchers of P; standard
//     watches are used up.
//   - NodeDeleted: data-table and child-table watchers of P, each client
//     notified once.
//   - NodeChildrenChanged (the caller passes the parent's path): child-table
//     watchers of P.
//   - Persistent-recursive watches on P or any ancestor of P get every
//     event of the data table, so never NodeChildrenChanged.
//
// The package never sends anything and never looks at the tree: Trigger
// returns the deliveries and the server writes each WatcherEvent
// (applying the 3.9.2+ rule that a client without READ on the znode is
// skipped; the watch is used up either way, as in ZooKeeper).
//
// Manager is safe for concurrent use: connection goroutines register and
// remove watches while the commit pipeline triggers them.
package watch
