// Package cell splits the Go source of a notebook cell into chunks that the
// yaegi interpreter can evaluate one at a time, and answers the syntactic
// questions a Jupyter kernel is asked about a cell: whether it is complete,
// which identifier is under the cursor, which top-level declarations it
// makes and where an interpreter error lies in it.
//
// Lines are 1-based. Columns are 1-based byte offsets within a line, as in
// go/token, except in IdentAt, which counts Unicode code points as Jupyter
// does.
package cell

import (
	"go/ast"
	"go/parser"
	"go/scanner"
	"go/token"
	"slices"
	"strconv"
	"strings"
)

// Kind says what a Chunk holds.
type Kind int

const (
	Imports Kind = iota // import declarations
	Decls               // func, method, type, var and const declarations
	Stmts               // statements, evaluated as the body of a function
)

func (k Kind) String() string {
	switch k {
	case Imports:
		return "Imports"
	case Decls:
		return "Decls"
	case Stmts:
		return "Stmts"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// A Chunk is a run of consecutive top-level units of one kind, evaluated
// with one interp.Eval.
type Chunk struct {
	Kind Kind

	// Src is the source text to pass to Eval. For Decls and Stmts it is the
	// cell text from the chunk's first unit (with the comments just before
	// it) to the end of its last. For Imports it is rebuilt as one
	// `import "path"` or `import name "path"` per import, each on the line
	// where its path stands in the cell, so that Src's lines stay aligned
	// with the cell's.
	Src string

	Line int // 1-based cell line where Src starts
	Col  int // 1-based cell column (in bytes) where Src starts on its first line

	// Names holds, for Decls, the top-level names declared (methods as
	// "T.M"); for Stmts, the names defined with := or var at the top level
	// of the statement list.
	Names []string

	Imports []Import // for Imports: the imports, in source order

	// LastExpr reports, for Stmts, that the last statement is an
	// expression statement, whose value is a candidate for an
	// execute_result; LastExprSrc is that expression's source, verbatim
	// from Src.
	LastExpr    bool
	LastExprSrc string
}

// An Import is one imported package.
type Import struct {
	Path string
	Name string // the alias, "_", "." or "" for none
}

// wrapper prefixes prepended by interp.Eval, which put line 1 of a chunk's
// Src this many bytes to the right.
const (
	declPrefix = "package main;"
	stmtPrefix = "package main; func main() {"
	stmtSuffix = "\n}"
)

// prefixLen returns the length of the wrapper Eval puts before a chunk of
// kind k on its first line.
func prefixLen(k Kind) int {
	if k == Stmts {
		return len(stmtPrefix)
	}
	return len(declPrefix)
}

// Split parses a Go cell into chunks, in source order.
//
// Top-level units are separated by semicolons, written or inserted at line
// ends, outside brackets. A unit is a declaration if it starts with import,
// type, var or const, or with "func NAME" or "func (recv) NAME"; anything
// else, a function literal such as func() { ... }() included, is a
// statement. Consecutive units of one kind form one chunk. A leading
// "package NAME" clause is dropped. Each chunk is checked with go/parser,
// wrapped as Eval wraps it; the first error is returned as an *Error in
// cell coordinates.
func Split(src string) ([]Chunk, error) {
	fset := token.NewFileSet()
	file := fset.AddFile("cell", -1, len(src))
	units, err := scanUnits(src, file)
	if err != nil {
		return nil, err
	}
	if len(units) > 0 && units[0].isPackage {
		units = units[1:]
	}
	var chunks []Chunk
	for i := 0; i < len(units); {
		j := i + 1
		for j < len(units) && units[j].kind == units[i].kind {
			j++
		}
		pos := file.Position(file.Pos(units[i].start))
		c := Chunk{
			Kind: units[i].kind,
			Src:  src[units[i].start:units[j-1].end],
			Line: pos.Line,
			Col:  pos.Column,
		}
		if err := c.complete(); err != nil {
			return nil, strayBrace(src, file, units[i:j], err)
		}
		if c.Kind != Imports || len(c.Imports) > 0 {
			chunks = append(chunks, c) // an empty import ( ) leaves nothing to do
		}
		i = j
	}
	return chunks, nil
}

// A unit is one top-level declaration or statement of a cell.
type unit struct {
	kind       Kind
	start, end int // byte offsets in the cell; start includes leading comments
	isPackage  bool
	stray      int // offset of a } closing nothing, or -1
}

// strayBrace returns an error at the first } closing nothing in units if
// it comes before the error err found in parsing them, and err otherwise.
// The parser, given statements with a stray }, would report an error in
// the brace Eval adds after them, at the end of the chunk.
func strayBrace(src string, file *token.File, units []unit, err error) error {
	e, ok := err.(*Error)
	if !ok {
		return err
	}
	for _, u := range units {
		if u.stray >= 0 && u.stray < offset(src, e.Line, e.Col) {
			pos := file.Position(file.Pos(u.stray))
			return &Error{Line: pos.Line, Col: pos.Column, Msg: "unexpected }: no { to close"}
		}
	}
	return err
}

// scanUnits cuts src into top-level units with go/scanner.
func scanUnits(src string, file *token.File) ([]unit, error) {
	var errs scanner.ErrorList
	var s scanner.Scanner
	s.Init(file, []byte(src), errs.Add, scanner.ScanComments)

	var (
		units    []unit
		toks     []token.Token // tokens of the unit being read
		start    int           // its start offset
		end      int           // the end offset of its last token
		comment  = -1          // offset of the first comment waiting for the next unit
		prevLine = 0           // line where the previous unit ended
		depth    int           // bracket depth
		stray    = -1          // offset of a } closing nothing in the unit
	)
	flush := func() {
		if len(toks) == 0 {
			return
		}
		units = append(units, unit{
			kind:      classify(toks),
			start:     start,
			end:       end,
			isPackage: len(toks) == 2 && toks[0] == token.PACKAGE && toks[1] == token.IDENT,
			stray:     stray,
		})
		prevLine = file.Line(file.Pos(end - 1))
		toks, comment, stray = toks[:0], -1, -1
	}
	for {
		pos, tok, lit := s.Scan()
		if tok == token.EOF {
			break
		}
		off := file.Offset(pos)
		switch {
		case tok == token.COMMENT:
			// A comment between units belongs to the next one, unless it
			// trails the previous one on its last line.
			if len(toks) == 0 && comment < 0 && file.Line(pos) != prevLine {
				comment = off
			}
			continue
		case tok == token.SEMICOLON && depth == 0:
			flush()
			continue
		case tok == token.SEMICOLON && lit == "\n":
			continue // an inserted semicolon inside braces takes no room
		}
		if len(toks) == 0 {
			start = off
			if comment >= 0 {
				start = comment
			}
		}
		toks = append(toks, tok)
		switch tok {
		case token.LPAREN, token.LBRACK, token.LBRACE:
			depth++
		case token.RPAREN, token.RBRACK, token.RBRACE:
			if depth > 0 {
				depth--
			} else if tok == token.RBRACE && stray < 0 {
				stray = off
			}
		}
		end = off + tokenLen(src, off, tok, lit)
	}
	flush()
	if len(errs) > 0 {
		e := errs[0]
		return nil, &Error{Line: e.Pos.Line, Col: e.Pos.Column, Msg: e.Msg}
	}
	return units, nil
}

// tokenLen returns the length in bytes of the token at offset off.
func tokenLen(src string, off int, tok token.Token, lit string) int {
	switch {
	case lit == "":
		return len(tok.String())
	case tok == token.STRING && lit[0] == '`':
		// The scanner drops carriage returns from raw strings' lit, so
		// measure in the source.
		if i := strings.IndexByte(src[off+1:], '`'); i >= 0 {
			return i + 2
		}
		return len(src) - off
	}
	return len(lit)
}

// classify tells the kind of a unit from its tokens.
func classify(toks []token.Token) Kind {
	switch toks[0] {
	case token.IMPORT:
		return Imports
	case token.TYPE, token.VAR, token.CONST, token.PACKAGE:
		return Decls
	case token.FUNC:
		if len(toks) > 1 && toks[1] == token.IDENT {
			return Decls // func NAME
		}
		if len(toks) > 1 && toks[1] == token.LPAREN {
			// func (recv) NAME( is a method; func (params) ... is a literal.
			j := closing(toks, 1)
			if j+2 < len(toks) && toks[j+1] == token.IDENT && toks[j+2] == token.LPAREN {
				return Decls
			}
		}
	}
	return Stmts
}

// closing returns the index of the bracket closing the one at toks[open],
// or len(toks) if there is none.
func closing(toks []token.Token, open int) int {
	depth := 0
	for i := open; i < len(toks); i++ {
		switch toks[i] {
		case token.LPAREN, token.LBRACK, token.LBRACE:
			depth++
		case token.RPAREN, token.RBRACK, token.RBRACE:
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return len(toks)
}

// complete parses c, which has Kind, Src, Line and Col set, wrapped as
// Eval wraps it, and fills in the rest of its fields.
func (c *Chunk) complete() error {
	fset := token.NewFileSet()
	prefix, suffix := declPrefix, ""
	if c.Kind == Stmts {
		prefix, suffix = stmtPrefix, stmtSuffix
	}
	f, err := parser.ParseFile(fset, "", prefix+c.Src+suffix, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		return c.parseError(err)
	}
	switch c.Kind {
	case Imports:
		c.completeImports(fset, f)
	case Decls:
		for _, d := range f.Decls {
			c.Names = append(c.Names, declNames(d)...)
		}
	case Stmts:
		c.completeStmts(fset, f.Decls[0].(*ast.FuncDecl).Body.List)
	}
	return nil
}

// parseError converts an error from parsing c's wrapped Src to an *Error.
func (c *Chunk) parseError(err error) error {
	list, ok := err.(scanner.ErrorList)
	if !ok || len(list) == 0 {
		return &Error{Line: max(c.Line, 1), Col: max(c.Col, 1), Msg: err.Error()}
	}
	line, col := c.cellPos(list[0].Pos.Line, list[0].Pos.Column)
	return &Error{Line: line, Col: col, Msg: list[0].Msg}
}

// completeImports rebuilds c.Src from the import specs of f and sets
// c.Imports. Each import goes on the Src line matching its cell line.
func (c *Chunk) completeImports(fset *token.FileSet, f *ast.File) {
	var b strings.Builder
	first, at := 0, 0 // cell line of Src's first line; cell line b ends on
	for _, spec := range f.Imports {
		imp := Import{Path: importPath(spec)}
		if spec.Name != nil {
			imp.Name = spec.Name.Name
		}
		c.Imports = append(c.Imports, imp)
		p := fset.Position(spec.Path.Pos())
		line, _ := c.cellPos(p.Line, p.Column)
		switch {
		case first == 0:
			first, at = line, line
		case line > at:
			b.WriteString(strings.Repeat("\n", line-at))
			at = line
		default:
			b.WriteString("; ")
		}
		b.WriteString(importSrc(imp))
	}
	c.Src, c.Line, c.Col = b.String(), max(first, c.Line), 1
}

// importPath returns the unquoted path of spec.
func importPath(spec *ast.ImportSpec) string {
	path, err := strconv.Unquote(spec.Path.Value)
	if err != nil {
		return spec.Path.Value // the parser accepted it, so this does not happen
	}
	return path
}

// importSrc returns the declaration importing imp on its own.
func importSrc(imp Import) string {
	if imp.Name == "" {
		return "import " + strconv.Quote(imp.Path)
	}
	return "import " + imp.Name + " " + strconv.Quote(imp.Path)
}

// completeStmts sets the names defined by, and the trailing expression of,
// the statement list of c.
func (c *Chunk) completeStmts(fset *token.FileSet, list []ast.Stmt) {
	for _, s := range list {
		switch s := s.(type) {
		case *ast.AssignStmt:
			if s.Tok != token.DEFINE {
				continue
			}
			for _, e := range s.Lhs {
				if id, ok := e.(*ast.Ident); ok {
					c.Names = appendName(c.Names, id.Name)
				}
			}
		case *ast.DeclStmt:
			for _, n := range declNames(s.Decl) {
				c.Names = appendName(c.Names, n)
			}
		}
	}
	if len(list) == 0 {
		return
	}
	if x, ok := list[len(list)-1].(*ast.ExprStmt); ok {
		from := fset.Position(x.Pos()).Offset - len(stmtPrefix)
		to := fset.Position(x.End()).Offset - len(stmtPrefix)
		c.LastExpr, c.LastExprSrc = true, c.Src[from:to]
	}
}

// appendName appends to names each of more that is not blank and not
// already there.
func appendName(names []string, more ...string) []string {
	for _, name := range more {
		if name != "_" && !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	return names
}
