package interp

import (
	"reflect"
	"strings"
	"sync/atomic"
)

// adot produces an AST dot(1) directed acyclic graph for the given node. For debugging only.
// func (n *node) adot() { n.astDot(dotWriter(n.interp.dotCmd), n.ident) }

// genAST returns a new AST where generic types are replaced by instantiated types.
func genAST(sc *scope, root *node, types []*itype) (*node, bool, error) {
	typeParam := map[string]*node{}
	pindex := 0
	tname := ""
	rtname := ""
	recvrPtr := false
	fixNodes := []*node{}
	var gtree func(*node, *node) (*node, error)
	sname := root.child[0].ident + "["
	if root.kind == funcDecl {
		sname = root.child[1].ident + "["
	}

	// Input type parameters must be resolved prior AST generation, as compilation
	// of generated AST may occur in a different scope.
	for _, t := range types {
		sname += t.id() + ","
	}
	sname = strings.TrimSuffix(sname, ",") + "]"

	// Gantry patch: constraints are resolved in the scope the generic
	// func or type was declared in, not the caller's (cmp.Ordered in a
	// package imported from source is unknown to the cell that calls
	// slices.Sort).
	csc := sc
	if root.scope != nil {
		csc = root.scope
	}

	gtree = func(n, anc *node) (*node, error) {
		nod := copyNode(n, anc, false)
		switch n.kind {
		case funcDecl, funcType:
			nod.val = nod

		case identExpr:
			// Replace generic type by instantiated one.
			nt, ok := typeParam[n.ident]
			if !ok {
				break
			}
			nod = copyNode(nt, anc, true)
			nod.typ = nt.typ

		case indexExpr:
			// Catch a possible recursive generic type definition
			if root.kind != typeSpec {
				break
			}
			if root.child[0].ident != n.child[0].ident {
				break
			}
			nod := copyNode(n.child[0], anc, false)
			fixNodes = append(fixNodes, nod)
			return nod, nil

		case fieldList:
			//  Node is the type parameters list of a generic function.
			if root.kind == funcDecl && n.anc == root.child[2] && childPos(n) == 0 {
				// Fill the types lookup table used for type substitution.
				for _, c := range n.child {
					l := len(c.child) - 1
					for _, cc := range c.child[:l] {
						if pindex >= len(types) {
							return nil, cc.cfgErrorf("undefined type for %s", cc.ident)
						}
						t, err := nodeType(c.interp, csc, c.child[l])
						if err != nil {
							return nil, err
						}
						if err := checkConstraint(types[pindex], t); err != nil {
							return nil, err
						}
						typeParam[cc.ident] = copyNode(cc, cc.anc, false)
						typeParam[cc.ident].ident = types[pindex].id()
						typeParam[cc.ident].typ = types[pindex]
						pindex++
					}
				}
				// Skip type parameters specification, so generated func doesn't look generic.
				return nod, nil
			}

			// Node is the receiver of a generic method.
			if root.kind == funcDecl && n.anc == root && childPos(n) == 0 && len(n.child) > 0 {
				rtn := n.child[0].child[1]
				// Method receiver is a generic type if it takes some type parameters.
				if rtn.kind == indexExpr || rtn.kind == indexListExpr || (rtn.kind == starExpr && (rtn.child[0].kind == indexExpr || rtn.child[0].kind == indexListExpr)) {
					if rtn.kind == starExpr {
						// Method receiver is a pointer on a generic type.
						rtn = rtn.child[0]
						recvrPtr = true
					}
					rtname = rtn.child[0].ident + "["
					for _, cc := range rtn.child[1:] {
						if pindex >= len(types) {
							return nil, cc.cfgErrorf("undefined type for %s", cc.ident)
						}
						it := types[pindex]
						typeParam[cc.ident] = copyNode(cc, cc.anc, false)
						typeParam[cc.ident].ident = it.id()
						typeParam[cc.ident].typ = it
						rtname += it.id() + ","
						pindex++
					}
					rtname = strings.TrimSuffix(rtname, ",") + "]"
				}
			}

			// Node is the type parameters list of a generic type.
			if root.kind == typeSpec && n.anc == root && childPos(n) == 1 {
				// Fill the types lookup table used for type substitution.
				tname = n.anc.child[0].ident + "["
				for _, c := range n.child {
					l := len(c.child) - 1
					for _, cc := range c.child[:l] {
						if pindex >= len(types) {
							return nil, cc.cfgErrorf("undefined type for %s", cc.ident)
						}
						it := types[pindex]
						t, err := nodeType(c.interp, csc, c.child[l])
						if err != nil {
							return nil, err
						}
						if err := checkConstraint(types[pindex], t); err != nil {
							return nil, err
						}
						typeParam[cc.ident] = copyNode(cc, cc.anc, false)
						typeParam[cc.ident].ident = it.id()
						typeParam[cc.ident].typ = it
						tname += it.id() + ","
						pindex++
					}
				}
				tname = strings.TrimSuffix(tname, ",") + "]"
				return nod, nil
			}
		}

		for _, c := range n.child {
			gn, err := gtree(c, nod)
			if err != nil {
				return nil, err
			}
			nod.child = append(nod.child, gn)
		}
		return nod, nil
	}

	if nod, found := root.interp.generic[sname]; found {
		return nod, true, nil
	}

	r, err := gtree(root, root.anc)
	if err != nil {
		return nil, false, err
	}
	root.interp.generic[sname] = r
	r.param = append(r.param, types...)
	if tname != "" {
		for _, nod := range fixNodes {
			nod.ident = tname
		}
		r.child[0].ident = tname
	}
	if rtname != "" {
		// Replace method receiver type by synthetized ident.
		nod := r.child[0].child[0].child[1]
		if recvrPtr {
			nod = nod.child[0]
		}
		nod.kind = identExpr
		nod.ident = rtname
		nod.child = nil
	}
	// r.adot() // Used for debugging only.
	return r, false, nil
}

func copyNode(n, anc *node, recursive bool) *node {
	var i interface{}
	nindex := atomic.AddInt64(&n.interp.nindex, 1)
	nod := &node{
		debug:  n.debug,
		anc:    anc,
		interp: n.interp,
		index:  nindex,
		level:  n.level,
		nleft:  n.nleft,
		nright: n.nright,
		kind:   n.kind,
		pos:    n.pos,
		action: n.action,
		gen:    n.gen,
		val:    &i,
		rval:   n.rval,
		ident:  n.ident,
		meta:   n.meta,
	}
	nod.start = nod
	if recursive {
		for _, c := range n.child {
			nod.child = append(nod.child, copyNode(c, nod, true))
		}
	}
	return nod
}

// inferTypesFromCall returns the type arguments of a call of the generic
// func fun with args, in the order of its type parameters.
//
// Gantry patch (third_party/yaegi, see DEPENDENCIES.md): the arguments'
// types are unified with the parameters' type expressions, so each type
// parameter is bound by name wherever it appears (in slices, maps,
// pointers, channels, func signatures, variadic parameters, binary types),
// untyped constants bind what typed arguments left unbound, with their
// default type, and a parameter that appears
// in no argument is inferred from another's core type (S ~[]E gives E).
// Where that leaves a type parameter unbound, the positional inference of
// yaegi v0.16.1 (inferTypesPositional) is used as before.
func inferTypesFromCall(sc *scope, fun *node, args []*node) ([]*itype, error) {
	if types, ok := unifyCall(sc, fun, args); ok {
		return types, nil
	}
	return inferTypesPositional(sc, fun, args)
}

// unifyCall binds fun's type parameters from args; ok is false if one
// stays unbound.
func unifyCall(sc *scope, fun *node, args []*node) (types []*itype, ok bool) {
	ftn := fun.typ.node
	if ftn == nil || len(ftn.child) < 2 {
		return nil, false
	}
	var names []string
	constraint := map[string]*node{}
	for _, c := range ftn.child[0].child {
		if len(c.child) < 2 {
			return nil, false
		}
		for _, cc := range c.child[:len(c.child)-1] {
			names = append(names, cc.ident)
			constraint[cc.ident] = c.lastChild()
		}
	}
	if len(names) == 0 {
		return nil, false
	}
	bound := map[string]*itype{}
	var unify func(p *node, t *itype)
	unify = func(p *node, t *itype) {
		if p == nil || t == nil || t.cat == nilT {
			return
		}
		if t.cat == linkedT && p.kind != identExpr {
			t = t.underlying()
		}
		switch p.kind {
		case identExpr:
			if _, isParam := constraint[p.ident]; isParam && bound[p.ident] == nil {
				bound[p.ident] = t
			}
		case parenExpr, ellipsisExpr:
			if len(p.child) > 0 {
				unify(p.child[0], t)
			}
		case arrayType, starExpr, chanType, chanTypeRecv, chanTypeSend:
			if e := elemType(t); e != nil && len(p.child) > 0 {
				unify(p.lastChild(), e)
			}
		case mapType:
			if len(p.child) == 2 {
				if k := keyType(t); k != nil {
					unify(p.child[0], k)
				}
				if e := elemType(t); e != nil {
					unify(p.child[1], e)
				}
			}
		case funcType:
			if len(p.child) < 2 {
				return
			}
			i := 0
			for _, f := range p.child[1].child {
				for n := max(len(f.child)-1, 1); n > 0; n-- {
					if a := funcIn(t, i); a != nil {
						unify(f.lastChild(), a)
					}
					i++
				}
			}
			if len(p.child) > 2 {
				i = 0
				for _, f := range p.child[2].child {
					for n := max(len(f.child)-1, 1); n > 0; n-- {
						if r := funcOut(t, i); r != nil {
							unify(f.lastChild(), r)
						}
						i++
					}
				}
			}
		}
	}

	// Pair parameters with arguments; as in Go, untyped constants bind what
	// typed arguments left unbound, with their default type.
	type pair struct {
		param *node
		arg   *node
		elem  bool // a spread into a variadic parameter: unify with its element type
	}
	var pairs []pair
	spread := len(args) > 0 && args[0].anc != nil && args[0].anc.action == aCallSlice
	i := 0
	for _, c := range ftn.child[1].child {
		pt := c.lastChild()
		count := max(len(c.child)-1, 1)
		for ; count > 0; count-- {
			if pt.kind == ellipsisExpr {
				for ; i < len(args); i++ {
					pairs = append(pairs, pair{pt, args[i], spread && i == len(args)-1})
				}
				break
			}
			if i < len(args) {
				pairs = append(pairs, pair{pt, args[i], false})
			}
			i++
		}
	}
	for _, untyped := range []bool{false, true} {
		for _, p := range pairs {
			if p.arg.typ == nil || p.arg.typ.untyped != untyped {
				continue
			}
			t := argType(sc, p.arg)
			if p.elem {
				if e := elemType(t); e != nil {
					t = e
				}
			}
			unify(p.param, t)
		}
	}
	// Core types: S ~[]E bound to []int binds E to int.
	for changed := true; changed; {
		changed = false
		for _, name := range names {
			if bound[name] == nil {
				continue
			}
			core := constraint[name]
			if core.kind == unaryExpr && len(core.child) == 1 {
				core = core.child[0]
			}
			switch core.kind {
			case arrayType, mapType, chanType, starExpr, funcType:
			default:
				continue
			}
			before := len(bound)
			unify(core, bound[name].underlying())
			if len(bound) != before {
				changed = true
			}
		}
	}
	for _, name := range names {
		if bound[name] == nil {
			return nil, false
		}
		types = append(types, bound[name])
	}
	return types, true
}

// argType is the type an argument gives a type parameter: untyped
// constants take their default type.
func argType(sc *scope, arg *node) *itype {
	t := arg.typ
	if t != nil && t.untyped {
		t = t.defaultType(arg.rval, sc)
	}
	return t
}

func elemType(t *itype) *itype {
	t = t.underlying()
	switch t.cat {
	case valueT:
		if t.rtype != nil && hasElem(t.rtype) {
			return valueTOf(t.rtype.Elem())
		}
	case arrayT, sliceT, ptrT, chanT, chanRecvT, chanSendT, mapT, variadicT:
		return t.val
	}
	return nil
}

func keyType(t *itype) *itype {
	t = t.underlying()
	switch {
	case t.cat == mapT:
		return t.key
	case t.cat == valueT && t.rtype != nil && t.rtype.Kind() == reflect.Map:
		return valueTOf(t.rtype.Key())
	}
	return nil
}

func funcIn(t *itype, i int) *itype {
	t = t.underlying()
	switch {
	case t.cat == funcT && i < len(t.arg):
		return t.arg[i]
	case t.cat == valueT && t.rtype != nil && t.rtype.Kind() == reflect.Func && i < t.rtype.NumIn():
		return valueTOf(t.rtype.In(i))
	}
	return nil
}

func funcOut(t *itype, i int) *itype {
	t = t.underlying()
	switch {
	case t.cat == funcT && i < len(t.ret):
		return t.ret[i]
	case t.cat == valueT && t.rtype != nil && t.rtype.Kind() == reflect.Func && i < t.rtype.NumOut():
		return valueTOf(t.rtype.Out(i))
	}
	return nil
}

// inferTypesPositional is yaegi v0.16.1's inference: the types found in
// the arguments, in the order they appear.
func inferTypesPositional(sc *scope, fun *node, args []*node) ([]*itype, error) {
	ftn := fun.typ.node
	// Fill the map of parameter types, indexed by type param ident.
	paramTypes := map[string]*itype{}
	for _, c := range ftn.child[0].child {
		typ, err := nodeType(fun.interp, sc, c.lastChild())
		if err != nil {
			return nil, err
		}
		for _, cc := range c.child[:len(c.child)-1] {
			paramTypes[cc.ident] = typ
		}
	}

	var inferTypes func(*itype, *itype) ([]*itype, error)
	inferTypes = func(param, input *itype) ([]*itype, error) {
		switch param.cat {
		case chanT, ptrT, sliceT:
			return inferTypes(param.val, input.val)

		case mapT:
			k, err := inferTypes(param.key, input.key)
			if err != nil {
				return nil, err
			}
			v, err := inferTypes(param.val, input.val)
			if err != nil {
				return nil, err
			}
			return append(k, v...), nil

		case structT:
			lt := []*itype{}
			for i, f := range param.field {
				nl, err := inferTypes(f.typ, input.field[i].typ)
				if err != nil {
					return nil, err
				}
				lt = append(lt, nl...)
			}
			return lt, nil

		case funcT:
			lt := []*itype{}
			for i, t := range param.arg {
				if i >= len(input.arg) {
					break
				}
				nl, err := inferTypes(t, input.arg[i])
				if err != nil {
					return nil, err
				}
				lt = append(lt, nl...)
			}
			for i, t := range param.ret {
				if i >= len(input.ret) {
					break
				}
				nl, err := inferTypes(t, input.ret[i])
				if err != nil {
					return nil, err
				}
				lt = append(lt, nl...)
			}
			return lt, nil

		case nilT:
			if paramTypes[param.name] != nil {
				return []*itype{input}, nil
			}

		case genericT:
			return []*itype{input}, nil
		}
		return nil, nil
	}

	types := []*itype{}
	for i, c := range ftn.child[1].child {
		typ, err := nodeType(fun.interp, sc, c.lastChild())
		if err != nil {
			return nil, err
		}
		lt, err := inferTypes(typ, args[i].typ)
		if err != nil {
			return nil, err
		}
		types = append(types, lt...)
	}

	return types, nil
}

func checkConstraint(it, ct *itype) error {
	if len(ct.constraint) == 0 && len(ct.ulconstraint) == 0 {
		return nil
	}
	for _, c := range ct.constraint {
		if it.equals(c) || it.matchDefault(c) {
			return nil
		}
	}
	for _, c := range ct.ulconstraint {
		if it.underlying().equals(c) || it.matchDefault(c) {
			return nil
		}
	}
	return it.node.cfgErrorf("%s does not implement %s", it.id(), ct.id())
}
