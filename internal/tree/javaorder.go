package tree

import (
	"cmp"
	"slices"
	"unicode/utf8"
)

// ZooKeeper keeps a znode's children in a java.util.HashSet and its ACL
// cache in a java.util.HashMap, and writes snapshots in their iteration
// order. These helpers reproduce that order: by table bucket (the spread
// hash masked by the table size), then by insertion order within a bucket.
// Treeified buckets (9+ colliding names in a table of 64+ slots) iterate in a
// different order that is not reproduced.

// javaStringHash is String.hashCode of the Java string that s decodes to
// (UTF-16 units; invalid UTF-8 bytes become U+FFFD).
func javaStringHash[T string | []byte](s T) int32 {
	var h int32
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			h = 31*h + int32(c)
			i++
			continue
		}
		r, size := decodeRune(s[i:])
		i += size
		if r >= 0x10000 {
			r -= 0x10000
			h = 31*h + int32(0xd800+(r>>10))
			h = 31*h + int32(0xdc00+(r&0x3ff))
		} else {
			h = 31*h + int32(r)
		}
	}
	return h
}

// decodeRune is utf8.DecodeRune or utf8.DecodeRuneInString.
func decodeRune[T string | []byte](s T) (rune, int) {
	if b, ok := any(s).([]byte); ok {
		return utf8.DecodeRune(b)
	}
	return utf8.DecodeRuneInString(string(s))
}

// javaLength is String.length() of the Java string s decodes to.
func javaLength(s string) int64 {
	n := int64(0)
	for i := 0; i < len(s); {
		if s[i] < utf8.RuneSelf {
			n++
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}

// javaSpread is HashMap.hash: the high half folded into the low half.
func javaSpread(h int32) uint32 { return uint32(h) ^ uint32(h)>>16 }

func javaBucket[T string | []byte](name T, tableSize int32) uint32 {
	return javaSpread(javaStringHash(name)) & uint32(tableSize-1)
}

// javaTableSizeFor is HashMap.tableSizeFor: the smallest power of two >= c.
func javaTableSizeFor(c int) int {
	n := 1
	for n < c {
		n <<= 1
	}
	return n
}

// javaChild is a child with its place in Java's iteration order.
type javaChild struct {
	bucket uint32
	seq    uint32 // the name's arena offset, which grows with insertion order
	node   *Node
}

// childrenInJavaOrder lists ks in the order its Java HashSet iterates:
// by bucket, then by insertion. It reuses buf.
func childrenInJavaOrder(ks *childSet, buf []javaChild) []javaChild {
	buf = buf[:0]
	ks.each(func(n *Node) {
		buf = append(buf, javaChild{javaBucket(ks.nameOf(n), ks.javaCap), n.name, n})
	})
	slices.SortFunc(buf, func(a, b javaChild) int {
		if c := cmp.Compare(a.bucket, b.bucket); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	return buf
}

// aclIDsInJavaOrder orders ACL cache ids as ReferenceCountedACLCache.serialize
// writes them: it iterates a HashMap<Long,...> copied from the cache, whose
// table size the copy constructor derives from the entry count (JDK 17:
// tableSizeFor(count/0.75f + 1)). Within a bucket ids are taken in ascending
// order, which is the cache's insertion order whenever ids were handed out
// in sequence.
func aclIDsInJavaOrder(ids []int64) []int64 {
	if len(ids) == 0 {
		return ids
	}
	size := javaTableSizeFor(int(float32(len(ids))/0.75 + 1))
	bucket := func(id int64) uint32 {
		h := int32(id ^ int64(uint64(id)>>32))
		return javaSpread(h) & uint32(size-1)
	}
	slices.SortFunc(ids, func(a, b int64) int {
		if c := cmp.Compare(bucket(a), bucket(b)); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	return ids
}
