package ensemble

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// snapSignature ends the database a leader streams after SNAP
// (LearnerHandler writes the jute string "BenWasHere").
const snapSignature = "BenWasHere"

var errSnapStream = errors.New("ensemble: bad snapshot stream after SNAP")

// maxSnapStream bounds the database a learner accepts after SNAP: a
// peer's stream is held in memory while it is read, and one that never
// ends must not take all of it.
const maxSnapStream = 16 << 30

// readSnapStream reads the database that follows a SNAP packet on the
// quorum port, as ZKDatabase.serializeSnapshot writes it: the sessions
// (int count, then long id and int timeout each), the DataTree (the ACL
// cache: int count, then long id and vector<ACL> each; then each node as
// ustring path and DataNode{buffer data, long acl, StatPersisted} until
// the path "/"), then the signature string. It returns the sessions and
// tree bytes (what the snapshot file holds between its header and its
// seal). max bounds every field's length, maxSnapStream the whole.
func readSnapStream(r *bufio.Reader, max int) ([]byte, error) {
	var out bytes.Buffer
	total := 0
	read := func(n int) ([]byte, error) {
		if n < 0 || int64(total)+int64(n) > maxSnapStream {
			return nil, fmt.Errorf("%w: %d bytes", errSnapStream, n)
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, err
		}
		total += n
		return b, nil
	}
	keep := func(b []byte) { out.Write(b) }
	readInt := func(keepIt bool) (int32, error) {
		b, err := read(4)
		if err != nil {
			return 0, err
		}
		if keepIt {
			keep(b)
		}
		return int32(binary.BigEndian.Uint32(b)), nil
	}
	readFixed := func(n int) error {
		b, err := read(n)
		if err == nil {
			keep(b)
		}
		return err
	}
	// A length-prefixed buffer or string (-1: null).
	readBuffer := func(keepIt bool) ([]byte, error) {
		n, err := readInt(keepIt)
		if err != nil || n == -1 {
			return nil, err
		}
		if int(n) > max || n < -1 {
			return nil, fmt.Errorf("%w: length %d", errSnapStream, n)
		}
		b, err := read(int(n))
		if err == nil && keepIt {
			keep(b)
		}
		return b, err
	}
	sessions, err := readInt(true)
	if err != nil {
		return nil, err
	}
	if sessions < 0 {
		return nil, fmt.Errorf("%w: %d sessions", errSnapStream, sessions)
	}
	if err := readFixed(12 * int(sessions)); err != nil {
		return nil, err
	}
	acls, err := readInt(true)
	if err != nil {
		return nil, err
	}
	for i := int32(0); i < acls; i++ {
		if err := readFixed(8); err != nil {
			return nil, err
		}
		n, err := readInt(true)
		if err != nil {
			return nil, err
		}
		for j := int32(0); j < n; j++ {
			if err := readFixed(4); err != nil { // perms
				return nil, err
			}
			for range 2 { // scheme, id
				if _, err := readBuffer(true); err != nil {
					return nil, err
				}
			}
		}
	}
	for {
		path, err := readBuffer(true)
		if err != nil {
			return nil, err
		}
		if string(path) == "/" {
			break
		}
		if _, err := readBuffer(true); err != nil { // data
			return nil, err
		}
		if err := readFixed(8 + 60); err != nil { // acl id, StatPersisted
			return nil, err
		}
	}
	sig, err := readBuffer(false)
	if err != nil {
		return nil, err
	}
	if string(sig) != snapSignature {
		return nil, fmt.Errorf("%w: signature %q, want %q", errSnapStream, sig, snapSignature)
	}
	return out.Bytes(), nil
}

// appendSnapStream is what follows a SNAP packet: the database, then the
// signature.
func appendSnapStream(dst, db []byte) []byte {
	dst = append(dst, db...)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(snapSignature)))
	return append(dst, snapSignature...)
}
