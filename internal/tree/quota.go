package tree

import (
	"sort"
	"strconv"
	"strings"
)

// Quotas, as DataTree keeps them: a path P has a quota when the znode
// /zookeeper/quota/P/zookeeper_limits exists; /zookeeper/quota/P/zookeeper_stats
// then holds "count=N,bytes=M" for the subtree at P, and the tree rewrites it
// on every create, delete and setData inside P (the stats znode's stat is not
// touched). Enforcement is the server's business.

const (
	limitNode = "zookeeper_limits"
	statNode  = "zookeeper_stats"
)

// normalizeQuotaPath is the path as ZooKeeper's PathTrie sees it: its
// non-empty components under "/" ("" if there are none).
func normalizeQuotaPath(p string) string {
	if !strings.Contains(p, "//") && strings.HasPrefix(p, "/") && !strings.HasSuffix(p, "/") {
		return p
	}
	var parts []string
	for _, c := range strings.Split(p, "/") {
		if c != "" {
			parts = append(parts, c)
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "/" + strings.Join(parts, "/")
}

// maxQuotaPrefix is getMaxPrefixWithQuota: the longest path with a quota
// that is path or an ancestor of it, or "" if none.
func (t *Tree) maxQuotaPrefix(path string) string {
	if len(t.quotas) == 0 {
		return ""
	}
	p := normalizeQuotaPath(path)
	best := ""
	for i := 1; i <= len(p); i++ {
		if i == len(p) || p[i] == '/' {
			if _, ok := t.quotas[p[:i]]; ok {
				best = p[:i]
			}
		}
	}
	return best
}

// quotaCreated runs DataTree.createNode's quota steps for a new znode.
func (t *Tree) quotaCreated(parentPath, childName, path string, dataLen int) {
	if strings.HasPrefix(parentPath, quotaPath) {
		switch childName {
		case limitNode:
			if prefix := normalizeQuotaPath(parentPath[len(quotaPath):]); prefix != "" {
				t.quotas[prefix] = struct{}{}
			}
		case statNode:
			if prefix := parentPath[len(quotaPath):]; prefix != "" {
				t.recountQuota(prefix)
			}
		}
	}
	if prefix := t.maxQuotaPrefix(path); prefix != "" {
		t.addQuotaStat(prefix, int64(dataLen), 1)
	}
}

// quotaDeleted runs DataTree.deleteNode's quota steps for a removed znode.
func (t *Tree) quotaDeleted(parentPath, childName, path string, dataLen int) {
	if strings.HasPrefix(parentPath, quotaPath) && childName == limitNode {
		if prefix := normalizeQuotaPath(parentPath[len(quotaPath):]); prefix != "" {
			delete(t.quotas, prefix)
		}
	}
	if prefix := t.maxQuotaPrefix(path); prefix != "" {
		t.addQuotaStat(prefix, -int64(dataLen), -1)
	}
}

// addQuotaStat is updateQuotaStat: adds to the count and bytes of prefix's
// stats znode, keeping any other fields it holds.
func (t *Tree) addQuotaStat(prefix string, bytesDiff, countDiff int64) {
	n := t.Get(quotaPath + prefix + "/" + statNode)
	if n == nil {
		return
	}
	st := parseStatsTrack(n.Data)
	st.set("count", st.get("count")+countDiff)
	st.set("bytes", st.get("bytes")+bytesDiff)
	n.Data = st.bytes()
}

// recountQuota is updateQuotaForPath: sets prefix's stats znode to the count
// and data bytes of the subtree at prefix.
func (t *Tree) recountQuota(prefix string) {
	var count, bytes int64
	if sub := t.Get(prefix); sub != nil {
		var add func(n *Node)
		add = func(n *Node) {
			count++
			bytes += int64(len(n.Data))
			if n.kids != nil {
				n.kids.each(add)
			}
		}
		add(sub)
	}
	statPath := quotaPath + prefix + "/" + statNode
	n := t.Get(statPath)
	if n == nil {
		return
	}
	st := statsTrack{}
	st.set("count", count)
	st.set("bytes", bytes)
	n.Data = st.bytes()
	t.redigest(statPath, n)
}

// setupQuotas is DataTree.setupQuota after a snapshot load: every leaf below
// /zookeeper/quota named zookeeper_limits declares a quota; its stats are
// recounted from the tree.
func (t *Tree) setupQuotas() {
	var leaves []string
	t.Walk(quotaPath, func(p string, n *Node) bool {
		if n.NumChildren() == 0 && strings.HasSuffix(p, "/"+limitNode) {
			leaves = append(leaves, p)
		}
		return true
	})
	for _, p := range leaves {
		realPath := p[len(quotaPath):strings.Index(p, "/"+limitNode)]
		if realPath == "" {
			continue
		}
		t.recountQuota(realPath)
		if norm := normalizeQuotaPath(realPath); norm != "" {
			t.quotas[norm] = struct{}{}
		}
	}
}

// statsTrack is ZooKeeper's StatsTrack: "key=value" pairs separated by ','
// or ';'. Missing keys read as -1.
type statsTrack struct {
	keys []string
	vals []int64
}

// parseStatsTrack reads a stats string, skipping pairs ZooKeeper would fail on.
func parseStatsTrack(b []byte) statsTrack {
	var st statsTrack
	for _, pair := range strings.FieldsFunc(string(b), func(r rune) bool { return r == ',' || r == ';' }) {
		kv := strings.Split(pair, "=")
		for len(kv) > 0 && kv[len(kv)-1] == "" { // Java's split drops trailing empty strings
			kv = kv[:len(kv)-1]
		}
		if len(kv) < 2 {
			continue
		}
		v, err := strconv.ParseInt(kv[1], 10, 64)
		if err != nil {
			continue
		}
		st.set(kv[0], v)
	}
	return st
}

func (st *statsTrack) get(k string) int64 {
	for i, key := range st.keys {
		if key == k {
			return st.vals[i]
		}
	}
	return -1
}

func (st *statsTrack) set(k string, v int64) {
	for i, key := range st.keys {
		if key == k {
			st.vals[i] = v
			return
		}
	}
	st.keys = append(st.keys, k)
	st.vals = append(st.vals, v)
}

// bytes is StatsTrack.toString: count and bytes first, then, after an extra
// "=" that old parsers ignore, the other keys in order, ';'-separated.
func (st *statsTrack) bytes() []byte {
	b := []byte("count=")
	b = strconv.AppendInt(b, st.get("count"), 10)
	b = append(b, ",bytes="...)
	b = strconv.AppendInt(b, st.get("bytes"), 10)
	var rest []string
	for _, k := range st.keys {
		if k != "count" && k != "bytes" {
			rest = append(rest, k)
		}
	}
	if len(rest) > 0 {
		b = append(b, '=')
		sort.Strings(rest)
		for _, k := range rest {
			b = append(b, ';')
			b = append(b, k...)
			b = append(b, '=')
			b = strconv.AppendInt(b, st.get(k), 10)
		}
	}
	return b
}
