package cell

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

const mixedCell = `import (
	"fmt"
	m "math"
)

// Square returns x*x.
func Square(x float64) float64 { return x * x }

type Point struct{ X, Y int }

func (p Point) Norm() float64 { return m.Sqrt(float64(p.X*p.X + p.Y*p.Y)) }

x := Square(3)
fmt.Println(x)
x + 1`

func TestSplit(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []Chunk
	}{
		{"empty", "", nil},
		{"only comments and blank lines", "\n// nothing\n\n/* here */\n", nil},
		{"mixed imports, decls and stmts", mixedCell, []Chunk{
			{Kind: Imports, Src: "import \"fmt\"\nimport m \"math\"", Line: 2, Col: 1,
				Imports: []Import{{Path: "fmt"}, {Path: "math", Name: "m"}}},
			{Kind: Decls, Line: 6, Col: 1,
				Src: "// Square returns x*x.\nfunc Square(x float64) float64 { return x * x }\n\n" +
					"type Point struct{ X, Y int }\n\n" +
					"func (p Point) Norm() float64 { return m.Sqrt(float64(p.X*p.X + p.Y*p.Y)) }",
				Names: []string{"Square", "Point", "Point.Norm"}},
			{Kind: Stmts, Src: "x := Square(3)\nfmt.Println(x)\nx + 1", Line: 13, Col: 1,
				Names: []string{"x"}, LastExpr: true, LastExprSrc: "x + 1"},
		}},
		{"stmts, decl, stmts keep their lines", "x := 1\nfunc f() int { return x }\ny := f()", []Chunk{
			{Kind: Stmts, Src: "x := 1", Line: 1, Col: 1, Names: []string{"x"}},
			{Kind: Decls, Src: "func f() int { return x }", Line: 2, Col: 1, Names: []string{"f"}},
			{Kind: Stmts, Src: "y := f()", Line: 3, Col: 1, Names: []string{"y"}},
		}},
		{"units on one line", "x := 1; func f() {}", []Chunk{
			{Kind: Stmts, Src: "x := 1", Line: 1, Col: 1, Names: []string{"x"}},
			{Kind: Decls, Src: "func f() {}", Line: 1, Col: 9, Names: []string{"f"}},
		}},
		{"import then statement on one line", `import "fmt"; fmt.Println(1)`, []Chunk{
			{Kind: Imports, Src: `import "fmt"`, Line: 1, Col: 1, Imports: []Import{{Path: "fmt"}}},
			{Kind: Stmts, Src: "fmt.Println(1)", Line: 1, Col: 15, LastExpr: true, LastExprSrc: "fmt.Println(1)"},
		}},
		{"function literal called is a statement", "func() { println(1) }()", []Chunk{
			{Kind: Stmts, Src: "func() { println(1) }()", Line: 1, Col: 1,
				LastExpr: true, LastExprSrc: "func() { println(1) }()"},
		}},
		{"function literal with params and result is a statement", "v := 2\nfunc (x int) int { return x }(v)", []Chunk{
			{Kind: Stmts, Src: "v := 2\nfunc (x int) int { return x }(v)", Line: 1, Col: 1,
				Names: []string{"v"}, LastExpr: true, LastExprSrc: "func (x int) int { return x }(v)"},
		}},
		{"generic func and method on generic type", "type Stack[T any] struct{ items []T }\n" +
			"func (s *Stack[T]) Push(v T) { s.items = append(s.items, v) }\n" +
			"func Map[T, U any](xs []T, f func(T) U) []U {\n\tvar out []U\n\tfor _, x := range xs {\n\t\tout = append(out, f(x))\n\t}\n\treturn out\n}",
			[]Chunk{{Kind: Decls, Line: 1, Col: 1, Names: []string{"Stack", "Stack.Push", "Map"},
				Src: "type Stack[T any] struct{ items []T }\n" +
					"func (s *Stack[T]) Push(v T) { s.items = append(s.items, v) }\n" +
					"func Map[T, U any](xs []T, f func(T) U) []U {\n\tvar out []U\n\tfor _, x := range xs {\n\t\tout = append(out, f(x))\n\t}\n\treturn out\n}"}}},
		{"grouped imports with aliases, one line each", "import (\n\t\"fmt\"; str \"strings\"\n\t_ \"embed\"\n\n\t. \"math\"\n)", []Chunk{
			{Kind: Imports, Src: "import \"fmt\"; import str \"strings\"\nimport _ \"embed\"\n\nimport . \"math\"", Line: 2, Col: 1,
				Imports: []Import{{Path: "fmt"}, {Path: "strings", Name: "str"}, {Path: "embed", Name: "_"}, {Path: "math", Name: "."}}},
		}},
		{"consecutive import declarations form one chunk", "import \"fmt\"\nimport \"os\"", []Chunk{
			{Kind: Imports, Src: "import \"fmt\"\nimport \"os\"", Line: 1, Col: 1, Imports: []Import{{Path: "fmt"}, {Path: "os"}}},
		}},
		{"empty import group is dropped", "import ()\nx := 1", []Chunk{
			{Kind: Stmts, Src: "x := 1", Line: 2, Col: 1, Names: []string{"x"}},
		}},
		{"grouped var and const", "var (\n\ta = 1\n\tb, _ = 2, 3\n)\nconst c = 4", []Chunk{
			{Kind: Decls, Src: "var (\n\ta = 1\n\tb, _ = 2, 3\n)\nconst c = 4", Line: 1, Col: 1, Names: []string{"a", "b", "c"}},
		}},
		{"short variable declarations", "a, b := 1, 2\n_, err := a, b\na, c := 3, 4\na = 5", []Chunk{
			{Kind: Stmts, Src: "a, b := 1, 2\n_, err := a, b\na, c := 3, 4\na = 5", Line: 1, Col: 1,
				Names: []string{"a", "b", "err", "c"}},
		}},
		{"assignment is not a last expression", "x := 1", []Chunk{
			{Kind: Stmts, Src: "x := 1", Line: 1, Col: 1, Names: []string{"x"}},
		}},
		{"for loop with clauses stays one statement", "s := 0\nfor i := 0; i < 3; i++ {\n\ts += i\n}", []Chunk{
			{Kind: Stmts, Src: "s := 0\nfor i := 0; i < 3; i++ {\n\ts += i\n}", Line: 1, Col: 1, Names: []string{"s"}},
		}},
		{"if with else on the closing line", "x := 1\nif x > 0 {\n\tx--\n} else {\n\tx++\n}\nx", []Chunk{
			{Kind: Stmts, Src: "x := 1\nif x > 0 {\n\tx--\n} else {\n\tx++\n}\nx", Line: 1, Col: 1,
				Names: []string{"x"}, LastExpr: true, LastExprSrc: "x"},
		}},
		{"label before a loop", "outer:\nfor {\n\tbreak outer\n}", []Chunk{
			{Kind: Stmts, Src: "outer:\nfor {\n\tbreak outer\n}", Line: 1, Col: 1},
		}},
		{"multi-line last expression", "x := 2\nx *\n\t(x +\n\t1)", []Chunk{
			{Kind: Stmts, Src: "x := 2\nx *\n\t(x +\n\t1)", Line: 1, Col: 1,
				Names: []string{"x"}, LastExpr: true, LastExprSrc: "x *\n\t(x +\n\t1)"},
		}},
		{"blanked magic lines keep line numbers", "\n\nx := 1\n\nx", []Chunk{
			{Kind: Stmts, Src: "x := 1\n\nx", Line: 3, Col: 1, Names: []string{"x"}, LastExpr: true, LastExprSrc: "x"},
		}},
		{"indented first unit", "\n\t  x := 1", []Chunk{
			{Kind: Stmts, Src: "x := 1", Line: 2, Col: 4, Names: []string{"x"}},
		}},
		{"trailing comment stays out, doc comment goes with the next unit", "x := 1 // one\n// f does nothing.\nfunc f() {}", []Chunk{
			{Kind: Stmts, Src: "x := 1", Line: 1, Col: 1, Names: []string{"x"}},
			{Kind: Decls, Src: "// f does nothing.\nfunc f() {}", Line: 2, Col: 1, Names: []string{"f"}},
		}},
		{"leading package clause is dropped", "package main\n\nfunc f() {}", []Chunk{
			{Kind: Decls, Src: "func f() {}", Line: 3, Col: 1, Names: []string{"f"}},
		}},
		{"raw string across lines", "s := `a\nfunc f() {}\n`\ns", []Chunk{
			{Kind: Stmts, Src: "s := `a\nfunc f() {}\n`\ns", Line: 1, Col: 1, Names: []string{"s"}, LastExpr: true, LastExprSrc: "s"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Split(tt.src)
			if err != nil {
				t.Fatalf("Split(%q): %v", tt.src, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Split(%q) =\n%s\nwant\n%s", tt.src, dump(got), dump(tt.want))
			}
			for _, c := range got {
				if c.LastExpr && !strings.HasSuffix(c.Src, c.LastExprSrc) {
					t.Errorf("LastExprSrc %q does not end Src %q", c.LastExprSrc, c.Src)
				}
			}
		})
	}
}

// dump formats chunks one a line for test failure messages.
func dump(chunks []Chunk) string {
	var b strings.Builder
	for _, c := range chunks {
		fmt.Fprintf(&b, "\t%+v\n", c)
	}
	return b.String()
}

func TestSplitErrors(t *testing.T) {
	tests := []struct {
		name      string
		src       string
		line, col int
		msg       string // a part of the message
	}{
		{"bad statement on line 1", "x := )", 1, 6, "expected operand"},
		{"bad statement on a later line", "a := 1\nb := 2\nc := )", 3, 6, "expected operand"},
		{"bad statement after a decl", "func f() {}\n\n  y := 1 +* ]", 3, 13, "expected"},
		{"bad declaration", "func f() int {\n\treturn 1 +\n}", 3, 1, "expected operand"},
		{"bad declaration after statements on the same line", "x := 1; type T struct{ a b c }", 1, 28, "expected"},
		{"unterminated string", "a := 1\ns := \"abc", 2, 6, "string literal not terminated"},
		{"unclosed brace maps to the end of the chunk", "x := 1\nif x > 0 {", 2, 11, "expected '}'"},
		{"bad import", "import (\n\t\"fmt\"\n\tfoo\n)", 3, 5, "missing import path"},
		{"stray closing brace", "x := 1 }\ny := 2", 1, 8, "unexpected }"},
		{"stray closing brace on its own line", "x := 1\n}\ny := 2", 2, 1, "unexpected }"},
		{"earlier error wins over a stray brace", "x := )\n}", 1, 6, "expected operand"},
		{"stray brace after a declaration", "func f() {}\n}", 2, 1, "unexpected }"},
		{"package clause after code", "x := 1\npackage main", 2, 1, "package"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chunks, err := Split(tt.src)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Split(%q) = %s, %v; want an *Error", tt.src, dump(chunks), err)
			}
			if e.Line != tt.line || e.Col != tt.col || !strings.Contains(e.Msg, tt.msg) {
				t.Errorf("Split(%q) error = %v; want cell:%d:%d: ...%s...", tt.src, e, tt.line, tt.col, tt.msg)
			}
			if want := fmt.Sprintf("cell:%d:%d: %s", e.Line, e.Col, e.Msg); e.Error() != want {
				t.Errorf("Error() = %q, want %q", e.Error(), want)
			}
		})
	}
}

// TestSplitPositionsRoundTrip checks that every chunk of a cell, wrapped as
// interp.Eval wraps it, maps positions back to where they are in the cell.
func TestSplitPositionsRoundTrip(t *testing.T) {
	src := "\n" + mixedCell + "; func g() { z := W1 }\n  w := W2\nfunc h() {\n\tW3()\n}\nW4"
	chunks, err := Split(src)
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, c := range chunks {
		wrapped := declPrefix + c.Src
		if c.Kind == Stmts {
			wrapped = stmtPrefix + c.Src + stmtSuffix
		}
		for _, target := range []string{"Square(x", "Point) Norm", "Sqrt", "Println(x)", "x + 1", "W1", "W2", "W3", "W4"} {
			i := strings.Index(wrapped, target)
			if i < 0 {
				continue
			}
			found++
			line, col := lineCol(wrapped, i)
			msg := fmt.Sprintf("_.go:%d:%d: something about %s", line, col, target)
			wantLine, wantCol := lineCol(src, strings.Index(src, target))
			want := fmt.Sprintf("cell:%d:%d: something about %s", wantLine, wantCol, target)
			got, gotLine, gotCol := MapError(c, msg)
			if got != want || gotLine != wantLine || gotCol != wantCol {
				t.Errorf("%v chunk at %d:%d: MapError(%q) = %q, %d, %d; want %q", c.Kind, c.Line, c.Col, msg, got, gotLine, gotCol, want)
			}
		}
	}
	if found != 9 {
		t.Errorf("found %d of 9 targets in the chunks %s", found, dump(chunks))
	}
}

// lineCol returns the 1-based line and byte column of offset off in s.
func lineCol(s string, off int) (line, col int) {
	before := s[:off]
	return strings.Count(before, "\n") + 1, off - strings.LastIndex(before, "\n")
}
