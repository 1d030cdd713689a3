package notebook

import (
	"math"
	"math/big"
	"strings"
	"testing"
)

func TestGoSource(t *testing.T) {
	huge, _ := new(big.Int).SetString("100000000000000000000", 10)
	for _, tc := range []struct {
		name  string
		value any
		want  string // the var line, or the error
	}{
		{"i", int64(3), "var i = 3"},
		{"f", 1.0, "var f = 1.0"},
		{"f", 1e-5, "var f = 1e-05"},
		{"s", "hello", `var s = "hello"`},
		{"s", "say \"hi\"\\n\n\ttab\r", `var s = "say \"hi\"\\n\n\ttab\r"`},
		{"s", "é 😀 日本", `var s = "é 😀 日本"`},
		{"s", "nul\x00 del\x7f nbsp\u00a0 rlo\u202e bom\ufeff ls\u2028 bell\a", `var s = "nul\x00 del\x7f nbsp\u00a0 rlo\u202e bom\ufeff ls\u2028 bell\a"`},
		{"s", "bad \xff byte", `var s = "bad \xff byte"`},
		{"b", true, "var b = true"},
		{"n", nil, "var n any = nil"},
		{"l", []any{int64(1), int64(2)}, "var l = []int{1, 2}"},
		{"l", []any{int64(1), 2.5}, "var l = []float64{1, 2.5}"},
		{"l", []any{"a", int64(1), nil}, `var l = []any{"a", 1, nil}`},
		{"l", []any{}, "var l = []any{}"},
		{"l", []any{[]any{int64(1)}, []any{int64(2), int64(3)}}, "var l = [][]int{{1}, {2, 3}}"},
		{"l", []any{[]any{int64(1)}, []any{"x"}}, `var l = []any{[]int{1}, []string{"x"}}`},
		{"m", Map{{"a", int64(1)}, {"b", int64(2)}}, `var m = map[string]int{"a": 1, "b": 2}`},
		{"m", Map{{"a", int64(1)}, {"b", "x"}, {"c", []any{1.5}}}, `var m = map[string]any{"a": 1, "b": "x", "c": []float64{1.5}}`},
		{"m", Map{{"a", Map{{"x", true}}}, {"b", Map{{"y", false}}}}, `var m = map[string]map[string]bool{"a": {"x": true}, "b": {"y": false}}`},
		{"m", Map{{int64(1), "one"}, {int64(2), "two"}}, `var m = map[int]string{1: "one", 2: "two"}`},
		{"m", Map{}, "var m = map[string]any{}"},
		{"x", huge, "parameter x: 100000000000000000000 does not fit in a Go int"},
		{"bad-name", int64(1), `parameter name "bad-name" is not a Go identifier`},
		{"type", int64(1), `parameter name "type" is not a Go identifier`},
		{"日本", int64(1), "var 日本 = 1"},
		{"any", int64(1), `parameter name "any" is predeclared in Go`},
		{"len", int64(1), `parameter name "len" is predeclared in Go`},
	} {
		src, err := GoSource([]Param{{tc.name, tc.value}}, "Parameters")
		got := ""
		if err != nil {
			got = err.Error()
		} else {
			lines := strings.Split(strings.TrimSpace(src), "\n")
			if lines[0] != "// Parameters" {
				t.Errorf("%s: first line %q", tc.name, lines[0])
			}
			got = lines[len(lines)-1]
		}
		if !strings.HasPrefix(got, tc.want) {
			t.Errorf("GoSource(%s = %#v):\n got %s\nwant %s", tc.name, tc.value, got, tc.want)
		}
	}
}

func TestGoSourceImportsMath(t *testing.T) {
	src, err := GoSource([]Param{{"a", math.Inf(1)}, {"b", []any{math.NaN(), math.Copysign(0, -1)}}, {"c", int64(1)}}, "Parameters")
	if err != nil {
		t.Fatal(err)
	}
	want := "// Parameters\nimport \"math\"\n\nvar a = math.Inf(1)\nvar b = []float64{math.NaN(), math.Copysign(0, -1)}\nvar c = 1\n"
	if src != want {
		t.Errorf("got\n%s\nwant\n%s", src, want)
	}
	src, _ = GoSource([]Param{{"c", int64(1)}}, "Parameters")
	if strings.Contains(src, "math") {
		t.Errorf("math imported without need:\n%s", src)
	}
}

func TestPythonSource(t *testing.T) {
	got := PythonSource([]Param{{"s", "a \"q\" 'x' \\ \n é 😀 \x00"}, {"f", 1e16}, {"n", nil}, {"b", true},
		{"inf", math.Inf(-1)}, {"l", []any{int64(1), "x"}}, {"m", Map{{"k", 1.5}, {int64(2), false}}}}, "Parameters")
	want := `# Parameters
s = "a \"q\" 'x' \\ \n \xe9 \U0001f600 \x00"
f = 1e+16
n = None
b = True
inf = float('-inf')
l = [1, "x"]
m = {"k": 1.5, "2": False}
`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestTranslateChoosesByKernelThenLanguage(t *testing.T) {
	p := []Param{{"x", int64(1)}}
	for _, tc := range []struct{ kernel, lang, want string }{
		{"gantry", "", "var x = 1"}, {"other", "go", "var x = 1"}, {"python3", "python", "x = 1"},
		{"ir", "R", "no parameter translator for kernel \"ir\" or language \"R\""},
	} {
		src, err := Translate(tc.kernel, tc.lang, p, "Parameters")
		if err != nil {
			src = err.Error()
		}
		if !strings.Contains(src, tc.want) {
			t.Errorf("Translate(%q, %q) = %q, want %q", tc.kernel, tc.lang, src, tc.want)
		}
	}
}
