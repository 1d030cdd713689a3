// Package lower rewrites the Go of a type-checked cell into Go that the
// interpreter (yaegi v0.16.1) runs, where the interpreter lacks a
// construct or gets it wrong. It works on the checker's syntax and types
// (package front) and edits the cell's source text in place, so that
// every line keeps its number and positions in errors map back exactly.
//
// What it lowers:
//
//   - range over an integer, into a three-clause loop;
//   - range over a func (iter.Seq, iter.Seq2, any func(yield func(...) bool)),
//     into a call of the func with the loop body as yield, with break,
//     continue, labels, return and defer carried out of the body;
//   - the min, max and clear builtins, into helpers or loops;
//   - calls of generic funcs that cells declared, into calls of concrete
//     copies (one per list of type arguments);
//   - defer at the top level of a cell, into a list the executor runs at
//     the end of the cell;
//   - func main, which runs once when its cell runs, as `go run` runs it;
//   - comma-ok type assertions and type switches at the top level of a
//     cell, which the interpreter loses there, into func literals;
//   - a top-level statement that sets an error no later line of the cell
//     reads: the cell stops there when the error is not nil (unread.go).
//
// What cannot be lowered is refused with an error that names the
// construct and says what to write instead.
package lower

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"sort"
	"strconv"
	"strings"

	"gantry/kernel/cell"
	"gantry/kernel/front"
)

// MainFunc is the name a cell's func main runs under in the interpreter.
const MainFunc = "__gantry_main"

// DeferFunc registers a deferred call of the top level of a cell;
// RunDefersFunc runs and forgets them, last registered first.
const (
	DeferFunc     = "__gantry_defer"
	RunDefersFunc = "__gantry_runDefers"
)

// A Part is a piece of Go for the interpreter: a chunk of the cell after
// lowering, or generated code.
type Part struct {
	cell.Chunk       // Src is the lowered source; Line and Col place it in its cell
	Index      int   // the cell chunk it came from; -1 for generated code
	Exec       int   // the execution count of the cell Line and Col refer to; 0 for the cell itself
	Value      Value // what a trailing expression (Chunk.LastExpr) yields

	orig  string // Src before lowering
	spans []span
}

// Orig returns the part's source before lowering.
func (p *Part) Orig() string {
	if p.spans == nil {
		return p.Src
	}
	return p.orig
}

// Pos maps a 1-based line and column in p.Src to the same place in the
// part's source before lowering.
func (p *Part) Pos(line, col int) (int, int) {
	if p.spans == nil {
		return line, col
	}
	return lineColOf(p.orig, origin(p.spans, offsetOf(p.Src, line, col)))
}

// Value says what a trailing expression yields.
type Value int

const (
	ValueUnknown Value = iota // not known: the expression was not checked
	ValueOne                  // one value, to be shown
	ValueNone                 // no value, or several: run for effect
)

// A Result is a lowered cell.
type Result struct {
	Parts  []Part // in the order to run: imports, declarations, statements
	Main   bool   // call MainFunc once the parts ran
	Defers bool   // call RunDefersFunc once the parts ran (or one failed)

	st   *State
	made []string
}

// Done records that the result's parts ran, so that later cells reuse the
// helpers and generic instances they declared.
func (r *Result) Done() {
	for _, k := range r.made {
		r.st.made[k] = true
	}
}

// State is what lowering remembers between the cells of one interpreter:
// the helpers and instances already declared.
type State struct {
	made map[string]bool
}

// NewState returns the State of a fresh interpreter.
func NewState() *State { return &State{made: map[string]bool{}} }

// Cell lowers a checked cell. It returns a *front.Refusal if the cell uses
// a construct that cannot run.
func Cell(ch *front.Checked, st *State) (*Result, error) {
	r := &rewriter{ch: ch, info: ch.Info, st: st, res: &Result{st: st}, imports: map[string]string{}, names: map[string]int{}}
	var decls, stmts []Part
	for i := range ch.Chunks {
		c := &ch.Chunks[i]
		switch c.Kind {
		case cell.Imports:
			r.res.Parts = append(r.res.Parts, r.chunk(i, c))
		case cell.Decls:
			d, s := r.declChunk(i, c)
			decls = append(decls, d)
			if s != nil {
				stmts = append(stmts, *s)
			}
		case cell.Stmts:
			stmts = append(stmts, r.chunk(i, c))
		}
	}
	r.hoist()
	gen := r.generated()
	if len(r.errs) > 0 {
		sort.SliceStable(r.errs, func(i, j int) bool {
			a, b := r.errs[i], r.errs[j]
			return a.Line < b.Line || a.Line == b.Line && a.Col < b.Col
		})
		return nil, &front.Refusal{Errors: r.errs}
	}
	if len(r.imports) > 0 {
		r.res.Parts = append([]Part{importPart(r.imports)}, r.res.Parts...)
	}
	r.res.Parts = append(r.res.Parts, decls...)
	r.res.Parts = append(r.res.Parts, gen...)
	r.res.Parts = append(r.res.Parts, stmts...)
	return r.res, nil
}

// importPart returns the imports generated code needs, by alias.
func importPart(imports map[string]string) Part {
	aliases := make([]string, 0, len(imports))
	for a := range imports {
		aliases = append(aliases, a)
	}
	sort.Strings(aliases)
	var b strings.Builder
	p := Part{Index: -1}
	p.Kind = cell.Imports
	p.Line, p.Col = 1, 1
	for i, a := range aliases {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString("import " + a + " " + strconv.Quote(imports[a]))
		p.Imports = append(p.Imports, cell.Import{Path: imports[a], Name: a})
	}
	p.Src = b.String()
	return p
}

// A rewriter lowers one cell.
type rewriter struct {
	ch      *front.Checked
	info    *types.Info
	st      *State
	res     *Result
	imports map[string]string // alias -> path, for generated code
	errs    []*front.Error
	names   map[string]int // counters for generated names, by prefix

	// The text being edited: a chunk of the cell, or a copy of a generic
	// func.
	ed    *editor
	off   func(token.Pos) int
	subst map[*types.TypeParam]types.Type // type arguments of the copy being made

	gen     []Part     // generated declarations
	pending []instance // generic instances to make

	renamed  map[types.Object]string // locals of top-level statements, renamed
	skip     map[ast.Node]bool       // nodes already lowered whole
	wrapLoop bool                    // the top-level statement being lowered must run in a func literal
}

// chunk lowers one chunk of the cell.
func (r *rewriter) chunk(i int, c *front.Chunk) Part {
	r.ed = &editor{src: c.Src}
	r.off = c.Offset
	top := &fnCtx{top: true}
	for _, d := range c.Decls {
		r.walk(d, ctx{fn: top})
	}
	for _, s := range c.Stmts {
		r.topStmt(s, top)
	}
	p := r.part(i, c)
	if c.Kind == cell.Stmts && c.LastExpr && len(c.Stmts) > 0 {
		if x, ok := c.Stmts[len(c.Stmts)-1].(*ast.ExprStmt); ok {
			p.Value = r.valueOf(x.X)
			if p.spans != nil {
				// The trailing expression, as lowered: the rest of the chunk.
				p.LastExprSrc = p.Src[r.outOffset(p.spans, c.Offset(x.X.Pos())):]
			}
		}
	}
	return p
}

// outOffset maps the offset of a node's first byte in a chunk's source to
// its lowered text: where text generated before the node, or the node's own
// text, begins.
func (r *rewriter) outOffset(spans []span, in int) int {
	for _, s := range spans {
		if s.N == 0 && s.In == in || s.In <= in && in < s.In+s.N {
			return s.Out + max(in-s.In, 0)
		}
	}
	return in
}

// valueOf says what a trailing expression yields.
func (r *rewriter) valueOf(x ast.Expr) Value {
	tv, ok := r.info.Types[x]
	if !ok {
		return ValueUnknown
	}
	if tv.IsVoid() || tv.IsType() || tv.IsBuiltin() {
		return ValueNone
	}
	if t, ok := tv.Type.(*types.Tuple); ok && t.Len() != 1 {
		return ValueNone
	}
	return ValueOne
}

// fail records that the construct at pos cannot run.
func (r *rewriter) fail(pos token.Pos, format string, args ...any) {
	p := r.ch.Fset.Position(pos)
	r.errs = append(r.errs, &front.Error{Exec: r.ch.Cell.Exec, Line: p.Line, Col: p.Column, Msg: fmt.Sprintf(format, args...)})
}

// name returns a new name for generated code.
func (r *rewriter) name(prefix string) string {
	r.names[prefix]++
	return fmt.Sprintf("__gantry_%s%d", prefix, r.names[prefix])
}

// replace and insert edit the text being lowered at node positions.
func (r *rewriter) replace(from, to token.Pos, text string) *edit {
	return r.ed.replace(r.off(from), r.off(to), text)
}

func (r *rewriter) insert(at token.Pos, text string) *edit { return r.ed.insert(r.off(at), text) }

// text returns the source of a node, as it stood before lowering.
func (r *rewriter) text(n ast.Node) string { return r.ed.src[r.off(n.Pos()):r.off(n.End())] }

// typeOf returns the type of an expression, with the type arguments of
// the copy being made in place of its type parameters.
func (r *rewriter) typeOf(x ast.Expr) types.Type {
	t := r.info.TypeOf(x)
	if t == nil || r.subst == nil {
		return t
	}
	return substitute(t, r.subst)
}

// spell writes a type for generated code; inFunc says whether the code
// goes inside a func, where local types are in scope.
func (r *rewriter) spell(t types.Type, inFunc bool) (string, error) {
	if r.subst != nil {
		t = substitute(t, r.subst)
	}
	return front.Speller{
		Local: r.ch.Pkg,
		Qualify: func(p *types.Package) string {
			a := front.Alias(p.Path())
			r.imports[a] = p.Path()
			return a
		},
		InFunc: inFunc,
		Instance: func(n *types.Named) (string, bool) {
			return r.typeInstanceOf(n.Origin().Obj(), n.TypeArgs())
		},
	}.Spell(t)
}
