package lower

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"strings"

	"gantry/kernel/cell"
	"gantry/kernel/front"
)

// builtinName returns the name of the builtin a call calls, or "".
func (r *rewriter) builtinName(call *ast.CallExpr) string {
	id, ok := ast.Unparen(call.Fun).(*ast.Ident)
	if !ok {
		return ""
	}
	if b, ok := r.info.Uses[id].(*types.Builtin); ok {
		return b.Name()
	}
	return ""
}

// call lowers calls of min and max; it reports whether it walked the call
// itself.
func (r *rewriter) call(n *ast.CallExpr, c ctx) bool {
	switch name := r.builtinName(n); name {
	case "min", "max":
		r.minMax(name, n, c)
		return true
	}
	return false
}

// minMax lowers min(x, ...) and max(x, ...): a constant result becomes the
// constant; other results a call of a helper for the basic type (converted
// from and to a named type), or, for a type parameter, a func literal.
func (r *rewriter) minMax(name string, n *ast.CallExpr, c ctx) {
	tv := r.info.Types[n]
	t := r.typeOf(n)
	if tv.Value != nil && r.subst == nil {
		lit := front.Literal(tv.Value, tv.Type)
		if b, ok := tv.Type.(*types.Basic); !ok || b.Info()&types.IsUntyped == 0 {
			typ, err := r.spell(tv.Type, !c.fn.top)
			if err != nil {
				r.fail(n.Pos(), "%s: the type of its result cannot be written here (%v)", name, err)
				return
			}
			lit = typ + "(" + lit + ")"
		}
		if lit != "" {
			r.replace(n.Pos(), n.End(), lit)
			return
		}
	}
	walkArgs := func() {
		for _, a := range n.Args {
			r.walk(a, c)
		}
	}
	core, _ := coreType(t).(*types.Basic)
	if core == nil || core.Info()&types.IsOrdered == 0 {
		typ, err := r.spell(t, true)
		if err != nil {
			r.fail(n.Pos(), "%s: the type of its arguments cannot be written here (%v)", name, err)
			return
		}
		op := "<"
		if name == "max" {
			op = ">"
		}
		r.replace(n.Pos(), n.Lparen+1, fmt.Sprintf("func(x %[1]s, ys ...%[1]s) %[1]s { if x != x { return x }; for _, y := range ys { if y != y { return y }; if y %[2]s x { x = y } }; return x }(", typ, op))
		walkArgs()
		return
	}
	helper := r.helper(name, core)
	if types.Identical(t, core) {
		r.replace(n.Fun.Pos(), n.Fun.End(), helper)
		walkArgs()
		return
	}
	typ, err := r.spell(t, true)
	if err != nil {
		r.fail(n.Pos(), "%s: the type of its arguments cannot be written here (%v)", name, err)
		return
	}
	r.replace(n.Pos(), n.Lparen+1, typ+"("+helper+"(")
	for _, a := range n.Args {
		if r.info.Types[a].Value == nil {
			r.insert(a.Pos(), core.Name()+"(")
			r.walk(a, c)
			r.insert(a.End(), ")")
		} else {
			r.walk(a, c)
		}
	}
	r.replace(n.Rparen, n.Rparen+1, "))")
}

// helper returns the name of the helper computing min or max for a basic
// type, and makes sure the cell declares it if no earlier cell did.
func (r *rewriter) helper(name string, b *types.Basic) string {
	fn := fmt.Sprintf("__gantry_%s_%s", name, b.Name())
	key := "helper " + fn
	if r.st.made[key] || r.made(key) {
		return fn
	}
	r.res.made = append(r.res.made, key)
	typ := b.Name()
	var body string
	switch {
	case b.Info()&types.IsFloat != 0 && name == "min":
		body = "if x != x { return x }; if y != y || y < x || y == x && y == 0 && 1/y < 0 { x = y }"
	case b.Info()&types.IsFloat != 0:
		body = "if x != x { return x }; if y != y || y > x || y == x && y == 0 && 1/x < 0 { x = y }"
	case name == "min":
		body = "if y < x { x = y }"
	default:
		body = "if y > x { x = y }"
	}
	src := fmt.Sprintf("func %s(x %s, ys ...%s) %s { for _, y := range ys { %s }; return x }", fn, typ, typ, typ, body)
	r.gen = append(r.gen, genPart(src))
	return fn
}

// made reports whether this cell already generates key.
func (r *rewriter) made(key string) bool {
	for _, k := range r.res.made {
		if k == key {
			return true
		}
	}
	return false
}

// genPart returns a part of generated declarations with no place in a cell.
func genPart(src string) Part {
	p := Part{Index: -1}
	p.Kind = cell.Decls
	p.Src, p.Line, p.Col = src, 1, 1
	return p
}

// clearStmt lowers clear(m) and clear(s) to reflect.Value.Clear, which
// also deletes the NaN keys of a map; it reports whether it walked the
// statement itself.
func (r *rewriter) clearStmt(n *ast.ExprStmt, c ctx) bool {
	call, ok := n.X.(*ast.CallExpr)
	if !ok || r.builtinName(call) != "clear" || len(call.Args) != 1 {
		return false
	}
	arg := call.Args[0]
	switch coreType(r.typeOf(arg)).(type) {
	case *types.Map, *types.Slice:
	default:
		r.fail(call.Pos(), "clear of %s: its type set has no single map or slice type; clear the map or slice where its type is known", r.text(arg))
		return true
	}
	reflect := front.Alias("reflect")
	r.imports[reflect] = "reflect"
	r.replace(call.Pos(), arg.Pos(), reflect+".ValueOf(")
	r.walk(arg, c)
	r.replace(arg.End(), call.Rparen+1, ").Clear()")
	return true
}

// deferStmt lowers a defer that must not be a plain defer: at the top level
// of a cell (the interpreter would run it again after later cells), or in
// a func whose range-over-func bodies defer calls. The call's func and
// arguments are evaluated at once, as defer does, and a func that makes
// the call is registered. It reports whether it walked the statement.
func (r *rewriter) deferStmt(n *ast.DeferStmt, c ctx) bool {
	var prefix, suffix string
	switch {
	case c.fn.deferTo != "":
		prefix, suffix = fmt.Sprintf("%[1]s = append(%[1]s, ", c.fn.deferTo), ")"
	case c.fn.top:
		prefix, suffix = DeferFunc+"(", ")"
		r.res.Defers = true
		r.deferHelpers()
	default:
		return r.plainDefer(n, c)
	}
	call := n.Call
	if _, ok := ast.Unparen(call.Fun).(*ast.FuncLit); ok && len(call.Args) == 0 {
		r.replace(n.Defer, call.Fun.Pos(), prefix)
		r.walk(call.Fun, c)
		r.replace(call.Lparen, call.Rparen+1, suffix)
		return true
	}
	var names []string
	for i := range call.Args {
		names = append(names, fmt.Sprintf("a%d", i))
	}
	dots := ""
	if call.Ellipsis.IsValid() {
		dots = "..."
	}
	inner := strings.Join(names, ", ") + dots
	if b := r.builtinName(call); b != "" {
		if len(call.Args) == 0 {
			r.replace(n.Defer, call.Rparen+1, prefix+"func() { "+b+"() }"+suffix)
			return true
		}
		r.replace(n.Defer, call.Args[0].Pos(), prefix+"func() func() { "+strings.Join(names, ", ")+" := ")
		for _, a := range call.Args {
			r.walk(a, c)
		}
		r.replace(call.Args[len(call.Args)-1].End(), call.Rparen+1, fmt.Sprintf("; return func() { %s(%s) } }()%s", b, inner, suffix))
		return true
	}
	vars := "f"
	if len(names) > 0 {
		vars += ", " + strings.Join(names, ", ")
	}
	r.replace(n.Defer, call.Fun.Pos(), prefix+"func() func() { "+vars+" := ")
	r.walk(call.Fun, c)
	end := call.Fun.End()
	if len(call.Args) > 0 {
		r.replace(call.Fun.End(), call.Args[0].Pos(), ", ")
		for _, a := range call.Args {
			r.walk(a, c)
		}
		end = call.Args[len(call.Args)-1].End()
	}
	r.replace(end, call.Rparen+1, fmt.Sprintf("; return func() { f(%s) } }()%s", inner, suffix))
	return true
}

// plainDefer lowers a defer whose call has arguments that are not
// constants: the interpreter evaluates them when the deferred call runs,
// not at the defer statement (docs/INTERPRETER.md), so they are copied
// into fresh variables first:
//
//	{ a0, a1 := x, y; defer f(a0, a1) }
//
// It reports whether it walked the statement.
func (r *rewriter) plainDefer(n *ast.DeferStmt, c ctx) bool {
	call := n.Call
	vary := false
	for _, a := range call.Args {
		if r.info.Types[a].Value == nil {
			vary = true
		}
	}
	if !vary {
		return false
	}
	names := make([]string, len(call.Args))
	for i := range names {
		names[i] = r.name("a")
	}
	dots := ""
	if call.Ellipsis.IsValid() {
		dots = "..."
	}
	fun := r.render(call.Fun, c)
	r.replace(n.Defer, call.Args[0].Pos(), "{ "+strings.Join(names, ", ")+" := ")
	for _, a := range call.Args {
		r.walk(a, c)
	}
	r.replace(call.Args[len(call.Args)-1].End(), call.Rparen+1,
		fmt.Sprintf("; defer %s(%s%s) }", fun, strings.Join(names, ", "), dots))
	return true
}

// render returns the lowered text of an expression, which the caller
// writes elsewhere.
func (r *rewriter) render(x ast.Expr, c ctx) string {
	saved, savedOff := r.ed, r.off
	from := r.off(x.Pos())
	r.ed = &editor{src: saved.src[from:r.off(x.End())]}
	r.off = func(p token.Pos) int { return savedOff(p) - from }
	r.walk(x, c)
	out, _ := r.ed.apply()
	r.ed, r.off = saved, savedOff
	return out
}

// deferHelpers makes sure the funcs that keep a cell's top-level defers
// are declared.
func (r *rewriter) deferHelpers() {
	const key = "helper defers"
	if r.st.made[key] || r.made(key) {
		return
	}
	r.res.made = append(r.res.made, key)
	r.gen = append(r.gen, genPart(fmt.Sprintf("var __gantry_defers []func()\n"+
		"func %s(f func()) { __gantry_defers = append(__gantry_defers, f) }\n"+
		"func %s() { ds := __gantry_defers; __gantry_defers = nil; for i := len(ds) - 1; i >= 0; i-- { ds[i]() } }",
		DeferFunc, RunDefersFunc)))
}

// funcDecl renames a cell's func main, so that the interpreter does not
// run it after every later cell; the executor runs it once.
func (r *rewriter) funcDecl(n *ast.FuncDecl) {
	if n.Recv == nil && n.Name.Name == "main" && r.subst == nil {
		r.replace(n.Name.Pos(), n.Name.End(), MainFunc)
		r.res.Main = true
	}
	// Parameters and results may name instances of generic types, and in a
	// copy of a generic func, its type parameters.
	r.walk(n.Type.Params, ctx{fn: &fnCtx{}})
	if n.Type.Results != nil {
		r.walk(n.Type.Results, ctx{fn: &fnCtx{}})
	}
	if n.Recv != nil && r.subst == nil {
		r.walk(n.Recv, ctx{fn: &fnCtx{}})
	}
}

// ident lowers a use of func main, of a generic func cells declared
// (called with inferred type arguments), and, in a copy of a generic func,
// of its type parameters.
func (r *rewriter) ident(n *ast.Ident) {
	obj := r.info.Uses[n]
	if name, ok := r.renamed[obj]; ok && obj != nil {
		r.replace(n.Pos(), n.End(), name)
		return
	}
	switch obj := obj.(type) {
	case *types.Func:
		if obj.Parent() != r.ch.Pkg.Scope() {
			return
		}
		if obj.Name() == "main" {
			r.replace(n.Pos(), n.End(), MainFunc)
			return
		}
		if inst, ok := r.info.Instances[n]; ok {
			if name, ok := r.instanceOf(obj, inst.TypeArgs); ok {
				r.replace(n.Pos(), n.End(), name)
			}
		}
	case *types.TypeName:
		tp, ok := obj.Type().(*types.TypeParam)
		if !ok || r.subst == nil {
			return
		}
		arg, ok := r.subst[tp]
		if !ok {
			return
		}
		s, err := r.spell(arg, true)
		if err != nil {
			return
		}
		if strings.HasPrefix(s, "*") || strings.HasPrefix(s, "<-") || strings.HasPrefix(s, "func") || strings.HasPrefix(s, "chan") {
			s = "(" + s + ")"
		}
		r.replace(n.Pos(), n.End(), s)
	}
}

// instance lowers an explicit instantiation of a generic func or type
// cells declared, G[T] or List[int], to the name of its concrete copy; it
// reports whether it did.
func (r *rewriter) instance(x ast.Expr) bool {
	var id *ast.Ident
	switch x := x.(type) {
	case *ast.IndexExpr:
		id, _ = x.X.(*ast.Ident)
	case *ast.IndexListExpr:
		id, _ = x.X.(*ast.Ident)
	}
	if id == nil {
		return false
	}
	inst, ok := r.info.Instances[id]
	if !ok {
		return false
	}
	var name string
	switch obj := r.info.Uses[id].(type) {
	case *types.Func:
		if obj.Parent() != r.ch.Pkg.Scope() {
			return false
		}
		name, ok = r.instanceOf(obj, inst.TypeArgs)
	case *types.TypeName:
		name, ok = r.typeInstanceOf(obj, inst.TypeArgs)
	default:
		return false
	}
	if !ok {
		return false
	}
	r.replace(x.Pos(), x.End(), name)
	return true
}
