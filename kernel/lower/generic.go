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

// An instance is a concrete copy of a generic func to make.
type instance struct {
	decl  *ast.FuncDecl
	name  string
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
	subst := map[*types.TypeParam]types.Type{}
	var spelled []string
	for i := 0; i < targs.Len(); i++ {
		t := targs.At(i)
		if r.subst != nil {
			t = substitute(t, r.subst)
		}
		if hasTypeParam(t) {
			return "", false
		}
		s, err := r.spell(t, false)
		if err != nil {
			return "", false
		}
		spelled = append(spelled, s)
		subst[sig.TypeParams().At(i)] = t
	}
	key := fmt.Sprintf("instance %d %s[%s]", decl.Pos(), fn.Name(), strings.Join(spelled, ", "))
	h := fnv.New32a()
	h.Write([]byte(key))
	name := fmt.Sprintf("__gantry_%s_%08x", fn.Name(), h.Sum32())
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

// generated makes the generic instances the cell needs, and returns every
// generated declaration.
func (r *rewriter) generated() []Part {
	for len(r.pending) > 0 {
		in := r.pending[0]
		r.pending = r.pending[1:]
		r.makeInstance(in)
	}
	return r.gen
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
	p := Part{Index: -1, orig: src}
	p.Kind = cell.Decls
	p.Src, p.spans = r.ed.apply()
	pos := r.ch.Fset.Position(in.decl.Pos())
	p.Line, p.Col = pos.Line, pos.Column
	if i := strings.IndexByte(pos.Filename, '['); i >= 0 {
		p.Exec, _ = strconv.Atoi(strings.Trim(pos.Filename[i:], "[]"))
	}
	r.gen = append(r.gen, p)
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
