package cell

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/scanner"
	"go/token"
)

// A Decl is one top-level declaration, kept for re-evaluation and
// inspection.
type Decl struct {
	// Names holds the names declared: one for a func or type, "T.M" for a
	// method, and every name of a var or const declaration, grouped ones
	// included.
	Names []string
	Kind  string // "func", "method", "type", "var" or "const"
	Src   string // the declaration from its keyword to its end, doc comment excluded
	Doc   string // the doc comment's text, without comment markers
}

// ParseDecls returns the top-level declarations of src, the Src of a Decls
// chunk, one by one in source order. Imports are skipped. Errors are
// *Error values located in src.
//
// (It cannot be called Decls: that name is the Kind of such a chunk.)
func ParseDecls(src string) ([]Decl, error) {
	// The package clause gets a line of its own, so that a doc comment
	// starting src is not taken as a comment trailing the clause.
	const header = "package main\n"
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "", header+src, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		if list, ok := err.(scanner.ErrorList); ok && len(list) > 0 {
			err = &Error{Line: max(list[0].Pos.Line-1, 1), Col: list[0].Pos.Column, Msg: list[0].Msg}
		}
		return nil, fmt.Errorf("parsing declarations: %w", err)
	}
	var decls []Decl
	for _, d := range f.Decls {
		names := declNames(d)
		if names == nil {
			continue // an import, or a declaration of nothing: var ()
		}
		from := fset.Position(d.Pos()).Offset - len(header)
		to := fset.Position(d.End()).Offset - len(header)
		decl := Decl{Names: names, Src: src[from:to]}
		switch d := d.(type) {
		case *ast.FuncDecl:
			decl.Kind = "func"
			if d.Recv != nil {
				decl.Kind = "method"
			}
			decl.Doc = d.Doc.Text()
		case *ast.GenDecl:
			decl.Kind = d.Tok.String()
			decl.Doc = d.Doc.Text()
			if decl.Doc == "" && len(d.Specs) == 1 {
				decl.Doc = specDoc(d.Specs[0])
			}
		}
		decls = append(decls, decl)
	}
	return decls, nil
}

// specDoc returns the doc comment of a spec inside parentheses.
func specDoc(spec ast.Spec) string {
	switch s := spec.(type) {
	case *ast.TypeSpec:
		return s.Doc.Text()
	case *ast.ValueSpec:
		return s.Doc.Text()
	}
	return ""
}

// declNames returns the names a declaration declares, "T.M" for a method;
// nil for imports. Blank names are left out.
func declNames(d ast.Decl) []string {
	var names []string
	switch d := d.(type) {
	case *ast.FuncDecl:
		name := d.Name.Name
		if d.Recv != nil && len(d.Recv.List) > 0 {
			name = receiverType(d.Recv.List[0].Type) + "." + name
		}
		names = appendName(names, name)
	case *ast.GenDecl:
		for _, spec := range d.Specs {
			switch s := spec.(type) {
			case *ast.TypeSpec:
				names = appendName(names, s.Name.Name)
			case *ast.ValueSpec:
				for _, id := range s.Names {
					names = appendName(names, id.Name)
				}
			}
		}
	}
	return names
}

// receiverType returns the name of a method's receiver base type: "T" for
// T, *T, T[K] and *T[K, V].
func receiverType(x ast.Expr) string {
	for {
		switch t := x.(type) {
		case *ast.Ident:
			return t.Name
		case *ast.StarExpr:
			x = t.X
		case *ast.ParenExpr:
			x = t.X
		case *ast.IndexExpr:
			x = t.X
		case *ast.IndexListExpr:
			x = t.X
		default:
			return "?"
		}
	}
}

// Refs returns the identifiers that the declarations in declSrc refer to,
// each once, in source order: plain names, and "X.Sel" for every selector
// on a name (so "fmt.Println", "T.M" for a method expression). Inside a
// method, selectors on the receiver are given with the receiver's type:
// s.Push in a method of *Stack yields "Stack.Push", matching the name
// ParseDecls gives that method. The names being declared are not references, but a
// recursive call is. Refs returns nil if declSrc does not parse.
func Refs(declSrc string) []string {
	f, err := parser.ParseFile(token.NewFileSet(), "", declPrefix+declSrc, parser.SkipObjectResolution)
	if err != nil {
		return nil
	}
	var refs []string
	for _, d := range f.Decls {
		declared := map[*ast.Ident]bool{}
		var recv, recvType string
		switch d := d.(type) {
		case *ast.FuncDecl:
			declared[d.Name] = true
			if d.Recv != nil && len(d.Recv.List) == 1 {
				field := d.Recv.List[0]
				recvType = receiverType(field.Type)
				if len(field.Names) == 1 {
					recv = field.Names[0].Name
					declared[field.Names[0]] = true
				}
			}
		case *ast.GenDecl:
			for _, spec := range d.Specs {
				switch s := spec.(type) {
				case *ast.TypeSpec:
					declared[s.Name] = true
				case *ast.ValueSpec:
					for _, id := range s.Names {
						declared[id] = true
					}
				}
			}
		}
		var visit func(ast.Node) bool
		visit = func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.SelectorExpr:
				if x, ok := n.X.(*ast.Ident); ok {
					if x.Name == recv && recv != "_" {
						refs = appendName(refs, recvType+"."+n.Sel.Name)
					} else {
						refs = appendName(refs, x.Name, x.Name+"."+n.Sel.Name)
					}
					return false
				}
				if t := methodExprType(n.X); t != "" {
					refs = appendName(refs, t+"."+n.Sel.Name) // (*T).M
				}
				ast.Inspect(n.X, visit)
				return false
			case *ast.Ident:
				if !declared[n] {
					refs = appendName(refs, n.Name)
				}
			}
			return true
		}
		ast.Inspect(d, visit)
	}
	return refs
}

// methodExprType returns "T" for the receiver (*T) of a method expression.
func methodExprType(x ast.Expr) string {
	p, ok := x.(*ast.ParenExpr)
	if !ok {
		return ""
	}
	star, ok := p.X.(*ast.StarExpr)
	if !ok {
		return ""
	}
	if id, ok := star.X.(*ast.Ident); ok {
		return id.Name
	}
	return ""
}
