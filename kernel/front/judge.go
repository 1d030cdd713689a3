package front

import (
	"errors"
	"fmt"
	"gantry/kernel/gostd"
	"go/ast"
	"go/token"
	"go/types"
	"runtime"
	"strings"

	"gantry/kernel/cell"
	"gantry/kernel/importer"
)

// An Error is one problem in a cell, in cell coordinates.
type Error struct {
	Exec      int
	Line, Col int
	Msg       string
	Import    bool // the problem is an import the interpreter cannot make
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", Cell{Exec: e.Exec}.name(), e.Line, e.Col, e.Msg)
}

// name returns the file name positions in c carry: "cell[N]", or "cell".
func (c Cell) name() string {
	if c.Exec > 0 {
		return fmt.Sprintf("%s[%d]", cellFile, c.Exec)
	}
	return cellFile
}

// Source returns the source text of a node of a checked cell or of an
// earlier cell's declaration, and the position of its first byte; ok is
// false for nodes the checker made.
func (ch *Checked) Source(n ast.Node) (text string, base token.Pos, ok bool) {
	f := ch.Fset.File(n.Pos())
	if f == nil {
		return "", token.NoPos, false
	}
	src, ok := ch.srcs[f]
	if !ok {
		return "", token.NoPos, false
	}
	return src[f.Offset(n.Pos()):f.Offset(n.End())], n.Pos(), true
}

// TypeSpec returns the declaration of a type of the cell's package, from
// the cell or from an earlier cell.
func (ch *Checked) TypeSpec(tn *types.TypeName) *ast.TypeSpec {
	for _, f := range ch.files {
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.TYPE {
				continue
			}
			for _, sp := range gd.Specs {
				if ts := sp.(*ast.TypeSpec); ch.Info.Defs[ts.Name] == tn {
					return ts
				}
			}
		}
	}
	return nil
}

// Methods returns the declarations of the methods of a type of the cell's
// package that the check saw whole (those of generic types).
func (ch *Checked) Methods(tn *types.TypeName) []*ast.FuncDecl {
	var out []*ast.FuncDecl
	for _, f := range ch.files {
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Recv == nil || fd.Body == nil || len(fd.Recv.List) == 0 {
				continue
			}
			m, ok := ch.Info.Defs[fd.Name].(*types.Func)
			if !ok {
				continue
			}
			recv := m.Type().(*types.Signature).Recv().Type()
			if p, ok := recv.(*types.Pointer); ok {
				recv = p.Elem()
			}
			if n, ok := types.Unalias(recv).(*types.Named); ok && n.Origin().Obj() == tn {
				out = append(out, fd)
			}
		}
	}
	return out
}

// FuncDecl returns the declaration of a func of the cell's package, from
// the cell or from an earlier cell (a generic func's whole declaration is
// checked with the cells that use it).
func (ch *Checked) FuncDecl(fn *types.Func) *ast.FuncDecl {
	for _, f := range ch.files {
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && ch.Info.Defs[fd.Name] == fn {
				return fd
			}
		}
	}
	return nil
}

// A Refusal lists the problems that keep a cell from running, in order.
type Refusal struct {
	Errors []*Error
}

func (r *Refusal) Error() string {
	msgs := make([]string, len(r.Errors))
	for i, e := range r.Errors {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// Unjudged reports a cell the checker cannot judge; it should run as it
// would without a checker.
type Unjudged struct {
	Reason string
}

func (u *Unjudged) Error() string { return "the cell was not type-checked: " + u.Reason }

// judge sorts the errors of a check into a refusal, an unjudged cell, or
// nothing that matters.
func (s *Session) judge(ch *Checked, errs []types.Error) error {
	ch.Typed = true
	exempt := ch.exemptions()
	var refuse []*Error
	for _, te := range errs {
		p := s.fset.Position(te.Pos)
		if strings.Contains(te.Msg, "imported and not used") || strings.Contains(te.Msg, "imported as ") && strings.HasSuffix(te.Msg, " and not used") {
			continue // a notebook imports in one cell and uses it in the next
		}
		if p.Filename != ch.Cell.name() {
			ch.Typed = false
			return &Unjudged{Reason: fmt.Sprintf("an earlier cell's declaration does not check: %s", te.Msg)}
		}
		if exempt[te.Pos] && (strings.Contains(te.Msg, "declared and not used") || strings.HasSuffix(te.Msg, "is not used")) {
			continue
		}
		e := &Error{Exec: ch.Cell.Exec, Line: p.Line, Col: p.Column, Msg: te.Msg}
		if strings.HasPrefix(te.Msg, "could not import ") {
			path := strings.Fields(te.Msg)[3]
			if _, err := s.imp.Import(path); !importer.IsNotFound(err) {
				ch.Typed = false
				return &Unjudged{Reason: te.Msg}
			}
			e.Import = true
			e.Msg = missingImport(path)
		}
		if gap(te.Msg) {
			ch.Typed = false
			return &Unjudged{Reason: te.Msg}
		}
		refuse = append(refuse, e)
	}
	if len(refuse) > 0 {
		ch.Typed = false
		return &Refusal{Errors: refuse}
	}
	return nil
}

// missingImport says why the interpreter cannot import path and what to
// do instead.
func missingImport(path string) string {
	if first, _, _ := strings.Cut(path, "/"); strings.Contains(first, ".") {
		return fmt.Sprintf("import %q: not a standard library or Gantry package, and not fetched: "+
			"run %%require MODULE@VERSION first (for example %%require github.com/google/uuid@v1.6.0)", path)
	}
	instead := map[string]string{
		"C": "cgo needs a compiler: call the C code through a Go module fetched with %require, or a program run with !cmd",
	}[path]
	if why, ok := gostd.UnsupportedPackage(path); ok {
		instead = why
	}
	if instead == "" {
		instead = "the standard library of the Go that built this kernel (" + runtime.Version() + ") has no such package; " +
			"check the path, or run code that needs a newer Go as a program with !go run"
	}
	return fmt.Sprintf("import %q: the interpreter has no package %s; %s", path, path, instead)
}

// gap reports whether a type error may come from what reflection cannot
// see of a compiled package (unexported methods), rather than the cell.
func gap(msg string) bool {
	i := strings.Index(msg, "missing method ")
	if i < 0 {
		return false
	}
	name := strings.Fields(msg[i+len("missing method "):])
	return len(name) > 0 && !token.IsExported(strings.TrimRight(name[0], ")"))
}

// exemptions returns the positions where go/types errors do not apply to a
// notebook: names that the top level of the cell's statements defines
// (they outlive the cell, so they need no use in it) and the last
// expression of each run of statements (its value is shown).
func (ch *Checked) exemptions() map[token.Pos]bool {
	ex := map[token.Pos]bool{}
	for _, c := range ch.Chunks {
		if c.Kind != cell.Stmts || len(c.Stmts) == 0 {
			continue
		}
		for _, st := range c.Stmts {
			if as, ok := st.(*ast.AssignStmt); ok && as.Tok == token.DEFINE {
				for _, l := range as.Lhs {
					ex[l.Pos()] = true
				}
			}
		}
		if x, ok := c.Stmts[len(c.Stmts)-1].(*ast.ExprStmt); ok {
			ex[x.X.Pos()] = true
		}
	}
	return ex
}

// IsUnjudged reports whether err says the checker could not judge a cell.
func IsUnjudged(err error) bool {
	var u *Unjudged
	return errors.As(err, &u)
}
