package assist

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"gantry"
)

// fakeScope is a Scope with fixed contents.
type fakeScope struct {
	decls   map[string][2]string // name -> {src, doc}
	imports map[string]string
	exports map[string][]string
}

func (s *fakeScope) Names() []string {
	var names []string
	for n := range s.decls {
		names = append(names, n)
	}
	return names
}

func (s *fakeScope) Decl(name string) (src, doc string, ok bool) {
	d, ok := s.decls[name]
	return d[0], d[1], ok
}

func (s *fakeScope) Imports() map[string]string   { return s.imports }
func (s *fakeScope) Exports(path string) []string { return s.exports[path] }

func testScope() *fakeScope {
	return &fakeScope{
		decls: map[string][2]string{
			"counter": {"counter := 0", ""},
			"count2":  {"var count2 = 2", ""},
			"answer":  {"var answer = 42", "answer is the answer."},
			"greet":   {"func greet(name string) string {\n\treturn \"hi \" + name\n}", "greet says hi."},
			"T":       {"type T struct{ n int }", "T counts."},
			"T.Inc":   {"func (t *T) Inc() {\n\tt.n++\n}", "Inc adds one."},
			"T.Get":   {"func (t *T) Get() int { return t.n }", ""},
		},
		imports: map[string]string{"fmt": "fmt", "display": "gantry/display", "str": "strings"},
		exports: map[string][]string{
			"fmt":            {"Print", "Printf", "Println", "Sprintf", "Stringer", "_fmt_Stringer"},
			"gantry/display": {"HTML", "Markdown"},
		},
	}
}

// displayFS is a tiny stand-in for the embedded gantry sources.
var displayFS = fstest.MapFS{
	"display/display.go": {Data: []byte(`// Package display shows rich values in notebooks.
package display

// HTML displays s as HTML.
func HTML(s string) {}

// Markdown displays s as Markdown.
func Markdown(s string) {}
`)},
	"display/display_windows.go": {Data: []byte("package display\n\n// WindowsOnly is for Windows.\nfunc WindowsOnly() {}\n")},
	"display/display_test.go":    {Data: []byte("package display\n\n// TestOnly is a test helper.\nfunc TestOnly() {}\n")},
	"sdk/doc.go":                 {Data: []byte("// Package sdk trains models.\npackage sdk\n")},
}

// newTest returns an Assistant over the Go installation's sources and
// displayFS, skipping the test without standard library sources.
func newTest(t *testing.T) *Assistant {
	t.Helper()
	root := findGoroot()
	if _, err := os.Stat(filepath.Join(root, "src", "fmt", "print.go")); err != nil {
		t.Skipf("no standard library sources: %v", err)
	}
	return New(root, displayFS)
}

// cursorMark marks the cursor in test code; without one the cursor is at
// the end.
const cursorMark = "‸"

// splitCursor removes the cursor mark from code and returns the cursor in
// code points.
func splitCursor(code string) (string, int) {
	before, after, ok := strings.Cut(code, cursorMark)
	if !ok {
		return code, len([]rune(code))
	}
	return before + after, len([]rune(before))
}

func TestComplete(t *testing.T) {
	a := newTest(t)
	magics := []string{"lsmagic", "%time", "timeit", "help"}
	tests := []struct {
		name       string
		code       string
		want       []string // among the matches
		absent     []string // not among them
		start, end int      // -1: not checked
		empty      bool
	}{
		{name: "package member", code: "fmt.Pri", want: []string{"Print", "Printf", "Println"}, absent: []string{"Sprintf", "_fmt_Stringer"}, start: 4, end: 7},
		{name: "code points", code: "s := \"héllo\"\nfmt.Pr", want: []string{"Println"}, start: 17, end: 19},
		{name: "cursor mid-cell", code: "fmt.Pr‸\nx := 1", want: []string{"Printf"}, start: 4, end: 6},
		{name: "cell variables", code: "x := cou", want: []string{"count2", "counter"}, start: 5, end: 8},
		{name: "cell function", code: "gr", want: []string{"greet"}, absent: []string{"T.Inc"}, start: 0, end: 2},
		{name: "keyword and builtin", code: "fu", want: []string{"func"}, start: 0, end: 2},
		{name: "builtin", code: "n := le", want: []string{"len"}, absent: []string{"fmt"}, start: 5, end: 7},
		{name: "package name", code: "fm", want: []string{"fmt"}, start: 0, end: 2},
		{name: "aliased import", code: "str.HasP", want: []string{"HasPrefix"}, start: 4, end: 8},
		{name: "import in the cell", code: "import \"unicode/utf8\"\nutf8.Valid", want: []string{"Valid", "ValidRune", "ValidString"}, start: 27, end: 32},
		{name: "cell type methods", code: "T.", want: []string{"Get", "Inc"}, start: 2, end: 2},
		{name: "package type methods", code: "str.Builder.Write", want: []string{"WriteByte", "WriteString"}, absent: []string{"Len"}, start: 12, end: 17},
		{name: "gantry package", code: "display.", want: []string{"HTML", "Markdown"}, start: 8, end: 8},
		{name: "magic", code: "%ls", want: []string{"%lsmagic"}, absent: []string{"%time"}, start: 0, end: 3},
		{name: "cell magic", code: "%%ti", want: []string{"%%time", "%%timeit"}, start: 0, end: 4},
		{name: "magic on a later line", code: "x := 1\n  %he", want: []string{"%help"}, start: 9, end: 12},
		{name: "go after a line magic", code: "%time fmt.Sp", want: []string{"Sprintf"}, start: 10, end: 12},
		{name: "import path", code: "import \"enc", want: []string{"encoding/json", "encoding/csv"}, absent: []string{"fmt"}, start: 8, end: 11},
		{name: "import path in a block", code: "import (\n\t\"fmt\"\n\tj \"encoding/j", want: []string{"encoding/json"}, start: 20, end: 30},
		{name: "gantry import path", code: "import \"gantry/d", want: []string{"gantry/display"}, start: 8, end: 16},
		{name: "in a string", code: "s := \"fmt.Pr", empty: true},
		{name: "in a raw string", code: "s := `fmt.Pr", empty: true},
		{name: "in a comment", code: "// fmt.Pr", empty: true},
		{name: "in a block comment", code: "/* x\nfmt.Pr", empty: true},
		{name: "after a closed string", code: "s := \"a\\\"b\" + cou", want: []string{"counter"}, start: 14, end: 17},
		{name: "after a comment", code: "/* x */ fmt.Pr", want: []string{"Println"}, start: 12, end: 14},
		{name: "shell line", code: "!ls fmt.Pr", empty: true},
		{name: "number", code: "x := 1.5", empty: true},
		{name: "call result", code: "f().Pr", empty: true},
		{name: "unknown package", code: "nosuch.Pr", empty: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, cursor := splitCursor(tt.code)
			matches, start, end, meta := a.Complete(code, cursor, testScope(), magics)
			if matches == nil {
				t.Fatal("matches is nil")
			}
			if tt.empty {
				if len(matches) != 0 {
					t.Errorf("matches = %q, want none", matches)
				}
				return
			}
			for _, w := range tt.want {
				if !slices.Contains(matches, w) {
					t.Errorf("matches = %q, missing %q", matches, w)
				}
			}
			for _, w := range tt.absent {
				if slices.Contains(matches, w) {
					t.Errorf("matches = %q, should not have %q", matches, w)
				}
			}
			if !slices.IsSorted(matches) {
				t.Errorf("matches = %q, not sorted", matches)
			}
			if start != tt.start || end != tt.end {
				t.Errorf("span = [%d,%d), want [%d,%d)", start, end, tt.start, tt.end)
			}
			types, _ := meta[TypesKey].([]any)
			if len(types) != len(matches) {
				t.Fatalf("%d type entries for %d matches", len(types), len(matches))
			}
		})
	}
}

func TestCompleteTypes(t *testing.T) {
	a := newTest(t)
	tests := []struct {
		code, text, kind string
	}{
		{"fmt.Pri", "Println", KindFunction},
		{"fmt.Str", "Stringer", KindType},
		{"str.Builder.Wr", "WriteString", KindFunction},
		{"cou", "count2", KindVariable},
		{"gr", "greet", KindFunction},
		{"fo", "for", KindKeyword},
		{"ni", "nil", KindConstant},
		{"in", "int", KindType},
		{"fm", "fmt", KindPackage},
		{"%ls", "%lsmagic", KindMagic},
		{"import \"encoding/js", "encoding/json", KindPackage},
	}
	for _, tt := range tests {
		_, start, end, meta := a.Complete(tt.code, len([]rune(tt.code)), testScope(), []string{"lsmagic"})
		var got map[string]any
		for _, e := range meta[TypesKey].([]any) {
			if m := e.(map[string]any); m["text"] == tt.text {
				got = m
			}
		}
		if got == nil {
			t.Errorf("Complete(%q): no type entry for %q", tt.code, tt.text)
			continue
		}
		if got["type"] != tt.kind || got["start"] != start || got["end"] != end {
			t.Errorf("Complete(%q): entry %v, want type %q over [%d,%d)", tt.code, got, tt.kind, start, end)
		}
	}
}

func TestInspect(t *testing.T) {
	a := newTest(t)
	tests := []struct {
		name   string
		code   string
		detail int
		want   []string // substrings of the text; nil: not found
		absent []string
	}{
		{name: "function", code: "fmt.Print‸ln(\"x\")", want: []string{"func Println(a ...any) (n int, err error)\n\nPrintln formats"}},
		{name: "function at end", code: "fmt.Println", want: []string{"func Println"}},
		{name: "in call arguments", code: "fmt.Println(\"a\", ‸)", want: []string{"func Println"}},
		{name: "code points", code: "s := \"éééééééé\"; fmt.Sprint‸f(s)", want: []string{"func Sprintf"}},
		{name: "method", code: "strings.Builder.WriteString", want: []string{"func (b *Builder) WriteString(s string) (int, error)", "WriteString appends"}},
		{name: "type", code: "var b strings.Build‸er", want: []string{"type Builder struct", "func (b *Builder) WriteString"}},
		{name: "package", code: "fm‸t.Println", want: []string{"package fmt // import \"fmt\"", "Package fmt implements", "func Println("}},
		{name: "package detail", code: "fmt", detail: 1, want: []string{"Printing"}},
		{name: "aliased package", code: "str.Repeat", want: []string{"func Repeat(s string, count int) string"}},
		{name: "import path", code: "import \"encoding/js‸on\"", want: []string{"package json // import \"encoding/json\""}},
		{name: "builtin", code: "len‸(x)", want: []string{"func len(v Type) int"}},
		{name: "cell variable", code: "answer‸ + 1", want: []string{"var answer = 42\n\nanswer is the answer."}},
		{name: "cell function", code: "greet‸(\"x\")", want: []string{"func greet(name string) string\n\ngreet says hi."}, absent: []string{"return"}},
		{name: "cell function detail", code: "greet", detail: 1, want: []string{"return \"hi \" + name"}},
		{name: "cell type", code: "var t T", want: []string{"type T struct{ n int }\n\nT counts.", "func (t *T) Get() int\nfunc (t *T) Inc()"}, absent: []string{"t.n++"}},
		{name: "cell method", code: "T.Inc", want: []string{"func (t *T) Inc()\n\nInc adds one."}},
		{name: "gantry package", code: "display.HTML‸(x)", want: []string{"func HTML(s string)\n\nHTML displays s as HTML."}},
		{name: "unknown", code: "nosuchname"},
		{name: "unknown member", code: "fmt.NoSuch"},
		{name: "keyword", code: "func"},
		{name: "in a comment", code: "// fmt.Println"},
		{name: "in a string", code: "s := \"fmt.Println‸\""},
		{name: "nothing", code: "x := 1 + ‸ 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, cursor := splitCursor(tt.code)
			text, found := a.Inspect(code, cursor, tt.detail, testScope())
			if found != (tt.want != nil) {
				t.Fatalf("found = %v, want %v; text:\n%s", found, tt.want != nil, text)
			}
			for _, w := range tt.want {
				if !strings.Contains(text, w) {
					t.Errorf("text does not contain %q:\n%s", w, text)
				}
			}
			for _, w := range tt.absent {
				if strings.Contains(text, w) {
					t.Errorf("text contains %q:\n%s", w, text)
				}
			}
		})
	}
}

func TestDoc(t *testing.T) {
	a := newTest(t)
	tests := []struct {
		name string
		want string // "" for not found
	}{
		{"fmt.Println", "func Println"},
		{" fmt ", "package fmt"},
		{"strings.Builder.WriteString", "func (b *Builder) WriteString"},
		{"encoding/json", "package json"},
		{"encoding/json.Marshal", "func Marshal(v any) ([]byte, error)"},
		{"json.Unmarshal", "func Unmarshal(data []byte, v any) error"},
		{"io.EOF", "var EOF = errors.New(\"EOF\")"},
		{"time.Second", "Second"},
		{"time.ParseDuration", "func ParseDuration"}, // a constructor, listed with its type
		{"append", "func append(slice []Type, elems ...Type) []Type"},
		{"display", "package display // import \"gantry/display\"\n\nPackage display shows rich values in notebooks."},
		{"display.Markdown", "Markdown displays s as Markdown."},
		{"gantry/sdk", "Package sdk trains models."},
		{"answer", "answer is the answer."},
		{"display.WindowsOnly", ""}, // excluded by its build constraint
		{"display.TestOnly", ""},    // in a _test.go file
		{"Type", ""},                // builtin's placeholder types are not documentation of a name
		{"fmt.Println.X", ""},
		{"no/such/pkg.F", ""},
		{"../fmt", ""},
		{"", ""},
		{"1x", ""},
	}
	for _, tt := range tests {
		text, found := a.Doc(tt.name, testScope())
		if found != (tt.want != "") || !strings.Contains(text, tt.want) {
			t.Errorf("Doc(%q) = %q, %v; want text containing %q", tt.name, text, found, tt.want)
		}
	}
}

func TestLazy(t *testing.T) {
	a := newTest(t)
	if _, ok := a.Inspect("fmt.Println", 11, 0, nil); !ok {
		t.Fatal("fmt.Println not found")
	}
	if len(a.pkgs) != 1 || a.pkgs["fmt"] == nil {
		t.Errorf("parsed packages %v, want only fmt", a.pkgs)
	}
	if a.paths != nil {
		t.Error("inspecting fmt.Println walked GOROOT")
	}
}

func TestNoSources(t *testing.T) {
	a := New(t.TempDir(), nil)
	s := testScope()
	if text, ok := a.Doc("fmt.Println", s); ok {
		t.Errorf("Doc(fmt.Println) without sources = %q", text)
	}
	if m, _, _, _ := a.Complete("import \"enc", 11, s, nil); len(m) != 0 {
		t.Errorf("import paths without sources: %q", m)
	}
	if m, _, _, _ := a.Complete("fmt.Pri", 7, s, nil); !slices.Equal(m, []string{"Print", "Printf", "Println"}) {
		t.Errorf("fmt members from the scope: %q", m)
	}
	if _, ok := a.Doc("answer", s); !ok {
		t.Error("cell names need no sources")
	}
}

func TestConcurrent(t *testing.T) {
	a := newTest(t)
	var wg sync.WaitGroup
	texts := make([]string, 8)
	for i := range texts {
		wg.Go(func() { texts[i], _ = a.Doc("strings.Builder", nil) })
	}
	wg.Wait()
	for i, text := range texts {
		if text == "" || text != texts[0] {
			t.Errorf("call %d: %q", i, text)
		}
	}
}

// TestPythonHelperDoc documents gantry_run.py, as embedded in the kernel,
// for ?gantry_run and ?gantry_run.NAME.
func TestPythonHelperDoc(t *testing.T) {
	a := New(t.TempDir(), gantry.Sources)
	text, ok := a.Doc("gantry_run", nil)
	if !ok {
		t.Fatal("no documentation for gantry_run")
	}
	for _, want := range []string{
		"Python module gantry_run",
		"Report metrics, tags and images from a training script to Gantry.",
		"gantry_run.log(name, value, step=None)\n      Logs value, a finite number, as the metric name.",
		"gantry_run.log_list(name, values)", "gantry_run.log_row(name, /, **values)", "gantry_run.log_image(name, path=None, data=None)",
		"gantry_run.tag(key, value)", "gantry_run.outputs_dir()", "?gantry_run.NAME",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("?gantry_run lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "_warn") || strings.Contains(text, "_Writer") {
		t.Errorf("?gantry_run shows private names:\n%s", text)
	}
	text, ok = a.Doc("gantry_run.log_row", nil)
	if !ok || !strings.HasPrefix(text, "gantry_run.log_row(name, /, **values)\n\nLogs one row of the table name") ||
		!strings.Contains(text, "\nGive at least one column") {
		t.Errorf("?gantry_run.log_row = %q, %v", text, ok)
	}
	for _, name := range []string{"gantry_run.nosuch", "gantry_run._warn", "gantry_run.log.x"} {
		if text, ok := a.Doc(name, nil); ok {
			t.Errorf("Doc(%q) = %q", name, text)
		}
	}
}
