package cell

import "testing"

func TestIdentAt(t *testing.T) {
	tests := []struct {
		name       string
		src        string
		cursor     int
		expr       string
		start, end int
	}{
		{"qualified prefix after multibyte text", "é := 1\nfmt.Pr", 13, "fmt.Pr", 7, 13},
		{"cursor inside a name takes the whole name", "fmt.Println(x)", 7, "fmt.Println", 0, 11},
		{"cursor after the receiver stops at the dot", "x.Field", 1, "x", 0, 1},
		{"field selector", "p := pt.X\n", 9, "pt.X", 5, 9},
		{"chained selectors", "a.b.c", 4, "a.b.c", 0, 5},
		{"cursor right after a dot", "fmt.", 4, "fmt.", 0, 4},
		{"multibyte identifier", "日本 := 語x", 7, "語x", 6, 8},
		{"digits inside a name", "x1.y2", 5, "x1.y2", 0, 5},
		{"call result selector keeps the name", "f().Na", 6, "Na", 4, 6},
		{"index selector keeps the name", "x[0].Na", 7, "Na", 5, 7},
		{"number is not an identifier", "y := 1.5", 8, "", 8, 8},
		{"space at the cursor", "a + ", 4, "", 4, 4},
		{"cursor past the end clamps", "abc", 10, "abc", 0, 3},
		{"negative cursor clamps", "abc", -1, "abc", 0, 3},
		{"empty source", "", 0, "", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expr, start, end := IdentAt(tt.src, tt.cursor)
			if expr != tt.expr || start != tt.start || end != tt.end {
				t.Errorf("IdentAt(%q, %d) = %q, %d, %d; want %q, %d, %d", tt.src, tt.cursor, expr, start, end, tt.expr, tt.start, tt.end)
			}
		})
	}
}
