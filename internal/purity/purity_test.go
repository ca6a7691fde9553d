// Package purity holds one rule as a test: the deterministic core opens no
// files or sockets, reads no clock, draws no randomness and starts no
// goroutines (design.md, principle 2). The pure packages and every package
// of this module they import, transitively, are read with go/parser; the
// standard library is not walked, only the imports that cross into it are
// checked.
package purity

import (
	"bufio"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// purePackages are the core, relative to the module path.
var purePackages = []string{
	"internal/jute", "internal/proto", "internal/txn", "internal/tree",
	"internal/session", "internal/acl", "internal/prep", "internal/zab",
}

// forbiddenImport says why a standard-library import is refused, or "".
func forbiddenImport(path string) string {
	switch {
	case path == "net/netip":
		// Addresses as values (the ip ACL scheme parses them): no sockets,
		// and net/netip does not import net.
		return ""
	case path == "os" || strings.HasPrefix(path, "os/"), path == "io/ioutil":
		return "files and processes"
	case path == "net" || strings.HasPrefix(path, "net/"):
		return "the network"
	case path == "syscall" || strings.HasPrefix(path, "syscall/"):
		return "system calls"
	case path == "math/rand" || strings.HasPrefix(path, "math/rand/"), path == "crypto/rand":
		return "randomness"
	}
	return ""
}

// clockFuncs are the functions of package time that read or wait on the
// clock; time's types and arithmetic stay allowed.
var clockFuncs = map[string]bool{
	"Now": true, "Since": true, "Until": true, "Sleep": true, "After": true,
	"AfterFunc": true, "NewTimer": true, "NewTicker": true, "Tick": true,
}

// A violation is one broken rule at one place.
type violation struct {
	pos  token.Position
	rule string
}

func (v violation) String() string {
	return fmt.Sprintf("%s:%d: %s", v.pos.Filename, v.pos.Line, v.rule)
}

// checkFile returns f's violations and the module-internal packages it
// imports (to be walked in turn).
func checkFile(fset *token.FileSet, f *ast.File, module string) (vs []violation, internal []string) {
	at := func(n ast.Node, format string, args ...any) {
		vs = append(vs, violation{fset.Position(n.Pos()), fmt.Sprintf(format, args...)})
	}
	timeName := "" // what this file calls package time
	for _, imp := range f.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		switch first, _, _ := strings.Cut(path, "/"); {
		case path == module || strings.HasPrefix(path, module+"/"):
			internal = append(internal, path)
		case strings.Contains(first, "."):
			at(imp, "imports %s: outside the module and the standard library, so this test cannot vet it", path)
		case forbiddenImport(path) != "":
			at(imp, "imports %s (%s)", path, forbiddenImport(path))
		case path == "time":
			timeName = "time"
			if imp.Name != nil {
				timeName = imp.Name.Name
			}
			if timeName == "." {
				at(imp, "dot-imports time, which hides its clock calls")
			}
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.GoStmt:
			at(n, "starts a goroutine (go statement)")
		case *ast.SelectorExpr:
			// A use, called or not (time.Now passed as a func reads the clock too).
			// Obj is nil for a package name: a local variable named time has one.
			if id, ok := n.X.(*ast.Ident); ok && timeName != "" && id.Name == timeName && id.Obj == nil && clockFuncs[n.Sel.Name] {
				at(n, "uses time.%s (the clock)", n.Sel.Name)
			}
		}
		return true
	})
	return vs, internal
}

// checkPackages walks the packages named (as module-relative directories)
// and every module package they import; it returns the violations and, for
// each package walked, the chain of imports that reached it.
func checkPackages(root, module string, pkgs []string) ([]violation, map[string][]string, error) {
	fset := token.NewFileSet()
	var vs []violation
	reached := make(map[string][]string)
	queue := slices.Clone(pkgs)
	for _, p := range pkgs {
		reached[p] = []string{p}
	}
	for len(queue) > 0 {
		pkg := queue[0]
		queue = queue[1:]
		dir := filepath.Join(root, filepath.FromSlash(pkg))
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, nil, err
		}
		files := 0
		for _, e := range entries {
			name := e.Name()
			if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
				continue
			}
			files++
			src, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				return nil, nil, err
			}
			f, err := parser.ParseFile(fset, pkg+"/"+name, src, 0)
			if err != nil {
				return nil, nil, err
			}
			fileVs, imports := checkFile(fset, f, module)
			for i := range fileVs {
				if chain := reached[pkg]; len(chain) > 1 {
					fileVs[i].rule += " (" + chain[0] + " is imported by " + strings.Join(chain[1:], " <- ") + ")"
				}
			}
			vs = append(vs, fileVs...)
			for _, imp := range imports {
				rel := strings.TrimPrefix(strings.TrimPrefix(imp, module), "/")
				if _, seen := reached[rel]; !seen {
					reached[rel] = append([]string{rel}, reached[pkg]...)
					queue = append(queue, rel)
				}
			}
		}
		if files == 0 {
			return nil, nil, fmt.Errorf("%s: no non-test Go files", pkg)
		}
	}
	return vs, reached, nil
}

// moduleRoot finds go.mod above the test's directory and returns its
// directory and module path.
func moduleRoot(t *testing.T) (string, string) {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		f, err := os.Open(filepath.Join(dir, "go.mod"))
		if err == nil {
			defer f.Close()
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				if rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
					return dir, strings.Trim(strings.TrimSpace(rest), `"`)
				}
			}
			t.Fatalf("%s/go.mod names no module", dir)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

func TestCorePackagesArePure(t *testing.T) {
	root, module := moduleRoot(t)
	vs, reached, err := checkPackages(root, module, purePackages)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		t.Error(v)
	}
	walked := make([]string, 0, len(reached))
	for p := range reached {
		walked = append(walked, p)
	}
	slices.Sort(walked)
	t.Logf("walked %v", walked)
}

// The checker itself must see each kind of violation, or the test above
// could pass by seeing nothing.
func TestCheckerFindsEachViolation(t *testing.T) {
	const src = `package p

import (
	"crypto/rand"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	clock "time"
	"unsafe"

	"example.com/x"
	"github.com/zkd/zkd/internal/jute"
)

func f(t clock.Time) {
	_ = netip.Addr{}
	_ = unsafe.Sizeof(t)
	now := clock.Now
	go f(now())
	clock.Sleep(clock.Second)
	_ = t.After(t) // a method of Time, not the clock
	{
		clock := struct{ Now int }{}
		_ = clock.Now // a local variable, not package time
	}
}
`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "p.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	vs, internal := checkFile(fset, f, "github.com/zkd/zkd")
	var got []string
	for _, v := range vs {
		got = append(got, v.String())
	}
	want := []string{
		"p.go:4: imports crypto/rand (randomness)",
		"p.go:5: imports net (the network)",
		"p.go:6: imports net/http (the network)",
		"p.go:8: imports os (files and processes)",
		"p.go:9: imports os/exec (files and processes)",
		"p.go:13: imports example.com/x: outside the module and the standard library, so this test cannot vet it",
		"p.go:20: uses time.Now (the clock)",
		"p.go:21: starts a goroutine (go statement)",
		"p.go:22: uses time.Sleep (the clock)",
	}
	if !slices.Equal(got, want) {
		t.Errorf("violations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !slices.Equal(internal, []string{"github.com/zkd/zkd/internal/jute"}) {
		t.Errorf("module imports %v, want internal/jute", internal)
	}
}
