package lower

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"strings"

	"gantry/kernel/front"
)

// A fnCtx is the function a statement belongs to: a func declaration or
// literal, or the top level of the cell.
type fnCtx struct {
	top     bool             // the top level of the cell
	sig     *types.Signature // nil at the top level
	outer   *loopCtx         // the outermost range-over-func loop of the function being lowered
	holders []string         // variables for results of returns inside range-over-func bodies
	deferTo string           // the list deferred calls go to; "" for plain defer
}

// A loopCtx is a range-over-func loop whose body is being lowered.
type loopCtx struct {
	next    string // variable saying how the body's func returned
	depth   int    // index of the loop in the targets of its context
	parent  *loopCtx
	actions []string // what to do after the call, by the value of next
	codes   int
	labels  map[string]bool // labels declared inside the body
	open    *edit           // the edit opening the loop (holders go there)
}

// A target is a statement that break or continue may leave.
type target struct {
	label string
	loop  bool // for or range (continue may name it)
}

// A ctx is where the walk is.
type ctx struct {
	fn      *fnCtx
	loop    *loopCtx // the innermost range-over-func body the walk is in, within fn
	targets []target // statements break and continue may leave, outermost first, within fn
	label   string   // the label of the statement being visited
	labeled *ast.LabeledStmt
}

func (c ctx) push(t target) ctx {
	c.targets = append(c.targets[:len(c.targets):len(c.targets)], t)
	c.label, c.labeled = "", nil
	return c
}

// children calls f for each direct child of n.
func children(n ast.Node, f func(ast.Node)) {
	first := true
	ast.Inspect(n, func(m ast.Node) bool {
		if first {
			first = false
			return true
		}
		if m != nil {
			f(m)
		}
		return false
	})
}

// topStmt lowers a statement of the top level of the cell.
func (r *rewriter) topStmt(s ast.Stmt, fn *fnCtx) {
	if as, ok := s.(*ast.AssignStmt); ok && r.hoistedDefine(as) {
		r.replace(as.TokPos, as.TokPos+2, "=")
	}
	r.renameLocals(s)
	r.wrapLoop = false
	r.walk(s, ctx{fn: fn})
	r.wrapTop(s, r.wrapLoop)
	r.stopOnUnread(s) // unread.go
}

// walk lowers n and what it contains.
func (r *rewriter) walk(n ast.Node, c ctx) {
	if r.skip[n] {
		return
	}
	if x, ok := n.(ast.Expr); ok && r.foldConst(x, c) {
		return
	}
	switch n := n.(type) {
	case *ast.FuncDecl:
		r.funcDecl(n)
		if n.Body != nil {
			r.walkFunc(n.Body, r.funcSig(n.Name))
		}
		return
	case *ast.FuncLit:
		sig, _ := r.info.TypeOf(n).(*types.Signature)
		r.walk(n.Type, ctx{fn: &fnCtx{}})
		r.walkFunc(n.Body, sig)
		return
	case *ast.GenDecl:
		if n.Tok == token.CONST {
			r.foldConsts(n, c)
			return
		}
	case *ast.LabeledStmt:
		c.label, c.labeled = n.Label.Name, n
		r.walk(n.Stmt, c)
		return
	case *ast.RangeStmt:
		walked, lowered := r.rangeStmt(n, c)
		if walked {
			return
		}
		if !lowered {
			r.rangeVars(n, c)
			r.rangeAssign(n)
		}
		c = c.push(target{label: c.label, loop: true})
	case *ast.ForStmt:
		r.forVars(n, c)
		c = c.push(target{label: c.label, loop: true})
	case *ast.TypeSwitchStmt:
		r.dedupCases(n)
		c = c.push(target{label: c.label})
	case *ast.SwitchStmt, *ast.SelectStmt:
		c = c.push(target{label: c.label})
	case *ast.BranchStmt:
		r.branch(n, c)
		return
	case *ast.ReturnStmt:
		r.returnStmt(n, c)
	case *ast.DeferStmt:
		if r.deferStmt(n, c) {
			return
		}
	case *ast.CallExpr:
		if r.call(n, c) {
			return
		}
	case *ast.IndexExpr, *ast.IndexListExpr:
		if r.instance(n.(ast.Expr)) {
			return
		}
	case *ast.Ident:
		if name, ok := r.renamed[r.info.Defs[n]]; ok {
			r.replace(n.Pos(), n.End(), name)
			return
		}
		r.ident(n)
		return
	case *ast.ExprStmt:
		if r.clearStmt(n, c) {
			return
		}
	case *ast.AssignStmt:
		r.parallelDefine(n, c)
	case *ast.SelectorExpr:
		if r.packageVar(n) {
			return
		}
	}
	c.label, c.labeled = "", nil
	children(n, func(m ast.Node) { r.walk(m, c) })
}

// foldConst writes a constant expression (not a literal or a name) as its
// value, computed by the checker; it reports whether it did. The
// interpreter computes some constant expressions wrongly: beyond 64 bits
// ("constant ... overflows int64"), or untyped floats converted to
// float32.
func (r *rewriter) foldConst(x ast.Expr, c ctx) bool {
	switch x.(type) {
	case *ast.BinaryExpr, *ast.UnaryExpr, *ast.ParenExpr, *ast.CallExpr:
	default:
		return false
	}
	tv, ok := r.info.Types[x]
	if !ok || tv.Value == nil {
		return false
	}
	lit := front.Literal(tv.Value, tv.Type)
	if lit == "" {
		return false
	}
	if b, ok := tv.Type.(*types.Basic); !ok || b.Info()&types.IsUntyped == 0 {
		t, err := r.spell(tv.Type, !c.fn.top)
		if err != nil {
			return false
		}
		lit = "(" + t + ")(" + lit + ")"
	}
	r.replace(x.Pos(), x.End(), lit)
	return true
}

// packageVar lowers a use of a variable of an imported package, pkg.V, to
// (*&pkg.V); it reports whether it did. The interpreter reads pkg.V when
// it compiles the code, as if it were a constant (a later change is not
// seen, and an assignment is refused: "cannot assign to ... (constant)"),
// but reads and writes through the pointer when the code runs.
func (r *rewriter) packageVar(sel *ast.SelectorExpr) bool {
	pkg, ok := sel.X.(*ast.Ident)
	if !ok {
		return false
	}
	if _, ok := r.info.Uses[pkg].(*types.PkgName); !ok {
		return false
	}
	v, ok := r.info.Uses[sel.Sel].(*types.Var)
	if !ok || v.IsField() {
		return false
	}
	r.insert(sel.Pos(), "(*&")
	r.insert(sel.End(), ")")
	return true
}

// parallelDefine works around the interpreter losing the value of a call
// defined together with a composite literal (`got, want := f(), []int{1}`
// leaves got empty): each composite literal there comes from a func
// literal instead.
func (r *rewriter) parallelDefine(n *ast.AssignStmt, c ctx) {
	if n.Tok != token.DEFINE || len(n.Rhs) < 2 {
		return
	}
	for _, x := range n.Rhs {
		lit := ast.Unparen(x)
		if u, ok := lit.(*ast.UnaryExpr); ok && u.Op == token.AND {
			lit = ast.Unparen(u.X)
		}
		if _, ok := lit.(*ast.CompositeLit); !ok {
			continue
		}
		t, err := r.spell(r.typeOf(x), true)
		if err != nil {
			continue
		}
		r.insert(x.Pos(), "func() "+t+" { return ")
		r.insert(x.End(), " }()")
	}
}

// rangeAssign lowers `for k, v = range x` (assigning variables declared
// elsewhere), which the interpreter gets wrong (k keeps its old value), to
// `for k_, v_ := range x { k, v = k_, v_; ... }`.
func (r *rewriter) rangeAssign(n *ast.RangeStmt) {
	if n.Tok != token.ASSIGN || n.Key == nil {
		return
	}
	var fresh, vars []string
	for _, x := range []ast.Expr{n.Key, n.Value} {
		if x == nil {
			continue
		}
		name := r.name("k")
		fresh = append(fresh, name)
		if isBlank(x) {
			vars = append(vars, "_")
		} else {
			vars = append(vars, r.exprText(x))
		}
	}
	r.replace(n.Key.Pos(), n.TokPos+1, strings.Join(fresh, ", ")+" :=")
	r.insert(n.Body.Lbrace+1, " "+strings.Join(vars, ", ")+" = "+strings.Join(fresh, ", ")+";")
}

// dedupCases handles a type switch in a copy of generic code, where a case
// type may have become the same as another (Go allows `case T, int` with a
// type parameter T): the first case with a type wins, as when the switch
// runs, and a later one becomes a type no value has.
func (r *rewriter) dedupCases(n *ast.TypeSwitchStmt) {
	if r.subst == nil {
		return
	}
	var seen []types.Type
	for _, cc := range n.Body.List {
		for _, x := range cc.(*ast.CaseClause).List {
			t := r.typeOf(x)
			if t == nil || isNil(r.info, x) {
				continue
			}
			dup := false
			for _, u := range seen {
				if types.Identical(t, u) {
					dup = true
				}
			}
			if !dup {
				seen = append(seen, t)
				continue
			}
			r.replace(x.Pos(), x.End(), "struct{ "+r.name("never")+" byte }")
			if r.skip == nil {
				r.skip = map[ast.Node]bool{}
			}
			r.skip[x] = true
		}
	}
}

func isNil(info *types.Info, x ast.Expr) bool {
	tv, ok := info.Types[x]
	return ok && tv.IsNil()
}

// funcSig returns the signature of a declared func.
func (r *rewriter) funcSig(name *ast.Ident) *types.Signature {
	if f, ok := r.info.Defs[name].(*types.Func); ok {
		return f.Type().(*types.Signature)
	}
	return nil
}

// walkFunc lowers the body of a func. When a range-over-func body in it
// defers a call, every defer of the func goes to a list that one plain
// defer runs, so that they keep their order.
func (r *rewriter) walkFunc(body *ast.BlockStmt, sig *types.Signature) {
	fn := &fnCtx{sig: sig}
	if deferInRangeFunc(r, body) {
		fn.deferTo = r.name("dfr")
		r.insert(body.Lbrace+1, fmt.Sprintf(" var %[1]s []func(); defer func() { for i := len(%[1]s) - 1; i >= 0; i-- { %[1]s[i]() } }();", fn.deferTo))
	}
	r.walk(body, ctx{fn: fn})
}

// deferInRangeFunc reports whether a range-over-func loop in body (not in
// a nested func) has a defer in its body.
func deferInRangeFunc(r *rewriter, body *ast.BlockStmt) bool {
	found := false
	var visit func(n ast.Node, inLoop bool) bool
	visit = func(n ast.Node, inLoop bool) bool {
		switch n := n.(type) {
		case *ast.FuncLit:
			return false
		case *ast.DeferStmt:
			if inLoop {
				found = true
			}
		case *ast.RangeStmt:
			if r.isFuncRange(n) {
				ast.Inspect(n.Body, func(m ast.Node) bool { return m != nil && visit(m, true) })
				return false
			}
		}
		return !found
	}
	ast.Inspect(body, func(m ast.Node) bool { return m != nil && visit(m, false) })
	return found
}

// isFuncRange reports whether a range statement ranges over a func.
func (r *rewriter) isFuncRange(n *ast.RangeStmt) bool {
	t := r.typeOf(n.X)
	if t == nil {
		return false
	}
	_, ok := coreType(t).(*types.Signature)
	return ok
}

// coreType returns the underlying type of t, or of every type in its type
// set when t is a type parameter and they agree, else nil.
func coreType(t types.Type) types.Type {
	tp, ok := types.Unalias(t).(*types.TypeParam)
	if !ok {
		return t.Underlying()
	}
	var core types.Type
	iface := tp.Constraint().Underlying().(*types.Interface)
	for i := 0; i < iface.NumEmbeddeds(); i++ {
		u, ok := iface.EmbeddedType(i).(*types.Union)
		if !ok {
			return iface.EmbeddedType(i).Underlying()
		}
		for j := 0; j < u.Len(); j++ {
			ut := u.Term(j).Type().Underlying()
			if core != nil && !types.Identical(core, ut) {
				return nil
			}
			core = ut
		}
	}
	return core
}

// rangeStmt lowers a range over an integer or a func; it reports whether
// it walked the statement itself, and whether it lowered it.
func (r *rewriter) rangeStmt(n *ast.RangeStmt, c ctx) (walked, lowered bool) {
	t := r.typeOf(n.X)
	if t == nil {
		return false, false
	}
	switch u := coreType(t).(type) {
	case *types.Basic:
		if u.Info()&types.IsInteger != 0 {
			r.rangeInt(n, c)
			return false, true
		}
	case *types.Signature:
		r.rangeFunc(n, u, c)
		return true, true
	}
	return false, false
}

// rangeInt lowers `for i := range n` to
// `for i_, n_ := T(0), T(n); i_ < n_; i_++ { i := i_; ... }`.
func (r *rewriter) rangeInt(n *ast.RangeStmt, c ctx) {
	var t types.Type
	if id, ok := n.Key.(*ast.Ident); ok && n.Tok == token.DEFINE {
		if obj := r.info.Defs[id]; obj != nil {
			t = obj.Type()
		}
	}
	if t == nil && n.Key != nil && n.Tok == token.ASSIGN {
		t = r.typeOf(n.Key)
	}
	if t == nil {
		t = types.Default(r.typeOf(n.X))
	}
	typ, err := r.spell(t, !c.fn.top)
	if err != nil {
		r.fail(n.Range, "range over %s: its type cannot be written here (%v); write a three-clause for loop", r.text(n.X), err)
		return
	}
	i, lim := r.name("i"), r.name("n")
	r.replace(n.For, n.X.Pos(), fmt.Sprintf("for %s, %s := %s(0), %s(", i, lim, typ, typ))
	copyVar := ""
	if n.Key != nil && !isBlank(n.Key) {
		copyVar = fmt.Sprintf(" %s %s %s;", r.exprText(n.Key), n.Tok, i)
	}
	r.replace(n.X.End(), n.Body.Lbrace+1, fmt.Sprintf("); %s < %s; %s++ {%s", i, lim, i, copyVar))
}

// exprText returns the text of an expression the lowering moves: a
// renamed variable by its new name, anything else as written.
func (r *rewriter) exprText(x ast.Expr) string {
	if id, ok := x.(*ast.Ident); ok {
		obj := r.info.Defs[id]
		if obj == nil {
			obj = r.info.Uses[id]
		}
		if name, ok := r.renamed[obj]; ok && obj != nil {
			return name
		}
	}
	return r.text(x)
}

func isBlank(x ast.Expr) bool {
	id, ok := x.(*ast.Ident)
	return ok && id.Name == "_"
}

// rangeFunc lowers `for k, v := range f { body }` to a call of f with the
// body as its yield func:
//
//	{ var next int; (f)(func(k K, v V) bool { ...; body; return true }); after }
//
// where break and continue of the loop return from the func, and break,
// continue and return to places outside it set next and stop the loop, and
// `after` does what next says.
func (r *rewriter) rangeFunc(n *ast.RangeStmt, sig *types.Signature, c ctx) {
	yield, ok := yieldOf(sig, 0)
	if !ok || sig.Params().Len() != 1 || sig.Results().Len() != 0 {
		r.fail(n.Range, "range over %s: not a func(yield func(...) bool)", r.text(n.X))
		return
	}
	var params []string
	for i := 0; i < yield.Params().Len(); i++ {
		t, err := r.spell(yield.Params().At(i).Type(), true)
		if err != nil {
			r.fail(n.Range, "range over %s: the type of its values cannot be written (%v); call the func with a yield func instead", r.text(n.X), err)
			return
		}
		params = append(params, t)
	}
	vars := []ast.Expr{n.Key, n.Value}
	var names, assign []string
	for i, t := range params {
		name := "_"
		if i < 2 && vars[i] != nil && !isBlank(vars[i]) {
			if n.Tok == token.DEFINE {
				name = r.exprText(vars[i])
			} else {
				name = r.name("v")
				assign = append(assign, r.exprText(vars[i])+" = "+name)
			}
		}
		names = append(names, name+" "+t)
	}
	loop := &loopCtx{next: r.name("next"), parent: c.loop, labels: map[string]bool{}}
	ast.Inspect(n.Body, func(m ast.Node) bool {
		switch m := m.(type) {
		case *ast.FuncLit:
			return false
		case *ast.LabeledStmt:
			loop.labels[m.Label.Name] = true
		}
		return true
	})
	open := fmt.Sprintf("{ var %s int; ", loop.next)
	// The interpreter cannot call a parenthesized func name, (f)(...), so
	// parentheses only where the syntax needs them.
	lp, rp := "", ""
	switch ast.Unparen(n.X).(type) {
	case *ast.Ident, *ast.SelectorExpr, *ast.CallExpr, *ast.IndexExpr, *ast.IndexListExpr, *ast.FuncLit, *ast.TypeAssertExpr:
	default:
		lp, rp = "(", ")"
	}
	loop.open = r.replace(n.For, n.X.Pos(), open+lp)
	if c.fn.outer == nil {
		c.fn.outer = loop
	}
	prefix := fmt.Sprintf(`if %[1]s != 0 { panic("range function continued iteration after function for loop body returned false") }; `, loop.next)
	if len(assign) > 0 {
		prefix += strings.Join(assign, "; ") + "; "
	}
	r.replace(n.X.End(), n.Body.Lbrace+1, fmt.Sprintf("%s(func(%s) bool { %s", rp, strings.Join(names, ", "), prefix))
	if c.labeled != nil {
		// The label would name a block nothing refers to any more.
		r.replace(c.labeled.Label.Pos(), c.labeled.Colon+1, "")
	}
	r.walk(n.X, c)
	inner := c.push(target{label: c.label, loop: true})
	loop.depth = len(inner.targets) - 1
	inner.loop = loop
	r.walk(n.Body, inner)
	closing := fmt.Sprintf("; return true }); if %[1]s == 0 { %[1]s = -3 }", loop.next)
	for _, a := range loop.actions {
		closing += "; " + a
	}
	if c.fn.outer == loop && len(c.fn.holders) > 0 {
		var decl []string
		for i, h := range c.fn.holders {
			t, _ := r.spell(c.fn.sig.Results().At(i).Type(), true)
			decl = append(decl, fmt.Sprintf("var %s %s; ", h, t))
		}
		loop.open.text = open + strings.Join(decl, "") + lp
	}
	if c.fn.outer == loop {
		c.fn.outer = nil
	}
	r.replace(n.Body.Rbrace, n.Body.Rbrace+1, closing+" }")
}

// yieldOf returns the signature of parameter i of sig if it is a func
// returning bool: the yield func of an iterator.
func yieldOf(sig *types.Signature, i int) (*types.Signature, bool) {
	if sig.Params().Len() <= i {
		return nil, false
	}
	y, ok := coreType(sig.Params().At(i).Type()).(*types.Signature)
	if !ok || y.Results().Len() != 1 {
		return nil, false
	}
	b, ok := y.Results().At(0).Type().Underlying().(*types.Basic)
	return y, ok && b.Kind() == types.Bool
}

// branch lowers break, continue and goto inside range-over-func bodies.
func (r *rewriter) branch(n *ast.BranchStmt, c ctx) {
	if c.loop == nil || n.Tok == token.FALLTHROUGH {
		return
	}
	if n.Tok == token.GOTO {
		if !c.loop.labels[n.Label.Name] {
			r.fail(n.Pos(), "goto %s leaves the body of a range over a func; restructure the loop with break or a flag", n.Label.Name)
		}
		return
	}
	t := -1
	for i := len(c.targets) - 1; i >= 0; i-- {
		tg := c.targets[i]
		if n.Label != nil && tg.label == n.Label.Name || n.Label == nil && (tg.loop || n.Tok == token.BREAK) {
			t = i
			break
		}
	}
	if t < 0 || t > c.loop.depth {
		return // stays inside the body
	}
	r.replace(n.Pos(), n.End(), r.leave(n.Tok, n.Label, t, c.loop))
}

// leave returns the code that, inside the body of loop, breaks or continues
// the statement targets[t] of the context.
func (r *rewriter) leave(tok token.Token, label *ast.Ident, t int, loop *loopCtx) string {
	switch {
	case loop == nil || t > loop.depth:
		return tok.String() + " " + label.Name
	case t == loop.depth && tok == token.CONTINUE:
		return "return true"
	case t == loop.depth:
		return fmt.Sprintf("{ %s = -2; return false }", loop.next)
	}
	loop.codes++
	code := loop.codes
	loop.actions = append(loop.actions, fmt.Sprintf("if %s == %d { %s }", loop.next, code, r.leave(tok, label, t, loop.parent)))
	return fmt.Sprintf("{ %s = %d; return false }", loop.next, code)
}

// returnStmt lowers a return inside range-over-func bodies: the results go
// to holders, and the function returns once the loops stopped.
func (r *rewriter) returnStmt(n *ast.ReturnStmt, c ctx) {
	if c.loop == nil {
		return
	}
	fn := c.fn
	code := -4 // a bare return
	if len(n.Results) > 0 {
		code = -1
		if fn.holders == nil {
			for i := 0; i < fn.sig.Results().Len(); i++ {
				fn.holders = append(fn.holders, r.name("r"))
			}
		}
		r.replace(n.Return, n.Results[0].Pos(), "{ "+strings.Join(fn.holders, ", ")+" = ")
		r.insert(n.End(), fmt.Sprintf("; %s = %d; return false }", c.loop.next, code))
	} else {
		r.replace(n.Return, n.End(), fmt.Sprintf("{ %s = %d; return false }", c.loop.next, code))
	}
	r.propagateReturn(c.loop, code, fn)
}

// propagateReturn makes each enclosing loop pass a return on, and the
// outermost return from the function.
func (r *rewriter) propagateReturn(loop *loopCtx, code int, fn *fnCtx) {
	for l := loop; l != nil; l = l.parent {
		key := fmt.Sprintf("if %s == %d {", l.next, code)
		done := false
		for _, a := range l.actions {
			if strings.HasPrefix(a, key) {
				done = true
			}
		}
		if done {
			return
		}
		var then string
		switch {
		case l.parent != nil:
			then = fmt.Sprintf("%s = %d; return false", l.parent.next, code)
		case code == -1:
			then = "return " + strings.Join(fn.holders, ", ")
		default:
			then = "return"
		}
		l.actions = append(l.actions, key+" "+then+" }")
	}
}
