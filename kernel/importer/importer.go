// Package importer gives go/types the packages a notebook cell can import,
// as the interpreter sees them: compiled packages through the symbol
// tables the executor hands to yaegi (read with reflection), and packages
// the interpreter compiles from Go source (modules that %require linked
// under GOPATH, and the generic standard packages yaegi ships as source).
//
// A package the interpreter cannot import is not found here either, so a
// cell that type-checks against these packages imports only what the
// interpreter has. What reflection cannot tell is approximated: parameter
// names are blank, untyped rune constants are untyped integers, and named
// types list only their exported methods.
//
// Why not go/importer: its source importer type-checks fmt and what fmt
// imports from GOROOT in about 0.4 s here, and export data needs the go
// command at run time; reading fmt's table takes about 0.1 ms, and a table
// holds exactly what the interpreter can call (Go 1.22's API in yaegi
// v0.16.1, not the running Go's).
//
// An Importer is not safe for concurrent use.
package importer

import (
	"errors"
	"fmt"
	"go/ast"
	"go/build"
	"go/constant"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
)

// Tables are symbol tables in yaegi's form: "import/path/name" (the
// package's path, then its name) to the package's exported symbols.
type Tables = map[string]map[string]reflect.Value

// A NotFoundError reports a package the interpreter has neither a symbol
// table nor source for.
type NotFoundError struct {
	Path string
}

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("package %s is not in the interpreter's symbol tables and has no source under GOPATH", e.Path)
}

// An Importer builds go/types packages from symbol tables and source.
// Packages are built once and kept: a package's types are identical in
// every cell checked with the same Importer.
type Importer struct {
	fset    *token.FileSet
	gopath  string
	tables  map[string]map[string]reflect.Value // import path -> symbols
	names   map[string]string                   // import path -> package name
	sources map[string][]string                 // import path -> source files
	unsafe  bool                                // the tables provide package unsafe

	pkgs      map[string]*types.Package // every package made, complete or not
	complete  map[string]bool           // packages whose objects are all made
	types     map[reflect.Type]types.Type
	importing map[string]bool // source packages being checked (cycle guard)
}

// New returns an Importer that parses source into fset and finds source
// packages under gopath/src ("" for none).
func New(fset *token.FileSet, gopath string) *Importer {
	return &Importer{
		fset:      fset,
		gopath:    gopath,
		tables:    map[string]map[string]reflect.Value{},
		names:     map[string]string{},
		sources:   map[string][]string{},
		pkgs:      map[string]*types.Package{},
		complete:  map[string]bool{},
		types:     map[reflect.Type]types.Type{},
		importing: map[string]bool{},
	}
}

// Use adds symbol tables, merged symbol by symbol as interp.Use merges
// them. Tables should be added before the packages they fill are imported.
func (im *Importer) Use(t Tables) {
	for k, syms := range t {
		p, name := path.Dir(k), path.Base(k)
		if p == "." || strings.HasPrefix(p, "github.com/traefik/yaegi") {
			continue // yaegi's own entries: interface wrapper maps, self
		}
		if p == "unsafe" {
			im.unsafe = true
		}
		if im.tables[p] == nil {
			im.tables[p] = map[string]reflect.Value{}
			im.names[p] = name
		}
		for s, v := range syms {
			im.tables[p][s] = v
		}
	}
}

// AddSource makes the package at path importable from the given Go
// files, as the interpreter compiles it (yaegi's generic standard packages).
func (im *Importer) AddSource(path string, files ...string) {
	im.sources[path] = append(im.sources[path], files...)
}

// Has reports whether path can be imported: a symbol table, source, or a
// directory under GOPATH/src.
func (im *Importer) Has(path string) bool {
	if _, ok := im.tables[path]; ok {
		return true
	}
	if _, ok := im.sources[path]; ok {
		return true
	}
	return im.dir(path) != ""
}

// Import implements types.Importer.
func (im *Importer) Import(path string) (*types.Package, error) {
	return im.ImportFrom(path, "", 0)
}

// ImportFrom implements types.ImporterFrom. Vendoring does not apply, so
// dir is unused.
func (im *Importer) ImportFrom(path, dir string, _ types.ImportMode) (*types.Package, error) {
	if path == "unsafe" {
		if im.unsafe || dir == srcDir {
			return types.Unsafe, nil
		}
		return nil, &NotFoundError{Path: path}
	}
	if im.complete[path] {
		return im.pkgs[path], nil
	}
	if syms, ok := im.tables[path]; ok {
		return im.fromTable(path, syms), nil
	}
	if files, ok := im.sources[path]; ok {
		return im.fromSource(path, files)
	}
	if d := im.dir(path); d != "" {
		return im.fromDir(path, d)
	}
	return nil, &NotFoundError{Path: path}
}

// srcDir is the dir argument go/types passes when a source package this
// Importer checks imports another: such packages may import unsafe.
const srcDir = "\x00source"

// pkg returns the package for path, made (empty, incomplete) if needed.
func (im *Importer) pkg(p string) *types.Package {
	if pk, ok := im.pkgs[p]; ok {
		return pk
	}
	name := im.names[p]
	if name == "" {
		name = guessName(p)
	}
	pk := types.NewPackage(p, name)
	im.pkgs[p] = pk
	return pk
}

// guessName returns the likely name of the package at path p: its last
// element, or the one before a major version suffix.
func guessName(p string) string {
	base := path.Base(p)
	if len(base) > 1 && base[0] == 'v' && strings.Trim(base[1:], "0123456789") == "" {
		base = path.Base(path.Dir(p))
	}
	return strings.NewReplacer("-", "_", ".", "_").Replace(base)
}

// fromTable makes the package at p from its symbol table.
func (im *Importer) fromTable(p string, syms map[string]reflect.Value) *types.Package {
	pk := im.pkg(p)
	names := make([]string, 0, len(syms))
	for n := range syms {
		if n != "" && n[0] != '_' && token.IsExported(n) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	scope := pk.Scope()
	for _, n := range names {
		if scope.Lookup(n) != nil {
			continue // a named type made while converting another symbol
		}
		if obj := im.object(pk, n, syms[n]); obj != nil {
			scope.Insert(obj)
		}
	}
	pk.MarkComplete()
	im.complete[p] = true
	return pk
}

// object makes the object that the symbol table entry v for name stands
// for, as extract writes them: a nil *T for a type T, an addressable
// value for a variable, a constant.Value for an untyped constant, a func
// for a func, any other value for a typed constant.
func (im *Importer) object(pk *types.Package, name string, v reflect.Value) types.Object {
	if !v.IsValid() {
		return nil
	}
	if c, ok := v.Interface().(constant.Value); ok && !v.CanAddr() {
		return types.NewConst(token.NoPos, pk, name, untyped(c.Kind()), c)
	}
	switch {
	case v.CanAddr():
		return types.NewVar(token.NoPos, pk, name, im.typeOf(v.Type()))
	case v.Kind() == reflect.Pointer && v.IsNil():
		t := im.typeOf(v.Type().Elem())
		if n, ok := t.(*types.Named); ok && n.Obj().Pkg() == pk && n.Obj().Name() == name {
			return n.Obj()
		}
		return types.NewTypeName(token.NoPos, pk, name, t) // an alias
	case v.Kind() == reflect.Func:
		return types.NewFunc(token.NoPos, pk, name, im.signature(nil, v.Type(), 0))
	}
	c := constantOf(v)
	if c == nil {
		return types.NewVar(token.NoPos, pk, name, im.typeOf(v.Type()))
	}
	return types.NewConst(token.NoPos, pk, name, im.typeOf(v.Type()), c)
}

// untyped returns the untyped basic type of constants of kind k.
func untyped(k constant.Kind) types.Type {
	switch k {
	case constant.Bool:
		return types.Typ[types.UntypedBool]
	case constant.String:
		return types.Typ[types.UntypedString]
	case constant.Float:
		return types.Typ[types.UntypedFloat]
	case constant.Complex:
		return types.Typ[types.UntypedComplex]
	}
	return types.Typ[types.UntypedInt]
}

// constantOf returns the value of a typed constant, or nil if v's kind
// cannot be a constant's.
func constantOf(v reflect.Value) constant.Value {
	switch v.Kind() {
	case reflect.Bool:
		return constant.MakeBool(v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return constant.MakeInt64(v.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return constant.MakeUint64(v.Uint())
	case reflect.Float32, reflect.Float64:
		return constant.MakeFloat64(v.Float())
	case reflect.Complex64, reflect.Complex128:
		c := v.Complex()
		return constant.BinaryOp(constant.MakeFloat64(real(c)), token.ADD,
			constant.MakeImag(constant.MakeFloat64(imag(c))))
	case reflect.String:
		return constant.MakeString(v.String())
	}
	return nil
}

// typeOf converts a reflect.Type.
func (im *Importer) typeOf(rt reflect.Type) types.Type {
	if t, ok := im.types[rt]; ok {
		return t
	}
	if rt.Kind() == reflect.UnsafePointer {
		return types.Typ[types.UnsafePointer]
	}
	if rt.Name() != "" {
		if rt.PkgPath() == "" {
			if obj := types.Universe.Lookup(rt.Name()); obj != nil {
				return obj.Type()
			}
		} else {
			return im.named(rt)
		}
	}
	var t types.Type
	switch rt.Kind() {
	case reflect.Pointer:
		t = types.NewPointer(im.typeOf(rt.Elem()))
	case reflect.Slice:
		t = types.NewSlice(im.typeOf(rt.Elem()))
	case reflect.Array:
		t = types.NewArray(im.typeOf(rt.Elem()), int64(rt.Len()))
	case reflect.Map:
		t = types.NewMap(im.typeOf(rt.Key()), im.typeOf(rt.Elem()))
	case reflect.Chan:
		dir := types.SendRecv
		switch rt.ChanDir() {
		case reflect.SendDir:
			dir = types.SendOnly
		case reflect.RecvDir:
			dir = types.RecvOnly
		}
		t = types.NewChan(dir, im.typeOf(rt.Elem()))
	case reflect.Func:
		t = im.signature(nil, rt, 0)
	case reflect.Struct:
		t = im.structOf(rt)
	case reflect.Interface:
		t = im.interfaceOf(rt)
	default:
		t = basic(rt.Kind())
	}
	im.types[rt] = t
	return t
}

// basic returns the predeclared type of a reflect kind.
func basic(k reflect.Kind) types.Type {
	kinds := map[reflect.Kind]types.BasicKind{
		reflect.Bool: types.Bool, reflect.Int: types.Int, reflect.Int8: types.Int8, reflect.Int16: types.Int16,
		reflect.Int32: types.Int32, reflect.Int64: types.Int64, reflect.Uint: types.Uint, reflect.Uint8: types.Uint8,
		reflect.Uint16: types.Uint16, reflect.Uint32: types.Uint32, reflect.Uint64: types.Uint64,
		reflect.Uintptr: types.Uintptr, reflect.Float32: types.Float32, reflect.Float64: types.Float64,
		reflect.Complex64: types.Complex64, reflect.Complex128: types.Complex128, reflect.String: types.String,
	}
	if b, ok := kinds[k]; ok {
		return types.Typ[b]
	}
	return types.Typ[types.Invalid]
}

// named converts a defined type: its type name goes into the scope of its
// package (made incomplete if it is not imported yet), with its methods.
func (im *Importer) named(rt reflect.Type) types.Type {
	pk := im.pkg(rt.PkgPath())
	obj := types.NewTypeName(token.NoPos, pk, rt.Name(), nil)
	n := types.NewNamed(obj, nil, nil)
	im.types[rt] = n
	if pk.Scope().Lookup(rt.Name()) == nil {
		pk.Scope().Insert(obj)
	}
	n.SetUnderlying(im.underlying(rt))
	if rt.Kind() == reflect.Interface {
		return n
	}
	recv := types.NewVar(token.NoPos, pk, "", n)
	seen := map[string]bool{}
	for i := 0; i < rt.NumMethod(); i++ {
		m := rt.Method(i)
		seen[m.Name] = true
		n.AddMethod(types.NewFunc(token.NoPos, pk, m.Name, im.signature(recv, m.Type, 1)))
	}
	if rt.Kind() != reflect.Pointer {
		pt := reflect.PointerTo(rt)
		precv := types.NewVar(token.NoPos, pk, "", types.NewPointer(n))
		for i := 0; i < pt.NumMethod(); i++ {
			m := pt.Method(i)
			if !seen[m.Name] {
				n.AddMethod(types.NewFunc(token.NoPos, pk, m.Name, im.signature(precv, m.Type, 1)))
			}
		}
	}
	return n
}

// underlying converts the underlying type of a defined type.
func (im *Importer) underlying(rt reflect.Type) types.Type {
	switch rt.Kind() {
	case reflect.Struct:
		return im.structOf(rt)
	case reflect.Interface:
		return im.interfaceOf(rt)
	case reflect.Pointer:
		return types.NewPointer(im.typeOf(rt.Elem()))
	case reflect.Slice:
		return types.NewSlice(im.typeOf(rt.Elem()))
	case reflect.Array:
		return types.NewArray(im.typeOf(rt.Elem()), int64(rt.Len()))
	case reflect.Map:
		return types.NewMap(im.typeOf(rt.Key()), im.typeOf(rt.Elem()))
	case reflect.Chan, reflect.Func:
		// An unnamed type of the same shape has the same conversion.
		return im.typeOf(reflect.Type(unnamed(rt)))
	case reflect.UnsafePointer:
		return types.Typ[types.UnsafePointer]
	}
	return basic(rt.Kind())
}

// unnamed returns the unnamed type with the structure of a chan or func
// type rt.
func unnamed(rt reflect.Type) reflect.Type {
	if rt.Kind() == reflect.Chan {
		return reflect.ChanOf(rt.ChanDir(), rt.Elem())
	}
	in := make([]reflect.Type, rt.NumIn())
	for i := range in {
		in[i] = rt.In(i)
	}
	out := make([]reflect.Type, rt.NumOut())
	for i := range out {
		out[i] = rt.Out(i)
	}
	return reflect.FuncOf(in, out, rt.IsVariadic())
}

// signature converts a func type, leaving out its first skip parameters
// (a method's receiver).
func (im *Importer) signature(recv *types.Var, rt reflect.Type, skip int) *types.Signature {
	var params, results []*types.Var
	for i := skip; i < rt.NumIn(); i++ {
		params = append(params, types.NewParam(token.NoPos, nil, "", im.typeOf(rt.In(i))))
	}
	for i := 0; i < rt.NumOut(); i++ {
		results = append(results, types.NewParam(token.NoPos, nil, "", im.typeOf(rt.Out(i))))
	}
	return types.NewSignatureType(recv, nil, nil, types.NewTuple(params...), types.NewTuple(results...), rt.IsVariadic())
}

func (im *Importer) structOf(rt reflect.Type) *types.Struct {
	fields := make([]*types.Var, rt.NumField())
	tags := make([]string, rt.NumField())
	for i := range fields {
		f := rt.Field(i)
		var pk *types.Package
		if f.PkgPath != "" {
			pk = im.pkg(f.PkgPath)
		} else if rt.PkgPath() != "" {
			pk = im.pkg(rt.PkgPath())
		}
		fields[i] = types.NewField(token.NoPos, pk, f.Name, im.typeOf(f.Type), f.Anonymous)
		tags[i] = string(f.Tag)
	}
	return types.NewStruct(fields, tags)
}

func (im *Importer) interfaceOf(rt reflect.Type) *types.Interface {
	methods := make([]*types.Func, rt.NumMethod())
	for i := range methods {
		m := rt.Method(i)
		var pk *types.Package
		if m.PkgPath != "" {
			pk = im.pkg(m.PkgPath)
		} else if rt.PkgPath() != "" {
			pk = im.pkg(rt.PkgPath())
		}
		methods[i] = types.NewFunc(token.NoPos, pk, m.Name, im.signature(nil, m.Type, 0))
	}
	return types.NewInterfaceType(methods, nil).Complete()
}

// dir returns the directory of path under GOPATH/src, or "".
func (im *Importer) dir(path string) string {
	if im.gopath == "" || build.IsLocalImport(path) || strings.Contains(path, "..") {
		return ""
	}
	d := filepath.Join(im.gopath, "src", filepath.FromSlash(path))
	if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
		return ""
	}
	return d
}

// fromDir checks the package in directory d, choosing its files as the
// go command would on this platform without cgo.
func (im *Importer) fromDir(path, d string) (*types.Package, error) {
	ctx := build.Default
	ctx.CgoEnabled = false
	ctx.GOPATH = im.gopath
	bp, err := ctx.ImportDir(d, 0)
	if err != nil {
		return nil, fmt.Errorf("read package %s: %w", path, err)
	}
	var files []*ast.File
	for _, name := range bp.GoFiles {
		f, err := parser.ParseFile(im.fset, filepath.Join(d, name), nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, fmt.Errorf("parse package %s: %w", path, err)
		}
		files = append(files, f)
	}
	return im.check(path, files)
}

// fromSource checks a package given as source text.
func (im *Importer) fromSource(path string, srcs []string) (*types.Package, error) {
	var files []*ast.File
	for i, src := range srcs {
		name := fmt.Sprintf("%s/%d.go", path, i)
		f, err := parser.ParseFile(im.fset, name, src, parser.SkipObjectResolution)
		if err != nil {
			return nil, fmt.Errorf("parse package %s: %w", path, err)
		}
		files = append(files, f)
	}
	return im.check(path, files)
}

// check type-checks a source package, importing through im.
func (im *Importer) check(path string, files []*ast.File) (*types.Package, error) {
	if im.importing[path] {
		return nil, fmt.Errorf("import cycle through %s", path)
	}
	im.importing[path] = true
	defer delete(im.importing, path)
	var first error
	conf := types.Config{
		Importer: sourceImporter{im},
		Error: func(err error) {
			if first == nil {
				first = err
			}
		},
		IgnoreFuncBodies: true,
	}
	pk, _ := conf.Check(path, im.fset, files, nil)
	if first != nil {
		return nil, fmt.Errorf("type-check package %s: %w", path, first)
	}
	im.pkgs[path] = pk
	im.complete[path] = true
	return pk, nil
}

// sourceImporter imports for source packages, which may import unsafe.
type sourceImporter struct{ im *Importer }

func (s sourceImporter) Import(path string) (*types.Package, error) {
	return s.im.ImportFrom(path, srcDir, 0)
}

// IsNotFound reports whether err says a package does not exist for the
// interpreter.
func IsNotFound(err error) bool {
	var nf *NotFoundError
	return errors.As(err, &nf)
}
