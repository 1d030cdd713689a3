package lower

import (
	"go/ast"
	"go/token"
	"go/types"
)

// wrapTop works around what the interpreter loses at the top level of a
// cell, where it treats names as global: a comma-ok form that defines
// names (`v, ok := m[k]`, `<-ch`, `x.(T)`) and a type switch that binds a
// name, directly or in a compound statement. A compound statement that
// holds one runs as a func literal called at once (its names are local to
// it anyway); a comma-ok definition of top-level names takes its values
// from a func literal.
func (r *rewriter) wrapTop(s ast.Stmt, force bool) {
	switch s := s.(type) {
	case *ast.AssignStmt:
		if s.Tok == token.DEFINE && len(s.Lhs) == 2 && len(s.Rhs) == 1 && commaOk(s.Rhs[0]) {
			r.commaOkTop(s)
		}
		return
	case *ast.IfStmt, *ast.ForStmt, *ast.RangeStmt, *ast.SwitchStmt, *ast.TypeSwitchStmt, *ast.SelectStmt, *ast.BlockStmt:
	default:
		return
	}
	need, safe := needsFunc(s)
	if !(need || force) || !safe {
		return
	}
	r.insert(s.Pos(), "func() { ")
	r.insert(s.End(), " }()")
}

// renameLocals gives the names a compound statement of the top level of the
// cell declares (a loop's variables, an if's, those of inner blocks) names
// of their own: the interpreter treats them as global at the top level,
// so `for i := ...` would overwrite a variable i of an earlier cell.
func (r *rewriter) renameLocals(s ast.Stmt) {
	switch s.(type) {
	case *ast.IfStmt, *ast.ForStmt, *ast.RangeStmt, *ast.SwitchStmt, *ast.TypeSwitchStmt, *ast.SelectStmt, *ast.BlockStmt, *ast.LabeledStmt:
	default:
		return
	}
	ast.Inspect(s, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncLit:
			return false
		case *ast.Ident:
			switch obj := r.info.Defs[n].(type) {
			case *types.Var, *types.Const, *types.TypeName:
				if n.Name != "_" {
					if r.renamed == nil {
						r.renamed = map[types.Object]string{}
					}
					r.renamed[obj] = r.name(n.Name + "_")
				}
			}
		}
		return true
	})
}

// commaOk reports whether x is a form that yields a second, bool value.
func commaOk(x ast.Expr) bool {
	switch x := ast.Unparen(x).(type) {
	case *ast.IndexExpr:
		return true // a map index; other index expressions cannot be two-valued
	case *ast.TypeAssertExpr:
		return true
	case *ast.UnaryExpr:
		return x.Op == token.ARROW
	}
	return false
}

// commaOkTop lowers `v, ok := X` at the top level to
// `v, ok := func() (T, bool) { v, ok := X; return v, ok }()`.
func (r *rewriter) commaOkTop(s *ast.AssignStmt) {
	tv, ok := r.info.Types[s.Rhs[0]]
	if !ok {
		return
	}
	var t types.Type = tv.Type
	if tup, ok := t.(*types.Tuple); ok && tup.Len() == 2 {
		t = tup.At(0).Type()
	}
	typ, err := r.spell(t, false)
	if err != nil {
		return // left as it is: the interpreter may still manage
	}
	r.insert(s.Rhs[0].Pos(), "func() ("+typ+", bool) { v, ok := ")
	r.insert(s.Rhs[0].End(), "; return v, ok }()")
}

// needsFunc reports whether a top-level compound statement holds what the
// interpreter loses at the top level, and whether a func literal would
// keep its meaning (it holds no return or goto).
func needsFunc(s ast.Stmt) (need, safe bool) {
	safe = true
	ast.Inspect(s, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncLit:
			return false
		case *ast.ReturnStmt:
			safe = false
		case *ast.BranchStmt:
			if n.Tok == token.GOTO {
				safe = false
			}
		case *ast.TypeSwitchStmt:
			if _, ok := n.Assign.(*ast.AssignStmt); ok {
				need = true
			}
		case *ast.AssignStmt:
			if n.Tok == token.DEFINE && len(n.Lhs) >= 2 && len(n.Rhs) == 1 {
				need = true
			}
		}
		return true
	})
	return need, safe
}
