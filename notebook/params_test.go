package notebook

import (
	"math"
	"math/big"
	"reflect"
	"strings"
	"testing"
)

func TestPythonFloat(t *testing.T) {
	// What Python 3's repr prints for each.
	for _, tc := range []struct {
		f    float64
		want string
	}{
		{0, "0.0"}, {math.Copysign(0, -1), "-0.0"}, {1, "1.0"}, {0.1, "0.1"}, {1e16, "1e+16"},
		{1e15, "1000000000000000.0"}, {1e-5, "1e-05"}, {1e-4, "0.0001"},
		{123456789012345678, "1.2345678901234568e+17"}, {5e-324, "5e-324"},
		{math.MaxFloat64, "1.7976931348623157e+308"}, {2.5, "2.5"}, {-3.75e-7, "-3.75e-07"},
		{100, "100.0"}, {1234.5678, "1234.5678"}, {2.0 / 3, "0.6666666666666666"},
	} {
		if got := PythonFloat(tc.f); got != tc.want {
			t.Errorf("PythonFloat(%v) = %q, want %q", tc.f, got, tc.want)
		}
	}
}

func TestResolveType(t *testing.T) {
	big20, _ := new(big.Int).SetString("100000000000000000000", 10)
	for _, tc := range []struct {
		in   string
		want any
	}{
		{"True", true}, {"False", false}, {"None", nil}, {"true", "true"}, {"none", "none"},
		{"42", int64(42)}, {" -7 ", int64(-7)}, {"1_000", int64(1000)}, {"007", int64(7)}, {"1__0", "1__0"},
		{"100000000000000000000", big20},
		{"0.9", 0.9}, {"1.", 1.0}, {".5", 0.5}, {"1e-3", 0.001}, {"1_0.5", 10.5}, {"-inf", math.Inf(-1)},
		{"Infinity", math.Inf(1)}, {"0x10", "0x10"}, {"1e", "1e"}, {"hello", "hello"}, {"", ""},
	} {
		got := ResolveType(tc.in)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ResolveType(%q) = %#v, want %#v", tc.in, got, tc.want)
		}
	}
	if f, ok := ResolveType("nan").(float64); !ok || !math.IsNaN(f) {
		t.Errorf("ResolveType(nan) = %#v, want NaN", ResolveType("nan"))
	}
}

func TestParseYAMLAsPyYAML(t *testing.T) {
	// PyYAML's safe loader (YAML 1.1) with dates kept as strings, as
	// papermill's -y and -f read.
	m, err := ParseYAML([]byte(`
a: yes
b: off
c: 0x1F
d: 017
e: 1e3
f: 1.5e+3
g: .inf
h: ~
i: 2024-01-02
j: "007"
k: 1_000
l: [1, 2.0, x]
m: {z: 1, y: 2}
n: !!str 12
o: 190:20:30
p: 123456789012345678901234567890
`))
	if err != nil {
		t.Fatal(err)
	}
	huge, _ := new(big.Int).SetString("123456789012345678901234567890", 10)
	want := Map{{"a", true}, {"b", false}, {"c", int64(31)}, {"d", int64(15)}, {"e", "1e3"}, {"f", 1500.0},
		{"g", math.Inf(1)}, {"h", nil}, {"i", "2024-01-02"}, {"j", "007"}, {"k", int64(1000)},
		{"l", []any{int64(1), 2.0, "x"}}, {"m", Map{{"z", int64(1)}, {"y", int64(2)}}}, {"n", "12"},
		{"o", int64(190*3600 + 20*60 + 30)}, {"p", huge}}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("got  %#v\nwant %#v", m, want)
	}
	for _, bad := range []string{"[1, 2]", "just a string", "a: [1"} {
		if _, err := ParseYAML([]byte(bad)); err == nil {
			t.Errorf("ParseYAML(%q): no error", bad)
		}
	}
}

func TestEncodeYAMLRoundTrip(t *testing.T) {
	params := []Param{
		{"s", "quote \" backslash \\ newline \n tab \t nul \x00 nel \u0085 ls \u2028 bom \ufeff é 😀"},
		{"i", int64(-3)}, {"f", 1.0}, {"g", 1e16}, {"h", math.Copysign(0, -1)}, {"inf", math.Inf(-1)},
		{"b", false}, {"n", nil}, {"l", []any{int64(1), "two", []any{3.5}}},
		{"m", Map{{"k", "v"}, {int64(2), true}}}, {"yes", "yes"}, {"e", "1e3"},
	}
	b, err := EncodeYAML(params)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseYAML(b)
	if err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	if len(got) != len(params) {
		t.Fatalf("%d parameters back, want %d: %s", len(got), len(params), b)
	}
	for i, p := range params {
		if got[i].Key != p.Name || !reflect.DeepEqual(got[i].Value, p.Value) {
			t.Errorf("parameter %d: got %v=%#v, want %s=%#v (YAML %s)", i, got[i].Key, got[i].Value, p.Name, p.Value, b)
		}
	}
	if got[5].Value.(float64) != math.Inf(-1) || !math.Signbit(got[4].Value.(float64)) {
		t.Errorf("special floats did not survive: %s", b)
	}
	if _, err := EncodeYAML([]Param{{"x", "\xff"}}); err == nil {
		t.Error("invalid UTF-8: no error")
	}
}

func TestParseArgs(t *testing.T) {
	files := map[string]string{"p.yaml": "alpha: 0.1\nname: from-file\nkeep: 1\n"}
	read := func(p string) ([]byte, error) { return []byte(files[p]), nil }
	params, rest, err := ParseArgs([]string{"--out", "x.ipynb", "-p", "alpha", "0.9", "-r", "name", "True",
		"-y", "name: from-yaml\nlist: [1, 2]", "-f", "p.yaml", "-p", "n", "None", "nb.ipynb"}, read)
	if err != nil {
		t.Fatal(err)
	}
	want := []Param{{"alpha", 0.9}, {"name", "True"}, {"keep", int64(1)}, {"list", []any{int64(1), int64(2)}}, {"n", nil}}
	if !reflect.DeepEqual(params, want) {
		t.Errorf("params = %#v\nwant %#v", params, want)
	}
	if strings.Join(rest, " ") != "--out x.ipynb nb.ipynb" {
		t.Errorf("rest = %q", rest)
	}
	for _, bad := range [][]string{{"-p", "alpha"}, {"-r"}, {"-y", "[1]"}} {
		if _, _, err := ParseArgs(bad, read); err == nil {
			t.Errorf("ParseArgs(%q): no error", bad)
		}
	}
}

func TestParamsFromGo(t *testing.T) {
	params, err := Params(map[string]any{"b": []string{"x", "y"}, "a": map[string]int{"z": 1, "y": 2},
		"c": uint8(3), "d": float32(0.5), "e": (*int)(nil)})
	if err != nil {
		t.Fatal(err)
	}
	want := []Param{{"a", Map{{"y", int64(2)}, {"z", int64(1)}}}, {"b", []any{"x", "y"}}, {"c", int64(3)},
		{"d", 0.5}, {"e", nil}}
	if !reflect.DeepEqual(params, want) {
		t.Errorf("got %#v\nwant %#v", params, want)
	}
	if _, err := Params(map[string]any{"s": struct{}{}}); err == nil || !strings.Contains(err.Error(), "parameter s") {
		t.Errorf("a struct: err = %v", err)
	}
}
