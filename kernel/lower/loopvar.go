package lower

import (
	"go/ast"
	"go/token"
	"go/types"
	"strings"
)

// The interpreter keeps one variable for all iterations of a loop (Go
// before 1.22), so func literals and pointers made in the body all see
// the last value. A loop whose variables the body captures (in a func
// literal) or takes the address of gets a copy of them per iteration at
// the top of its body, `i := i`, which is what Go 1.22 gives.

// rangeVars makes the variables of a range loop per iteration.
func (r *rewriter) rangeVars(n *ast.RangeStmt, c ctx) {
	if n.Tok != token.DEFINE {
		return
	}
	var names []string
	for _, x := range []ast.Expr{n.Key, n.Value} {
		if id, ok := x.(*ast.Ident); ok && id.Name != "_" {
			if v, ok := r.info.Defs[id].(*types.Var); ok && r.captured(n.Body, v) {
				names = append(names, r.nameOf(v))
			}
		}
	}
	r.copyVars(n.Body, names, c)
}

// forVars makes the variables a three-clause loop defines per iteration,
// when the body does not assign them (the copy would lose the assignment).
func (r *rewriter) forVars(n *ast.ForStmt, c ctx) {
	as, ok := n.Init.(*ast.AssignStmt)
	if !ok || as.Tok != token.DEFINE {
		return
	}
	var names []string
	for _, l := range as.Lhs {
		id, ok := l.(*ast.Ident)
		if !ok || id.Name == "_" {
			continue
		}
		v, ok := r.info.Defs[id].(*types.Var)
		if ok && r.captured(n.Body, v) && !r.assigned(n.Body, v) {
			names = append(names, r.nameOf(v))
		}
	}
	r.copyVars(n.Body, names, c)
}

// copyVars starts body with copies of the named variables. At the top
// level of a cell the copies would be global to the interpreter, so the
// statement runs in a func literal.
func (r *rewriter) copyVars(body *ast.BlockStmt, names []string, c ctx) {
	if len(names) == 0 {
		return
	}
	if c.fn.top {
		r.wrapLoop = true
	}
	list := strings.Join(names, ", ")
	r.insert(body.Lbrace+1, " "+list+" := "+list+";")
}

// nameOf returns the name an object has in the lowered text.
func (r *rewriter) nameOf(obj types.Object) string {
	if n, ok := r.renamed[obj]; ok {
		return n
	}
	return obj.Name()
}

// captured reports whether a func literal in body uses v, or body takes
// its address.
func (r *rewriter) captured(body *ast.BlockStmt, v *types.Var) bool {
	found := false
	uses := func(n ast.Node) bool {
		hit := false
		ast.Inspect(n, func(m ast.Node) bool {
			if id, ok := m.(*ast.Ident); ok && r.info.Uses[id] == v {
				hit = true
			}
			return !hit
		})
		return hit
	}
	ast.Inspect(body, func(m ast.Node) bool {
		if found {
			return false
		}
		switch m := m.(type) {
		case *ast.FuncLit:
			found = uses(m)
			return false
		case *ast.UnaryExpr:
			if m.Op == token.AND {
				if id, ok := ast.Unparen(m.X).(*ast.Ident); ok && r.info.Uses[id] == v {
					found = true
				}
			}
		}
		return true
	})
	return found
}

// assigned reports whether body assigns v (outside func literals too).
func (r *rewriter) assigned(body *ast.BlockStmt, v *types.Var) bool {
	is := func(x ast.Expr) bool {
		id, ok := ast.Unparen(x).(*ast.Ident)
		return ok && r.info.Uses[id] == v
	}
	found := false
	ast.Inspect(body, func(m ast.Node) bool {
		switch m := m.(type) {
		case *ast.AssignStmt:
			for _, l := range m.Lhs {
				found = found || is(l)
			}
		case *ast.IncDecStmt:
			found = found || is(m.X)
		}
		return !found
	})
	return found
}
