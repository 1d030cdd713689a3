package front

import (
	"fmt"
	"go/types"
	"hash/fnv"
	"strconv"
	"strings"
)

// A Qualifier names the packages a spelled type refers to. It returns the
// name under which pkg is imported where the type is written.
type Qualifier func(pkg *types.Package) string

// Alias returns the hidden import name that generated code uses for the
// package at path: "__gantry_" and the path's letters and digits, then a
// hash of the path, so that two paths never share one.
func Alias(path string) string {
	var b strings.Builder
	b.WriteString("__gantry_")
	for _, r := range path {
		if r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	h := fnv.New32a()
	h.Write([]byte(path))
	fmt.Fprintf(&b, "_%x", h.Sum32()&0xffff)
	return b.String()
}

// Spell writes t as Go source. Types declared by cells (in local) are
// written by name, other packages' through q. A type declared inside a
// function is written by name only when inFunc is true (the code goes
// where that name is in scope); otherwise, like an unexported type of
// another package, it cannot be written and Spell returns an error.
func Spell(t types.Type, local *types.Package, q Qualifier, inFunc bool) (string, error) {
	return Speller{Local: local, Qualify: q, InFunc: inFunc}.Spell(t)
}

// A Speller writes types as Go source; see Spell.
type Speller struct {
	Local   *types.Package
	Qualify Qualifier
	InFunc  bool

	// Instance, if set, names instances of generic types: when it
	// reports true, the name it returns stands for the instance.
	Instance func(*types.Named) (string, bool)
}

// Spell writes t as Go source.
func (s Speller) Spell(t types.Type) (string, error) {
	sp := speller{local: s.Local, q: s.Qualify, inFunc: s.InFunc, instance: s.Instance}
	sp.typ(t)
	if sp.err != nil {
		return "", sp.err
	}
	return sp.b.String(), nil
}

type speller struct {
	b        strings.Builder
	local    *types.Package
	q        Qualifier
	inFunc   bool
	instance func(*types.Named) (string, bool)
	err      error
}

func (sp *speller) fail(format string, args ...any) {
	if sp.err == nil {
		sp.err = fmt.Errorf(format, args...)
	}
}

// object writes the name of a type name or alias, qualified if needed.
func (sp *speller) object(obj *types.TypeName) {
	pkg := obj.Pkg()
	switch {
	case pkg == nil: // predeclared
	case pkg == sp.local || pkg.Path() == sp.local.Path():
		if obj.Parent() != nil && obj.Parent() != pkg.Scope() && !sp.inFunc {
			sp.fail("type %s is declared inside a function", obj.Name())
		}
	default:
		if !obj.Exported() {
			sp.fail("type %s.%s is not exported", pkg.Name(), obj.Name())
		}
		sp.b.WriteString(sp.q(pkg))
		sp.b.WriteByte('.')
	}
	sp.b.WriteString(obj.Name())
}

func (sp *speller) typeArgs(list *types.TypeList) {
	if list.Len() == 0 {
		return
	}
	sp.b.WriteByte('[')
	for i := 0; i < list.Len(); i++ {
		if i > 0 {
			sp.b.WriteString(", ")
		}
		sp.typ(list.At(i))
	}
	sp.b.WriteByte(']')
}

func (sp *speller) typ(t types.Type) {
	switch t := t.(type) {
	case *types.Basic:
		switch {
		case t.Kind() == types.UnsafePointer:
			sp.b.WriteString(sp.q(types.Unsafe) + ".Pointer")
		case t.Kind() == types.UntypedNil || t.Kind() == types.Invalid:
			sp.fail("%s has no Go spelling", t)
		case t.Info()&types.IsUntyped != 0:
			sp.typ(types.Default(t))
		default:
			sp.b.WriteString(t.Name())
		}
	case *types.Named:
		if sp.instance != nil && t.TypeArgs().Len() > 0 {
			if name, ok := sp.instance(t); ok {
				sp.b.WriteString(name)
				return
			}
		}
		sp.object(t.Obj())
		sp.typeArgs(t.TypeArgs())
	case *types.Alias:
		if obj := t.Obj(); obj.Pkg() == nil || obj.Exported() || obj.Pkg() == sp.local {
			sp.object(obj)
			sp.typeArgs(t.TypeArgs())
		} else {
			sp.typ(types.Unalias(t))
		}
	case *types.TypeParam:
		sp.b.WriteString(t.Obj().Name())
	case *types.Pointer:
		sp.b.WriteByte('*')
		sp.typ(t.Elem())
	case *types.Slice:
		sp.b.WriteString("[]")
		sp.typ(t.Elem())
	case *types.Array:
		sp.b.WriteString("[" + strconv.FormatInt(t.Len(), 10) + "]")
		sp.typ(t.Elem())
	case *types.Map:
		sp.b.WriteString("map[")
		sp.typ(t.Key())
		sp.b.WriteByte(']')
		sp.typ(t.Elem())
	case *types.Chan:
		switch t.Dir() {
		case types.SendRecv:
			sp.b.WriteString("chan ")
		case types.SendOnly:
			sp.b.WriteString("chan<- ")
		case types.RecvOnly:
			sp.b.WriteString("<-chan ")
		}
		if c, ok := t.Elem().(*types.Chan); ok && c.Dir() == types.RecvOnly && t.Dir() != types.RecvOnly {
			sp.b.WriteByte('(')
			sp.typ(t.Elem())
			sp.b.WriteByte(')')
		} else {
			sp.typ(t.Elem())
		}
	case *types.Signature:
		sp.b.WriteString("func")
		sp.signature(t)
	case *types.Struct:
		sp.b.WriteString("struct{")
		for i := 0; i < t.NumFields(); i++ {
			f := t.Field(i)
			if i > 0 {
				sp.b.WriteString("; ")
			}
			if !f.Exported() && f.Pkg() != nil && f.Pkg() != sp.local && f.Pkg().Path() != sp.local.Path() {
				sp.fail("field %s of a struct of package %s is not exported", f.Name(), f.Pkg().Name())
			}
			if !f.Embedded() {
				sp.b.WriteString(f.Name() + " ")
			}
			sp.typ(f.Type())
			if tag := t.Tag(i); tag != "" {
				sp.b.WriteString(" " + strconv.Quote(tag))
			}
		}
		sp.b.WriteByte('}')
	case *types.Interface:
		sp.b.WriteString("interface{")
		n := 0
		sep := func() {
			if n > 0 {
				sp.b.WriteString("; ")
			}
			n++
		}
		for i := 0; i < t.NumEmbeddeds(); i++ {
			sep()
			sp.typ(t.EmbeddedType(i))
		}
		for i := 0; i < t.NumExplicitMethods(); i++ {
			m := t.ExplicitMethod(i)
			if !m.Exported() && m.Pkg() != nil && m.Pkg() != sp.local && m.Pkg().Path() != sp.local.Path() {
				sp.fail("method %s of an interface of package %s is not exported", m.Name(), m.Pkg().Name())
			}
			sep()
			sp.b.WriteString(m.Name())
			sp.signature(m.Type().(*types.Signature))
		}
		sp.b.WriteByte('}')
	case *types.Union:
		for i := 0; i < t.Len(); i++ {
			if i > 0 {
				sp.b.WriteString(" | ")
			}
			if t.Term(i).Tilde() {
				sp.b.WriteByte('~')
			}
			sp.typ(t.Term(i).Type())
		}
	default:
		sp.fail("%s has no Go spelling", t)
	}
}

func (sp *speller) signature(sig *types.Signature) {
	sp.tuple(sig.Params(), sig.Variadic())
	switch res := sig.Results(); res.Len() {
	case 0:
	case 1:
		sp.b.WriteByte(' ')
		sp.typ(res.At(0).Type())
	default:
		sp.b.WriteByte(' ')
		sp.tuple(res, false)
	}
}

func (sp *speller) tuple(t *types.Tuple, variadic bool) {
	sp.b.WriteByte('(')
	for i := 0; i < t.Len(); i++ {
		if i > 0 {
			sp.b.WriteString(", ")
		}
		typ := t.At(i).Type()
		if variadic && i == t.Len()-1 {
			sp.b.WriteString("...")
			if s, ok := typ.(*types.Slice); ok {
				typ = s.Elem()
			}
		}
		sp.typ(typ)
	}
	sp.b.WriteByte(')')
}
