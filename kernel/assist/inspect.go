package assist

import (
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"strings"
)

// Inspect returns the documentation of the name at or around the cursor
// (counted in code points): the identifier under the cursor with the
// selectors before it ("strings.Builder.WriteString"), or, between the
// parentheses of a call, the function called; inside an import path, the
// package. The text reads like `go doc` output: signature, then doc comment.
// detail above zero shows more: a cell function's whole source, a
// package's whole doc comment. found is false when nothing is known.
func (a *Assistant) Inspect(code string, cursor int, detail int, s Scope) (text string, found bool) {
	src := []rune(code)
	cursor = clamp(cursor, 0, len(src))
	st, lit := scanTo(src, cursor)
	switch st {
	case stCode:
	case stString, stRawString:
		if !inImport(string(src[:lit-1])) {
			return "", false
		}
		end := lit
		for end < len(src) && src[end] != src[lit-1] && src[end] != '\n' {
			end++
		}
		return a.pkgText(string(src[lit:end]), nil, detail)
	default:
		return "", false
	}
	name := nameAt(src, cursor)
	if name == "" {
		return "", false
	}
	return a.lookup(name, detail, s, imports(s, code))
}

// Doc returns the documentation of a name as written after ?, or to %help:
// a cell-declared name ("x", "T", "T.M"), a package by local name or import
// path ("fmt", "encoding/json", "display"), or a member of one
// ("fmt.Println", "strings.Builder.WriteString", "encoding/json.Marshal",
// "display.HTML"), or a builtin ("append"). A package need not be imported.
// gantry_run and gantry_run.NAME document the Python helper that training
// scripts import to report metrics.
func (a *Assistant) Doc(name string, s Scope) (string, bool) {
	return a.lookup(strings.TrimSpace(name), 0, s, imports(s, ""))
}

// lookup finds the documentation of name. Cell declarations come first,
// then packages imported under the first element of name, then builtins,
// then packages guessed from the first element.
func (a *Assistant) lookup(name string, detail int, s Scope, imps map[string]string) (string, bool) {
	if name == "" {
		return "", false
	}
	if i := strings.LastIndex(name, "/"); i >= 0 {
		path, sym := name, ""
		if j := strings.Index(name[i:], "."); j >= 0 {
			path, sym = name[:i+j], name[i+j+1:]
		}
		return a.pkgText(path, splitSym(sym), detail)
	}
	parts := strings.Split(name, ".")
	for _, p := range parts {
		if !token.IsIdentifier(p) {
			return "", false
		}
	}
	if s != nil {
		if src, docText, ok := s.Decl(name); ok {
			return cellText(name, src, docText, detail, s), true
		}
	}
	if path, ok := imps[parts[0]]; ok {
		return a.pkgText(path, parts[1:], detail)
	}
	if text, ok := a.pythonDoc(parts); ok { // the Python helper of training scripts
		return text, true
	}
	if len(parts) == 1 && !token.IsExported(name) {
		if text, ok := a.pkgText("builtin", parts, detail); ok {
			return text, true
		}
	}
	// A package that is not imported: by path ("fmt"), as a Gantry package
	// ("display"), or by the last element of its path ("json").
	for _, path := range []string{parts[0], gantryPrefix + parts[0]} {
		if text, ok := a.pkgText(path, parts[1:], detail); ok {
			return text, true
		}
	}
	for _, path := range a.packagesNamed(parts[0]) {
		if text, ok := a.pkgText(path, parts[1:], detail); ok {
			return text, true
		}
	}
	return "", false
}

// splitSym splits "Builder.WriteString" into its elements; "" has none.
func splitSym(sym string) []string {
	if sym == "" {
		return nil
	}
	return strings.Split(sym, ".")
}

// pkgText documents sym in the package with the given import path.
func (a *Assistant) pkgText(importPath string, sym []string, detail int) (string, bool) {
	p, err := a.pkg(importPath)
	if err != nil {
		return "", false
	}
	return p.render(sym, detail)
}

// parseSnippet parses declarations of a cell as a file.
func parseSnippet(fset *token.FileSet, src string) (*ast.File, error) {
	return parser.ParseFile(fset, "cell.go", "package p\n"+src, parser.SkipObjectResolution)
}

// sortedCopy returns the elements of s, sorted.
func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// clamp limits v to [lo, hi].
func clamp(v, lo, hi int) int {
	return max(lo, min(v, hi))
}
