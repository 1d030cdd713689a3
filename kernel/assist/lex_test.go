package assist

import (
	"maps"
	"testing"
)

func TestScanTo(t *testing.T) {
	tests := []struct {
		code string // cursor at cursorMark, or the end
		st   lexState
		lit  int // checked for strings and magics
	}{
		{"x := 1", stCode, 0},
		{`s := "ab`, stString, 6},
		{`s := "a\"b`, stString, 6},
		{`s := "a\\"; x`, stCode, 0},
		{`s := "é‸b"`, stString, 6},
		{"s := `a\nb", stRawString, 6},
		{"s := `a\\`; x", stCode, 0},
		{"s := \"ab\nx", stCode, 0}, // an unterminated string ends at the line
		{"r := '\"'; x", stCode, 0},
		{"r := 'a", stRune, 0},
		{"x // a \"b", stLineComment, 0},
		{"x // a\ny", stCode, 0},
		{"/* a\n\"b", stBlockComment, 0},
		{"/* a */ \"b", stString, 9},
		{"x /‸/ y", stCode, 0},
		{"x := a / b", stCode, 0},
		{"%time", stMagic, 0},
		{"x\n\t%%time", stMagic, 3},
		{"%time x", stCode, 0},
		{"x := 1 % 2", stCode, 0},
		{"!echo 'a", stShell, 0},
		{"!echo 'a\nx", stCode, 0},
		{"s := `\n%time", stRawString, 6},
	}
	for _, tt := range tests {
		code, cursor := splitCursor(tt.code)
		st, lit := scanTo([]rune(code), cursor)
		if st != tt.st {
			t.Errorf("scanTo(%q) state = %d, want %d", tt.code, st, tt.st)
			continue
		}
		if (st == stString || st == stRawString || st == stMagic) && lit != tt.lit {
			t.Errorf("scanTo(%q) lit = %d, want %d", tt.code, lit, tt.lit)
		}
	}
}

func TestNameAt(t *testing.T) {
	tests := []struct {
		code, want string
	}{
		{"fmt.Println", "fmt.Println"},
		{"fmt.Print‸ln", "fmt.Println"},
		{"f‸mt.Println", "fmt"},
		{"‸fmt.Println", "fmt"},
		{"a.b.c‸", "a.b.c"},
		{"x := strings.Builder{}", ""},
		{"fmt.Println(a, b‸)", "b"},
		{"fmt.Println(a, ‸)", "fmt.Println"},
		{"fmt.Println (a, g(b), ‸)", "fmt.Println"},
		{"f(x)\ny := ‸", ""},
		{"f().Close‸", "Close"},
		{"x := 1.5‸", ""},
		{"é.Ü‸", "é.Ü"},
	}
	for _, tt := range tests {
		code, cursor := splitCursor(tt.code)
		if got := nameAt([]rune(code), cursor); got != tt.want {
			t.Errorf("nameAt(%q) = %q, want %q", tt.code, got, tt.want)
		}
	}
}

func TestInImport(t *testing.T) {
	tests := []struct {
		prefix string
		want   bool
	}{
		{"import ", true},
		{"import j ", true},
		{"import _ ", true},
		{"import . ", true},
		{"import (\n\t", true},
		{"import (\n\t\"fmt\"\n\tj ", true},
		{"import (\n\t\"fmt\"\n)\nx := ", false},
		{"x := ", false},
		{"f(", false},
		{"import \"fmt\"\nfunc f() { g(", false},
	}
	for _, tt := range tests {
		if got := inImport(tt.prefix); got != tt.want {
			t.Errorf("inImport(%q) = %v, want %v", tt.prefix, got, tt.want)
		}
	}
}

func TestCodeImports(t *testing.T) {
	tests := []struct {
		code string
		want map[string]string
	}{
		{`import "fmt"`, map[string]string{"fmt": "fmt"}},
		{`import j "encoding/json"`, map[string]string{"j": "encoding/json"}},
		{"import (\n\t\"math/rand/v2\"\n\t_ \"embed\"\n\t. \"strings\"\n\tu \"unicode/utf8\"\n)\nx := 1",
			map[string]string{"rand": "math/rand/v2", "u": "unicode/utf8"}},
		{"import \"gantry/display\"\nimport \"os\"", map[string]string{"display": "gantry/display", "os": "os"}},
		{"import (\n\t\"fmt\"\n\t\"enc", map[string]string{"fmt": "fmt"}},
		{`s := "import \"os\""`, map[string]string{}},
		{"// import \"os\"\nx := 1", map[string]string{}},
	}
	for _, tt := range tests {
		if got := codeImports(tt.code); !maps.Equal(got, tt.want) {
			t.Errorf("codeImports(%q) = %v, want %v", tt.code, got, tt.want)
		}
	}
}

func TestLocalName(t *testing.T) {
	for path, want := range map[string]string{
		"fmt":            "fmt",
		"encoding/json":  "json",
		"math/rand/v2":   "rand",
		"gantry/display": "display",
		"v2":             "v2",
		"example.com/vx": "vx",
	} {
		if got := localName(path); got != want {
			t.Errorf("localName(%q) = %q, want %q", path, got, want)
		}
	}
}
