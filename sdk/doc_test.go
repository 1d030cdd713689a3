package sdk

import (
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"regexp"
	"strings"
	"testing"
)

// TestPackageDocNamesWhatExists keeps the package comment (what go doc
// ./sdk and ?sdk show) true: every sdk.Name, Type.Member and Name( it
// mentions exists in the package, and it does not call shipped targets
// future work.
func TestPackageDocNamesWhatExists(t *testing.T) {
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, ".", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	p := doc.New(pkgs["sdk"], "gantry/sdk", doc.AllDecls)
	top := map[string]bool{}     // package-level names
	members := map[string]bool{} // Type.Method and Type.Field
	funcs := map[string]bool{}   // names of funcs and methods
	for _, f := range p.Funcs {
		top[f.Name], funcs[f.Name] = true, true
	}
	for _, v := range append(p.Vars, p.Consts...) {
		for _, n := range v.Names {
			top[n] = true
		}
	}
	for _, typ := range p.Types {
		top[typ.Name] = true
		for _, f := range append(typ.Funcs, typ.Methods...) {
			top[f.Name], funcs[f.Name] = true, true
			members[typ.Name+"."+f.Name] = true
		}
		for _, v := range append(typ.Vars, typ.Consts...) {
			for _, n := range v.Names {
				top[n] = true
			}
		}
		if st, ok := typ.Decl.Specs[0].(*ast.TypeSpec).Type.(*ast.StructType); ok {
			for _, fld := range st.Fields.List {
				for _, n := range fld.Names {
					members[typ.Name+"."+n.Name] = true
				}
			}
		}
	}
	text := p.Doc
	if strings.Contains(text, "next step") {
		t.Errorf("the package doc calls something a next step:\n%s", text)
	}
	for _, m := range regexp.MustCompile(`\bsdk\.([A-Z]\w*)`).FindAllStringSubmatch(text, -1) {
		if !top[m[1]] {
			t.Errorf("the package doc names sdk.%s, which does not exist", m[1])
		}
	}
	for _, m := range regexp.MustCompile(`(?:^|[^.\w])([A-Z]\w*)\.([A-Z]\w*)`).FindAllStringSubmatch(text, -1) {
		if top[m[1]] && !members[m[1]+"."+m[2]] && m[1] != "SSHCompute" && m[1] != "MachineInfo" { // aliases of other packages' types
			t.Errorf("the package doc names %s.%s, which does not exist", m[1], m[2])
		}
	}
	for _, m := range regexp.MustCompile(`(?:^|[^.\w])([A-Z]\w*)\(`).FindAllStringSubmatch(text, -1) {
		if !funcs[m[1]] {
			t.Errorf("the package doc calls %s(, which is no func or method of the package", m[1])
		}
	}
	for _, want := range []string{"CreateLocalCompute", "AttachSSHCompute", "CreateCompute", "ErrNotFound", "Compare", "Best"} {
		if !strings.Contains(text, want) {
			t.Errorf("the package doc does not mention %s", want)
		}
	}
}
