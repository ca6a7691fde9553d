package tree

import (
	"encoding/binary"
	"hash/crc32"
	"strings"
)

// nodeDigest is a znode's digest term (DigestCalculator, version 2): CRC32
// of the path's bytes (the root as ""), the data (nothing if null), then the
// stored stat as czxid, mzxid, pzxid, ctime, mtime, version, cversion,
// aversion, ephemeralOwner, big-endian. Znodes below /zookeeper/ count 0.
func (t *Tree) nodeDigest(path string, n *Node) uint32 {
	if strings.HasPrefix(path, "/zookeeper/") {
		return 0
	}
	if path == "/" {
		path = ""
	}
	// One CRC pass over path, data and stat is faster than three short
	// ones; large data is not worth copying for it.
	b := append(t.scratch[:0], path...)
	var crc uint32
	if len(n.Data) <= 1024 {
		b = append(b, n.Data...)
	} else {
		crc = crc32.Update(crc32.ChecksumIEEE(b), crc32.IEEETable, n.Data)
		b = b[:0]
	}
	s := &n.Stat
	b = binary.BigEndian.AppendUint64(b, uint64(s.Czxid))
	b = binary.BigEndian.AppendUint64(b, uint64(s.Mzxid))
	b = binary.BigEndian.AppendUint64(b, uint64(s.Pzxid))
	b = binary.BigEndian.AppendUint64(b, uint64(s.Ctime))
	b = binary.BigEndian.AppendUint64(b, uint64(s.Mtime))
	b = binary.BigEndian.AppendUint32(b, uint32(s.Version))
	b = binary.BigEndian.AppendUint32(b, uint32(s.Cversion))
	b = binary.BigEndian.AppendUint32(b, uint32(s.Aversion))
	b = binary.BigEndian.AppendUint64(b, uint64(s.EphemeralOwner))
	crc = crc32.Update(crc, crc32.IEEETable, b)
	t.scratch = b
	return crc
}

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
