// Package assist answers the Jupyter requests that help a person write a
// cell: complete_request (candidates for the text before the cursor) and
// inspect_request (the documentation of the name under the cursor), and the
// help magics (?name, %help) that share the same lookup.
//
// Documentation comes from Go source: the standard library under
// $GOROOT/src, the Gantry packages embedded in the kernel, and the
// declarations of the cells run so far, which the executor describes with a
// Scope. Package sources are parsed only when a request needs them, one
// directory at a time, and kept in the Assistant.
//
// Positions in the requests and replies count Unicode code points, as
// Jupyter does, not bytes.
package assist

import (
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Scope is what the interpreter knows about the cells run so far.
type Scope interface {
	// Names returns the identifiers declared in cells (vars, funcs, types,
	// consts), e.g. "x", "f", "T"; methods may appear as "T.M".
	Names() []string
	// Decl returns the declaration source and doc comment of a
	// cell-declared name ("T.M" for methods).
	Decl(name string) (src, doc string, ok bool)
	// Imports maps the local name of each package imported in cells to its
	// import path, e.g. "fmt" -> "fmt", "display" -> "gantry/display".
	Imports() map[string]string
	// Exports returns the exported names of an importable package.
	Exports(path string) []string
}

// gantryPrefix is the import path under which the packages of the extra
// file system are importable: the directory "display" of extra holds the
// package "gantry/display".
const gantryPrefix = "gantry/"

// goEnvTimeout bounds the `go env GOROOT` lookup.
const goEnvTimeout = 10 * time.Second

// An Assistant completes and documents Go code in cells. It keeps the
// package documentation it has parsed, so one Assistant should serve a
// whole session. Its methods are safe for concurrent use.
type Assistant struct {
	extra fs.FS // sources of gantry packages, by directory; may be nil

	rootOnce sync.Once
	goroot   string // as given to New; "" to look it up
	srcFS    fs.FS  // $GOROOT/src, or nil without sources; set by rootOnce

	mu   sync.Mutex
	pkgs map[string]*pkgEntry // by import path

	pathsOnce sync.Once
	paths     []string // importable package paths, sorted
}

// New returns an Assistant that reads the standard library's sources from
// goroot/src and the sources of the Gantry packages from extra, whose
// top-level directories ("display", "sdk") hold the packages imported as
// "gantry/display", "gantry/sdk". extra may be nil.
//
// If goroot is empty, New looks it up with `go env GOROOT`, falling back to
// the GOROOT environment variable, in the background so that the lookup
// does not delay the kernel's start. Without standard library sources the
// Assistant still works: documentation of standard names is just not found.
func New(goroot string, extra fs.FS) *Assistant {
	a := &Assistant{
		extra:  extra,
		goroot: goroot,
		pkgs:   make(map[string]*pkgEntry),
	}
	if goroot == "" {
		go a.resolveRoot()
	}
	return a
}

// stdlib returns the file system of $GOROOT/src, or nil if there are no
// sources, waiting for the GOROOT lookup that New started if need be.
func (a *Assistant) stdlib() fs.FS {
	a.resolveRoot() // waits for a lookup in progress
	return a.srcFS
}

// resolveRoot determines srcFS once.
func (a *Assistant) resolveRoot() {
	a.rootOnce.Do(func() {
		root := a.goroot
		if root == "" {
			root = findGoroot()
		}
		if root == "" {
			return
		}
		src := filepath.Join(root, "src")
		if fi, err := os.Stat(src); err != nil || !fi.IsDir() {
			return
		}
		a.srcFS = os.DirFS(src)
	})
}

// findGoroot asks the go command for GOROOT, falling back to $GOROOT.
func findGoroot() string {
	ctx, cancel := context.WithTimeout(context.Background(), goEnvTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "env", "GOROOT").Output()
	if err == nil {
		if root := strings.TrimSpace(string(out)); root != "" {
			return root
		}
	}
	return os.Getenv("GOROOT")
}

// imports returns the packages visible to code: those imported by earlier
// cells and those that code itself imports (which win, being newer).
func imports(s Scope, code string) map[string]string {
	m := make(map[string]string)
	if s != nil {
		for name, path := range s.Imports() {
			m[name] = path
		}
	}
	for name, path := range codeImports(code) {
		m[name] = path
	}
	return m
}

// localName returns the name a package is known by when imported without
// an alias: the last element of its path, skipping a major version suffix
// ("math/rand/v2" is rand).
func localName(path string) string {
	elems := strings.Split(path, "/")
	name := elems[len(elems)-1]
	if len(elems) > 1 && isMajorVersion(name) {
		name = elems[len(elems)-2]
	}
	return name
}

// isMajorVersion reports whether elem looks like "v2", "v10".
func isMajorVersion(elem string) bool {
	if len(elem) < 2 || elem[0] != 'v' {
		return false
	}
	for _, c := range elem[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
