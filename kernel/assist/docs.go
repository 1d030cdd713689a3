package assist

import (
	"errors"
	"fmt"
	"go/ast"
	"go/build"
	"go/doc"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
)

// errNoPackage reports that no sources of a package were found.
var errNoPackage = errors.New("no Go source files")

// pkgDoc is the parsed documentation of one package.
type pkgDoc struct {
	path  string
	fset  *token.FileSet
	doc   *doc.Package
	kinds map[string]string // package-level name -> "function", "type", "variable", "constant"
}

// pkgEntry caches the loading of one package.
type pkgEntry struct {
	once sync.Once
	pkg  *pkgDoc
	err  error
}

// pkg returns the documentation of the package with the given import path,
// parsing its sources the first time.
func (a *Assistant) pkg(importPath string) (*pkgDoc, error) {
	a.mu.Lock()
	e := a.pkgs[importPath]
	if e == nil {
		e = new(pkgEntry)
		a.pkgs[importPath] = e
	}
	a.mu.Unlock()
	e.once.Do(func() {
		e.pkg, e.err = a.loadPkg(importPath)
	})
	return e.pkg, e.err
}

// source returns the file system and directory that hold the sources of
// the package with the given import path.
func (a *Assistant) source(importPath string) (fsys fs.FS, dir string, err error) {
	if dir, ok := strings.CutPrefix(importPath, gantryPrefix); ok {
		if a.extra == nil || !fs.ValidPath(dir) {
			return nil, "", fmt.Errorf("package %s: %w", importPath, errNoPackage)
		}
		return a.extra, dir, nil
	}
	src := a.stdlib()
	if src == nil || !fs.ValidPath(importPath) || importPath == "." {
		return nil, "", fmt.Errorf("package %s: %w", importPath, errNoPackage)
	}
	return src, importPath, nil
}

// loadPkg parses the sources of a package that build for the platform the
// kernel runs on, leaving out tests.
func (a *Assistant) loadPkg(importPath string) (*pkgDoc, error) {
	fsys, dir, err := a.source(importPath)
	if err != nil {
		return nil, err
	}
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("package %s: %w", importPath, errNoPackage)
		}
		return nil, fmt.Errorf("package %s: %w", importPath, err)
	}
	ctxt := buildContext(fsys)
	fset := token.NewFileSet()
	var files []*ast.File
	for _, ent := range entries {
		name := ent.Name()
		if ent.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		if ok, err := ctxt.MatchFile(dir, name); err != nil || !ok {
			continue // a file that does not build here, or that we cannot read
		}
		file := path.Join(dir, name)
		data, err := fs.ReadFile(fsys, file)
		if err != nil {
			return nil, fmt.Errorf("package %s: %w", importPath, err)
		}
		f, err := parser.ParseFile(fset, file, data, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			return nil, fmt.Errorf("package %s: %w", importPath, err)
		}
		if len(files) > 0 && f.Name.Name != files[0].Name.Name {
			continue // e.g. a stray package main generator
		}
		files = append(files, f)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("package %s: %w", importPath, errNoPackage)
	}
	var mode doc.Mode
	if importPath == "builtin" {
		mode = doc.AllDecls // its names are lower case
	}
	d, err := doc.NewFromFiles(fset, files, importPath, mode)
	if err != nil {
		return nil, fmt.Errorf("package %s: %w", importPath, err)
	}
	return &pkgDoc{path: importPath, fset: fset, doc: d, kinds: kinds(d)}, nil
}

// buildContext returns the build context of the kernel's platform reading
// files from fsys.
func buildContext(fsys fs.FS) *build.Context {
	ctxt := build.Default
	ctxt.CgoEnabled = false
	ctxt.JoinPath = path.Join
	ctxt.OpenFile = func(name string) (io.ReadCloser, error) { return fsys.Open(name) }
	return &ctxt
}

// kinds classifies the package-level names of d.
func kinds(d *doc.Package) map[string]string {
	m := make(map[string]string)
	values := func(vs []*doc.Value, kind string) {
		for _, v := range vs {
			for _, n := range v.Names {
				m[n] = kind
			}
		}
	}
	funcs := func(fs []*doc.Func) {
		for _, f := range fs {
			m[f.Name] = "function"
		}
	}
	values(d.Consts, "constant")
	values(d.Vars, "variable")
	funcs(d.Funcs)
	for _, t := range d.Types {
		m[t.Name] = "type"
		values(t.Consts, "constant")
		values(t.Vars, "variable")
		funcs(t.Funcs)
	}
	return m
}

// typ returns the documentation of the type name, or nil.
func (p *pkgDoc) typ(name string) *doc.Type {
	for _, t := range p.doc.Types {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// packagePaths returns the import paths of the standard library (without
// internal, vendored and command packages) and of the Gantry packages,
// sorted. The GOROOT walk happens once, on first use.
func (a *Assistant) packagePaths() []string {
	a.pathsOnce.Do(func() {
		if src := a.stdlib(); src != nil {
			a.paths = walkPackages(src, "", func(p string) bool {
				return p == "cmd" || p == "builtin"
			})
		}
		if a.extra != nil {
			a.paths = append(a.paths, walkPackages(a.extra, gantryPrefix, nil)...)
		}
		sort.Strings(a.paths)
	})
	return a.paths
}

// walkPackages returns prefix+dir for each directory of fsys that holds
// non-test Go files, skipping internal, vendor and testdata directories,
// hidden ones, and those skip reports.
func walkPackages(fsys fs.FS, prefix string, skip func(dir string) bool) []string {
	var paths []string
	fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // an unreadable directory: go on with the rest
		}
		if d.IsDir() {
			if p == "." {
				return nil
			}
			base := d.Name()
			if base == "internal" || base == "vendor" || base == "testdata" ||
				strings.HasPrefix(base, ".") || strings.HasPrefix(base, "_") ||
				(skip != nil && skip(p)) {
				return fs.SkipDir
			}
			return nil
		}
		name := d.Name()
		if strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, "_test.go") {
			if dir := path.Dir(p); dir != "." {
				paths = append(paths, prefix+dir)
			}
		}
		return nil
	})
	sort.Strings(paths) // a directory's files may come before and after its subdirectories
	return slices.Compact(paths)
}

// packagesNamed returns the standard packages whose import path ends in
// the element name ("json" gives encoding/json), shortest first, for names
// of packages that are not imported. It walks GOROOT on first use.
func (a *Assistant) packagesNamed(name string) []string {
	var paths []string
	for _, p := range a.packagePaths() {
		if p != name && localName(p) == name && !strings.HasPrefix(p, gantryPrefix) {
			paths = append(paths, p)
		}
	}
	sort.SliceStable(paths, func(i, j int) bool { return len(paths[i]) < len(paths[j]) })
	return paths
}
