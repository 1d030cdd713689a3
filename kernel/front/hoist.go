package front

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"sort"
	"strings"

	"gantry/kernel/cell"
)

// hoistable returns the names the top level of the cell's statements
// defines that its declarations use (they are undefined there), with
// every other name the statements defining them define, or nil.
func (ch *Checked) hoistable(errs []types.Error) map[string]types.Type {
	defs := map[string]types.Type{}
	for _, v := range ch.TopDefs() {
		if _, ok := defs[v.Name()]; !ok {
			defs[v.Name()] = v.Type()
		}
	}
	hoist := map[string]types.Type{}
	for _, te := range errs {
		name, ok := strings.CutPrefix(te.Msg, "undefined: ")
		if t, def := defs[name]; ok && def && !ch.inStmts(te.Pos) {
			hoist[name] = t
		}
	}
	if len(hoist) == 0 {
		return nil
	}
	for grew := true; grew; {
		grew = false
		for _, as := range ch.topDefines() {
			any := false
			for _, l := range as.Lhs {
				if _, ok := hoist[l.(*ast.Ident).Name]; ok {
					any = true
				}
			}
			for _, l := range as.Lhs {
				n := l.(*ast.Ident).Name
				if _, ok := hoist[n]; any && !ok && n != "_" {
					hoist[n] = defs[n]
					grew = true
				}
			}
		}
	}
	return hoist
}

// inStmts reports whether p lies in a chunk of statements.
func (ch *Checked) inStmts(p token.Pos) bool {
	for i := range ch.Chunks {
		if c := &ch.Chunks[i]; c.Kind == cell.Stmts && c.Contains(p) {
			return true
		}
	}
	return false
}

// topDefines returns the statements of the top level of the cell that
// define names with := (all of whose left sides are names).
func (ch *Checked) topDefines() []*ast.AssignStmt {
	var out []*ast.AssignStmt
	for _, c := range ch.Chunks {
		for _, st := range c.Stmts {
			if as, ok := st.(*ast.AssignStmt); ok && as.Tok == token.DEFINE {
				out = append(out, as)
			}
		}
	}
	return out
}

// hoistStub returns a file declaring the hoisted names as package vars.
func (ch *Checked) hoistStub(hoist map[string]types.Type) (*ast.File, error) {
	var b strings.Builder
	imports := map[string]string{}
	names := make([]string, 0, len(hoist))
	for n := range hoist {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		t, err := Spell(hoist[n], ch.Pkg, func(p *types.Package) string {
			a := Alias(p.Path())
			imports[a] = p.Path()
			return a
		}, false)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, "var %s %s\n", n, t)
	}
	var head strings.Builder
	head.WriteString("package main\n")
	for a, p := range imports {
		fmt.Fprintf(&head, "import %s %q\n", a, p)
	}
	return parser.ParseFile(ch.Fset, "gantry-hoist", head.String()+b.String(), parser.SkipObjectResolution)
}

// TopDefs returns the variables the top level of the cell's statements
// defines, by name, in the order they are defined.
func (ch *Checked) TopDefs() []*types.Var {
	var out []*types.Var
	seen := map[*types.Var]bool{}
	for _, c := range ch.Chunks {
		for _, st := range c.Stmts {
			as, ok := st.(*ast.AssignStmt)
			if !ok || as.Tok != token.DEFINE {
				continue
			}
			for _, l := range as.Lhs {
				id, ok := l.(*ast.Ident)
				if !ok || id.Name == "_" {
					continue
				}
				if v, ok := ch.Info.Defs[id].(*types.Var); ok && !seen[v] {
					seen[v] = true
					out = append(out, v)
				}
			}
		}
	}
	return out
}
