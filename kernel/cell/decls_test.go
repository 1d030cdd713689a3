package cell

import (
	"errors"
	"reflect"
	"slices"
	"testing"
)

func TestParseDecls(t *testing.T) {
	src := `// Square returns x*x.
func Square(x int) int { return x * x }

// A Point is a place.
type Point struct{ X, Y int }

// Norm is the squared length.
func (p *Point) Norm() int { return p.X*p.X + p.Y*p.Y }

// Settings.
var (
	a = 1
	b, c = 2, 3
)

const (
	// Max is big.
	Max = 10
)

type List[T any] []T

func (l List[T]) Len() int { return len(l) }
var _ = Square`
	want := []Decl{
		{Names: []string{"Square"}, Kind: "func", Src: "func Square(x int) int { return x * x }", Doc: "Square returns x*x.\n"},
		{Names: []string{"Point"}, Kind: "type", Src: "type Point struct{ X, Y int }", Doc: "A Point is a place.\n"},
		{Names: []string{"Point.Norm"}, Kind: "method", Src: "func (p *Point) Norm() int { return p.X*p.X + p.Y*p.Y }", Doc: "Norm is the squared length.\n"},
		{Names: []string{"a", "b", "c"}, Kind: "var", Src: "var (\n\ta = 1\n\tb, c = 2, 3\n)", Doc: "Settings.\n"},
		{Names: []string{"Max"}, Kind: "const", Src: "const (\n\t// Max is big.\n\tMax = 10\n)", Doc: "Max is big.\n"},
		{Names: []string{"List"}, Kind: "type", Src: "type List[T any] []T"},
		{Names: []string{"List.Len"}, Kind: "method", Src: "func (l List[T]) Len() int { return len(l) }"},
	}
	got, err := ParseDecls(src)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseDecls =\n%+v\nwant\n%+v", got, want)
	}
}

func TestParseDeclsError(t *testing.T) {
	_, err := ParseDecls("func f() {}\nfunc g() { return ) }")
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("ParseDecls error = %v; want an *Error", err)
	}
	if e.Line != 2 || e.Col != 19 {
		t.Errorf("ParseDecls error at %d:%d, want 2:19: %v", e.Line, e.Col, err)
	}
}

func TestRefs(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		want    []string // in the result
		notWant []string // not in the result
	}{
		{"calls, packages and types",
			"func f(n int) string { return g(n) + fmt.Sprint(h) }",
			[]string{"int", "string", "n", "g", "fmt", "fmt.Sprint", "h"}, []string{"f", "Sprint"}},
		{"recursive call",
			"func fact(n int) int { if n == 0 { return 1 }; return n * fact(n-1) }",
			[]string{"fact"}, nil},
		{"calls on the receiver name the method",
			"func (s *Stack) PushAll(xs ...int) { for _, x := range xs { s.Push(x) }; _ = s.items }",
			[]string{"Stack", "Stack.Push", "Stack.items", "xs", "x"}, []string{"s", "s.Push", "PushAll", "Stack.PushAll"}},
		{"receiver of a generic type",
			"func (s *Stack[T]) Top() T { return s.peek() }",
			[]string{"Stack.peek", "T"}, nil},
		{"method expressions",
			"var f, g = (*T).M, U.N",
			[]string{"T.M", "U.N", "T", "U"}, []string{"f", "g"}},
		{"selector on a call result",
			"func k() int { return mk().count(q) }",
			[]string{"mk", "q"}, []string{"k", "count"}},
		{"types reference their field types",
			"type Pair struct { A Left; B *Right }",
			[]string{"Left", "Right"}, []string{"Pair"}},
		{"invalid source", "func (", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Refs(tt.src)
			for _, w := range tt.want {
				if !slices.Contains(got, w) {
					t.Errorf("Refs(%q) = %q, missing %q", tt.src, got, w)
				}
			}
			for _, w := range tt.notWant {
				if slices.Contains(got, w) {
					t.Errorf("Refs(%q) = %q, has %q", tt.src, got, w)
				}
			}
			if tt.want == nil && got != nil {
				t.Errorf("Refs(%q) = %q, want nil", tt.src, got)
			}
		})
	}
}

func TestRefsOrderAndUniqueness(t *testing.T) {
	got := Refs("func f() { g(); g(); h(g) }")
	want := []string{"g", "h"}
	if !slices.Equal(got, want) {
		t.Errorf("Refs = %q, want %q", got, want)
	}
}
