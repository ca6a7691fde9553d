// Package txn holds ZooKeeper's transaction records exactly as they appear in
// transaction logs and in quorum PROPOSAL packets: the TxnHeader, one body
// per txn type (CreateTxn, DeleteTxn, SetDataTxn, MultiTxn, ...) and the
// optional TxnDigest that follows the body.
//
// An entry is TxnHeader + body + optional TxnDigest; Marshal and Unmarshal
// convert between entries and Txn values. The package never applies a txn
// (that is the tree's job) and never does I/O.
package txn
