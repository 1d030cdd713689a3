package cell

import "testing"

func TestMapError(t *testing.T) {
	tests := []struct {
		name      string
		chunk     Chunk
		msg       string
		want      string
		line, col int
	}{
		{"stmts prefix, compile error",
			Chunk{Kind: Stmts, Src: "foo()", Line: 3, Col: 1},
			"1:28: undefined: foo", "cell:3:1: undefined: foo", 3, 1},
		{"decls prefix, file name dropped",
			Chunk{Kind: Decls, Src: "func f() { bar() }", Line: 5, Col: 1},
			"_.go:1:25: undefined: bar", "cell:5:12: undefined: bar", 5, 12},
		{"imports use the decls prefix",
			Chunk{Kind: Imports, Src: `import "nope"`, Line: 2, Col: 1},
			`1:21: import "nope" error: unable to find source`, `cell:2:8: import "nope" error: unable to find source`, 2, 8},
		{"later line of a multi-line stmts chunk keeps its column",
			Chunk{Kind: Stmts, Src: "a := 1\nb := foo", Line: 4, Col: 1},
			"_.go:2:6: undefined: foo", "cell:5:6: undefined: foo", 5, 6},
		{"later line of a multi-line decls chunk",
			Chunk{Kind: Decls, Src: "func f() {\n\tg()\n}", Line: 7, Col: 1},
			"3:2: undefined: g", "cell:9:2: undefined: g", 9, 2},
		{"chunk starting mid-line shifts first-line columns",
			Chunk{Kind: Decls, Src: "func f() { h() }", Line: 1, Col: 9},
			"1:25: undefined: h", "cell:1:20: undefined: h", 1, 20},
		{"chunk starting mid-line leaves later lines alone",
			Chunk{Kind: Stmts, Src: "a := 1\n\tb()", Line: 1, Col: 9},
			"2:2: undefined: b", "cell:2:2: undefined: b", 2, 2},
		{"other file names",
			Chunk{Kind: Stmts, Src: "x", Line: 1, Col: 1},
			"gantry-chunk-3:1:28: undefined: x", "cell:1:1: undefined: x", 1, 1},
		{"closing brace added by Eval maps to the end of the chunk",
			Chunk{Kind: Stmts, Src: "if x {\n\ty()", Line: 2, Col: 1},
			"_.go:3:2: expected '}', found 'EOF'", "cell:3:5: expected '}', found 'EOF'", 3, 5},
		{"every position is mapped, the first is returned",
			Chunk{Kind: Stmts, Src: "a()\nb()", Line: 10, Col: 1},
			"1:28: panic: main(...)\n_.go:2:1: called from here", "cell:10:1: panic: main(...)\ncell:11:1: called from here", 10, 1},
		{"column inside the prefix clamps to 1",
			Chunk{Kind: Stmts, Src: "x", Line: 1, Col: 1},
			"1:14: expected declaration", "cell:1:1: expected declaration", 1, 1},
		{"no position",
			Chunk{Kind: Stmts, Src: "x", Line: 1, Col: 1},
			"runtime error: index out of range [3] with length 2", "runtime error: index out of range [3] with length 2", 0, 0},
		{"numbers inside words are not positions",
			Chunk{Kind: Stmts, Src: "x", Line: 1, Col: 1},
			"cannot use v1:2 (type x2:3)", "cannot use v1:2 (type x2:3)", 0, 0},
		{"zero Line and Col count as 1",
			Chunk{Kind: Decls, Src: "var x = y"},
			"1:22: undefined: y", "cell:1:9: undefined: y", 1, 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, line, col := MapError(tt.chunk, tt.msg)
			if got != tt.want || line != tt.line || col != tt.col {
				t.Errorf("MapError(%+v, %q) = %q, %d, %d; want %q, %d, %d", tt.chunk, tt.msg, got, line, col, tt.want, tt.line, tt.col)
			}
		})
	}
}
