// Package jute is Apache ZooKeeper's binary record codec ("jute"), as used on
// the client port, the quorum ports and in transaction logs and snapshots.
//
// Every value is big-endian with no tags or padding:
//
//	byte      1 byte
//	boolean   1 byte (written 0/1; any non-zero reads as true)
//	int       4 bytes, two's complement
//	long      8 bytes, two's complement
//	buffer    int length + bytes; length -1 is null
//	ustring   int length + UTF-8 bytes; length -1 is null
//	vector<T> int count + elements; count -1 is null
//
// Records are plain structs with hand-written Encode/Decode methods; the codec
// uses no reflection. Decoder errors are sticky so that a record's Decode can
// read every field and check Err once. Lengths are bounded by a maximum (ZooKeeper's
// jute.maxbuffer) and by the bytes actually present, so hostile input never
// makes the decoder allocate more than the frame it was given.
//
// The package owns only the primitive encoding. A stream decoder reads
// the io.Reader it is given (a snapshot too long to hold whole); the
// package never opens a file or a socket itself.
package jute
