package importer

import (
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/traefik/yaegi/stdlib"
)

// check type-checks src (a file of package main) with an Importer over
// yaegi's standard library tables and returns the errors, joined.
func check(t *testing.T, im *Importer, fset *token.FileSet, src string) string {
	t.Helper()
	f, err := parser.ParseFile(fset, "main.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	var errs []string
	conf := types.Config{Importer: im, Error: func(err error) { errs = append(errs, err.Error()) }}
	conf.Check("main", fset, []*ast.File{f}, nil)
	return strings.Join(errs, "\n")
}

func TestStandardLibrary(t *testing.T) {
	fset := token.NewFileSet()
	im := New(fset, "")
	im.Use(stdlib.Symbols)
	tests := []struct {
		name, src, wantErr string
	}{
		{"funcs and vars", `package main
import ("fmt"; "os"; "strings")
func main() {
	fmt.Fprintln(os.Stderr, strings.ToUpper("x"))
	var w interface{ Write([]byte) (int, error) } = os.Stdout
	_ = w
}`, ""},
		{"untyped and typed constants", `package main
import ("math"; "time"; "os")
const big = math.MaxInt64
var f float64 = math.Pi
var d time.Duration = 3 * time.Second
var m os.FileMode = os.ModeDir | 0o755
var _ [math.MaxInt8]byte
func main() { _, _, _ = f, d, m }`, ""},
		{"methods, pointer receivers, embedding", `package main
import ("bytes"; "io"; "strings"; "sync")
type T struct { sync.Mutex; b bytes.Buffer }
func main() {
	var t T
	t.Lock(); t.Unlock()
	var r io.Reader = strings.NewReader("x")
	io.Copy(&t.b, r)
	var _ io.Writer = &t.b
}`, ""},
		{"an alias", `package main
import ("io/fs"; "os")
var m fs.FileMode = os.ModeDir
var n os.FileMode = m
func main() {}`, ""},
		{"a missing selector", `package main
import "strings"
func main() { strings.Nope() }`, "undefined: strings.Nope"},
		{"a value receiver does not have a pointer method", `package main
import "bytes"
var _ interface{ Write([]byte) (int, error) } = bytes.Buffer{}
func main() {}`, "does not implement"},
		{"a missing package", `package main
import "no/such/pkg"
func main() { pkg.X() }`, "could not import no/such/pkg"},
		{"generics in compiled signatures", `package main
import ("net/http"; "context"; "errors")
func main() {
	req, err := http.NewRequestWithContext(context.Background(), "GET", "http://x", nil)
	if errors.Is(err, context.Canceled) { return }
	_ = req.Header.Get("a")
}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := check(t, im, fset, tt.src)
			if tt.wantErr == "" && got != "" || !strings.Contains(got, tt.wantErr) {
				t.Errorf("errors = %q, want %q", got, tt.wantErr)
			}
		})
	}
}

func TestSourcePackages(t *testing.T) {
	gopath := t.TempDir()
	dir := filepath.Join(gopath, "src", "example.com/greet")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	src := "package greet\nimport \"strings\"\n// Hello greets.\nfunc Hello(n string) string { return \"hi \" + strings.ToUpper(n) }\n"
	if err := os.WriteFile(filepath.Join(dir, "greet.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	im := New(fset, gopath)
	im.Use(stdlib.Symbols)
	im.AddSource("pair", "package pair\ntype Pair[K comparable, V any] struct { Key K; Val V }\nfunc Of[K comparable, V any](k K, v V) Pair[K, V] { return Pair[K, V]{k, v} }\n")
	got := check(t, im, fset, `package main
import ("example.com/greet"; "pair")
var s string = greet.Hello("x")
var p pair.Pair[string, int] = pair.Of("a", 1)
func main() { _ = greet.Hello(1) }`)
	if !strings.Contains(got, "cannot use 1") || strings.Count(got, "\n") != 0 {
		t.Errorf("errors = %q, want only the bad argument to greet.Hello", got)
	}
	if !im.Has("example.com/greet") || im.Has("example.com/nothing") {
		t.Errorf("Has: want true for a GOPATH package, false for a missing one")
	}
}
