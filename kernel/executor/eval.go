package executor

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/traefik/yaegi/interp"

	"gantry/display"
	"gantry/kernel/cell"
	"gantry/kernel/frame"
	"gantry/kernel/front"
	"gantry/kernel/gostd"
	"gantry/kernel/lower"
	"gantry/kernel/symbols"
	"gantry/magics"
)

// interruptGrace is how long an interrupted cell may take to stop before
// the executor gives up on it and asks to be replaced.
const interruptGrace = 2 * time.Second

// chunkPos records where a compiled chunk sits in which cell, so positions
// in errors and panics can be given in the cell's own coordinates.
type chunkPos struct {
	exec int // execution count of the cell
	line int // cell line of the chunk's first line
	col  int // cell column of the chunk's first byte

	// remap, if set, maps a 1-based line and column in the compiled text
	// to the chunk's source before lowering (lower.Part.Pos).
	remap func(line, col int) (int, int)
}

// errStuck reports a cell that did not stop after an interrupt.
var errStuck = errors.New("stuck")

// execute runs one cell: magics, shell lines and Go code in order.
func (s *session) execute(ctx context.Context, f *frame.Frame, reply *frame.Frame) {
	s.curExec = f.ExecutionNum
	s.page = nil
	s.askExit = false
	var result *frame.Bundle
	for _, seg := range magics.Split(f.Code) {
		var err error
		result = nil
		switch seg.Kind {
		case magics.GoCode:
			result, err = s.evalGo(ctx, seg.Text, seg.Line)
		case magics.LineMagic, magics.CellMagic:
			err = s.e.reg.Run(ctx, &magics.Call{Name: seg.Name, Args: seg.Args, Body: seg.Body,
				Cell: seg.Kind == magics.CellMagic, Stdout: stdout(), Stderr: stderr(), S: s.api(ctx)})
		case magics.Shell:
			err = magics.RunShell(ctx, seg.Text, stdout(), stderr())
		case magics.HelpRequest:
			err = magics.Help(s.e.reg, s.api(ctx), seg.Name, seg.Detail)
		}
		if err != nil {
			s.fail(ctx, reply, err)
			break
		}
	}
	if reply.Status == "ok" && result != nil && !f.Silent {
		reply.Result = result
	}
	for _, p := range s.page {
		reply.Payload = append(reply.Payload, map[string]any{
			"source": "page", "data": map[string]any{"text/plain": p}, "start": 0,
		})
	}
	if s.askExit {
		reply.Payload = append(reply.Payload, map[string]any{"source": "ask_exit", "keepkernel": false})
	}
}

// fail fills reply with err in Jupyter's terms.
func (s *session) fail(ctx context.Context, reply *frame.Frame, err error) {
	reply.Status = "error"
	var fe *frame.Error
	switch {
	case errors.Is(err, errStuck):
		reply.Restarted = true
		fe = &frame.Error{Name: "Interrupted", Value: "the cell did not stop within " + interruptGrace.String() +
			" of the interrupt (it is blocked in a call such as time.Sleep or a network read); " +
			"the executor was replaced and interpreter state was reset"}
	case ctx.Err() != nil:
		fe = &frame.Error{Name: "Interrupted", Value: "the cell was interrupted; interpreter state is kept"}
	case errors.As(err, &fe):
	default:
		fe = &frame.Error{Name: "Error", Value: err.Error()}
	}
	if len(fe.Traceback) == 0 {
		fe.Traceback = []string{fe.Name + ": " + fe.Value}
	}
	reply.Error = fe
}

// evalGo evaluates Go source whose first line is line `line` of the cell.
// The cell is type-checked first: a cell that does not compile runs
// nothing. A checked cell is lowered and runs its imports, then its
// declarations, then its statements in order; a cell the checker cannot
// judge runs chunk by chunk as the interpreter takes it.
func (s *session) evalGo(ctx context.Context, src string, line int) (*frame.Bundle, error) {
	chunks, err := cell.Split(src)
	if err != nil {
		var ce *cell.Error
		if errors.As(err, &ce) {
			return nil, &frame.Error{Name: "SyntaxError", Value: fmt.Sprintf("cell line %d:%d: %s", ce.Line+line-1, ce.Col, ce.Msg)}
		}
		return nil, &frame.Error{Name: "SyntaxError", Value: err.Error()}
	}
	ch, err := s.front.Check(front.Cell{Exec: s.curExec, Line: line, Chunks: chunks})
	var refusal *front.Refusal
	if errors.As(err, &refusal) {
		return nil, refused(refusal)
	}
	if err != nil || !ch.Typed {
		if ch == nil {
			return s.evalChunks(ctx, chunks, line, nil)
		}
		ran := map[int]bool{}
		defer s.front.Commit(ch, func(i int) bool { return ran[i] })
		return s.evalChunks(ctx, chunks, line, ran)
	}
	res, err := lower.Cell(ch, s.lower)
	if errors.As(err, &refusal) {
		return nil, refused(refusal)
	}
	if err != nil {
		return nil, err
	}
	ran := map[int]bool{}
	defer s.front.Commit(ch, func(i int) bool { return ran[i] })
	return s.evalParts(ctx, res, line, len(chunks)-1, ran)
}

// refused reports a cell that does not compile, every problem on a line.
func refused(r *front.Refusal) *frame.Error {
	name := "CompileError"
	if r.Errors[0].Import {
		name = "ImportError"
	}
	e := &frame.Error{Name: name, Value: stdHint(r.Errors[0].Error())}
	for _, p := range r.Errors {
		e.Traceback = append(e.Traceback, name+": "+stdHint(p.Error()))
	}
	return e
}

// evalChunks runs the chunks of a cell in order, as the interpreter takes
// them; ran, if not nil, records the indexes of those that ran.
func (s *session) evalChunks(ctx context.Context, chunks []cell.Chunk, line int, ran map[int]bool) (*frame.Bundle, error) {
	var result *frame.Bundle
	var err error
	for i, c := range chunks {
		pos := chunkPos{exec: s.curExec, line: c.Line + line - 1, col: c.Col}
		result = nil
		switch c.Kind {
		case cell.Imports:
			err = s.evalImports(ctx, c, pos)
		case cell.Decls:
			err = s.evalDecls(ctx, c, pos)
		case cell.Stmts:
			result, err = s.evalStmts(ctx, c, pos, lower.ValueUnknown)
		}
		if err != nil {
			return nil, err
		}
		if ran != nil {
			ran[i] = true
		}
	}
	return result, nil
}

// evalParts runs a lowered cell: imports, then its declarations and the
// generated ones compiled as one unit, then its statements in order; then
// its func main, and its top-level defers, once. Only the trailing
// expression of the cell's last chunk (index last) is shown.
func (s *session) evalParts(ctx context.Context, res *lower.Result, line, last int, ran map[int]bool) (result *frame.Bundle, err error) {
	posOf := func(p *lower.Part) chunkPos {
		pos := chunkPos{exec: s.curExec, line: p.Line + line - 1, col: p.Col, remap: p.Pos}
		if p.Exec > 0 && p.Index < 0 {
			pos.exec, pos.line = p.Exec, p.Line
		}
		return pos
	}
	defer func() {
		if !res.Defers || ctx.Err() != nil {
			return
		}
		if _, derr := s.run(ctx, lower.RunDefersFunc+"()", cell.Stmts, chunkPos{exec: s.curExec, line: line, col: 1}); derr != nil && err == nil {
			result, err = nil, derr
		}
	}()
	parts := res.Parts
	first := len(parts) // the first part of statements
	for i := 0; i < len(parts); i++ {
		p := &parts[i]
		switch p.Kind {
		case cell.Imports:
			err = s.evalImports(ctx, p.Chunk, posOf(p))
		case cell.Decls:
			j := i
			for j < len(parts) && parts[j].Kind == cell.Decls {
				j++
			}
			unit := parts[i:j]
			poss := make([]chunkPos, len(unit))
			for k := range unit {
				poss[k] = posOf(&unit[k])
			}
			err = s.evalDeclParts(ctx, unit, poss)
			if err == nil {
				res.Done() // the generated declarations are in the interpreter
			}
			for _, q := range unit[:len(unit)-1] {
				if err == nil && q.Index >= 0 {
					ran[q.Index] = true
				}
			}
			p, i = &parts[j-1], j-1
		case cell.Stmts:
			first = i
		}
		if err != nil {
			return nil, err
		}
		if first < len(parts) {
			break
		}
		if p.Index >= 0 {
			ran[p.Index] = true
		}
	}
	// Every statement is compiled before any runs: a chunk the interpreter
	// cannot compile stops the cell before it has effects.
	stmts := parts[first:]
	compiled := make([]*compiledStmts, len(stmts))
	for k := range stmts {
		p := &stmts[k]
		v := p.Value
		if p.Index != last || !p.LastExpr {
			v = lower.ValueNone
		}
		if compiled[k], err = s.compileStmts(p.Chunk, posOf(p), v); err != nil {
			return nil, err
		}
	}
	// The interpreter has every name the statements define once they
	// compiled, also if one of them fails when it runs: later cells see
	// them.
	for k := range stmts {
		ran[stmts[k].Index] = true
	}
	for k := range stmts {
		p := &stmts[k]
		b, err := s.runStmts(ctx, compiled[k])
		if err != nil {
			return nil, err
		}
		if p.Index == last {
			result = b
		}
	}
	if res.Main {
		if _, err := s.run(ctx, lower.MainFunc+"()", cell.Stmts, chunkPos{exec: s.curExec, line: line, col: 1}); err != nil {
			return nil, err
		}
	}
	return result, nil
}

// evalDeclParts compiles declaration parts as one unit (they may refer to
// one another in any order) and runs it, then records the declarations.
func (s *session) evalDeclParts(ctx context.Context, unit []lower.Part, poss []chunkPos) error {
	srcs := make([]string, len(unit))
	for k, p := range unit {
		srcs[k] = p.Src
	}
	if _, err := s.runUnit(ctx, srcs, poss); err != nil {
		return err
	}
	var redefined []string
	for _, p := range unit {
		if p.Index < 0 {
			continue
		}
		redefined = append(redefined, s.noteDecls(p.Src, p.Orig())...)
	}
	if len(redefined) > 0 {
		return s.refreshCallers(ctx, redefined)
	}
	return nil
}

func (s *session) evalImports(ctx context.Context, c cell.Chunk, pos chunkPos) error {
	for _, imp := range c.Imports {
		key := imp.Name + " " + imp.Path
		if s.done[key] {
			continue
		}
		src := "import " + strconv.Quote(imp.Path)
		if imp.Name != "" {
			src = "import " + imp.Name + " " + strconv.Quote(imp.Path)
		}
		if _, err := s.run(ctx, src, cell.Decls, pos); err != nil {
			if strings.Contains(err.Error(), "unable to find source") || strings.Contains(err.Error(), "cannot find package") {
				if why, ok := gostd.UnsupportedPackage(imp.Path); ok {
					return &frame.Error{Name: "ImportError", Value: fmt.Sprintf("import %q: %s", imp.Path, why)}
				}
				return &frame.Error{Name: "ImportError", Value: fmt.Sprintf(
					"import %q: not a standard library or Gantry package, and not fetched: run %%require MODULE@VERSION first "+
						"(for example %%require github.com/google/uuid@v1.6.0)", imp.Path)}
			}
			return err
		}
		s.done[key] = true
		name := imp.Name
		if name == "" {
			name = packageName(imp.Path)
		}
		if name != "_" && name != "." {
			s.imports[name] = imp.Path
		}
	}
	return nil
}

func (s *session) evalDecls(ctx context.Context, c cell.Chunk, pos chunkPos) error {
	if _, err := cell.ParseDecls(c.Src); err != nil {
		return &frame.Error{Name: "SyntaxError", Value: err.Error()}
	}
	if _, err := s.run(ctx, c.Src, cell.Decls, pos); err != nil {
		return err
	}
	if redefined := s.noteDecls(c.Src, ""); len(redefined) > 0 {
		return s.refreshCallers(ctx, redefined)
	}
	return nil
}

// noteDecls records the declarations of src, as they ran, and returns the
// funcs and methods among them that an earlier cell declared. Their
// documentation comes from docSrc, the cell's text before lowering ("" for
// src itself).
func (s *session) noteDecls(src, docSrc string) []string {
	decls, err := cell.ParseDecls(src)
	if err != nil {
		return nil
	}
	docs := map[string]cell.Decl{}
	if docSrc != "" {
		if ds, err := cell.ParseDecls(docSrc); err == nil {
			for _, d := range ds {
				for _, n := range d.Names {
					docs[n] = d
				}
			}
		}
	}
	var redefined []string
	for _, d := range decls {
		for _, n := range d.Names {
			if n == lower.MainFunc {
				n = "main"
			}
			if _, ok := s.decls[n]; ok && (d.Kind == "func" || d.Kind == "method") {
				redefined = append(redefined, n)
			}
			if _, ok := s.decls[n]; !ok {
				s.order = append(s.order, n)
			}
			s.evalSrc[n] = d.Src
			doc, ok := docs[n]
			if !ok {
				doc = d
			}
			s.decls[n] = doc
			s.names[n] = true
			if i := strings.LastIndexByte(n, '.'); i >= 0 && d.Kind == "method" {
				s.methods[n[i+1:]] = true
			}
		}
	}
	return redefined
}

// refreshCallers re-evaluates earlier funcs that call a redefined func
// (directly or through others), so they call the new body: yaegi binds a
// call to the body that existed when the caller was compiled.
func (s *session) refreshCallers(ctx context.Context, redefined []string) error {
	changed := map[string]bool{}
	for _, n := range redefined {
		changed[n] = true
	}
	var redo []string
	for progress := true; progress; {
		progress = false
		for _, n := range s.order {
			d := s.decls[n]
			if changed[n] || (d.Kind != "func" && d.Kind != "method") {
				continue
			}
			src := s.evalSrc[n]
			if src == "" {
				src = d.Src
			}
			for _, r := range cell.Refs(src) {
				if changed[r] || changed[strings.TrimPrefix(r, "*")] {
					changed[n] = true
					redo = append(redo, n)
					progress = true
					break
				}
			}
		}
	}
	for _, n := range redo {
		src := s.evalSrc[n]
		if src == "" {
			src = s.decls[n].Src
		}
		if _, err := s.run(ctx, src, cell.Decls, chunkPos{exec: -1, line: 1, col: 1}); err != nil {
			fmt.Fprintf(stderr(), "warning: %s still calls the old body: re-evaluating it failed: %v\n", n, err)
		}
	}
	return nil
}

// evalStmts runs a chunk of statements. If the chunk ends in an
// expression, its value is rendered; value says whether it has one (the
// checker knows; lower.ValueUnknown has the interpreter find out).
func (s *session) evalStmts(ctx context.Context, c cell.Chunk, pos chunkPos, value lower.Value) (*frame.Bundle, error) {
	st, err := s.compileStmts(c, pos, value)
	if err != nil {
		return nil, err
	}
	return s.runStmts(ctx, st)
}

// compiledStmts is a chunk of statements compiled, ready to run: the
// statements, then the trailing expression kept for rendering (value) or
// run for effect (last).
type compiledStmts struct {
	body, value, last *interp.Program
	names             []string
}

// compileStmts compiles a chunk of statements without running any of it.
func (s *session) compileStmts(c cell.Chunk, pos chunkPos, value lower.Value) (*compiledStmts, error) {
	st := &compiledStmts{names: c.Names}
	body := c.Src
	var last string
	lastPos := pos
	if c.LastExpr && c.LastExprSrc != "" {
		at := strings.LastIndex(body, c.LastExprSrc)
		if at >= 0 {
			last = c.LastExprSrc
			before := body[:at]
			nl := strings.Count(before, "\n")
			lastPos = shift(pos, nl, len(before)-strings.LastIndex(before, "\n")-1)
			body = before
		}
	}
	if value == lower.ValueNone && last != "" {
		body, last = c.Src, ""
	}
	var err error
	if strings.TrimSpace(body) != "" {
		if st.body, err = s.compileRetry(body, pos); err != nil {
			return nil, err
		}
	}
	if last == "" {
		return st, nil
	}
	// A single-valued expression is kept in __gantry_v and rendered;
	// anything else (a call with no or several results) runs for effect.
	// (yaegi accepts `v := f()` for a multi-valued f, so without the
	// checker the test is a call of a one-parameter func, compiled and not
	// run.)
	if value == lower.ValueUnknown {
		if _, err := s.compileSrc("__gantry_keep(" + last + ")"); err != nil {
			st.last, err = s.compileChunk(last, cell.Stmts, lastPos)
			return st, err
		}
	}
	st.value, err = s.compileChunk(valuePrefix+last+")", cell.Stmts, shift(lastPos, 0, -len(valuePrefix)))
	if err != nil {
		// yaegi cannot bind some values by their static type (results of
		// generic funcs it instantiated itself); as any it can.
		st.value, err = s.compileChunk(valuePrefix+anyPrefix+last+"))", cell.Stmts, shift(lastPos, 0, -len(valuePrefix)-len(anyPrefix)))
	}
	if err != nil {
		st.value = nil
		st.last, err = s.compileChunk(last, cell.Stmts, lastPos)
	}
	return st, err
}

// runStmts runs compiled statements and renders their value, if any.
func (s *session) runStmts(ctx context.Context, st *compiledStmts) (*frame.Bundle, error) {
	if st.body != nil {
		if _, err := s.runProgram(ctx, st.body); err != nil {
			return nil, err
		}
	}
	s.noteDefined(st.names)
	if st.last != nil {
		_, err := s.runProgram(ctx, st.last)
		return nil, err
	}
	if st.value == nil {
		return nil, nil
	}
	v, err := s.runProgram(ctx, st.value)
	if err != nil || !v.IsValid() {
		return nil, err
	}
	if v.Interface() == nil {
		// A nil interface, a nil error above all (ws.Close() as the last
		// line), shows nothing, as IPython shows nothing for None.
		return nil, nil
	}
	if b, ok := s.renderMethods(ctx); ok {
		return b, nil
	}
	b, ok := v.Interface().(display.Bundle)
	if !ok {
		b = display.Render(v.Interface())
	}
	return &frame.Bundle{Data: b.Data, Metadata: b.Metadata}, nil
}

// shift returns the position of text that starts lines lines and cols
// columns (on its first line) into the text at pos.
func shift(pos chunkPos, lines, cols int) chunkPos {
	if pos.remap != nil {
		remap := pos.remap
		pos.remap = func(l, c int) (int, int) {
			if l == 1 {
				c += cols
			}
			return remap(l+lines, c)
		}
		return pos
	}
	pos.line += lines
	if lines == 0 {
		pos.col += cols
	} else {
		pos.col = cols + 1
	}
	return pos
}

// valuePrefix binds a trailing expression's value.
const valuePrefix = "__gantry_v := ("

// anyPrefix converts a trailing value to any, for values valuePrefix
// alone cannot bind.
const anyPrefix = "any("

// renderers are the prelude funcs that render a value through a method a
// cell type may define, in order of preference.
var renderers = []struct{ method, fn string }{
	{"MIMEBundle", "__gantry_asBundle"},
	{"HTML", "__gantry_asHTML"},
	{"Markdown", "__gantry_asMarkdown"},
	{"SVG", "__gantry_asSVG"},
	{"Error", "__gantry_asError"},
	{"String", "__gantry_asString"},
}

// renderMethods renders __gantry_v through the first rendering method its
// type has, when cells declared such methods. Interpreted types lose their
// methods when they travel as any, so this is decided by compiling a call
// that takes the interface: it compiles only if the type implements it.
func (s *session) renderMethods(ctx context.Context) (*frame.Bundle, bool) {
	for _, r := range renderers {
		if !s.methods[r.method] {
			continue
		}
		prog, err := s.compileSrc(r.fn + "(__gantry_v)")
		if err != nil {
			continue
		}
		v, err := s.i.ExecuteWithContext(ctx, prog)
		if err != nil || !v.IsValid() {
			continue
		}
		if b, ok := v.Interface().(display.Bundle); ok {
			return &frame.Bundle{Data: b.Data, Metadata: b.Metadata}, true
		}
	}
	return nil, false
}

func (s *session) noteDefined(names []string) {
	for _, n := range names {
		s.names[n] = true
	}
}

// compileError wraps an error found before any code ran.
type compileError struct{ err error }

func (e compileError) Error() string { return e.err.Error() }
func (e compileError) Unwrap() error { return e.err }

// chunkLines is the size of the line range each chunk gets: positions
// reported as "_.go:LINE:COL" name the chunk as LINE / chunkLines.
const chunkLines = 100000

// run compiles src as one chunk and executes it, honouring ctx. Errors come
// back as *frame.Error in cell coordinates.
//
// Every chunk is parsed as yaegi's own "_.go" (imports are scoped to a file
// name, and cells must share them), with a //line directive that moves the
// chunk to a line range of its own, so a position in any later error or
// panic still tells which cell it came from.
func (s *session) run(ctx context.Context, src string, kind cell.Kind, pos chunkPos) (reflect.Value, error) {
	var prog *interp.Program
	var err error
	if kind == cell.Stmts {
		prog, err = s.compileRetry(src, pos)
	} else {
		prog, err = s.compileChunk(src, kind, pos)
	}
	if err != nil {
		return reflect.Value{}, err
	}
	return s.runProgram(ctx, prog)
}

// compileRetry compiles a chunk of statements; if yaegi lost names defined
// in a block at the top level (`a, b := f()` inside a for or if), it tries
// again with such blocks run as closures.
func (s *session) compileRetry(src string, pos chunkPos) (*interp.Program, error) {
	prog, err := s.compileChunk(src, cell.Stmts, pos)
	if err != nil && strings.Contains(err.Error(), "undefined: ") {
		if wrapped, ok := wrapBlocks(src); ok {
			if p, err2 := s.compileChunk(wrapped, cell.Stmts, pos); err2 == nil {
				prog, err = p, nil
			}
		}
	}
	return prog, err
}

// runUnit compiles declaration chunks as one file, each under its own
// line range, and executes it.
func (s *session) runUnit(ctx context.Context, srcs []string, poss []chunkPos) (reflect.Value, error) {
	var b strings.Builder
	b.WriteString("package main")
	for k, src := range srcs {
		s.chunkN++
		s.chunks[s.chunkN] = poss[k]
		fmt.Fprintf(&b, "\n//line _.go:%d:1\n%s", s.chunkN*chunkLines+1, src)
	}
	f, err := parser.ParseFile(s.i.FileSet(), "_.go", b.String(), parser.DeclarationErrors|parser.ParseComments)
	if err != nil {
		return reflect.Value{}, compileError{s.cellError("CompileError", err)}
	}
	prog, err := s.compile(f)
	if err != nil {
		return reflect.Value{}, compileError{s.cellError("CompileError", err)}
	}
	return s.runProgram(ctx, prog)
}

// runProgram runs a compiled chunk, honouring ctx.
func (s *session) runProgram(ctx context.Context, prog *interp.Program) (reflect.Value, error) {
	s.panics.Reset()
	type result struct {
		v   reflect.Value
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := s.i.ExecuteWithContext(ctx, prog)
		done <- result{v, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		r = <-done // ExecuteWithContext returns promptly on cancel
	}
	if ctx.Err() != nil {
		if !s.waitIdle(interruptGrace) {
			return reflect.Value{}, errStuck
		}
		return reflect.Value{}, ctx.Err()
	}
	if r.err != nil {
		var p interp.Panic
		if errors.As(r.err, &p) {
			if u, ok := unread(p.Value); ok {
				return reflect.Value{}, u.frame()
			}
			return reflect.Value{}, s.panicError(p)
		}
		return reflect.Value{}, s.cellError("RuntimeError", r.err)
	}
	return r.v, nil
}

// compile compiles node, turning a panic inside the interpreter's
// compiler (yaegi has a few on code it does not support) into an error.
func (s *session) compile(node ast.Node) (prog *interp.Program, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the interpreter cannot compile this code (yaegi: %v); nothing of the cell ran: "+
				"this is a gap of the interpreter (docs/INTERPRETER.md), not of the code: "+
				"rewrite the construct yaegi names, or run the code as a program with !go run", r)
		}
	}()
	return s.i.CompileAST(node)
}

// compileSrc is compile for a source string in yaegi's REPL form.
func (s *session) compileSrc(src string) (prog *interp.Program, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the interpreter cannot compile this code (yaegi: %v)", r)
		}
	}()
	return s.i.Compile(src)
}

// compileChunk parses and compiles one chunk under its own line range.
func (s *session) compileChunk(src string, kind cell.Kind, pos chunkPos) (*interp.Program, error) {
	s.chunkN++
	s.chunks[s.chunkN] = pos
	directive := fmt.Sprintf("\n//line _.go:%d:1\n", s.chunkN*chunkLines+1)
	fset := s.i.FileSet()
	var node ast.Node
	mode := parser.DeclarationErrors | parser.ParseComments
	if kind == cell.Stmts {
		f, err := parser.ParseFile(fset, "_.go", "package main; func main() {"+directive+src+"\n}", mode)
		if err != nil {
			return nil, compileError{s.cellError("CompileError", err)}
		}
		node = f.Decls[0].(*ast.FuncDecl).Body
	} else {
		f, err := parser.ParseFile(fset, "_.go", "package main"+directive+src, mode)
		if err != nil {
			return nil, compileError{s.cellError("CompileError", err)}
		}
		node = f
	}
	prog, err := s.compile(node)
	if err != nil {
		if strings.Contains(err.Error(), "definition loop") && kind == cell.Stmts {
			if names := s.undefinedNames(src); len(names) > 0 {
				msg := s.cellPos(err.Error())
				if i := strings.Index(msg, ": "); i >= 0 {
					msg = msg[:i]
				}
				e := &frame.Error{Name: "CompileError", Value: msg + ": undefined: " + strings.Join(names, ", ")}
				e.Traceback = []string{e.Name + ": " + e.Value}
				return nil, compileError{e}
			}
		}
		return nil, compileError{s.cellError("CompileError", err)}
	}
	return prog, nil
}

// wrapBlocks rewrites the top-level compound statements of a statement
// chunk (for, if, switch, select, blocks) as func literals called at once,
// on the same lines. Their inner names are block-scoped anyway, so the
// meaning is kept. It reports false when there is nothing to wrap.
func wrapBlocks(src string) (string, bool) {
	const prefix = "package main; func _() {\n"
	f, err := parser.ParseFile(token.NewFileSet(), "", prefix+src+"\n}", 0)
	if err != nil {
		return "", false
	}
	type span struct{ from, to int }
	var spans []span
	for _, st := range f.Decls[0].(*ast.FuncDecl).Body.List {
		switch st.(type) {
		case *ast.ForStmt, *ast.RangeStmt, *ast.IfStmt, *ast.SwitchStmt, *ast.TypeSwitchStmt, *ast.SelectStmt, *ast.BlockStmt:
			spans = append(spans, span{int(st.Pos()) - 1 - len(prefix), int(st.End()) - 1 - len(prefix)})
		}
	}
	if len(spans) == 0 {
		return "", false
	}
	out := src
	for i := len(spans) - 1; i >= 0; i-- {
		sp := spans[i]
		if sp.from < 0 || sp.to > len(out) || sp.from > sp.to {
			return "", false
		}
		out = out[:sp.from] + "func() { " + out[sp.from:sp.to] + " }()" + out[sp.to:]
	}
	return out, true
}

// waitIdle reports whether the interpreter's execution goroutine ends
// within d after an interrupt.
func (s *session) waitIdle(d time.Duration) bool {
	deadline := time.Now().Add(d)
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if !strings.Contains(string(buf[:n]), "yaegi/interp.(*Interpreter).Execute(") {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var (
	chunkRef  = regexp.MustCompile(`(?:_\.go:)?(\d{6,}):(\d+)`)
	panicLine = regexp.MustCompile(`^(_\.go:)?\d+:\d+: panic`)
)

// cellPos rewrites chunk positions in msg ("_.go:LINE:COL" or
// "LINE:COL" with LINE in a chunk's range) into "cell[N]:LINE:COL".
func (s *session) cellPos(msg string) string {
	return chunkRef.ReplaceAllStringFunc(msg, func(m string) string {
		sub := chunkRef.FindStringSubmatch(m)
		line, _ := strconv.Atoi(sub[1])
		col, _ := strconv.Atoi(sub[2])
		p, ok := s.chunks[line/chunkLines]
		if !ok {
			return m
		}
		line = line%chunkLines - 1
		if p.remap != nil {
			l, c := p.remap(line+1, col)
			line, col = l-1, c
		}
		if line == 0 {
			col += p.col - 1
		}
		where := "cell"
		switch {
		case p.exec > 0:
			where = fmt.Sprintf("cell[%d]", p.exec)
		case p.exec < 0:
			where = "redefinition"
		}
		return fmt.Sprintf("%s:%d:%d", where, p.line+line, col)
	})
}

func (s *session) cellError(name string, err error) *frame.Error {
	msg := stdHint(s.cellPos(err.Error()))
	return &frame.Error{Name: name, Value: msg, Traceback: []string{name + ": " + msg}}
}

// An unreadError stops a cell at an error that a top-level statement set
// and no later line of the cell reads (package lower, StopOnErrFunc).
type unreadError struct {
	err   error
	where string // cell[N]:LINE:COL of the statement
}

// unread finds the unreadError a panic carries: the interpreter may hand
// over the value itself or wrapped in a reflect.Value.
func unread(v any) (*unreadError, bool) {
	if rv, ok := v.(reflect.Value); ok && rv.IsValid() && rv.CanInterface() {
		v = rv.Interface()
	}
	u, ok := v.(*unreadError)
	return u, ok
}

// newUnreadError is gantry/cellrt.Unread, which the prelude's
// __gantry_stopOnErr panics with.
func newUnreadError(err error, where string) any { return &unreadError{err: err, where: where} }

// frame reports the error as the cell's error: its type as the name, its
// text at the statement's place, and why the cell stopped.
func (u *unreadError) frame() *frame.Error {
	name := fmt.Sprintf("%T", u.err)
	val := u.where + ": " + u.err.Error()
	return &frame.Error{Name: name, Value: val, Traceback: []string{
		name + ": " + val,
		"(the statement at " + u.where + " set an error that no later line of the cell reads, so the cell stopped there; " +
			"read it to handle it yourself, e.g. if err != nil { ... }, or discard it with _)",
	}}
}

// panicError turns an interpreter panic into a Go-style traceback with
// cell positions, from the frames yaegi reported while unwinding.
func (s *session) panicError(p interp.Panic) *frame.Error {
	val := fmt.Sprint(p.Value)
	if e, ok := p.Value.(error); ok {
		val = e.Error()
	}
	tb := []string{"panic: " + val, "", "goroutine 1 [running]:"}
	for _, l := range strings.Split(strings.TrimSpace(s.panics.String()), "\n") {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		// "300002:5: panic: main.f(...)"
		i := strings.Index(l, ": panic: ")
		if i < 0 {
			continue
		}
		fn := strings.TrimPrefix(l[i+len(": panic: "):], "main.")
		if fn == "main(...)" {
			fn = "cell(...)"
		}
		tb = append(tb, fn, "\t"+s.cellPos(l[:i]))
	}
	return &frame.Error{Name: "panic", Value: val, Traceback: tb}
}

// packageName returns the name a package is imported under by default:
// the name its symbol table gives it ("math/rand/v2/rand"), else the last
// element of its path that is not a major version. (Not from
// interp.Symbols: for a source package that wraps every func, and panics on
// a generic one.)
func packageName(path string) string {
	for _, tables := range []interp.Exports{gostd.Symbols, symbols.Symbols} {
		for k := range tables {
			if i := strings.LastIndexByte(k, '/'); i >= 0 && k[:i] == path {
				return k[i+1:]
			}
		}
	}
	base := path[strings.LastIndex(path, "/")+1:]
	if strings.HasPrefix(base, "v") && len(base) > 1 {
		if _, err := strconv.Atoi(base[1:]); err == nil {
			p := strings.TrimSuffix(path, "/"+base)
			base = p[strings.LastIndex(p, "/")+1:]
		}
	}
	return strings.ReplaceAll(base, "-", "_")
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
