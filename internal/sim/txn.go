package sim

import (
	"encoding/binary"
	"fmt"
)

// A txn is a conditional setData on one of a few keys, decided by the
// leader's prep as ZooKeeper's PrepRequestProcessor decides it: against
// the state after every txn proposed before it. A version mismatch is
// still proposed (ZooKeeper's error txn) so that its reply, too, leaves
// only once everything before it is committed.
type txn struct {
	client, op int
	key        int
	ok         bool  // the version matched: the value is set
	version    int32 // the key's version after the txn (ok only)
	value      string
}

// txnHeaderSize is ZooKeeper's TxnHeader: clientId, cxid, zxid, time, type.
const txnHeaderSize = 32

// encode builds the log record: a TxnHeader (which storage reads the zxid
// from) and the simulation's body.
func (t txn) encode(zxid int64) []byte {
	b := make([]byte, 0, txnHeaderSize+8+len(t.value))
	b = binary.BigEndian.AppendUint64(b, uint64(t.client))
	b = binary.BigEndian.AppendUint32(b, uint32(t.op))
	b = binary.BigEndian.AppendUint64(b, uint64(zxid))
	b = binary.BigEndian.AppendUint64(b, 0) // time: none in the simulation
	b = binary.BigEndian.AppendUint32(b, 5) // OpCode.setData
	b = append(b, byte(t.key))
	if t.ok {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(t.version))
	return append(b, t.value...)
}

func decodeTxn(data string) txn {
	b := []byte(data)
	if len(b) < txnHeaderSize+6 {
		panic(fmt.Sprintf("sim: a txn of %d bytes", len(b)))
	}
	t := txn{client: int(binary.BigEndian.Uint64(b)), op: int(binary.BigEndian.Uint32(b[8:]))}
	b = b[txnHeaderSize:]
	t.key, t.ok = int(b[0]), b[1] == 1
	t.version = int32(binary.BigEndian.Uint32(b[2:]))
	t.value = string(b[6:])
	return t
}

func (t txn) String() string {
	if !t.ok {
		return fmt.Sprintf("c%d.%d k%d badversion", t.client, t.op, t.key)
	}
	return fmt.Sprintf("c%d.%d k%d=%q v%d", t.client, t.op, t.key, t.value, t.version)
}

// kv is one key's value and version.
type kv struct {
	value   string
	version int32
}

// applied is an entry of a server's applied history.
type applied struct {
	zxid int64
	data string
}
