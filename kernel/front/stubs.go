package front

import (
	"fmt"
	"go/ast"
	"go/constant"
	"go/parser"
	"go/token"
	"go/types"
	"math"
	"sort"
	"strconv"
	"strings"

	"gantry/kernel/cell"
)

// A decl is what later cells see of one declaration of an earlier cell.
type decl struct {
	name    string            // "f", "T", "x"; methods "T.M"
	recv    string            // for methods, the receiver's base type
	node    ast.Decl          // the stub
	full    ast.Decl          // a generic func's whole declaration
	imports map[string]string // import names the stub uses -> path
	refs    []string          // identifiers the stub (and full) use
	opaque  string            // why later cells cannot see it; "" if they can

	// The source of the cell a generic declaration (or a method of a
	// generic type) came from, for the copies lowering makes of it.
	file *token.File
	src  string
}

// closure returns the stub files a cell needs: the declarations it may
// use (by name), those these use, and the methods of every type among
// them, leaving out what the cell declares itself.
// The sources of copied declarations go to srcs.
func (s *Session) closure(used, declared map[string]bool, srcs map[*token.File]string) ([]*ast.File, error) {
	var order []*decl
	seen := map[string]bool{}
	var visit func(name string) error
	visit = func(name string) error {
		if seen[name] || declared[name] {
			return nil
		}
		d, ok := s.decls[name]
		if !ok {
			return nil
		}
		seen[name] = true
		if d.opaque != "" {
			return &Unjudged{Reason: fmt.Sprintf("%s is not known to the checker: %s", name, d.opaque)}
		}
		if d.file != nil {
			srcs[d.file] = d.src
		}
		order = append(order, d)
		for _, r := range d.refs {
			if err := visit(r); err != nil {
				return err
			}
		}
		if !declared[name] {
			for _, m := range s.methods[name] {
				if err := visit(m); err != nil {
					return err
				}
			}
		}
		return nil
	}
	names := make([]string, 0, len(used))
	for n := range used {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := visit(n); err != nil {
			return nil, err
		}
	}
	for n := range declared {
		// Methods a cell declares on an earlier type need that type.
		if i := strings.IndexByte(n, '.'); i > 0 {
			if err := visit(n[:i]); err != nil {
				return nil, err
			}
		}
	}
	if len(order) == 0 {
		return nil, nil
	}
	// One file for all stubs: every import name a stub uses is that of the
	// cell the stub came from, and cells may bind one name to different
	// paths, so names that clash go to files of their own.
	var files []*ast.File
	var cur *ast.File
	var curImports map[string]string
	for _, d := range order {
		if cur == nil || clash(curImports, d.imports) {
			cur = &ast.File{Name: ast.NewIdent("main")}
			cur.Decls = []ast.Decl{&ast.GenDecl{Tok: token.IMPORT}}
			curImports = map[string]string{}
			files = append(files, cur)
		}
		for n, p := range d.imports {
			if _, ok := curImports[n]; !ok {
				curImports[n] = p
				gd := cur.Decls[0].(*ast.GenDecl)
				gd.Specs = append(gd.Specs, importSpec(n, p))
			}
		}
		node := d.node
		if d.full != nil {
			node = d.full
		}
		cur.Decls = append(cur.Decls, node)
	}
	return files, nil
}

// clash reports whether b binds a name a already binds to another path.
func clash(a, b map[string]string) bool {
	for n, p := range b {
		if q, ok := a[n]; ok && q != p {
			return true
		}
	}
	return false
}

// Commit records the declarations of the chunks of ch that ran, so that
// later cells see them. ran(i) reports whether chunk i ran.
func (s *Session) Commit(ch *Checked, ran func(i int) bool) {
	env := map[string]string{}
	for n, p := range s.imports {
		env[n] = p
	}
	for i, c := range ch.Chunks {
		if c.Kind != cell.Imports || !ran(i) {
			continue
		}
		for _, d := range c.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok {
				continue
			}
			for _, spec := range gd.Specs {
				is := spec.(*ast.ImportSpec)
				path, err := strconv.Unquote(is.Path.Value)
				if err != nil {
					continue
				}
				name := ""
				if is.Name != nil {
					name = is.Name.Name
				} else {
					name = s.packageName(path)
				}
				switch name {
				case "_":
				case ".":
					s.dots = appendNew(s.dots, path)
				default:
					env[name] = path
					s.imports[name] = path
				}
			}
		}
	}
	s.forgetDependents(ch, ran)
	spelled := &spelledStubs{s: s, ch: ch}
	for i, c := range ch.Chunks {
		if !ran(i) {
			continue
		}
		switch c.Kind {
		case cell.Decls:
			for _, d := range c.Decls {
				s.commitDecl(ch, d, env, spelled)
			}
		case cell.Stmts:
			for _, st := range c.Stmts {
				as, ok := st.(*ast.AssignStmt)
				if !ok || as.Tok != token.DEFINE {
					continue
				}
				for _, l := range as.Lhs {
					if id, ok := l.(*ast.Ident); ok && id.Name != "_" {
						spelled.variable(id)
					}
				}
			}
		}
	}
	spelled.finish()
}

// forgetDependents makes opaque the earlier declarations that refer to a
// type or const the cell declares again: the interpreter keeps them bound
// to the old one, which the checker can no longer name.
func (s *Session) forgetDependents(ch *Checked, ran func(int) bool) {
	again := map[string]bool{}
	for i, c := range ch.Chunks {
		if c.Kind != cell.Decls || !ran(i) {
			continue
		}
		for _, d := range c.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.TYPE && gd.Tok != token.CONST {
				continue
			}
			for _, n := range declNames(gd) {
				if _, ok := s.decls[n]; ok {
					again[n] = true
				}
			}
		}
	}
	for grew := len(again) > 0; grew; {
		grew = false
		for name, d := range s.decls {
			if d.opaque != "" || again[name] {
				continue
			}
			for _, r := range d.refs {
				if again[r] && r != name {
					d.opaque = fmt.Sprintf("it refers to %s, which a later cell declared again", r)
					again[name] = true
					grew = true
					break
				}
			}
		}
	}
}

func appendNew(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// commitDecl records one top-level declaration of a cell.
func (s *Session) commitDecl(ch *Checked, d ast.Decl, env map[string]string, spelled *spelledStubs) {
	switch d := d.(type) {
	case *ast.FuncDecl:
		names := declNames(d)
		if len(names) == 0 {
			return
		}
		stub := *d
		stub.Doc = nil
		stub.Body = nil
		if d.Name.Name == "main" && d.Recv == nil {
			stub.Body = &ast.BlockStmt{Lbrace: d.Body.Lbrace, Rbrace: d.Body.Rbrace}
		}
		e := &decl{name: names[0], node: &stub}
		if d.Type.TypeParams != nil || d.Recv != nil && len(d.Recv.List) > 0 && genericRecv(d.Recv.List[0].Type) {
			// Copies are made of generic funcs and of the methods of generic
			// types for each list of type arguments: keep their bodies.
			e.full = d
			e.file = ch.Fset.File(d.Pos())
			e.src = ch.srcs[e.file]
		}
		if d.Recv != nil && len(d.Recv.List) > 0 {
			e.recv = recvBase(d.Recv.List[0].Type)
		}
		if e.full != nil {
			e.refs, e.imports = refsOf(e.full, env)
		} else {
			e.refs, e.imports = refsOf(e.node, env)
		}
		s.put(e)
	case *ast.GenDecl:
		for _, spec := range d.Specs {
			switch sp := spec.(type) {
			case *ast.TypeSpec:
				if sp.Name.Name == "_" {
					continue
				}
				e := &decl{name: sp.Name.Name, node: &ast.GenDecl{Tok: token.TYPE, Specs: []ast.Spec{sp}}}
				if sp.TypeParams != nil {
					e.file = ch.Fset.File(sp.Pos())
					e.src = ch.srcs[e.file]
				}
				e.refs, e.imports = refsOf(e.node, env)
				// A type declared again starts without methods.
				for _, m := range s.methods[e.name] {
					if !ch.declaredNames()[m] {
						delete(s.decls, m)
					}
				}
				delete(s.methods, e.name)
				s.put(e)
			case *ast.ValueSpec:
				for _, id := range sp.Names {
					if id.Name == "_" {
						continue
					}
					if d.Tok == token.CONST {
						spelled.constant(id)
					} else {
						spelled.variable(id)
					}
				}
			}
		}
	}
}

// genericRecv reports whether a receiver type has type parameters: T[K]
// or *T[K, V].
func genericRecv(x ast.Expr) bool {
	for {
		switch t := x.(type) {
		case *ast.StarExpr:
			x = t.X
		case *ast.ParenExpr:
			x = t.X
		case *ast.IndexExpr, *ast.IndexListExpr:
			return true
		default:
			return false
		}
	}
}

// put records e, replacing an earlier declaration of its name.
func (s *Session) put(e *decl) {
	s.decls[e.name] = e
	if e.recv != "" {
		ms := s.methods[e.recv]
		for _, m := range ms {
			if m == e.name {
				return
			}
		}
		s.methods[e.recv] = append(ms, e.name)
	}
}

// refsOf returns the identifiers a declaration uses and the imports (from
// env) whose names occur among them.
func refsOf(d ast.Node, env map[string]string) ([]string, map[string]string) {
	seen := map[string]bool{}
	var refs []string
	imports := map[string]string{}
	ast.Inspect(d, func(n ast.Node) bool {
		id, ok := n.(*ast.Ident)
		if !ok || seen[id.Name] {
			return true
		}
		seen[id.Name] = true
		if p, ok := env[id.Name]; ok {
			imports[id.Name] = p
		} else {
			refs = append(refs, id.Name)
		}
		return true
	})
	return refs, imports
}

// spelledStubs collects the stubs of vars and consts of one cell, written
// from their types and values (which are all a later cell can see of
// them), and parses them as one file.
type spelledStubs struct {
	s     *Session
	ch    *Checked
	src   strings.Builder
	decls []*decl
}

func (sp *spelledStubs) qualify(imports map[string]string) Qualifier {
	return func(p *types.Package) string {
		a := Alias(p.Path())
		imports[a] = p.Path()
		return a
	}
}

// variable records a var stub for the top-level name id, or an opaque
// entry when its type is not known or cannot be written.
func (sp *spelledStubs) variable(id *ast.Ident) {
	e := &decl{name: id.Name, imports: map[string]string{}}
	if !sp.ch.Typed {
		e.opaque = "its cell was run without a type check"
		sp.s.put(e)
		return
	}
	obj, _ := sp.ch.Info.Defs[id].(*types.Var)
	if obj == nil {
		obj, _ = sp.ch.Info.Uses[id].(*types.Var)
	}
	if obj == nil {
		return
	}
	t, err := Spell(obj.Type(), sp.ch.Pkg, sp.qualify(e.imports), false)
	if err != nil {
		e.opaque = fmt.Sprintf("its type %s cannot be written in a cell: %v", obj.Type(), err)
		sp.s.put(e)
		return
	}
	sp.add(e, "var "+id.Name+" "+t)
}

// constant records a const stub for id with its value.
func (sp *spelledStubs) constant(id *ast.Ident) {
	e := &decl{name: id.Name, imports: map[string]string{}}
	obj, _ := sp.ch.Info.Defs[id].(*types.Const)
	if !sp.ch.Typed || obj == nil {
		e.opaque = "its cell was run without a type check"
		sp.s.put(e)
		return
	}
	val := Literal(obj.Val(), obj.Type())
	typ := ""
	if b, ok := obj.Type().(*types.Basic); !ok || b.Info()&types.IsUntyped == 0 {
		t, err := Spell(obj.Type(), sp.ch.Pkg, sp.qualify(e.imports), false)
		if err != nil {
			e.opaque = fmt.Sprintf("its type %s cannot be written in a cell: %v", obj.Type(), err)
			sp.s.put(e)
			return
		}
		typ = " " + t
	}
	if val == "" {
		e.opaque = fmt.Sprintf("its value %s cannot be written in a cell", obj.Val())
		sp.s.put(e)
		return
	}
	sp.add(e, "const "+id.Name+typ+" = "+val)
}

func (sp *spelledStubs) add(e *decl, src string) {
	sp.src.WriteString(src + "\n")
	sp.decls = append(sp.decls, e)
}

// finish parses the stubs and records them.
func (sp *spelledStubs) finish() {
	if len(sp.decls) == 0 {
		return
	}
	f, err := parser.ParseFile(sp.s.fset, "gantry-stubs", "package main\n"+sp.src.String(), parser.SkipObjectResolution)
	if err != nil || len(f.Decls) != len(sp.decls) {
		for _, e := range sp.decls {
			e.node, e.opaque = nil, "its type cannot be written in a cell"
			sp.s.put(e)
		}
		return
	}
	for i, e := range sp.decls {
		e.node = f.Decls[i]
		e.refs, _ = refsOf(e.node, e.imports)
		sp.s.put(e)
	}
}

// Literal writes a constant's value as Go source that denotes the same
// value with the same kind (an untyped rune stays a rune), or "".
func Literal(v constant.Value, t types.Type) string {
	switch v.Kind() {
	case constant.Bool:
		return strconv.FormatBool(constant.BoolVal(v))
	case constant.String:
		return strconv.Quote(constant.StringVal(v))
	case constant.Int:
		if b, ok := t.(*types.Basic); ok && b.Kind() == types.UntypedRune {
			return "('\\x00' + " + v.ExactString() + ")"
		}
		if constant.Sign(v) < 0 {
			return "(" + v.ExactString() + ")"
		}
		return v.ExactString()
	case constant.Float:
		return float(v)
	case constant.Complex:
		re, im := float(constant.Real(v)), float(constant.Imag(v))
		if re == "" || im == "" {
			return ""
		}
		return "(" + re + " + " + im + "*1i)"
	}
	return ""
}

// float writes a float constant exactly: as a float literal when a
// float64 holds it, else as a quotient of float literals.
func float(v constant.Value) string {
	if f, exact := constant.Float64Val(v); exact && !math.IsInf(f, 0) {
		s := strconv.FormatFloat(f, 'g', -1, 64)
		if !strings.ContainsAny(s, ".eEn") {
			s += ".0"
		}
		if f < 0 {
			s = "(" + s + ")"
		}
		return s
	}
	num, den := constant.Num(v), constant.Denom(v)
	if num.Kind() != constant.Int || den.Kind() != constant.Int {
		return ""
	}
	if constant.Compare(den, token.EQL, constant.MakeInt64(1)) {
		return "(" + num.ExactString() + ".0)"
	}
	return "(" + num.ExactString() + ".0 / " + den.ExactString() + ".0)"
}
