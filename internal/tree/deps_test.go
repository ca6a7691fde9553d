package tree

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The tree is part of the deterministic core: no goroutine machinery, no
// clocks, no randomness, no files or sockets. Its non-test files may import
// only these.
var allowedImports = map[string]bool{
	"bytes": true, "cmp": true, "encoding/binary": true, "errors": true, "fmt": true, "hash/crc32": true,
	"math": true, "math/bits": true, "slices": true, "sort": true, "strconv": true, "strings": true,
	"unicode/utf8":                      true,
	"github.com/zkd/zkd/internal/jute":  true,
	"github.com/zkd/zkd/internal/proto": true,
	"github.com/zkd/zkd/internal/txn":   true,
}

func TestImportsStayDeterministic(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if !allowedImports[p] {
				t.Errorf("%s imports %s", name, p)
			}
		}
	}
}
