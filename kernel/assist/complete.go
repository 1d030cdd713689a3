package assist

import (
	"go/token"
	"slices"
	"strings"
	"unicode"
)

// TypesKey is the key of the completion metadata that describes each
// match, as JupyterLab reads it.
const TypesKey = "_jupyter_types_experimental"

// Kinds of completion candidates, as reported in the TypesKey metadata.
const (
	KindFunction = "function"
	KindType     = "type"
	KindVariable = "variable"
	KindConstant = "constant"
	KindPackage  = "package"
	KindKeyword  = "keyword"
	KindMagic    = "magic"
)

// keywords are Go's keywords (read-only).
var keywords = []string{
	"break", "case", "chan", "const", "continue", "default", "defer", "else",
	"fallthrough", "for", "func", "go", "goto", "if", "import", "interface",
	"map", "package", "range", "return", "select", "struct", "switch", "type",
	"var",
}

// builtins are Go's predeclared identifiers, by kind (read-only).
var builtins = map[string][]string{
	KindFunction: {"append", "cap", "clear", "close", "complex", "copy", "delete",
		"imag", "len", "make", "max", "min", "new", "panic", "print", "println",
		"real", "recover"},
	KindType: {"any", "bool", "byte", "comparable", "complex64", "complex128",
		"error", "float32", "float64", "int", "int8", "int16", "int32", "int64",
		"rune", "string", "uint", "uint8", "uint16", "uint32", "uint64", "uintptr"},
	KindConstant: {"false", "iota", "nil", "true"},
}

// candidate is one completion and its kind ("" if unknown).
type candidate struct {
	text, kind string
}

// Complete returns the completions of the code before cursor and the span
// [start, end) of code they replace, all positions counted in code points.
// It completes:
//
//   - after "pkg." the exported names of the imported package pkg, and
//     after "pkg.T." the methods of its type T;
//   - after "T." the methods of a type T declared in cells;
//   - an identifier from the names declared in cells, imported packages,
//     keywords and builtins;
//   - a magic's name at the start of a line ("%ls" gives "%lsmagic"), from
//     magics, whose names may or may not start with %;
//   - an import path inside the quotes of an import declaration.
//
// Inside other strings and in comments there are no matches. meta holds
// the kind of each match under TypesKey. matches is never nil.
func (a *Assistant) Complete(code string, cursor int, s Scope, magics []string) (matches []string, start, end int, meta map[string]any) {
	src := []rune(code)
	cursor = clamp(cursor, 0, len(src))
	start = cursor
	var cs []candidate
	switch st, lit := scanTo(src, cursor); st {
	case stMagic:
		start, cs = lit, magicCandidates(string(src[lit:cursor]), magics)
	case stString, stRawString:
		if inImport(string(src[:lit-1])) {
			start, cs = lit, a.importCandidates(string(src[lit:cursor]))
		}
	case stCode:
		start, cs = a.codeCandidates(src, cursor, s, imports(s, code))
	}
	matches, meta = finish(cs, start, cursor)
	return matches, start, cursor, meta
}

// finish sorts and deduplicates candidates and builds the metadata.
func finish(cs []candidate, start, end int) ([]string, map[string]any) {
	slices.SortFunc(cs, func(x, y candidate) int { return strings.Compare(x.text, y.text) })
	matches := []string{}
	types := []any{}
	for i, c := range cs {
		if i > 0 && cs[i-1].text == c.text {
			continue
		}
		matches = append(matches, c.text)
		types = append(types, map[string]any{
			"start": start, "end": end, "text": c.text, "type": c.kind,
		})
	}
	return matches, map[string]any{TypesKey: types}
}

// magicCandidates completes typed, which is "%name" or "%%name".
func magicCandidates(typed string, magics []string) []candidate {
	name := strings.TrimLeft(typed, "%")
	percents := typed[:len(typed)-len(name)]
	var cs []candidate
	for _, m := range magics {
		m = strings.TrimLeft(m, "%")
		if m != "" && strings.HasPrefix(m, name) {
			cs = append(cs, candidate{percents + m, KindMagic})
		}
	}
	return cs
}

// importCandidates completes an import path.
func (a *Assistant) importCandidates(prefix string) []candidate {
	var cs []candidate
	for _, p := range a.packagePaths() {
		if strings.HasPrefix(p, prefix) {
			cs = append(cs, candidate{p, KindPackage})
		}
	}
	return cs
}

// codeCandidates completes the identifier that ends at cursor, returning
// where it starts.
func (a *Assistant) codeCandidates(src []rune, cursor int, s Scope, imps map[string]string) (int, []candidate) {
	start := identStart(src, cursor)
	prefix := string(src[start:cursor])
	if prefix != "" && unicode.IsDigit(src[start]) {
		return start, nil // a number
	}
	var cs []candidate
	if start > 0 && src[start-1] == '.' {
		chain, ok := chainBefore(src, start-1)
		if ok {
			cs = a.memberCandidates(chain, s, imps)
		}
	} else {
		cs = a.identCandidates(s, imps, prefix)
	}
	return start, slices.DeleteFunc(cs, func(c candidate) bool {
		return !strings.HasPrefix(c.text, prefix)
	})
}

// identCandidates returns the identifiers in scope that start with prefix.
func (a *Assistant) identCandidates(s Scope, imps map[string]string, prefix string) []candidate {
	var cs []candidate
	add := func(name, kind string) {
		if strings.HasPrefix(name, prefix) {
			cs = append(cs, candidate{name, kind})
		}
	}
	for _, k := range keywords {
		add(k, KindKeyword)
	}
	for kind, names := range builtins {
		for _, n := range names {
			add(n, kind)
		}
	}
	for name := range imps {
		add(name, KindPackage)
	}
	if s != nil {
		for _, name := range s.Names() {
			if strings.Contains(name, ".") || !strings.HasPrefix(name, prefix) {
				continue
			}
			src, _, _ := s.Decl(name)
			cs = append(cs, candidate{name, declKind(src)})
		}
	}
	return cs
}

// memberCandidates returns what may follow chain and a dot.
func (a *Assistant) memberCandidates(chain []string, s Scope, imps map[string]string) []candidate {
	path, imported := imps[chain[0]]
	switch {
	case len(chain) == 1 && imported:
		return a.exports(path, s)
	case len(chain) == 1 && s != nil:
		var cs []candidate
		for _, name := range s.Names() {
			if m, ok := strings.CutPrefix(name, chain[0]+"."); ok && m != "" && !strings.Contains(m, ".") {
				cs = append(cs, candidate{m, KindFunction})
			}
		}
		return cs
	case len(chain) == 2 && imported:
		p, err := a.pkg(path)
		if err != nil {
			return nil
		}
		t := p.typ(chain[1])
		if t == nil {
			return nil
		}
		var cs []candidate
		for _, f := range t.Methods {
			cs = append(cs, candidate{f.Name, KindFunction})
		}
		return cs
	}
	return nil
}

// exports returns the exported names of a package: those the interpreter
// knows, or failing that those of its documentation, with kinds from the
// documentation when there is one.
func (a *Assistant) exports(path string, s Scope) []candidate {
	var kinds map[string]string
	p, err := a.pkg(path)
	if err == nil {
		kinds = p.kinds
	}
	var names []string
	if s != nil {
		names = s.Exports(path)
	}
	if len(names) == 0 {
		for name := range kinds {
			names = append(names, name)
		}
	}
	var cs []candidate
	for _, name := range names {
		if token.IsExported(name) {
			cs = append(cs, candidate{name, kinds[name]})
		}
	}
	return cs
}

// declKind classifies a cell declaration by its source.
func declKind(src string) string {
	src = strings.TrimSpace(src)
	word := src
	if i := strings.IndexFunc(src, func(r rune) bool { return !unicode.IsLetter(r) }); i >= 0 {
		word = src[:i]
	}
	switch word {
	case "func":
		return KindFunction
	case "type":
		return KindType
	case "var":
		return KindVariable
	case "const":
		return KindConstant
	}
	if strings.Contains(src, ":=") {
		return KindVariable
	}
	return ""
}
