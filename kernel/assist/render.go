package assist

import (
	"bytes"
	"go/ast"
	"go/doc"
	"go/printer"
	"go/token"
	"strings"
)

// maxSummary is the width beyond which a summary line of names is cut.
const maxSummary = 100

// render returns the documentation of sym in p, formatted like `go doc`:
// the package when sym is empty, a package-level name for one element, a
// method or field-less member of a type ("Builder.WriteString") for two.
// detail above zero shows a package's whole doc comment, not its synopsis.
func (p *pkgDoc) render(sym []string, detail int) (string, bool) {
	switch len(sym) {
	case 0:
		return p.packageText(detail), true
	case 1:
		return p.memberText(sym[0])
	case 2:
		t := p.typ(sym[0])
		if t == nil {
			return "", false
		}
		for _, f := range t.Methods {
			if f.Name == sym[1] {
				return p.funcText(f), true
			}
		}
	}
	return "", false
}

// memberText documents a package-level name.
func (p *pkgDoc) memberText(name string) (string, bool) {
	d := p.doc
	if t := p.typ(name); t != nil {
		return p.typeText(t), true
	}
	for _, f := range d.Funcs {
		if f.Name == name {
			return p.funcText(f), true
		}
	}
	if v := findValue(d.Consts, name); v != nil {
		return p.valueText(v), true
	}
	if v := findValue(d.Vars, name); v != nil {
		return p.valueText(v), true
	}
	for _, t := range d.Types { // constructors and typed values sit with their type
		for _, f := range t.Funcs {
			if f.Name == name {
				return p.funcText(f), true
			}
		}
		if v := findValue(t.Consts, name); v != nil {
			return p.valueText(v), true
		}
		if v := findValue(t.Vars, name); v != nil {
			return p.valueText(v), true
		}
	}
	return "", false
}

// findValue returns the declaration among vs that declares name, or nil.
func findValue(vs []*doc.Value, name string) *doc.Value {
	for _, v := range vs {
		for _, n := range v.Names {
			if n == name {
				return v
			}
		}
	}
	return nil
}

// packageText documents the package: its clause, its synopsis (or whole
// doc comment) and a summary of its exported names.
func (p *pkgDoc) packageText(detail int) string {
	d := p.doc
	var b strings.Builder
	b.WriteString("package " + d.Name)
	if p.path != "builtin" {
		b.WriteString(` // import "` + p.path + `"`)
	}
	b.WriteString("\n\n")
	if detail > 0 {
		b.WriteString(p.comment(d.Doc))
	} else {
		b.WriteString(d.Synopsis(d.Doc))
	}
	b.WriteString("\n")
	var sum []string
	for _, v := range d.Consts {
		sum = append(sum, valueSummary(v))
	}
	for _, v := range d.Vars {
		sum = append(sum, valueSummary(v))
	}
	for _, f := range d.Funcs {
		sum = append(sum, p.signature(f))
	}
	for _, t := range d.Types {
		sum = append(sum, p.typeSummary(t))
		for _, v := range t.Consts {
			sum = append(sum, "    "+valueSummary(v))
		}
		for _, v := range t.Vars {
			sum = append(sum, "    "+valueSummary(v))
		}
		for _, f := range t.Funcs {
			sum = append(sum, "    "+p.signature(f))
		}
	}
	if len(sum) > 0 {
		b.WriteString("\n" + strings.Join(sum, "\n") + "\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

// typeText documents a type: its declaration, doc comment, the constants
// and variables of the type, its constructors and its methods.
func (p *pkgDoc) typeText(t *doc.Type) string {
	parts := []string{p.node(stripGenDoc(t.Decl))}
	if c := p.comment(t.Doc); c != "" {
		parts = append(parts, c)
	}
	for _, v := range t.Consts {
		parts = append(parts, p.node(stripGenDoc(v.Decl)))
	}
	for _, v := range t.Vars {
		parts = append(parts, p.node(stripGenDoc(v.Decl)))
	}
	var sigs []string
	for _, f := range t.Funcs {
		sigs = append(sigs, p.signature(f))
	}
	for _, f := range t.Methods {
		sigs = append(sigs, p.signature(f))
	}
	if len(sigs) > 0 {
		parts = append(parts, strings.Join(sigs, "\n"))
	}
	return strings.Join(parts, "\n\n")
}

// funcText documents a function or method: signature and doc comment.
func (p *pkgDoc) funcText(f *doc.Func) string {
	return joinDoc(p.signature(f), p.comment(f.Doc))
}

// valueText documents a constant or variable: its declaration (the whole
// group, as go doc shows it) and doc comment.
func (p *pkgDoc) valueText(v *doc.Value) string {
	return joinDoc(p.node(stripGenDoc(v.Decl)), p.comment(v.Doc))
}

// signature returns a function's declaration without body or comment.
func (p *pkgDoc) signature(f *doc.Func) string {
	if f.Decl == nil {
		return "func " + f.Name
	}
	decl := *f.Decl
	decl.Doc, decl.Body = nil, nil
	return p.node(&decl)
}

// typeSummary returns a one-line declaration of t, with the fields of
// structs and the methods of interfaces elided.
func (p *pkgDoc) typeSummary(t *doc.Type) string {
	for _, s := range t.Decl.Specs {
		ts, ok := s.(*ast.TypeSpec)
		if !ok || ts.Name.Name != t.Name {
			continue
		}
		spec := *ts
		spec.Doc, spec.Comment = nil, nil
		switch spec.Type.(type) {
		case *ast.StructType:
			spec.Type = ast.NewIdent("struct{ ... }")
		case *ast.InterfaceType:
			spec.Type = ast.NewIdent("interface{ ... }")
		}
		return "type " + p.node(&spec)
	}
	return "type " + t.Name
}

// valueSummary returns "const A, B, C" for a declaration, cut to fit a
// line.
func valueSummary(v *doc.Value) string {
	s := v.Decl.Tok.String() + " " + strings.Join(v.Names, ", ")
	if len(s) > maxSummary {
		cut := strings.LastIndex(s[:maxSummary], ", ")
		if cut < 0 {
			cut = maxSummary
		}
		s = s[:cut] + ", ..."
	}
	return s
}

// node prints an AST node of p as Go source.
func (p *pkgDoc) node(n any) string {
	return printNode(p.fset, n)
}

// printNode prints n as gofmt would, or returns "" if it cannot.
func printNode(fset *token.FileSet, n any) string {
	var buf bytes.Buffer
	cfg := printer.Config{Mode: printer.UseSpaces | printer.TabIndent, Tabwidth: 8}
	if err := cfg.Fprint(&buf, fset, n); err != nil {
		return ""
	}
	return buf.String()
}

// comment formats a doc comment as plain text.
func (p *pkgDoc) comment(text string) string {
	if strings.TrimSpace(text) == "" {
		return ""
	}
	return strings.TrimRight(string(p.doc.Text(text)), "\n")
}

// stripGenDoc returns a copy of d without its doc comment, which the
// printer would otherwise print above the declaration.
func stripGenDoc(d *ast.GenDecl) *ast.GenDecl {
	c := *d
	c.Doc = nil
	return &c
}

// joinDoc joins a declaration and its (possibly empty) documentation.
func joinDoc(decl, text string) string {
	decl, text = strings.TrimSpace(decl), strings.TrimSpace(text)
	if text == "" {
		return decl
	}
	return decl + "\n\n" + text
}

// cellText documents a name declared in a cell. At detail 0 a function
// shows its signature, at higher detail its whole source. A type lists its
// methods declared in cells.
func cellText(name, src, docText string, detail int, s Scope) string {
	src = strings.TrimSpace(src)
	if detail == 0 {
		if sig, ok := funcSignature(src); ok {
			src = sig
		}
	}
	text := joinDoc(src, docText)
	if strings.Contains(name, ".") {
		return text
	}
	var methods []string
	for _, n := range s.Names() {
		m, ok := strings.CutPrefix(n, name+".")
		if !ok || m == "" || strings.Contains(m, ".") {
			continue
		}
		msrc, _, ok := s.Decl(n)
		if !ok {
			continue
		}
		msrc = strings.TrimSpace(msrc)
		if sig, ok := funcSignature(msrc); ok {
			msrc = sig
		}
		methods = append(methods, msrc)
	}
	if len(methods) > 0 {
		text += "\n\n" + strings.Join(sortedCopy(methods), "\n")
	}
	return text
}

// funcSignature returns the declaration of the function declared by src,
// without its body, or false if src is not exactly one function.
func funcSignature(src string) (string, bool) {
	if !strings.HasPrefix(src, "func") {
		return "", false
	}
	fset := token.NewFileSet()
	f, err := parseSnippet(fset, src)
	if err != nil || len(f.Decls) != 1 {
		return "", false
	}
	fd, ok := f.Decls[0].(*ast.FuncDecl)
	if !ok {
		return "", false
	}
	decl := *fd
	decl.Doc, decl.Body = nil, nil
	sig := printNode(fset, &decl)
	return sig, sig != ""
}
