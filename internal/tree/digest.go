package tree

import (
	"encoding/binary"
	"hash/crc32"
	"strings"

	"github.com/zkd/zkd/internal/proto"
)

// nodeDigest is a znode's digest term (DigestCalculator, version 2), see
// NodeDigest; it reuses the tree's scratch buffer.
func (t *Tree) nodeDigest(path string, n *Node) uint32 {
	var d uint32
	d, t.scratch = AppendNodeDigest(t.scratch, path, n.Data, &n.Stat)
	return d
}

// NodeDigest is a znode's digest term (DigestCalculator, version 2): CRC32
// of the path's bytes (the root, "/" or "", as ""), the data (nothing if
// null), then the stored stat as czxid, mzxid, pzxid, ctime, mtime,
// version, cversion, aversion, ephemeralOwner, big-endian. Znodes below
// /zookeeper/ count 0. The tree digest is the sum of these terms, so a
// change to one znode moves it by the new term minus the old one: the prep
// step predicts the digest after a txn this way, without the tree.
func NodeDigest(path string, data []byte, s *proto.StatPersisted) uint32 {
	var buf [128]byte
	d, _ := AppendNodeDigest(buf[:0], path, data, s)
	return d
}

// AppendNodeDigest is NodeDigest using scratch as its buffer, returned
// (grown if need be) for the next call.
func AppendNodeDigest(scratch []byte, path string, data []byte, s *proto.StatPersisted) (uint32, []byte) {
	if strings.HasPrefix(path, "/zookeeper/") {
		return 0, scratch
	}
	if path == "/" {
		path = ""
	}
	// One CRC pass over path, data and stat is faster than three short
	// ones; large data is not worth copying for it.
	b := append(scratch[:0], path...)
	var crc uint32
	if len(data) <= 1024 {
		b = append(b, data...)
	} else {
		crc = crc32.Update(crc32.ChecksumIEEE(b), crc32.IEEETable, data)
		b = b[:0]
	}
	b = binary.BigEndian.AppendUint64(b, uint64(s.Czxid))
	b = binary.BigEndian.AppendUint64(b, uint64(s.Mzxid))
	b = binary.BigEndian.AppendUint64(b, uint64(s.Pzxid))
	b = binary.BigEndian.AppendUint64(b, uint64(s.Ctime))
	b = binary.BigEndian.AppendUint64(b, uint64(s.Mtime))
	b = binary.BigEndian.AppendUint32(b, uint32(s.Version))
	b = binary.BigEndian.AppendUint32(b, uint32(s.Cversion))
	b = binary.BigEndian.AppendUint32(b, uint32(s.Aversion))
	b = binary.BigEndian.AppendUint64(b, uint64(s.EphemeralOwner))
	return crc32.Update(crc, crc32.IEEETable, b), b
}

// Digest is n's digest term, as NodeDigest computes it for its path, kept
// up to date by Apply (read it under the same lock).
func (n *Node) Digest() uint32 { return n.digest }

// redigest replaces n's digest term after a change (DataTree's
// preChange/postChange pair).
func (t *Tree) redigest(path string, n *Node) {
	t.digest -= int64(n.digest)
	n.digest = t.nodeDigest(path, n)
	t.digest += int64(n.digest)
}

// RecomputeDigest computes the tree digest from scratch, without the
// incremental bookkeeping Digest relies on; tests and consistency checks
// compare the two.
func (t *Tree) RecomputeDigest() int64 {
	var sum int64
	t.Walk("/", func(p string, n *Node) bool {
		sum += int64(t.nodeDigest(p, n))
		return true
	})
	return sum
}
