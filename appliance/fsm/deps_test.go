package fsm

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const selfPath = "github.com/proxypair/proxypair/appliance/fsm"

// TestOnlyTheAlgorithm fences the package: standard library only (tests
// included), and in the non-test code no I/O packages, no goroutines and
// no reading of the clock. The caller owns all of those.
func TestOnlyTheAlgorithm(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("listing the package's files: %v (%d files)", err, len(files))
	}
	forbiddenImports := map[string]bool{
		"os": true, "net": true, "syscall": true, "io": true, "log": true, "log/slog": true,
		"sync": true, "unsafe": true, "math/rand": true, "math/rand/v2": true, "os/exec": true,
	}
	clockReads := map[string]bool{
		"Now": true, "Since": true, "Until": true, "Sleep": true, "After": true,
		"AfterFunc": true, "NewTimer": true, "NewTicker": true, "Tick": true,
	}
	fset := token.NewFileSet()
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatalf("parsing %s: %v", name, err)
		}
		isTest := strings.HasSuffix(name, "_test.go")
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if path == selfPath {
				continue // the external example test imports the package itself
			}
			if first, _, _ := strings.Cut(path, "/"); strings.Contains(first, ".") {
				t.Errorf("%s imports %q: the state machine uses the standard library only", name, path)
			}
			if !isTest && forbiddenImports[path] {
				t.Errorf("%s imports %q: no I/O, goroutine plumbing or randomness in the state machine", name, path)
			}
		}
		if isTest {
			continue
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.GoStmt:
				t.Errorf("%s: go statement at %v: the state machine starts no goroutines", name, fset.Position(n.Pos()))
			case *ast.SelectorExpr:
				if id, ok := n.X.(*ast.Ident); ok && id.Name == "time" && clockReads[n.Sel.Name] {
					t.Errorf("%s: time.%s at %v: the caller passes now", name, n.Sel.Name, fset.Position(n.Pos()))
				}
			}
			return true
		})
	}
}
