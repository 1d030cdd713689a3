package lower

import (
	"bytes"
	"errors"
	"fmt"
	"go/token"
	"strings"
	"testing"

	"github.com/traefik/yaegi/interp"
	"github.com/traefik/yaegi/stdlib"

	"gantry/kernel/cell"
	"gantry/kernel/front"
	"gantry/kernel/importer"
)

// interpreter runs cells as the executor does: checked, lowered, then
// evaluated by a real yaegi interpreter part by part (declarations as one
// file), with main and the cell's defers run at its end.
type interpreter struct {
	t    testing.TB
	i    *interp.Interpreter
	out  *bytes.Buffer
	fs   *front.Session
	st   *State
	n    int
	done map[string]bool
}

func newInterpreter(t testing.TB) *interpreter {
	out := new(bytes.Buffer)
	i := interp.New(interp.Options{Stdout: out, Stderr: out})
	if err := i.Use(stdlib.Symbols); err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	im := importer.New(fset, "")
	im.Use(stdlib.Symbols)
	return &interpreter{t: t, i: i, out: out, fs: front.New(fset, im), st: NewState(), done: map[string]bool{}}
}

// run runs one cell and returns what it printed.
func (in *interpreter) run(src string) (string, error) {
	in.t.Helper()
	in.n++
	in.out.Reset()
	chunks, err := cell.Split(src)
	if err != nil {
		return "", err
	}
	ch, err := in.fs.Check(front.Cell{Exec: in.n, Line: 1, Chunks: chunks})
	if err != nil {
		return "", err
	}
	res, err := Cell(ch, in.st)
	if err != nil {
		return "", err
	}
	if testing.Verbose() {
		for _, p := range res.Parts {
			in.t.Logf("part %v %d: %s", p.Kind, p.Index, p.Src)
		}
	}
	var decls []string
	flush := func() (err error) {
		if len(decls) == 0 {
			return nil
		}
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("yaegi panicked: %v", p)
			}
		}()
		_, err = in.i.Eval("package main\n" + strings.Join(decls, "\n"))
		decls = nil
		return err
	}
	for _, p := range res.Parts {
		switch p.Kind {
		case cell.Imports:
			for _, imp := range p.Imports {
				key := imp.Name + " " + imp.Path
				if in.done[key] {
					continue
				}
				in.done[key] = true
				if _, err := in.i.Eval("import " + imp.Name + " \"" + imp.Path + "\""); err != nil {
					return in.out.String(), err
				}
			}
		case cell.Decls:
			decls = append(decls, p.Src)
		case cell.Stmts:
			if err := flush(); err != nil {
				return in.out.String(), err
			}
			if _, err := in.i.Eval(p.Src); err != nil {
				return in.out.String(), err
			}
		}
	}
	if err := flush(); err != nil {
		return in.out.String(), err
	}
	if res.Main {
		if _, err := in.i.Eval(MainFunc + "()"); err != nil {
			return in.out.String(), err
		}
	}
	if res.Defers {
		if _, err := in.i.Eval(RunDefersFunc + "()"); err != nil {
			return in.out.String(), err
		}
	}
	res.Done()
	in.fs.Commit(ch, func(int) bool { return true })
	return in.out.String(), nil
}

func TestLoweredCellsRun(t *testing.T) {
	tests := []struct {
		name  string
		cells []string
		want  string // output of the last cell
	}{
		{"range over an int", []string{`import "fmt"`, "for i := range 3 { fmt.Print(i) }"}, "012"},
		{"range over a typed int, with the key assigned", []string{`import "fmt"`,
			"type N int8\nvar n N = 3\nvar k N\nfor k = range n { fmt.Print(k) }\nfmt.Print(k)"}, "0122"},
		{"range over an int inside a func, per-iteration vars", []string{`import "fmt"`,
			"func f() { var fs []func(); for i := range 3 { fs = append(fs, func() { fmt.Print(i) }) }; for _, g := range fs { g() } }\nf()"}, "012"},
		{"defer arguments are taken at the defer, loop variables per iteration", []string{`import "fmt"`,
			"var out string\nfunc add(i int) { out += fmt.Sprint(i) }\nfunc f() { for i := 0; i < 3; i++ { defer add(i) }; x := 1; defer add(x); x = 2 }\n" +
				"func g() { var fs []func(); for i := 0; i < 3; i++ { fs = append(fs, func() { add(i) }) }; for _, x := range []int{4, 5} { fs = append(fs, func() { add(x) }) }; for _, h := range fs { h() } }",
			"f(); g(); fmt.Print(out)"}, "121001245"},
		{"names of top-level loops and blocks do not overwrite earlier cells' names", []string{`import "fmt"`, "i, s := 100, \"s\"",
			"for i := 0; i < 3; i++ { fmt.Print(i) }\nfor _, s := range []string{\"a\"} { fmt.Print(s) }\nif i := 5; i > 0 { fmt.Print(i) }\n{ i := 6; fmt.Print(i) }\nfor i := range 2 { fmt.Print(i) }\nfmt.Print(i, s)"},
			"012a5601100s"},
		{"loop variables per iteration at the top level", []string{`import "fmt"`,
			"var fs []func()\nfor i := 0; i < 3; i++ { fs = append(fs, func() { fmt.Print(i) }) }\nfor _, s := range []string{\"a\", \"b\"} { fs = append(fs, func() { fmt.Print(s) }) }\nfor _, f := range fs { f() }"},
			"012ab"},
		{"constants are written with their values", []string{`import "fmt"`,
			"const (\n\tp = float32(iota)\n\tq\n)\nconst (\n\ts = string(iota + 'a')\n\tt\n)\nconst (\n\tabit, amask = 1 << iota, 1<<iota - 1\n\tbbit, bmask\n)\n" +
				"const chuge = 1 << 100\nconst f1 float64 = chuge >> 100\nconst half = 3. / 2.\nconst neg = -7\ntype W int\nconst (\n\tSun W = iota\n\tMon\n)",
			"func f() string { const k = 'x' + 1; return string(rune(k)) }\nvar g float64 = chuge >> 99\nvar h float32 = 1e-45 * 1.5\nfmt.Println(q, t, bbit, bmask, f1, half, neg, Mon, f(), g, h > 0, 1<<62*2 > 0)"}, "1 b 2 1 1 1.5 -7 1 y 2 true true\n"},
		{"a call defined together with a composite literal", []string{`import "fmt"`,
			"type P struct{ x int }\nfunc f() []int { return []int{7} }\nfunc g() { got, want := f(), []int{1}; a, p := f(), &P{2}; fmt.Println(got, want, a, p.x) }",
			"g()\nif got, want := f(), []int{1}; len(got) > 0 { fmt.Println(got, want) }"}, "[7] [1] [7] 2\n[7] [1]\n"},
		{"assignments to variables of imported packages", []string{`import ("fmt"; "runtime")`,
			"old := runtime.MemProfileRate\nruntime.MemProfileRate = 16 * 1024\nruntime.MemProfileRate++\nv := runtime.MemProfileRate\nruntime.MemProfileRate = old\nfmt.Println(v, runtime.MemProfileRate == old)"}, "16385 true\n"},
		{"range assigning variables declared elsewhere", []string{`import "fmt"`,
			"func f() { i := 0; for i = range [5]struct{}{} {}; x := []int{10, 20}; j := 1; for j, x[j] = range []int{99} { break }; fmt.Println(i, j, x) }\nf()"},
			"4 0 [10 99]\n"},
		{"clear deletes NaN keys", []string{`import ("fmt"; "math")`,
			"m := map[float64]int{math.NaN(): 1, math.NaN(): 2, 3: 4}\nclear(m)\nfmt.Println(len(m))"}, "0\n"},
		{"min, max and clear", []string{`import "fmt"`,
			"type C float64\na, b := 3, 5\nvar c C = 2.5\nm := map[string]int{\"x\": 1}\ns := []int{1, 2}\nclear(m)\nclear(s)\n" +
				"fmt.Println(min(a, b), max(a, b, 4), min(1, 2.5), max(c, 1), min(\"b\", \"a\"), len(m), s)"},
			"3 5 1 2.5 a 0 [0 0]\n"},
		{"range over a func with break and continue", []string{`import "fmt"`,
			"func count(n int) func(func(int) bool) { return func(yield func(int) bool) { for i := 0; i < n; i++ { if !yield(i) { return } } } }",
			"for i := range count(10) {\n\tif i == 1 { continue }\n\tif i == 4 { break }\n\tfmt.Print(i)\n}"}, "023"},
		{"range over a func: return, labels and defer in a func", []string{`import "fmt"`, "type Seq2[K, V any] func(yield func(K, V) bool)",
			"func pairs() Seq2[string, int] { return func(yield func(string, int) bool) { _ = yield(\"a\", 1) && yield(\"b\", 2) && yield(\"c\", 3) } }",
			"func find(want int) (string, bool) {\n\tdefer fmt.Print(\"[out]\")\n\tfor k, v := range pairs() {\n\t\tdefer fmt.Print(k)\n\t\tif v == want { return k, true }\n\t}\n\treturn \"\", false\n}",
			"func outer() int {\n\tn := 0\nOuter:\n\tfor i := range 3 {\n\t\tfor k := range pairs() {\n\t\t\tif k == \"b\" { continue Outer }\n\t\t\tif i == 2 { break Outer }\n\t\t\tn++\n\t\t}\n\t}\n\treturn n\n}",
			"k, ok := find(2)\nfmt.Println(k, ok, outer())"}, "ba[out]b true 2\n"},
		{"range over a declared func and a func literal", []string{`import "fmt"`,
			"func pairs(yield func(string, int) bool) { _ = yield(\"a\", 1) && yield(\"b\", 2) }",
			"for k, v := range pairs { fmt.Print(k, v) }\nfor x := range func(yield func(int) bool) { yield(7) } { fmt.Print(x) }"}, "a1b27"},
		{"generic funcs at the top level", []string{`import "fmt"`,
			"func Map[T, U any](xs []T, f func(T) U) []U { var out []U; for _, x := range xs { out = append(out, f(x)) }; return out }\nfunc G[T any](x T) T { return x }",
			"xs := []int{1, 2, 3}\nys := Map(xs, func(i int) string { return fmt.Sprint(i * 2) })\ny := G(5)\nvar zs []string = Map(xs, func(i int) string { return \"z\" })\nfmt.Println(ys, y, zs, G[string](\"s\"))"},
			"[2 4 6] 5 [z z z] s\n"},
		{"generic types and their methods", []string{`import "fmt"`,
			"type List[T any] struct { next *List[T]; val T }\nfunc (l *List[T]) Push(v T) *List[T] { return &List[T]{next: l, val: v} }\n" +
				"func (l *List[T]) All() []T { var out []T; for ; l != nil; l = l.next { out = append(out, l.val) }; return out }\n" +
				"type Pair[K comparable, V any] struct { Key K; Val V }\nfunc Of[K comparable, V any](k K, v V) Pair[K, V] { return Pair[K, V]{k, v} }",
			"var l *List[string]\nl = l.Push(\"a\").Push(\"b\")\np := Of(\"x\", List[int]{val: 3})\nfmt.Println(l.All(), p.Key, p.Val.val)"},
			"[b a] x 3\n"},
		{"a type switch in a generic func whose cases coincide", []string{`import "fmt"`,
			"func kind[T any](x T) string { switch any(x).(type) { case T: return \"T\"; case int32: return \"int32\" }; return \"other\" }",
			"fmt.Println(kind(int32(1)), kind(\"s\"))"}, "T T\n"},
		{"top-level type switch and comma-ok", []string{`import "fmt"`,
			"type Shape interface{ Area() float64 }\ntype Sq struct{ s float64 }\nfunc (q Sq) Area() float64 { return q.s * q.s }\nvar sh Shape = Sq{2}",
			"switch v := sh.(type) {\ncase Sq:\n\tfmt.Println(\"sq\", v.s)\n}\nif s, ok := sh.(Sq); ok { fmt.Println(\"ok\", s.s) }\ns2, ok2 := sh.(Sq)\nm := map[string]int{\"a\": 1}\nv, ok := m[\"a\"]\nfmt.Println(s2, ok2, v, ok)"},
			"sq 2\nok 2\n{2} true 1 true\n"},
		{"a top-level defer runs once, at the end of its cell", []string{`import "fmt"`,
			"defer fmt.Println(\"deferred\")\nfmt.Println(\"body\")", "fmt.Println(\"next cell\")"}, "next cell\n"},
		{"top-level defers run last first, arguments taken at once", []string{`import "fmt"`,
			"x := 1\ndefer fmt.Println(\"first\", x)\nx = 2\ndefer func() { fmt.Println(\"second\", x) }()\nfmt.Println(\"body\")"},
			"body\nsecond 2\nfirst 1\n"},
		{"statements and declarations of one cell use one another", []string{`import "fmt"`,
			"x, y := 2, 3\nfunc double() int { return x * 2 }\nvar z = double() + y\nx = 10\nvar (\n\tw = x + 1\n\t_ = 0\n)\nfmt.Println(z, w, double())"}, "7 11 20\n"},
		{"func main runs once, when its cell runs", []string{`import "fmt"`,
			"func main() { fmt.Println(\"main ran\") }", "fmt.Println(\"after\")"}, "after\n"},
		{"func main can be called again", []string{`import "fmt"`,
			"func main() { fmt.Println(\"main ran\") }", "main()"}, "main ran\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := newInterpreter(t)
			var got string
			var err error
			for i, c := range tt.cells {
				got, err = in.run(c)
				if err != nil {
					t.Fatalf("cell %d %q: %v (output %q)", i+1, c, err, got)
				}
			}
			if got != tt.want {
				t.Errorf("output %q, want %q", got, tt.want)
			}
		})
	}
}

func TestMainAndDeferOutput(t *testing.T) {
	in := newInterpreter(t)
	in.run(`import "fmt"`)
	got, err := in.run("defer fmt.Println(\"d\")\nfunc main() { fmt.Println(\"main\") }\nfmt.Println(\"body\")")
	if err != nil || got != "body\nmain\nd\n" {
		t.Errorf("got %q, %v; want body, then main, then the defer", got, err)
	}
}

func TestRefusals(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"goto out of a range-over-func body",
			"func seq(yield func(int) bool) { yield(1) }\nfunc f() {\n\tfor range seq {\n\t\tgoto done\n\t}\ndone:\n}", "cell[1]:4:3: goto done leaves the body of a range over a func"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := newInterpreter(t)
			_, err := in.run(tt.src)
			var r *front.Refusal
			if !errors.As(err, &r) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want a refusal containing %q", err, tt.want)
			}
		})
	}
}

func TestPositionsMapBack(t *testing.T) {
	in := newInterpreter(t)
	chunks, _ := cell.Split("for i := range 10 { _ = i }\nx := min(1, y)")
	ch, err := in.fs.Check(front.Cell{Exec: 1, Line: 1, Chunks: chunks})
	if err == nil || !strings.Contains(err.Error(), "cell[1]:2:13: undefined: y") {
		t.Fatalf("check: %v", err)
	}
	chunks, _ = cell.Split("y := 2\nfor i := range 10 { _ = i }; x := min(1, y)")
	ch, err = in.fs.Check(front.Cell{Exec: 2, Line: 1, Chunks: chunks})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Cell(ch, in.st)
	if err != nil {
		t.Fatal(err)
	}
	p := res.Parts[len(res.Parts)-1]
	// "y" of min(1, y) is at line 2, column 41 of the lowered text; in the
	// cell it is at column 42 of "for i := range 10 { _ = i }; x := min(1, y)".
	line2 := strings.Split(p.Src, "\n")[1]
	col := strings.LastIndex(line2, "y") + 1
	if l, c := p.Pos(2, col); l != 2 || c != 42 {
		t.Errorf("lowered %q: Pos(2, %d) = %d:%d, want 2:42", line2, col, l, c)
	}
}

// A top-level error that no later line of the cell reads stops the cell at
// its statement; one that is read, discarded or set inside a func does not.
func TestUnreadErrorStopsTheCell(t *testing.T) {
	in := newInterpreter(t)
	if _, err := in.i.Eval(`func ` + StopOnErrFunc + `(err error, where string) { if err != nil { panic(where + ": " + err.Error()) } }`); err != nil {
		t.Fatal(err)
	}
	if _, err := in.run(`import ("fmt"; "strconv")`); err != nil {
		t.Fatal(err)
	}
	out, err := in.run("n, err := strconv.Atoi(\"x\")\nfmt.Print(\"after \", n)")
	if err == nil || !strings.Contains(err.Error(), `cell[2]:1:1: strconv.Atoi: parsing "x": invalid syntax`) || strings.Contains(out, "after") {
		t.Fatalf("an unread error: printed %q, err %v", out, err)
	}
	for _, c := range []string{
		"m, err := strconv.Atoi(\"7\")\nfmt.Print(m)",
		"p, err := strconv.Atoi(\"x\")\nif err != nil { fmt.Print(\"handled\", p) }",
		"q, _ := strconv.Atoi(\"x\")\nfmt.Print(q)",
		"func parse() int { v, err := strconv.Atoi(\"x\"); _ = err; return v }\nfmt.Print(parse())",
	} {
		if out, err := in.run(c); err != nil {
			t.Errorf("%q: printed %q, err %v", c, out, err)
		}
	}
}
