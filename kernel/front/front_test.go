package front

import (
	"fmt"
	"go/token"
	"strings"
	"testing"

	"github.com/traefik/yaegi/stdlib"

	"gantry/kernel/cell"
	"gantry/kernel/importer"
)

func newSession(t testing.TB) *Session {
	t.Helper()
	fset := token.NewFileSet()
	im := importer.New(fset, "")
	im.Use(stdlib.Symbols)
	return New(fset, im)
}

// run checks src as cell n and commits it if it checks; it returns the
// check's error.
func run(t testing.TB, s *Session, n int, src string) (*Checked, error) {
	t.Helper()
	chunks, err := cell.Split(src)
	if err != nil {
		t.Fatalf("cell %d: split: %v", n, err)
	}
	ch, err := s.Check(Cell{Exec: n, Line: 1, Chunks: chunks})
	if ch != nil && (err == nil || IsUnjudged(err)) {
		s.Commit(ch, func(int) bool { return true })
	}
	return ch, err
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name  string
		cells []string
		want  string // substring of the last cell's error; "" for none
	}{
		{"a trivial cell", []string{"1+1"}, ""},
		{"an undefined name at its column",
			[]string{"y := undefinedThing"}, "cell[1]:1:6: undefined: undefinedThing"},
		{"a failing cell reports the call, not the side effects",
			[]string{"counter := 0", `import "fmt"`, "counter++; fmt.Println(\"side effect ran\"); undefinedThing()"},
			"cell[3]:1:44: undefined: undefinedThing"},
		{"names of earlier cells", []string{
			`import "fmt"`,
			"type Point struct{ x, y int }\nfunc (p Point) Sum() int { return p.x + p.y }",
			"p := Point{1, 2}",
			"func show(q Point) string { return fmt.Sprint(q.Sum()) }",
			"var s fmt.Stringer\nfunc (p Point) String() string { return show(p) }",
			"s = p\nfmt.Println(s.String(), p.x)",
		}, ""},
		{"a var's type is kept", []string{"x := 1", `x = "s"`}, "cannot use \"s\""},
		{"redeclaration in a later cell", []string{"x := 1", `x := "s"`, `x + "t"`}, ""},
		{"a func declared again", []string{"func f() int { return 1 }", "func f() string { return \"a\" }", "var s string = f()"}, ""},
		{"declarations that use a type declared again are not judged", []string{"type Unit int\nfunc half(u Unit) Unit { return u / 2 }", "type Unit string", "half(8)"}, "not type-checked: half is not known to the checker: it refers to Unit, which a later cell declared again"},
		{"a type declared again loses its methods", []string{"type T int\nfunc (T) M() {}", "type T string", "var t T\nt.M()"}, "t.M undefined"},
		{"consts keep value and kind", []string{
			"const (\n\tA = iota\n\tB\n\tC\n)\nconst Pi = 3.14159\nconst R = 'x'\ntype Weekday int\nconst Sunday Weekday = 7",
			"var a [C]int\nvar f float32 = Pi\nvar r rune = R\nvar d Weekday = Sunday\nvar _ = [2]int{}[len(a)-1]",
		}, ""},
		{"unused imports and top-level names are fine", []string{`import "os"`, "x := 1"}, ""},
		{"unused locals are not", []string{"func f() { y := 1 }"}, "declared and not used: y"},
		{"a trailing value is fine", []string{"x := 2", "x * 3"}, ""},
		{"an import the interpreter lacks", []string{`import "example.com/nope"`}, `import "example.com/nope": not a standard library`},
		{"statement names are visible to declarations of the same cell", []string{"x, y := 1, 2\nfunc f() int { return x }\nvar z = f() + y"}, ""},
		{"a declaration of the same name wins in declarations", []string{"x := 1\nfunc f() int { return x }\nfunc x() {}"}, "cannot use x (value of type func())"},
		{"methods declared on an earlier type", []string{
			"type Celsius float64", `import "fmt"`,
			"func (c Celsius) String() string { return fmt.Sprintf(\"%.1fC\", float64(c)) }",
			"var s fmt.Stringer = Celsius(3)",
		}, ""},
		{"generic funcs", []string{
			"func Map[T, U any](xs []T, f func(T) U) []U { var out []U; for _, x := range xs { out = append(out, f(x)) }; return out }",
			"ys := Map([]int{1}, func(i int) string { return \"a\" })",
			"var zs []string = ys",
		}, ""},
		{"multi-valued results", []string{`import "strconv"`, "n, err := strconv.Atoi(\"1\")", "_ = err\nn + 1"}, ""},
		{"a var of an unexported type makes later uses unjudged", []string{`import "math/rand"`, "r := rand.New(rand.NewSource(1))", "r.Intn(3)"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSession(t)
			var err error
			for i, c := range tt.cells {
				_, err = run(t, s, i+1, c)
				if err != nil && i < len(tt.cells)-1 {
					t.Fatalf("cell %d %q: %v", i+1, c, err)
				}
			}
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("last cell: %v, want no error", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("last cell: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestOpaqueNamesAreUnjudged(t *testing.T) {
	s := newSession(t)
	s.put(&decl{name: "x", opaque: "its cell was run without a type check"})
	if _, err := run(t, s, 1, "y := 2"); err != nil {
		t.Fatalf("a cell that does not use x: %v", err)
	}
	_, err := run(t, s, 2, "x + y")
	if !IsUnjudged(err) || !strings.Contains(err.Error(), "x is not known") {
		t.Fatalf("a cell that uses x: %v, want Unjudged", err)
	}
}

// BenchmarkCheck measures checking a cell in a fresh session and after
// 200 cells of declarations (types with methods, funcs, vars): a trivial
// cell, and one that uses earlier names. The cost should not grow with
// the session.
func BenchmarkCheck(b *testing.B) {
	fresh := newSession(b)
	run(b, fresh, 1, `import ("fmt"; "strings")`)
	run(b, fresh, 2, "type T struct{ a, b int; s string }\nfunc (t T) Sum() int { return t.a + len(strings.TrimSpace(t.s)) }\n"+
		"func f(x int) int { return x }\nfunc g(x int) int { return f(x) }")
	run(b, fresh, 3, "v := T{a: 1}")
	long := newSession(b)
	run(b, long, 1, `import ("fmt"; "strings")`)
	for i := 0; i < 200; i++ {
		src := fmt.Sprintf("type T%d struct{ a, b int; s string }\n"+
			"func (t T%d) Sum() int { return t.a + t.b + len(strings.TrimSpace(t.s)) }\n"+
			"func f%d(x int) int { return x + %d }", i, i, i, i)
		if i > 0 {
			src += fmt.Sprintf("\nfunc g%d(x int) int { return f%d(x) + g%d(x) }", i, i, i-1)
		} else {
			src += "\nfunc g0(x int) int { return x }"
		}
		if _, err := run(b, long, i+2, src); err != nil {
			b.Fatal(err)
		}
		if _, err := run(b, long, i+2, fmt.Sprintf("v%d := T%d{a: %d}", i, i, i)); err != nil {
			b.Fatal(err)
		}
	}
	for _, c := range []struct {
		name string
		s    *Session
		src  string
	}{
		{"trivial/fresh", fresh, "1+1"},
		{"trivial/after-200-decls", long, "1+1"},
		{"uses-names/fresh", fresh, "fmt.Println(v.Sum() + g(3) + f(2))"},
		{"uses-names/after-200-decls", long, "fmt.Println(v199.Sum() + g199(3) + f100(2))"},
	} {
		chunks, _ := cell.Split(c.src)
		b.Run(c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := c.s.Check(Cell{Exec: 1000, Line: 1, Chunks: chunks}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
