package notebook

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// A Param is a named parameter. Its Value is one of nil, bool, int64,
// *big.Int (an integer beyond 64 bits), float64, string, []any and Map,
// nested: the values papermill reads from YAML.
type Param struct {
	Name  string
	Value any
}

// Map is a mapping that keeps its keys in order, as Python dicts and YAML
// documents do. Keys are values too (strings, usually).
type Map []MapItem

// MapItem is one key of a Map.
type MapItem struct {
	Key, Value any
}

// Set sets name to v in params: in place if params has name (as a Python
// dict keeps a key's position), else at the end.
func Set(params []Param, name string, v any) []Param {
	for i := range params {
		if params[i].Name == name {
			params[i].Value = v
			return params
		}
	}
	return append(params, Param{name, v})
}

// Params converts Go values into parameters: numbers of every size,
// strings, bools, nil, slices and arrays of them, and maps (whose keys are
// sorted). The parameters come in name order.
func Params(m map[string]any) ([]Param, error) {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	params := make([]Param, 0, len(m))
	for _, n := range names {
		v, err := Value(m[n])
		if err != nil {
			return nil, fmt.Errorf("parameter %s: %w", n, err)
		}
		params = append(params, Param{n, v})
	}
	return params, nil
}

// Value converts a Go value into a parameter value (see Params).
func Value(v any) (any, error) {
	switch v := v.(type) {
	case nil:
		return nil, nil
	case Map:
		out := make(Map, len(v))
		for i, it := range v {
			k, err := Value(it.Key)
			if err != nil {
				return nil, err
			}
			val, err := Value(it.Value)
			if err != nil {
				return nil, err
			}
			out[i] = MapItem{k, val}
		}
		return out, nil
	case *big.Int:
		if v.IsInt64() {
			return v.Int64(), nil
		}
		return new(big.Int).Set(v), nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Bool:
		return rv.Bool(), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int(), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		u := rv.Uint()
		if u > math.MaxInt64 {
			return new(big.Int).SetUint64(u), nil
		}
		return int64(u), nil
	case reflect.Float32, reflect.Float64:
		return rv.Float(), nil
	case reflect.String:
		return rv.String(), nil
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			return nil, nil
		}
		out := make([]any, rv.Len())
		for i := range out {
			e, err := Value(rv.Index(i).Interface())
			if err != nil {
				return nil, err
			}
			out[i] = e
		}
		return out, nil
	case reflect.Map:
		if rv.IsNil() {
			return nil, nil
		}
		keys := rv.MapKeys()
		items := make(Map, 0, len(keys))
		for _, k := range keys {
			kv, err := Value(k.Interface())
			if err != nil {
				return nil, err
			}
			val, err := Value(rv.MapIndex(k).Interface())
			if err != nil {
				return nil, err
			}
			items = append(items, MapItem{kv, val})
		}
		sort.Slice(items, func(i, j int) bool { return fmt.Sprint(items[i].Key) < fmt.Sprint(items[j].Key) })
		return items, nil
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return nil, nil
		}
		return Value(rv.Elem().Interface())
	}
	return nil, fmt.Errorf("a %T cannot be a parameter: use numbers, strings, bools, nil, slices and maps of them", v)
}

// Python's int() and float() of a command-line value, as papermill's
// _resolve_type calls them (ASCII digits only).
var (
	pyIntRe   = regexp.MustCompile(`^[+-]?[0-9](?:_?[0-9])*$`)
	pyFloatRe = regexp.MustCompile(`^[+-]?(?:(?:[0-9](?:_?[0-9])*)?\.[0-9](?:_?[0-9])*|[0-9](?:_?[0-9])*\.?)(?:[eE][+-]?[0-9](?:_?[0-9])*)?$`)
	pySpecial = regexp.MustCompile(`(?i)^[+-]?(?:inf|infinity|nan)$`)
)

// ResolveType gives a -p value its type as papermill does: True, False
// and None are bool and nil, then whatever Python's int() takes is an
// integer and whatever float() takes a float; anything else stays a string.
func ResolveType(s string) any {
	switch s {
	case "True":
		return true
	case "False":
		return false
	case "None":
		return nil
	}
	t := strings.TrimSpace(s)
	if pyIntRe.MatchString(t) {
		return parseInt(strings.ReplaceAll(t, "_", ""), 10)
	}
	if pyFloatRe.MatchString(t) || pySpecial.MatchString(t) {
		f, err := strconv.ParseFloat(strings.ReplaceAll(t, "_", ""), 64)
		if err == nil || errors.Is(err, strconv.ErrRange) {
			return f
		}
	}
	return s
}

// parseInt parses digits (with an optional sign) in base, as an int64 or,
// beyond 64 bits, a *big.Int; nil if they are not digits of base.
func parseInt(s string, base int) any {
	if n, err := strconv.ParseInt(s, base, 64); err == nil {
		return n
	}
	b, ok := new(big.Int).SetString(s, base)
	if !ok {
		return nil
	}
	return b
}

// ParseArgs takes papermill's parameter options out of args and returns
// the parameters and the other arguments, in order:
//
//	-p NAME VALUE   a value typed as papermill types it (ResolveType)
//	-r NAME VALUE   a string, as it is
//	-y YAML         a YAML mapping of names to values
//	-f FILE         a YAML (or JSON) file of names to values
//
// Long forms --parameters, --parameters_raw, --parameters_yaml and
// --parameters_file are taken too. As in papermill, files apply first,
// then -y, then -p, then -r, each over what came before.
func ParseArgs(args []string, readFile func(string) ([]byte, error)) (params []Param, rest []string, err error) {
	type pair struct{ name, value string }
	var files, yamls []string
	var typed, raw []pair
	for i := 0; i < len(args); i++ {
		a := args[i]
		need := func(n int) ([]string, error) {
			if i+n >= len(args) {
				if n == 2 {
					return nil, fmt.Errorf("%s needs a NAME and a VALUE", a)
				}
				return nil, fmt.Errorf("%s needs a value", a)
			}
			v := args[i+1 : i+1+n]
			i += n
			return v, nil
		}
		switch a {
		case "-p", "--parameters", "-r", "--parameters_raw", "--parameters-raw":
			v, err := need(2)
			if err != nil {
				return nil, nil, err
			}
			if a == "-p" || a == "--parameters" {
				typed = append(typed, pair{v[0], v[1]})
			} else {
				raw = append(raw, pair{v[0], v[1]})
			}
		case "-y", "--parameters_yaml", "--parameters-yaml":
			v, err := need(1)
			if err != nil {
				return nil, nil, err
			}
			yamls = append(yamls, v[0])
		case "-f", "--parameters_file", "--parameters-file":
			v, err := need(1)
			if err != nil {
				return nil, nil, err
			}
			files = append(files, v[0])
		default:
			rest = append(rest, a)
		}
	}
	merge := func(src string, b []byte) error {
		m, err := ParseYAML(b)
		if err != nil {
			return fmt.Errorf("parameters from %s: %w", src, err)
		}
		for _, it := range m {
			name, ok := it.Key.(string)
			if !ok {
				return fmt.Errorf("parameters from %s: the name %v is not a string", src, it.Key)
			}
			params = Set(params, name, it.Value)
		}
		return nil
	}
	for _, f := range files {
		if readFile == nil {
			return nil, nil, fmt.Errorf("-f %s: parameter files are not read here", f)
		}
		b, err := readFile(f)
		if err != nil {
			return nil, nil, fmt.Errorf("-f %s: %w", f, err)
		}
		if err := merge(f, b); err != nil {
			return nil, nil, err
		}
	}
	for _, y := range yamls {
		if err := merge("-y", []byte(y)); err != nil {
			return nil, nil, err
		}
	}
	for _, p := range typed {
		params = Set(params, p.name, ResolveType(p.value))
	}
	for _, p := range raw {
		params = Set(params, p.name, p.value)
	}
	return params, rest, nil
}
