package server

import (
	"strings"
	"unicode/utf8"
)

// validatePath applies ZooKeeper's PathUtils.validatePath rules.
func validatePath(path string, sequential bool) bool {
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

// parentOf returns the parent path of a valid non-root path.
func parentOf(path string) string {
	i := strings.LastIndexByte(path, '/')
	if i <= 0 {
		return "/"
	}
	return path[:i]
}
