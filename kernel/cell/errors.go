package cell

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// An Error is a Go syntax or compile error located in the cell.
type Error struct {
	Line, Col int // 1-based; Col counts bytes
	Msg       string
}

func (e *Error) Error() string {
	return fmt.Sprintf("cell:%d:%d: %s", e.Line, e.Col, e.Msg)
}

// positionRE matches a source position "L:C" in an interpreter message,
// with the file name before it, if any ("_.go:2:1").
var positionRE = regexp.MustCompile(`(?:[\w.\-/]*[A-Za-z_][\w.\-/]*:)?(\d+):(\d+)`)

// MapError rewrites a message from the interpreter about evaluating chunk
// c so that its positions are in cell coordinates. Each position "L:C",
// with its file name if it has one, becomes "cell:L:C": on line 1 the
// column loses the length of the wrapper Eval put before Src (13 bytes for
// Imports and Decls, 27 for Stmts), then lines shift by c.Line-1 and
// first-line columns by c.Col-1. A position past the end of Src (in the
// closing brace Eval adds after statements) maps to the end of the chunk.
//
// MapError returns the rewritten message and the first position mapped,
// or 0, 0 if there was none.
func MapError(c Chunk, msg string) (mapped string, line, col int) {
	var b strings.Builder
	last := 0
	for _, m := range positionRE.FindAllStringSubmatchIndex(msg, -1) {
		if m[0] > 0 && (isWordByte(msg[m[0]-1]) || strings.IndexByte(":./-", msg[m[0]-1]) >= 0) {
			continue // part of something longer, such as a version or a time
		}
		l, err1 := strconv.Atoi(msg[m[2]:m[3]])
		cl, err2 := strconv.Atoi(msg[m[4]:m[5]])
		if err1 != nil || err2 != nil {
			continue // too many digits to be a position
		}
		l, cl = c.cellPos(l, cl)
		if line == 0 {
			line, col = l, cl
		}
		b.WriteString(msg[last:m[0]])
		fmt.Fprintf(&b, "cell:%d:%d", l, cl)
		last = m[1]
	}
	b.WriteString(msg[last:])
	return b.String(), line, col
}

// isWordByte reports whether c can be part of a Go identifier or number.
func isWordByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// cellPos maps a position in c.Src as wrapped by Eval to the cell.
func (c Chunk) cellPos(line, col int) (int, int) {
	lines := strings.Split(c.Src, "\n")
	switch {
	case line < 1:
		line, col = 1, 1
	case line == 1:
		col -= prefixLen(c.Kind)
	case line > len(lines):
		line, col = len(lines), len(lines[len(lines)-1])+1
	}
	col = max(col, 1)
	if line == 1 {
		col += max(c.Col, 1) - 1
	}
	return line + max(c.Line, 1) - 1, col
}
