package cell

import "testing"

func TestIsComplete(t *testing.T) {
	tests := []struct {
		src    string
		status string
		indent string
	}{
		{"", Complete, ""},
		{"  \n\t\n", Complete, ""},
		{`fmt.Println("hi")`, Complete, ""},
		{"x := 1", Complete, ""},
		{"func f() {}", Complete, ""},
		{"x := 1 // a comment", Complete, ""},
		{"return", Complete, ""},

		{"func f() {", Incomplete, "\t"},
		{"func f() {\n\tif x {", Incomplete, "\t\t"},
		{"x := []int{1,", Incomplete, "\t"},
		{"fmt.Println(", Incomplete, "\t"},
		{"m := map[string][]int{\"a\": {1, 2},\n\t\"b\": {", Incomplete, "\t\t"},
		{"s := `raw", Incomplete, ""},
		{"s := `raw\nstill raw", Incomplete, ""},
		{"/* c", Incomplete, ""},
		{"x := 1 +", Incomplete, ""},
		{"x := 1 + // more below", Incomplete, ""},
		{"ok := a &&", Incomplete, ""},
		{"x, y :=", Incomplete, ""},
		{"x := v.", Incomplete, ""},
		{"f(a,\n", Incomplete, "\t"},
		{"if x", Incomplete, ""},
		{"type T", Incomplete, ""},
		{"for {\n}\nif x {} else", Incomplete, ""},
		{"switch x {\ncase 1:", Incomplete, "\t"},
		{"import (\n\t\"fmt\"", Incomplete, "\t"},

		{"}", Invalid, ""},
		{"x := )", Invalid, ""},
		{"f(]", Invalid, ""},
		{"x := 1 2", Invalid, ""},
		{"x := 1 2 +", Invalid, ""},
		{"s := \"abc", Invalid, ""},
		{"x := 1\n)\nfunc f() {", Invalid, ""},
		{"func f() {\n\tx := 1 2", Invalid, ""},
		{"x := 1 2\nfunc f() {", Invalid, ""},

		{"%time", Complete, ""},
		{"!ls -l", Complete, ""},
		{"?fmt.Println", Complete, ""},
		{"fmt.Println?", Complete, ""},
		{"%%bash\nfor i in 1 2; do {", Complete, ""},
		{"%require x\nfunc f() {", Incomplete, "\t"},
		{"func f() {\n!ls", Incomplete, "\t"},
		{"ok := a &&\n!b", Complete, ""},
		{"x := 1\n!ls", Complete, ""},
	}
	for _, tt := range tests {
		status, indent := IsComplete(tt.src)
		if status != tt.status || indent != tt.indent {
			t.Errorf("IsComplete(%q) = %q, %q; want %q, %q", tt.src, status, indent, tt.status, tt.indent)
		}
	}
}
