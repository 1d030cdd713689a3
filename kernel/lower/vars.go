package lower

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"sort"
	"strings"

	"gantry/kernel/cell"
	"gantry/kernel/front"
)

// declChunk lowers a chunk of declarations. Initial values of vars become
// a chunk of statements of their own, which runs where the declarations
// stand among the cell's statements: declarations are made before any
// statement runs (so they may use one another in any order, as in Go),
// and what has effects runs in the order of the cell. (The interpreter
// also fails on some initial values in declarations that statements take:
// docs/INTERPRETER.md.)
func (r *rewriter) declChunk(i int, c *front.Chunk) (Part, *Part) {
	r.ed = &editor{src: c.Src}
	r.off = c.Offset
	top := &fnCtx{top: true}
	var inits []*ast.ValueSpec
	for _, d := range c.Decls {
		if gd, ok := d.(*ast.GenDecl); ok && gd.Tok == token.VAR {
			if specs := r.splitVars(gd); specs != nil {
				inits = append(inits, specs...)
				continue
			}
		}
		r.walk(d, ctx{fn: top})
	}
	decl := r.part(i, c)
	if len(inits) == 0 {
		return decl, nil
	}
	// The statements: each spec's "names = values", the rest of the chunk
	// blanked out, keeping its line breaks.
	r.ed = &editor{src: c.Src}
	at := 0
	blank := func(to int) {
		if to > at {
			gap := c.Src[at:to]
			if n := strings.Count(gap, "\n"); n > 0 {
				r.ed.replace(at, to, strings.Repeat("\n", n))
			} else {
				r.ed.replace(at, to, "; ")
			}
		}
	}
	var names []string
	for _, sp := range inits {
		blank(c.Offset(sp.Pos()))
		if sp.Type != nil {
			r.replace(sp.Type.Pos(), sp.Type.End(), "")
		}
		for _, v := range sp.Values {
			r.walk(v, ctx{fn: top})
		}
		for _, id := range sp.Names {
			names = append(names, id.Name)
		}
		at = c.Offset(sp.End())
	}
	blank(len(c.Src))
	stmt := r.part(i, c)
	stmt.Kind = cell.Stmts
	stmt.Names = names
	return decl, &stmt
}

// part returns the part the edits of r.ed make of chunk i.
func (r *rewriter) part(i int, c *front.Chunk) Part {
	p := Part{Chunk: c.Chunk, Index: i, orig: c.Src}
	if len(r.ed.edits) > 0 {
		p.Src, p.spans = r.ed.apply()
	}
	return p
}

// splitVars rewrites the specs with initial values of a var declaration
// as declarations of their names with their types, and returns them; nil
// if there are none, or a type cannot be written (the declaration then
// stays as it is).
func (r *rewriter) splitVars(gd *ast.GenDecl) []*ast.ValueSpec {
	type repl struct {
		sp   *ast.ValueSpec
		text []string // "name T" for each name that is not blank
	}
	var specs []repl
	for _, s := range gd.Specs {
		sp := s.(*ast.ValueSpec)
		if len(sp.Values) == 0 {
			continue
		}
		rp := repl{sp: sp}
		for _, id := range sp.Names {
			obj := r.info.Defs[id]
			if id.Name == "_" || obj == nil {
				continue
			}
			t, err := r.spell(obj.Type(), false)
			if err != nil {
				return nil
			}
			rp.text = append(rp.text, id.Name+" "+t)
		}
		specs = append(specs, rp)
	}
	if len(specs) == 0 {
		return nil
	}
	pad := func(from, to token.Pos) string {
		return strings.Repeat("\n", strings.Count(r.ed.src[r.off(from):r.off(to)], "\n"))
	}
	var out []*ast.ValueSpec
	if !gd.Lparen.IsValid() {
		rp := specs[0]
		text := ""
		switch len(rp.text) {
		case 0:
		case 1:
			text = "var " + rp.text[0]
		default:
			text = "var (" + strings.Join(rp.text, "; ") + ")"
		}
		r.replace(gd.Pos(), gd.End(), text+pad(gd.Pos(), gd.End()))
		return []*ast.ValueSpec{rp.sp}
	}
	for _, rp := range specs {
		r.replace(rp.sp.Pos(), rp.sp.End(), strings.Join(rp.text, "; ")+pad(rp.sp.Pos(), rp.sp.End()))
		out = append(out, rp.sp)
	}
	return out
}

// hoist declares the names the cell's statements define and its
// declarations use (front.Checked.Hoisted) as vars, before the
// declarations; the statements that define them assign them instead.
func (r *rewriter) hoist() {
	if len(r.ch.Hoisted) == 0 {
		return
	}
	names := make([]string, 0, len(r.ch.Hoisted))
	for n := range r.ch.Hoisted {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		t, err := r.spell(r.ch.Hoisted[n], false)
		if err != nil {
			p := r.ch.Fset.Position(r.ch.Func.Pos())
			r.errs = append(r.errs, &front.Error{Exec: r.ch.Cell.Exec, Line: p.Line, Col: p.Column,
				Msg: fmt.Sprintf("%s is defined by a statement and used by a declaration of this cell, but its type cannot be written (%v); define it in an earlier cell", n, err)})
			return
		}
		fmt.Fprintf(&b, "var %s %s\n", n, t)
	}
	r.gen = append([]Part{genPart(b.String())}, r.gen...)
}

// hoistedDefine reports whether a top-level := defines hoisted names (it
// then assigns them).
func (r *rewriter) hoistedDefine(as *ast.AssignStmt) bool {
	if as.Tok != token.DEFINE || len(r.ch.Hoisted) == 0 {
		return false
	}
	for _, l := range as.Lhs {
		if id, ok := l.(*ast.Ident); ok {
			if _, ok := r.ch.Hoisted[id.Name]; ok {
				return true
			}
		}
	}
	return false
}

// foldConsts writes each constant of a const declaration with its value,
// computed by the checker: the interpreter fails on some constant
// expressions (iota in conversions, "constant definition loop"; shifts of
// constants beyond 64 bits), never on literals. Names keep their lines.
func (r *rewriter) foldConsts(gd *ast.GenDecl, c ctx) {
	var specs [][]string // per spec, "name T = value" for each name
	for _, s := range gd.Specs {
		sp := s.(*ast.ValueSpec)
		var texts []string
		for _, id := range sp.Names {
			obj, _ := r.info.Defs[id].(*types.Const)
			if obj == nil {
				if id.Name == "_" {
					continue
				}
				return
			}
			val := front.Literal(obj.Val(), obj.Type())
			if val == "" {
				return
			}
			typ := ""
			if b, ok := obj.Type().(*types.Basic); !ok || b.Info()&types.IsUntyped == 0 {
				t, err := r.spell(obj.Type(), !c.fn.top)
				if err != nil {
					return
				}
				typ = " " + t
			}
			name := id.Name
			if name == "_" {
				name = r.name("blank")
			}
			texts = append(texts, name+typ+" = "+val)
		}
		specs = append(specs, texts)
	}
	pad := func(from, to token.Pos) string {
		return strings.Repeat("\n", strings.Count(r.ed.src[r.off(from):r.off(to)], "\n"))
	}
	if !gd.Lparen.IsValid() {
		text := "const (" + strings.Join(specs[0], "; ") + ")"
		r.replace(gd.Pos(), gd.End(), text+pad(gd.Pos(), gd.End()))
		return
	}
	for i, s := range gd.Specs {
		r.replace(s.Pos(), s.End(), strings.Join(specs[i], "; ")+pad(s.Pos(), s.End()))
	}
}
