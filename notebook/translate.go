package notebook

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Translate returns the source of the cell that sets params in a notebook
// of the given kernel and language, choosing the translator as papermill
// does: by kernel name, then by language. Gantry (Go) and Python
// notebooks have one.
func Translate(kernel, language string, params []Param, comment string) (string, error) {
	switch {
	case kernel == "gantry" || language == "go":
		return GoSource(params, comment)
	case kernel == "pysparkkernel" || language == "python":
		return PythonSource(params, comment), nil
	}
	return "", fmt.Errorf("no parameter translator for kernel %q or language %q: Gantry translates parameters for Go and Python notebooks (papermill translates more)", kernel, language)
}

// GoSource returns the Go that sets params in a Gantry notebook: one
// `var NAME = VALUE` per parameter after a comment line, with typed
// literals (int, float64, string, bool; []T and map[K]V where the elements
// agree, []any and map[K]any where they do not; `var NAME any = nil` for
// None). A later cell may declare a name again in Gantry, so the values
// replace the parameters cell's defaults. This is, byte for byte, what
// Gantry's papermill translator writes (papermill/gantry_papermill).
func GoSource(params []Param, comment string) (string, error) {
	var t goTranslation
	var body strings.Builder
	for _, p := range params {
		if !goIdent(p.Name) {
			return "", fmt.Errorf("parameter name %q is not a Go identifier: use letters, digits and _, not starting with a digit, and not a Go keyword", p.Name)
		}
		if goPredeclared[p.Name] {
			return "", fmt.Errorf("parameter name %q is predeclared in Go: the injected cell (and the cells after it) would not see the %s Go has; rename it", p.Name, p.Name)
		}
		if p.Value == nil {
			fmt.Fprintf(&body, "var %s any = nil\n", p.Name)
			continue
		}
		lit, err := t.literal(p.Value, "")
		if err != nil {
			return "", fmt.Errorf("parameter %s: %w", p.Name, err)
		}
		fmt.Fprintf(&body, "var %s = %s\n", p.Name, lit)
	}
	head := "// " + comment
	head = strings.TrimSpace(head) + "\n"
	if t.math {
		head += "import \"math\"\n\n"
	}
	return head + body.String(), nil
}

// goTranslation notes what the literals written so far need.
type goTranslation struct {
	math bool // a literal calls package math
}

var goKeywords = map[string]bool{"break": true, "case": true, "chan": true, "const": true, "continue": true,
	"default": true, "defer": true, "else": true, "fallthrough": true, "for": true, "func": true, "go": true,
	"goto": true, "if": true, "import": true, "interface": true, "map": true, "package": true, "range": true,
	"return": true, "select": true, "struct": true, "switch": true, "type": true, "var": true}

// goPredeclared are Go's predeclared identifiers, and math, which the
// injected cell may use: a parameter of such a name would shadow them.
var goPredeclared = map[string]bool{}

func init() {
	for _, n := range strings.Fields(`any bool byte comparable complex64 complex128 error float32 float64 int int8 int16
		int32 int64 rune string uint uint8 uint16 uint32 uint64 uintptr true false iota nil append cap clear close
		complex copy delete imag len make max min new panic print println real recover math`) {
		goPredeclared[n] = true
	}
}

// goIdent reports whether s is a Go identifier (and not a keyword).
func goIdent(s string) bool {
	if s == "" || goKeywords[s] || !utf8.ValidString(s) {
		return false
	}
	for i, r := range s {
		if r != '_' && !unicode.IsLetter(r) && (i == 0 || !unicode.Is(unicode.Nd, r)) {
			return false
		}
	}
	return true
}

// goType is the Go type of v's literal: "" for nil (untyped).
func goType(v any) string {
	switch v := v.(type) {
	case bool:
		return "bool"
	case int64, *big.Int:
		return "int"
	case float64:
		return "float64"
	case string:
		return "string"
	case []any:
		return "[]" + unify(func(i int) any { return v[i] }, len(v))
	case Map:
		if len(v) == 0 {
			return "map[string]any"
		}
		k := unify(func(i int) any { return v[i].Key }, len(v))
		return "map[" + k + "]" + unify(func(i int) any { return v[i].Value }, len(v))
	}
	return ""
}

// unify is the one type of n values that a typed literal can hold: their
// type if they agree, float64 for ints and floats, else any.
func unify(at func(int) any, n int) string {
	if n == 0 {
		return "any"
	}
	t := goType(at(0))
	numeric := t == "int" || t == "float64"
	for i := 1; i < n; i++ {
		u := goType(at(i))
		if u != t {
			t = ""
		}
		numeric = numeric && (u == "int" || u == "float64")
	}
	switch {
	case t != "":
		return t
	case numeric:
		return "float64"
	}
	return "any"
}

// literal writes v as a Go expression. want is the type the context
// gives it: a composite literal of that type elides its type, as Go
// allows inside another composite literal.
func (t *goTranslation) literal(v any, want string) (string, error) {
	switch v := v.(type) {
	case nil:
		return "nil", nil
	case bool:
		return strconv.FormatBool(v), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case *big.Int:
		return "", fmt.Errorf("%s does not fit in a Go int (64 bits): pass it as a float or a string", v)
	case float64:
		switch {
		case math.IsNaN(v):
			t.math = true
			return "math.NaN()", nil
		case math.IsInf(v, 1):
			t.math = true
			return "math.Inf(1)", nil
		case math.IsInf(v, -1):
			t.math = true
			return "math.Inf(-1)", nil
		case v == 0 && math.Signbit(v):
			t.math = true // a constant -0.0 is 0 in Go
			return "math.Copysign(0, -1)", nil
		}
		return PythonFloat(v), nil
	case string:
		return GoQuote(v), nil
	case []any:
		typ := goType(v)
		elem := strings.TrimPrefix(typ, "[]")
		parts := make([]string, len(v))
		for i, e := range v {
			s, err := t.literal(e, elem)
			if err != nil {
				return "", err
			}
			parts[i] = s
		}
		return elide(typ, want) + "{" + strings.Join(parts, ", ") + "}", nil
	case Map:
		typ := goType(v)
		key := unify(func(i int) any { return v[i].Key }, len(v))
		val := unify(func(i int) any { return v[i].Value }, len(v))
		if len(v) == 0 {
			key, val = "string", "any"
		}
		parts := make([]string, len(v))
		for i, it := range v {
			k, err := t.literal(it.Key, key)
			if err != nil {
				return "", err
			}
			e, err := t.literal(it.Value, val)
			if err != nil {
				return "", err
			}
			parts[i] = k + ": " + e
		}
		return elide(typ, want) + "{" + strings.Join(parts, ", ") + "}", nil
	}
	nv, err := Value(v)
	if err != nil {
		return "", err
	}
	return t.literal(nv, want)
}

func elide(typ, want string) string {
	if typ == want {
		return ""
	}
	return typ
}

// GoQuote writes s as a Go interpreted string literal that reads well:
// printable characters as they are, escapes for quotes, backslashes,
// control and format characters (bidirectional marks included), separators
// other than the space, and bytes that are not UTF-8.
func GoQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			fmt.Fprintf(&b, `\x%02x`, s[i])
			i++
			continue
		}
		i += n
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\a':
			b.WriteString(`\a`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\v':
			b.WriteString(`\v`)
		default:
			switch {
			case r < 0x20 || r == 0x7f:
				fmt.Fprintf(&b, `\x%02x`, r)
			case r != ' ' && unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Zs, unicode.Zl, unicode.Zp):
				if r < 0x10000 {
					fmt.Fprintf(&b, `\u%04x`, r)
				} else {
					fmt.Fprintf(&b, `\U%08x`, r)
				}
			default:
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// PythonFloat formats a finite f as Python's repr does: the shortest
// digits that read back as f, in positional notation from 1e-4 up to
// 1e16 (with ".0" when whole), else as 1.5e+16 or 1e-05.
func PythonFloat(f float64) string {
	s := strconv.FormatFloat(math.Abs(f), 'e', -1, 64) // d.ddde±XX
	mant, exp, _ := strings.Cut(s, "e")
	digits := strings.Replace(mant, ".", "", 1)
	e, _ := strconv.Atoi(exp)
	decpt := e + 1 // the value is 0.DIGITS × 10^decpt
	sign := ""
	if math.Signbit(f) {
		sign = "-"
	}
	if decpt <= -4 || decpt > 16 {
		out := digits[:1]
		if len(digits) > 1 {
			out += "." + digits[1:]
		}
		es := "+"
		if e < 0 {
			es, e = "-", -e
		}
		return fmt.Sprintf("%s%se%s%02d", sign, out, es, e)
	}
	switch {
	case decpt <= 0:
		return sign + "0." + strings.Repeat("0", -decpt) + digits
	case decpt >= len(digits):
		return sign + digits + strings.Repeat("0", decpt-len(digits)) + ".0"
	}
	return sign + digits[:decpt] + "." + digits[decpt:]
}

// PythonSource returns the Python that sets params, as papermill's
// PythonTranslator writes it (without black, which papermill applies when
// it is installed).
func PythonSource(params []Param, comment string) string {
	var b strings.Builder
	b.WriteString(strings.TrimSpace("# "+comment) + "\n")
	for _, p := range params {
		fmt.Fprintf(&b, "%s = %s\n", p.Name, pyLiteral(p.Value))
	}
	return b.String()
}

func pyLiteral(v any) string {
	switch v := v.(type) {
	case nil:
		return "None"
	case bool:
		if v {
			return "True"
		}
		return "False"
	case int64:
		return strconv.FormatInt(v, 10)
	case *big.Int:
		return v.String()
	case float64:
		switch {
		case math.IsNaN(v):
			return "float('nan')"
		case math.IsInf(v, -1):
			return "float('-inf')"
		case math.IsInf(v, 1):
			return "float('inf')"
		}
		return PythonFloat(v)
	case string:
		return pyQuote(v)
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = pyLiteral(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case Map:
		parts := make([]string, len(v))
		for i, it := range v {
			k, ok := it.Key.(string)
			key := pyQuote(k)
			if !ok { // papermill quotes str(key) as it is
				key = `"` + pyStr(it.Key) + `"`
			}
			parts[i] = key + ": " + pyLiteral(it.Value)
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	nv, err := Value(v)
	if err != nil {
		return pyQuote(fmt.Sprint(v))
	}
	return pyLiteral(nv)
}

// pyStr is Python's str() of a scalar that is not a string.
func pyStr(v any) string {
	if f, ok := v.(float64); ok {
		switch {
		case math.IsNaN(f):
			return "nan"
		case math.IsInf(f, 1):
			return "inf"
		case math.IsInf(f, -1):
			return "-inf"
		}
	}
	return pyLiteral(v)
}

// pyQuote is papermill's translate_escaped_str: Python's unicode_escape
// codec, then double quotes escaped.
func pyQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			fmt.Fprintf(&b, `\udc%02x`, s[i]) // as Python's surrogateescape holds a byte
			i++
			continue
		}
		i += n
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == '"':
			b.WriteString(`\"`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r >= 0x20 && r < 0x7f:
			b.WriteRune(r)
		case r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r < 0x10000:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
