package lower

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"strconv"
)

// StopOnErrFunc stops a cell at an error no line of it reads: it is called
// after a top-level statement that sets an error variable the rest of the
// cell never reads, with the variable and the statement's place
// ("cell[N]:LINE:COL"), and panics with the error when it is not nil. The
// executor's prelude declares it.
const StopOnErrFunc = "__gantry_stopOnErr"

// stopOnUnread makes a top-level assignment whose error result the rest of
// the cell never reads stop the cell when that error is not nil:
//
//	df, err := load("data.csv")   // and nothing after it reads err
//
// becomes `df, err := load("data.csv"); __gantry_stopOnErr(err, "cell[3]:1:1")`.
// A notebook then needs no `if err != nil { panic(err) }` after each call,
// and no error goes unseen: one that is read is the cell's to handle, and
// `_` discards one on purpose.
func (r *rewriter) stopOnUnread(s ast.Stmt) {
	as, ok := s.(*ast.AssignStmt)
	if !ok || (as.Tok != token.DEFINE && as.Tok != token.ASSIGN) {
		return
	}
	for _, lhs := range as.Lhs {
		id, ok := ast.Unparen(lhs).(*ast.Ident)
		if !ok || id.Name == "_" {
			continue
		}
		obj := r.info.Defs[id]
		if obj == nil {
			obj = r.info.Uses[id]
		}
		v, ok := obj.(*types.Var)
		if !ok || !types.Identical(v.Type(), errorType) || r.readAfter(v, as.End()) {
			continue
		}
		p := r.ch.Fset.Position(as.Pos())
		where := fmt.Sprintf("cell:%d:%d", p.Line, p.Column)
		if r.ch.Cell.Exec > 0 {
			where = fmt.Sprintf("cell[%d]:%d:%d", r.ch.Cell.Exec, p.Line, p.Column)
		}
		r.insert(as.End(), fmt.Sprintf("; %s(%s, %s)", StopOnErrFunc, id.Name, strconv.Quote(where)))
	}
}

var errorType = types.Universe.Lookup("error").Type()

// readAfter reports whether the cell uses v after pos.
func (r *rewriter) readAfter(v *types.Var, pos token.Pos) bool {
	for id, obj := range r.info.Uses {
		if obj == v && id.Pos() >= pos {
			return true
		}
	}
	return false
}
