package executor

import "testing"

func TestWrapBlocks(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"x := 1", "", false},
		{"for i := 0; i < 2; i++ {\n\ta, b := f(i)\n}", "func() { for i := 0; i < 2; i++ {\n\ta, b := f(i)\n} }()", true},
		{"x := 1\nif x > 0 {\n\tx++\n}\ny := x", "x := 1\nfunc() { if x > 0 {\n\tx++\n} }()\ny := x", true},
		{"switch {\ncase true:\n}\n{\n\tz := 1\n\t_ = z\n}", "func() { switch {\ncase true:\n} }()\nfunc() { {\n\tz := 1\n\t_ = z\n} }()", true},
		{"for {", "", false}, // does not parse
	}
	for _, tt := range tests {
		got, ok := wrapBlocks(tt.in)
		if ok != tt.ok || got != tt.want {
			t.Errorf("wrapBlocks(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
