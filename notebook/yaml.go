package notebook

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// PyYAML's implicit resolvers (YAML 1.1), which papermill's -y and -f go
// through: yes/no/on/off are bools, 0x1F and 017 ints, a float needs a
// dot, 1e3 is a string. Dates stay strings, as papermill loads them.
var (
	yamlBool  = regexp.MustCompile(`^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$`)
	yamlFloat = regexp.MustCompile(`^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$`)
	yamlInt   = regexp.MustCompile(`^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$`)
	yamlNull  = regexp.MustCompile(`^(?:~|null|Null|NULL|)$`)
)

// ParseYAML reads a YAML mapping of parameters as papermill does (PyYAML's
// safe loader, dates kept as strings); an empty document is no parameters.
func ParseYAML(src []byte) (Map, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, err
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, nil
	}
	v, err := yamlValue(doc.Content[0])
	if err != nil {
		return nil, err
	}
	switch v := v.(type) {
	case nil:
		return nil, nil
	case Map:
		return v, nil
	}
	return nil, fmt.Errorf("want a mapping of names to values, not %s", yamlKind(doc.Content[0]))
}

func yamlKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("the value %q", n.Value)
	}
	return "that"
}

func yamlValue(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.AliasNode:
		return yamlValue(n.Alias)
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return yamlValue(n.Content[0])
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := yamlValue(c)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		var out Map
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Tag == "!!merge" {
				return nil, fmt.Errorf("line %d: merge keys (<<) are not supported in parameters", n.Content[i].Line)
			}
			k, err := yamlValue(n.Content[i])
			if err != nil {
				return nil, err
			}
			switch k.(type) {
			case []any, Map:
				return nil, fmt.Errorf("line %d: a key cannot be a list or a mapping", n.Content[i].Line)
			}
			v, err := yamlValue(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			replaced := false
			for j := range out {
				if out[j].Key == k {
					out[j].Value, replaced = v, true
				}
			}
			if !replaced {
				out = append(out, MapItem{k, v})
			}
		}
		return out, nil
	case yaml.ScalarNode:
		return yamlScalar(n)
	}
	return nil, fmt.Errorf("line %d: unexpected YAML node", n.Line)
}

// yamlScalar resolves a scalar: by its explicit tag if it has one, as
// PyYAML resolves a plain scalar if it is plain, else a string.
func yamlScalar(n *yaml.Node) (any, error) {
	tag := ""
	if n.Style&yaml.TaggedStyle != 0 {
		tag = n.Tag
	} else if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
		switch s := n.Value; {
		case yamlBool.MatchString(s):
			tag = "!!bool"
		case yamlFloat.MatchString(s):
			tag = "!!float"
		case yamlInt.MatchString(s):
			tag = "!!int"
		case yamlNull.MatchString(s):
			tag = "!!null"
		}
	}
	s := n.Value
	bad := func() (any, error) {
		return nil, fmt.Errorf("line %d: %q is not a valid %s", n.Line, s, strings.TrimPrefix(tag, "!!"))
	}
	switch tag {
	case "!!bool":
		switch strings.ToLower(s) {
		case "yes", "true", "on":
			return true, nil
		case "no", "false", "off":
			return false, nil
		}
		return bad()
	case "!!null":
		return nil, nil
	case "!!int":
		v := yamlInt64(s)
		if v == nil {
			return bad()
		}
		return v, nil
	case "!!float":
		f, ok := yamlFloat64(s)
		if !ok {
			return bad()
		}
		return f, nil
	case "", "!!str", "!!timestamp", "!!binary":
		return s, nil
	}
	return nil, fmt.Errorf("line %d: the tag %s is not one parameters take", n.Line, n.Tag)
}

// yamlInt64 is PyYAML's construct_yaml_int.
func yamlInt64(s string) any {
	s = strings.ReplaceAll(s, "_", "")
	if s == "" {
		return nil
	}
	neg := s[0] == '-'
	if s[0] == '-' || s[0] == '+' {
		s = s[1:]
	}
	var v any
	switch {
	case s == "0":
		return int64(0)
	case strings.HasPrefix(s, "0b"):
		v = parseInt(s[2:], 2)
	case strings.HasPrefix(s, "0x"):
		v = parseInt(s[2:], 16)
	case strings.HasPrefix(s, "0"):
		v = parseInt(s, 8)
	case strings.Contains(s, ":"):
		total := new(big.Int)
		for _, part := range strings.Split(s, ":") {
			d, ok := new(big.Int).SetString(part, 10)
			if !ok {
				return nil
			}
			total.Mul(total, big.NewInt(60)).Add(total, d)
		}
		v = total
	default:
		v = parseInt(s, 10)
	}
	var b *big.Int
	switch x := v.(type) {
	case int64:
		b = big.NewInt(x)
	case *big.Int:
		b = x
	default:
		return nil
	}
	if neg {
		b.Neg(b)
	}
	if b.IsInt64() {
		return b.Int64()
	}
	return b
}

// yamlFloat64 is PyYAML's construct_yaml_float.
func yamlFloat64(s string) (float64, bool) {
	s = strings.ToLower(strings.ReplaceAll(s, "_", ""))
	if s == "" {
		return 0, false
	}
	sign := 1.0
	if s[0] == '-' {
		sign = -1
	}
	if s[0] == '-' || s[0] == '+' {
		s = s[1:]
	}
	switch {
	case s == ".inf":
		return sign * math.Inf(1), true
	case s == ".nan":
		return math.NaN(), true
	case strings.Contains(s, ":"):
		total := 0.0
		for _, part := range strings.Split(s, ":") {
			d, err := strconv.ParseFloat(part, 64)
			if err != nil {
				return 0, false
			}
			total = total*60 + d
		}
		return sign * total, true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, false
	}
	return sign * f, true
}

// EncodeYAML writes params as a YAML mapping that ParseYAML (and
// papermill's -f) read back to the same values, floats included: how
// parameters travel from a submit to the run that executes a notebook.
func EncodeYAML(params []Param) ([]byte, error) {
	var b strings.Builder
	b.WriteString("{")
	for i, p := range params {
		if i > 0 {
			b.WriteString(", ")
		}
		if err := encodeYAML(&b, p.Name); err != nil {
			return nil, fmt.Errorf("parameter name %q: %w", p.Name, err)
		}
		b.WriteString(": ")
		if err := encodeYAML(&b, p.Value); err != nil {
			return nil, fmt.Errorf("parameter %s: %w", p.Name, err)
		}
	}
	b.WriteString("}\n")
	return []byte(b.String()), nil
}

func encodeYAML(b *strings.Builder, v any) error {
	switch v := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case int64:
		b.WriteString(strconv.FormatInt(v, 10))
	case *big.Int:
		b.WriteString(v.String())
	case float64:
		switch {
		case math.IsNaN(v):
			b.WriteString(".nan")
		case math.IsInf(v, 1):
			b.WriteString(".inf")
		case math.IsInf(v, -1):
			b.WriteString("-.inf")
		default:
			s := PythonFloat(v)
			if !strings.Contains(s, ".") { // 1e+16: YAML 1.1 needs the dot
				s = strings.Replace(s, "e", ".0e", 1)
			}
			b.WriteString(s)
		}
	case string:
		if !utf8.ValidString(v) {
			return errors.New("the string is not valid UTF-8, which YAML cannot carry")
		}
		b.WriteByte('"')
		for _, r := range v {
			switch {
			case r == '"' || r == '\\':
				b.WriteByte('\\')
				b.WriteRune(r)
			case r == '\n':
				b.WriteString(`\n`)
			case r == '\t':
				b.WriteString(`\t`)
			case r < 0x20 || r >= 0x7f && r <= 0xa0 || r == 0x2028 || r == 0x2029 || r == 0xfeff || r >= 0xfffe && r <= 0xffff:
				if r < 0x100 {
					fmt.Fprintf(b, `\x%02x`, r)
				} else {
					fmt.Fprintf(b, `\u%04x`, r)
				}
			default:
				b.WriteRune(r)
			}
		}
		b.WriteByte('"')
	case []any:
		b.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				b.WriteString(", ")
			}
			if err := encodeYAML(b, e); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case Map:
		b.WriteByte('{')
		for i, it := range v {
			if i > 0 {
				b.WriteString(", ")
			}
			if err := encodeYAML(b, it.Key); err != nil {
				return err
			}
			b.WriteString(": ")
			if err := encodeYAML(b, it.Value); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	default:
		nv, err := Value(v)
		if err != nil {
			return err
		}
		return encodeYAML(b, nv)
	}
	return nil
}
