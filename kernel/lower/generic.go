package lower

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"hash/fnv"
	"strconv"
	"strings"

	"gantry/kernel/cell"
)

// An instance is a concrete copy of a generic func, or of a generic type
// and its methods, to make.
type instance struct {
	decl  *ast.FuncDecl   // a func
	spec  *ast.TypeSpec   // or a type
	tn    *types.TypeName // the generic type
	name  string
	args  []types.Type
	subst map[*types.TypeParam]types.Type
}

// maxInstances bounds the copies one cell makes (generic funcs that
// instantiate themselves with ever larger types would not end).
const maxInstances = 200

// instanceOf returns the name of the concrete copy of a generic func cells
// declared, for the given type arguments, and makes sure it is declared.
// It reports false when no copy can be made (a type argument is declared
// inside a func, or is itself a type parameter): the call is left to the
// interpreter's own generics.
func (r *rewriter) instanceOf(fn *types.Func, targs *types.TypeList) (string, bool) {
	decl := r.ch.FuncDecl(fn)
	sig, _ := fn.Type().(*types.Signature)
	if decl == nil || sig == nil || sig.TypeParams().Len() != targs.Len() || decl.Body == nil {
		return "", false
	}
	args, spelled, ok := r.concreteArgs(targs)
	if !ok {
		return "", false
	}
	subst := map[*types.TypeParam]types.Type{}
	for i, a := range args {
		subst[sig.TypeParams().At(i)] = a
	}
	key := fmt.Sprintf("instance %d %s[%s]", decl.Pos(), fn.Name(), strings.Join(spelled, ", "))
	name := instanceName(fn.Name(), key)
	if r.st.made[key] || r.made(key) {
		return name, true
	}
	if len(r.res.made) > maxInstances {
		return "", false
	}
	r.res.made = append(r.res.made, key)
	r.pending = append(r.pending, instance{decl: decl, name: name, subst: subst})
	return name, true
}

// typeInstanceOf returns the name of the concrete copy of a generic type
// cells declared, for the given type arguments, and makes sure it is
// declared with its methods; false when no copy can be made (as for
// instanceOf).
func (r *rewriter) typeInstanceOf(tn *types.TypeName, targs *types.TypeList) (string, bool) {
	named, ok := tn.Type().(*types.Named)
	if !ok || tn.Parent() != r.ch.Pkg.Scope() || named.TypeParams().Len() != targs.Len() {
		return "", false
	}
	spec := r.ch.TypeSpec(tn)
	if spec == nil || spec.TypeParams == nil || spec.Assign.IsValid() {
		return "", false
	}
	args, spelled, ok := r.concreteArgs(targs)
	if !ok {
		return "", false
	}
	key := fmt.Sprintf("type %d %s[%s]", spec.Pos(), tn.Name(), strings.Join(spelled, ", "))
	name := instanceName(tn.Name(), key)
	if r.st.made[key] || r.made(key) {
		return name, true
	}
	if len(r.res.made) > maxInstances {
		return "", false
	}
	r.res.made = append(r.res.made, key)
	subst := map[*types.TypeParam]types.Type{}
	for i, a := range args {
		subst[named.TypeParams().At(i)] = a
	}
	r.pending = append(r.pending, instance{spec: spec, tn: tn, name: name, args: args, subst: subst})
	return name, true
}

// concreteArgs returns type arguments with the copy's type arguments in
// place of type parameters, written; false if one still has a type
// parameter or cannot be written at the top level.
func (r *rewriter) concreteArgs(targs *types.TypeList) ([]types.Type, []string, bool) {
	var args []types.Type
	var spelled []string
	for i := 0; i < targs.Len(); i++ {
		t := targs.At(i)
		if r.subst != nil {
			t = substitute(t, r.subst)
		}
		if hasTypeParam(t) {
			return nil, nil, false
		}
		s, err := r.spell(t, false)
		if err != nil {
			return nil, nil, false
		}
		args = append(args, t)
		spelled = append(spelled, s)
	}
	return args, spelled, true
}

func instanceName(name, key string) string {
	h := fnv.New32a()
	h.Write([]byte(key))
	return fmt.Sprintf("__gantry_%s_%08x", name, h.Sum32())
}

// generated makes the generic instances the cell needs, and returns every
// generated declaration.
func (r *rewriter) generated() []Part {
	for len(r.pending) > 0 {
		in := r.pending[0]
		r.pending = r.pending[1:]
		if in.spec != nil {
			r.makeTypeInstance(in)
		} else {
			r.makeInstance(in)
		}
	}
	return r.gen
}

// makeTypeInstance writes the copy of a generic type, and of each of its
// methods, for its type arguments.
func (r *rewriter) makeTypeInstance(in instance) {
	saved := *r
	defer func() {
		r.ed, r.off, r.subst = saved.ed, saved.off, saved.subst
	}()
	src, base, ok := r.ch.Source(in.spec)
	if !ok {
		return
	}
	r.ed = &editor{src: src}
	r.off = func(p token.Pos) int { return int(p - base) }
	r.subst = in.subst
	r.insert(in.spec.Pos(), "type ")
	r.replace(in.spec.Name.Pos(), in.spec.Name.End(), in.name)
	r.replace(in.spec.TypeParams.Opening, in.spec.TypeParams.Closing+1, "")
	r.walk(in.spec.Type, ctx{fn: &fnCtx{}})
	r.gen = append(r.gen, r.genAt(in.spec, src))
	for _, fd := range r.ch.Methods(in.tn) {
		m, _ := r.info.Defs[fd.Name].(*types.Func)
		if m == nil {
			continue
		}
		rtp := m.Type().(*types.Signature).RecvTypeParams()
		if rtp.Len() != len(in.args) {
			continue
		}
		src, base, ok := r.ch.Source(fd)
		if !ok {
			continue
		}
		r.ed = &editor{src: src}
		r.off = func(p token.Pos) int { return int(p - base) }
		r.subst = map[*types.TypeParam]types.Type{}
		for i, a := range in.args {
			r.subst[rtp.At(i)] = a
		}
		recv := fd.Recv.List[0].Type
		for {
			if st, ok := recv.(*ast.StarExpr); ok {
				recv = st.X
				continue
			}
			if p, ok := recv.(*ast.ParenExpr); ok {
				recv = p.X
				continue
			}
			break
		}
		r.replace(recv.Pos(), recv.End(), in.name)
		r.walk(fd, ctx{fn: &fnCtx{}})
		r.gen = append(r.gen, r.genAt(fd, src))
	}
}

// genAt returns the part the current edits make of a declaration copied
// from the cell or an earlier one, placed where the declaration stands.
func (r *rewriter) genAt(n ast.Node, src string) Part {
	p := Part{Index: -1, orig: src}
	p.Kind = cell.Decls
	p.Src, p.spans = r.ed.apply()
	pos := r.ch.Fset.Position(n.Pos())
	p.Line, p.Col = pos.Line, pos.Column
	if i := strings.IndexByte(pos.Filename, '['); i >= 0 {
		p.Exec, _ = strconv.Atoi(strings.Trim(pos.Filename[i:], "[]"))
	}
	return p
}

// makeInstance writes the copy of a generic func for its type arguments.
func (r *rewriter) makeInstance(in instance) {
	src, base, ok := r.ch.Source(in.decl)
	if !ok {
		return
	}
	saved := *r
	defer func() {
		r.ed, r.off, r.subst = saved.ed, saved.off, saved.subst
	}()
	r.ed = &editor{src: src}
	r.off = func(p token.Pos) int { return int(p - base) }
	r.subst = in.subst
	r.replace(in.decl.Name.Pos(), in.decl.Name.End(), in.name)
	tp := in.decl.Type.TypeParams
	r.replace(tp.Opening, tp.Closing+1, "")
	r.walk(in.decl, ctx{fn: &fnCtx{}})
	r.gen = append(r.gen, r.genAt(in.decl, src))
}

// substitute returns t with the type parameters of m replaced.
func substitute(t types.Type, m map[*types.TypeParam]types.Type) types.Type {
	sub := func(t types.Type) types.Type { return substitute(t, m) }
	switch t := t.(type) {
	case *types.TypeParam:
		if a, ok := m[t]; ok {
			return a
		}
	case *types.Alias:
		return sub(types.Unalias(t))
	case *types.Pointer:
		if e := sub(t.Elem()); e != t.Elem() {
			return types.NewPointer(e)
		}
	case *types.Slice:
		if e := sub(t.Elem()); e != t.Elem() {
			return types.NewSlice(e)
		}
	case *types.Array:
		if e := sub(t.Elem()); e != t.Elem() {
			return types.NewArray(e, t.Len())
		}
	case *types.Map:
		if k, e := sub(t.Key()), sub(t.Elem()); k != t.Key() || e != t.Elem() {
			return types.NewMap(k, e)
		}
	case *types.Chan:
		if e := sub(t.Elem()); e != t.Elem() {
			return types.NewChan(t.Dir(), e)
		}
	case *types.Tuple:
		if t == nil {
			return t
		}
		vars, changed := substVars(t, m)
		if changed {
			return types.NewTuple(vars...)
		}
	case *types.Signature:
		p, pc := substVars(t.Params(), m)
		res, rc := substVars(t.Results(), m)
		if pc || rc {
			return types.NewSignatureType(nil, nil, nil, types.NewTuple(p...), types.NewTuple(res...), t.Variadic())
		}
	case *types.Struct:
		fields := make([]*types.Var, t.NumFields())
		tags := make([]string, t.NumFields())
		changed := false
		for i := range fields {
			f := t.Field(i)
			ft := sub(f.Type())
			changed = changed || ft != f.Type()
			fields[i] = types.NewField(f.Pos(), f.Pkg(), f.Name(), ft, f.Embedded())
			tags[i] = t.Tag(i)
		}
		if changed {
			return types.NewStruct(fields, tags)
		}
	case *types.Interface:
		changed := false
		var methods []*types.Func
		for i := 0; i < t.NumExplicitMethods(); i++ {
			m0 := t.ExplicitMethod(i)
			st := sub(m0.Type())
			changed = changed || st != m0.Type()
			methods = append(methods, types.NewFunc(m0.Pos(), m0.Pkg(), m0.Name(), st.(*types.Signature)))
		}
		var embeds []types.Type
		for i := 0; i < t.NumEmbeddeds(); i++ {
			e := sub(t.EmbeddedType(i))
			changed = changed || e != t.EmbeddedType(i)
			embeds = append(embeds, e)
		}
		if changed {
			return types.NewInterfaceType(methods, embeds).Complete()
		}
	case *types.Union:
		var terms []*types.Term
		changed := false
		for i := 0; i < t.Len(); i++ {
			tt := sub(t.Term(i).Type())
			changed = changed || tt != t.Term(i).Type()
			terms = append(terms, types.NewTerm(t.Term(i).Tilde(), tt))
		}
		if changed {
			return types.NewUnion(terms)
		}
	case *types.Named:
		args := t.TypeArgs()
		if args.Len() == 0 {
			return t
		}
		var list []types.Type
		changed := false
		for i := 0; i < args.Len(); i++ {
			a := sub(args.At(i))
			changed = changed || a != args.At(i)
			list = append(list, a)
		}
		if changed {
			if inst, err := types.Instantiate(nil, t.Origin(), list, false); err == nil {
				return inst
			}
		}
	}
	return t
}

func substVars(t *types.Tuple, m map[*types.TypeParam]types.Type) ([]*types.Var, bool) {
	if t == nil {
		return nil, false
	}
	vars := make([]*types.Var, t.Len())
	changed := false
	for i := range vars {
		v := t.At(i)
		vt := substitute(v.Type(), m)
		changed = changed || vt != v.Type()
		vars[i] = types.NewParam(v.Pos(), v.Pkg(), v.Name(), vt)
	}
	return vars, changed
}

// hasTypeParam reports whether t mentions a type parameter.
func hasTypeParam(t types.Type) bool {
	found := false
	var visit func(t types.Type)
	seen := map[types.Type]bool{}
	visit = func(t types.Type) {
		if found || t == nil || seen[t] {
			return
		}
		seen[t] = true
		switch t := t.(type) {
		case *types.TypeParam:
			found = true
		case *types.Alias:
			visit(types.Unalias(t))
		case *types.Pointer:
			visit(t.Elem())
		case *types.Slice:
			visit(t.Elem())
		case *types.Array:
			visit(t.Elem())
		case *types.Map:
			visit(t.Key())
			visit(t.Elem())
		case *types.Chan:
			visit(t.Elem())
		case *types.Tuple:
			for i := 0; t != nil && i < t.Len(); i++ {
				visit(t.At(i).Type())
			}
		case *types.Signature:
			visit(t.Params())
			visit(t.Results())
		case *types.Struct:
			for i := 0; i < t.NumFields(); i++ {
				visit(t.Field(i).Type())
			}
		case *types.Interface:
			for i := 0; i < t.NumMethods(); i++ {
				visit(t.Method(i).Type())
			}
			for i := 0; i < t.NumEmbeddeds(); i++ {
				visit(t.EmbeddedType(i))
			}
		case *types.Union:
			for i := 0; i < t.Len(); i++ {
				visit(t.Term(i).Type())
			}
		case *types.Named:
			for i := 0; i < t.TypeArgs().Len(); i++ {
				visit(t.TypeArgs().At(i))
			}
		}
	}
	visit(t)
	return found
}
