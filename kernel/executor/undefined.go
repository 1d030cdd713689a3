package executor

import (
	"go/ast"
	"go/parser"
	"go/token"
	"sort"
	"strings"
)

// universe holds Go's predeclared identifiers.
var universe = map[string]bool{
	"bool": true, "byte": true, "complex64": true, "complex128": true, "error": true, "float32": true,
	"float64": true, "int": true, "int8": true, "int16": true, "int32": true, "int64": true, "rune": true,
	"string": true, "uint": true, "uint8": true, "uint16": true, "uint32": true, "uint64": true,
	"uintptr": true, "any": true, "comparable": true, "true": true, "false": true, "iota": true, "nil": true,
	"append": true, "cap": true, "clear": true, "close": true, "complex": true, "copy": true, "delete": true,
	"imag": true, "len": true, "make": true, "max": true, "min": true, "new": true, "panic": true,
	"print": true, "println": true, "real": true, "recover": true, "_": true,
}

// undefinedNames returns the identifiers src uses that neither it, the
// earlier cells, the imports nor the universe define. yaegi reports some
// of these as "constant definition loop"; this names them instead.
func (s *session) undefinedNames(src string) []string {
	f, err := parser.ParseFile(token.NewFileSet(), "", "package main; func _() {\n"+src+"\n}", 0)
	if err != nil {
		return nil
	}
	defined := map[string]bool{}
	used := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.SelectorExpr:
			ast.Inspect(n.X, func(m ast.Node) bool {
				if id, ok := m.(*ast.Ident); ok {
					used[id.Name] = true
				}
				return true
			})
			return false // n.Sel is a field or method, not a name in scope
		case *ast.KeyValueExpr:
			if _, ok := n.Key.(*ast.Ident); ok {
				ast.Inspect(n.Value, func(m ast.Node) bool {
					if id, ok := m.(*ast.Ident); ok {
						used[id.Name] = true
					}
					return true
				})
				return false // a struct field key
			}
		case *ast.AssignStmt:
			if n.Tok == token.DEFINE {
				for _, l := range n.Lhs {
					if id, ok := l.(*ast.Ident); ok {
						defined[id.Name] = true
					}
				}
			}
		case *ast.RangeStmt:
			for _, e := range []ast.Expr{n.Key, n.Value} {
				if id, ok := e.(*ast.Ident); ok {
					defined[id.Name] = true
				}
			}
		case *ast.ValueSpec:
			for _, id := range n.Names {
				defined[id.Name] = true
			}
		case *ast.TypeSpec:
			defined[n.Name.Name] = true
		case *ast.Field:
			for _, id := range n.Names {
				defined[id.Name] = true
			}
		case *ast.LabeledStmt:
			defined[n.Label.Name] = true
		case *ast.BranchStmt:
			return false
		case *ast.Ident:
			used[n.Name] = true
		}
		return true
	})
	var out []string
	for name := range used {
		if defined[name] || universe[name] || s.names[name] || strings.HasPrefix(name, "__gantry") || name == "main" {
			continue
		}
		if _, ok := s.imports[name]; ok {
			continue
		}
		if _, ok := s.decls[name]; ok {
			continue
		}
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}
