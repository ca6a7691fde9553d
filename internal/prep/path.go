package prep

import (
	"strings"
	"unicode/utf8"

	"github.com/zkd/zkd/internal/tree"
)

// ValidatePath applies ZooKeeper's PathUtils.validatePath rules; a
// sequential path is checked with its suffix to come.
func ValidatePath(path string, sequential bool) bool {
	if sequential {
		path += "1"
	}
	if len(path) == 0 || path[0] != '/' {
		return false
	}
	if len(path) == 1 {
		return true
	}
	if path[len(path)-1] == '/' {
		return false
	}
	if !utf8.ValidString(path) {
		return false
	}
	for _, seg := range strings.Split(path[1:], "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
	}
	for _, c := range path {
		switch {
		// Java sees runes above U+FFFF as surrogate pairs, which it refuses.
		case c <= 0x1f,
			c >= 0x7f && c <= 0x9f,
			c >= 0xd800 && c <= 0xf8ff,
			c >= 0xfff0:
			return false
		}
	}
	return true
}

// parentOf is tree.ParentOf with the root spelled "/", so that the root has
// one key among the outstanding changes whichever way a request names it.
func parentOf(path string) string {
	if p := tree.ParentOf(path); p != "" {
		return p
	}
	return "/"
}

// isSpecialPath: the nodes every server keeps, which cannot be deleted
// (ZKDatabase.isSpecialPath).
func isSpecialPath(path string) bool {
	switch path {
	case "/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config":
		return true
	}
	return false
}
