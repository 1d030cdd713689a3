// Package front type-checks the Go code of a notebook cell with go/types
// before any of it runs, against the declarations that the cells run
// before it made: imports, funcs, methods, types, consts and vars,
// including names a later cell declares again, which a notebook allows.
//
// A cell is checked as one file of package main: its imports and
// declarations at the top level, its statements in the body of one func,
// in the order they stand in the cell. Earlier cells are seen through
// stubs: a func by its signature, a type with its methods' signatures, a
// var by its type, a const by its value. Only the stubs a cell refers to
// (and what those refer to) are checked with it, so the cost of a check
// follows the cell, not the length of the session.
//
// Errors come back in the cell's own coordinates (cell[N]:LINE:COL).
// What the checker cannot judge, such as a cell that uses a name from a
// cell that was run without a check, is reported as Unjudged, and the
// caller runs the cell as it would without a checker: a checker's gap is
// never a refusal.
package front

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"sort"
	"strconv"
	"strings"

	"gantry/kernel/cell"
	"gantry/kernel/importer"
)

// CellFunc is the name of the func whose body holds a cell's statements
// when the cell is checked.
const CellFunc = "__gantry_cell"

// cellFile is the file name positions in a cell carry.
const cellFile = "cell"

// A Cell is the Go code of a cell, cut into chunks by cell.Split.
type Cell struct {
	Exec   int // execution count, shown in positions (cell[Exec]:L:C); 0 shows "cell"
	Line   int // cell line of the first line of the code (after magics)
	Chunks []cell.Chunk
}

// A Chunk is a chunk of a cell with its syntax from the check.
type Chunk struct {
	cell.Chunk
	Decls []ast.Decl // for Imports and Decls
	Stmts []ast.Stmt // for Stmts
	file  *token.File
	base  int // offset of Src[0] in file
}

// Offset returns the offset in c.Src of a position inside the chunk.
func (c *Chunk) Offset(p token.Pos) int { return c.file.Offset(p) - c.base }

// Contains reports whether p lies in the chunk.
func (c *Chunk) Contains(p token.Pos) bool {
	if !p.IsValid() || c.file.Base() > int(p) || int(p) > c.file.Base()+c.file.Size() {
		return false
	}
	off := c.Offset(p)
	return off >= 0 && off <= len(c.Src)
}

// Checked is a cell that type-checked, with what the checker learned.
type Checked struct {
	Cell   Cell
	Chunks []Chunk
	Fset   *token.FileSet
	Pkg    *types.Package
	Info   *types.Info
	Func   *ast.FuncDecl // the func holding the cell's statements
	Typed  bool          // false when the check could not judge the cell: Info is partial

	// Hoisted holds the names the top level of the cell's statements
	// defines that its declarations use, by type: they must be declared
	// before the declarations, and the statements assign them.
	Hoisted map[string]types.Type

	sess  *Session
	files []*ast.File            // the cell's file (first), then stubs
	srcs  map[*token.File]string // sources of the cell's file and of whole declarations of earlier cells
}

// A Session checks the cells of one interpreter, in the order they run.
// It is not safe for concurrent use.
type Session struct {
	fset    *token.FileSet
	imp     *importer.Importer
	decls   map[string]*decl    // by name; methods as "T.M"
	methods map[string][]string // receiver base type -> method keys
	imports map[string]string   // import name -> path, imported by cells
	dots    []string            // paths dot-imported by cells
}

// New returns a Session that imports through imp and parses into fset.
func New(fset *token.FileSet, imp *importer.Importer) *Session {
	s := &Session{fset: fset, imp: imp}
	s.Reset()
	return s
}

// Reset forgets every declaration, as a fresh interpreter has none.
func (s *Session) Reset() {
	s.decls = map[string]*decl{}
	s.methods = map[string][]string{}
	s.imports = map[string]string{}
	s.dots = nil
}

// Fset returns the file set positions refer to.
func (s *Session) Fset() *token.FileSet { return s.fset }

// Check parses and type-checks c. It returns a *Refusal if the cell does
// not compile (nothing of it should run), or an *Unjudged error with a
// Checked that is not Typed if the checker cannot judge it.
func (s *Session) Check(c Cell) (ch *Checked, err error) {
	ch, err = s.parse(c)
	if err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			ch.Typed = false
			err = &Unjudged{Reason: fmt.Sprintf("the type checker failed: %v", r)}
		}
	}()
	return ch, s.check(ch)
}

// parse builds the file a cell is checked as and parses it.
func (s *Session) parse(c Cell) (*Checked, error) {
	var b strings.Builder
	b.WriteString("package main;")
	ch := &Checked{Cell: c, Fset: s.fset, sess: s}
	type span struct{ from, to int }
	spans := make([]span, len(c.Chunks))
	add := func(i int) {
		k := c.Chunks[i]
		fmt.Fprintf(&b, "/*line %s:%d:%d*/", c.name(), k.Line+max(c.Line, 1)-1, max(k.Col, 1))
		spans[i].from = b.Len()
		b.WriteString(k.Src)
		spans[i].to = b.Len()
		b.WriteString("\n")
	}
	for i, k := range c.Chunks {
		if k.Kind != cell.Stmts {
			add(i)
		}
	}
	fmt.Fprintf(&b, "/*line gantry:1:1*/func %s() {\n", CellFunc)
	for i, k := range c.Chunks {
		if k.Kind == cell.Stmts {
			add(i)
		}
	}
	b.WriteString("/*line gantry:2:1*/}\n")
	src := b.String()
	f, err := parser.ParseFile(s.fset, "", src, parser.SkipObjectResolution)
	if err != nil {
		return nil, &Unjudged{Reason: "the cell does not parse as one file: " + err.Error()}
	}
	file := s.fset.File(f.Pos())
	ch.srcs = map[*token.File]string{file: src}
	ch.Func = f.Decls[len(f.Decls)-1].(*ast.FuncDecl)
	for i, k := range c.Chunks {
		chunk := Chunk{Chunk: k, file: file, base: spans[i].from}
		lo, hi := file.Pos(spans[i].from), file.Pos(spans[i].to)
		if k.Kind == cell.Stmts {
			for _, st := range ch.Func.Body.List {
				if st.Pos() >= lo && st.Pos() < hi {
					chunk.Stmts = append(chunk.Stmts, st)
				}
			}
		} else {
			for _, d := range f.Decls {
				if d.Pos() >= lo && d.Pos() < hi {
					chunk.Decls = append(chunk.Decls, d)
				}
			}
		}
		ch.Chunks = append(ch.Chunks, chunk)
	}
	ch.files = []*ast.File{f}
	return ch, nil
}

// check type-checks a parsed cell with the stubs it needs.
func (s *Session) check(ch *Checked) error {
	f := ch.files[0]
	cellNames := ch.declaredNames()
	used := usedNames(f)
	stubs, err := s.closure(used, cellNames, ch.srcs)
	if err != nil {
		return err
	}
	s.addImports(f, used, cellNames)
	files := append([]*ast.File{f}, stubs...)
	ch.files = files

	errs := ch.typeCheck(files)
	if hoist := ch.hoistable(errs); len(hoist) > 0 {
		if stub, err := ch.hoistStub(hoist); err == nil {
			ch.Hoisted = hoist
			ch.files = append(files, stub)
			errs = ch.typeCheck(ch.files)
		}
	}
	return s.judge(ch, errs)
}

// typeCheck checks the files of a cell into fresh Info and returns the
// errors.
func (ch *Checked) typeCheck(files []*ast.File) []types.Error {
	var errs []types.Error
	conf := types.Config{
		Importer: ch.sess.imp,
		Error: func(err error) {
			if te, ok := err.(types.Error); ok {
				errs = append(errs, te)
			}
		},
	}
	ch.Info = &types.Info{
		Types:      map[ast.Expr]types.TypeAndValue{},
		Defs:       map[*ast.Ident]types.Object{},
		Uses:       map[*ast.Ident]types.Object{},
		Implicits:  map[ast.Node]types.Object{},
		Selections: map[*ast.SelectorExpr]*types.Selection{},
		Scopes:     map[ast.Node]*types.Scope{},
		Instances:  map[*ast.Ident]types.Instance{},
	}
	ch.Pkg = types.NewPackage("main", "main")
	_ = types.NewChecker(&conf, ch.Fset, ch.Pkg, ch.Info).Files(files)
	return errs
}

// declaredNames returns the names the cell's declarations declare at the
// top level (methods as "T.M"): they replace earlier cells' declarations.
func (ch *Checked) declaredNames() map[string]bool {
	names := map[string]bool{}
	for _, c := range ch.Chunks {
		if c.Kind != cell.Decls {
			continue
		}
		for _, d := range c.Decls {
			for _, n := range declNames(d) {
				names[n] = true
			}
		}
	}
	return names
}

// usedNames returns every identifier in f.
func usedNames(f *ast.File) map[string]bool {
	names := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok {
			names[id.Name] = true
		}
		return true
	})
	return names
}

// addImports adds to f the imports of earlier cells that f may use: those
// whose names occur in it and that the cell neither imports nor declares.
func (s *Session) addImports(f *ast.File, used, declared map[string]bool) {
	own := map[string]bool{}
	for _, spec := range f.Imports {
		if spec.Name != nil {
			own[spec.Name.Name] = true
		} else if p, err := strconv.Unquote(spec.Path.Value); err == nil {
			own[s.packageName(p)] = true
		}
	}
	gd := &ast.GenDecl{Tok: token.IMPORT}
	names := make([]string, 0, len(s.imports))
	for n := range s.imports {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if used[n] && !own[n] && !declared[n] {
			gd.Specs = append(gd.Specs, importSpec(n, s.imports[n]))
		}
	}
	for _, p := range s.dots {
		gd.Specs = append(gd.Specs, importSpec(".", p))
	}
	if len(gd.Specs) > 0 {
		f.Decls = append([]ast.Decl{gd}, f.Decls...)
	}
}

func importSpec(name, path string) *ast.ImportSpec {
	return &ast.ImportSpec{Name: ast.NewIdent(name), Path: &ast.BasicLit{Kind: token.STRING, Value: strconv.Quote(path)}}
}

// packageName returns the name of the package at path as the importer
// knows it, without importing it if it can be helped.
func (s *Session) packageName(path string) string {
	if pk, err := s.imp.Import(path); err == nil {
		return pk.Name()
	}
	base := path[strings.LastIndex(path, "/")+1:]
	return base
}

// declNames returns the names a top-level declaration declares: one for a
// func or type, "T.M" for a method, each name of a var or const. Blank
// names and imports yield none.
func declNames(d ast.Decl) []string {
	var names []string
	switch d := d.(type) {
	case *ast.FuncDecl:
		if d.Recv != nil && len(d.Recv.List) > 0 {
			names = append(names, recvBase(d.Recv.List[0].Type)+"."+d.Name.Name)
		} else if d.Name.Name != "_" && d.Name.Name != "init" {
			names = append(names, d.Name.Name)
		}
	case *ast.GenDecl:
		for _, spec := range d.Specs {
			switch sp := spec.(type) {
			case *ast.TypeSpec:
				if sp.Name.Name != "_" {
					names = append(names, sp.Name.Name)
				}
			case *ast.ValueSpec:
				for _, id := range sp.Names {
					if id.Name != "_" {
						names = append(names, id.Name)
					}
				}
			}
		}
	}
	return names
}

// recvBase returns the name of a receiver's base type: T for T, *T, T[K].
func recvBase(x ast.Expr) string {
	for {
		switch t := x.(type) {
		case *ast.Ident:
			return t.Name
		case *ast.StarExpr:
			x = t.X
		case *ast.ParenExpr:
			x = t.X
		case *ast.IndexExpr:
			x = t.X
		case *ast.IndexListExpr:
			x = t.X
		default:
			return "?"
		}
	}
}
