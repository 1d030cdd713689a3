package gostd

import (
	"fmt"
	"path"
	"sort"
	"strings"
)

// genericSymbols holds "import/path.Name" for every exported generic func
// and type of the packages with tables, and genericPackages the standard
// packages of generic symbols only that Use does not compile from source
// (both in go1_NN_generic_symbols.go).
var genericSymbols, genericPackages map[string]bool

// unsafeMissing are the parts of unsafe yaegi v0.16.1 does not implement,
// with what to write instead.
var unsafeMissing = map[string]string{
	"Offsetof":   "unsafe.Offsetof is not supported by the interpreter; compute the offset from addresses: uintptr(unsafe.Pointer(&v.f)) - uintptr(unsafe.Pointer(&v))",
	"Slice":      "unsafe.Slice is not supported by the interpreter; convert to an array pointer and slice it: (*[1 << 20]T)(unsafe.Pointer(p))[:n:n]",
	"SliceData":  "unsafe.SliceData is not supported by the interpreter; use &s[0] (for a non-empty s)",
	"String":     "unsafe.String is not supported by the interpreter; copy the bytes: string((*[1 << 20]byte)(unsafe.Pointer(p))[:n:n])",
	"StringData": "unsafe.StringData is not supported by the interpreter; copy to a []byte first: &[]byte(s)[0]",
}

// Unsupported says why pkgPath.name, a standard library symbol, cannot be
// used in cells and what to write instead; ok is false for a symbol that
// can be used or that the standard library does not have.
func Unsupported(pkgPath, name string) (why string, ok bool) {
	if pkgPath == "unsafe" {
		why, ok = unsafeMissing[name]
		return why, ok
	}
	if genericSymbols[pkgPath+"."+name] {
		why = fmt.Sprintf("%s.%s is generic, and the interpreter instantiates generic code only from source "+
			"(the standard library's cmp, slices, maps, iter and unique), not from compiled %s",
			packageName(pkgPath), name, pkgPath)
		if instead, ok := insteadOf[pkgPath+"."+name]; ok {
			why += "; use " + instead
		}
		return why, true
	}
	return "", false
}

// insteadOf are non-generic replacements for generic symbols of compiled
// packages.
var insteadOf = map[string]string{
	"sync.OnceValue":               "sync.Once and a variable",
	"sync.OnceValues":              "sync.Once and variables",
	"sync.OnceFunc":                "sync.Once",
	"sync/atomic.Pointer":          "atomic.Value",
	"reflect.TypeFor":              "reflect.TypeOf((*T)(nil)).Elem()",
	"reflect.TypeAssert":           "v.Interface().(T)",
	"math/rand/v2.N":               "rand.IntN or rand.Int64N (time.Duration(rand.Int64N(int64(d))) for a duration)",
	"errors.AsType":                "errors.As with a variable of the target type",
	"database/sql.Null":            "sql.NullString, sql.NullInt64 and the other Null types",
	"runtime.AddCleanup":           "runtime.SetFinalizer",
	"hash/maphash.Comparable":      "maphash.String or maphash.Bytes",
	"hash/maphash.WriteComparable": "(*maphash.Hash).WriteString or Write",
}

// packageName is the name pkgPath's table gives the package.
func packageName(pkgPath string) string {
	for k := range Symbols {
		if dir, name := path.Split(k); strings.TrimSuffix(dir, "/") == pkgPath {
			return name
		}
	}
	return path.Base(pkgPath)
}

// UnsupportedPackage says why the standard package pkgPath cannot be
// imported in cells; ok is false for a package that can be, or that is not
// in the standard library.
func UnsupportedPackage(pkgPath string) (why string, ok bool) {
	if !genericPackages[pkgPath] {
		return "", false
	}
	return fmt.Sprintf("the standard package %s has only generic funcs and types, and the interpreter instantiates "+
		"generic code only from source (the standard library's cmp, slices, maps, iter and unique)", pkgPath), true
}

// UnsupportedSelector is Unsupported for a selector as a type checker names
// it, by the package's name (`rand.N`) rather than its path: the first
// standard package of that name for which name is unsupported.
func UnsupportedSelector(pkgName, name string) (why string, ok bool) {
	if pkgName == "unsafe" {
		return Unsupported("unsafe", name)
	}
	var paths []string
	for k := range genericSymbols {
		if i := strings.LastIndexByte(k, '.'); i > 0 && k[i+1:] == name && packageName(k[:i]) == pkgName {
			paths = append(paths, k[:i])
		}
	}
	sort.Strings(paths)
	for _, p := range paths {
		if why, ok := Unsupported(p, name); ok {
			return why, true
		}
	}
	return "", false
}
