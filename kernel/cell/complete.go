package cell

import (
	"errors"
	"go/scanner"
	"go/token"
	"regexp"
	"strings"
)

// Statuses returned by IsComplete, as Jupyter's is_complete_reply names
// them.
const (
	Complete   = "complete"
	Incomplete = "incomplete"
	Invalid    = "invalid"
)

// helpRE matches a help request line: a name, qualified name or magic
// name with one or two question marks before or after it. It follows the
// magics package, which decides how cells are run.
var helpRE = regexp.MustCompile(`^(?:\?\??%{0,2}[\p{L}_][\p{L}\p{Nd}_]*(?:\.[\p{L}_][\p{L}\p{Nd}_]*)*|%{0,2}[\p{L}_][\p{L}\p{Nd}_]*(?:\.[\p{L}_][\p{L}\p{Nd}_]*)*\?\??)$`)

// IsComplete answers Jupyter's is_complete_request for a cell: Complete,
// Incomplete with the indent for the next line (a tab per bracket still
// open), or Invalid.
//
// Go source is Incomplete while a bracket, raw string or block comment is
// open, or when it ends in an operator, a comma or a keyword that must be
// followed by more, as long as it has no syntax error before its end. It
// is Invalid when a closing bracket has no opener or a syntax error lies
// before its end, where more input cannot fix it. Empty input is Complete.
//
// A cell magic (%% on the first line) makes the cell Complete. Lines
// starting with % or !, and help requests such as "fmt.Println?", are not
// Go, unless the Go before them is unfinished ("ok := a &&" then "!b"),
// and are left out of the judgement.
func IsComplete(src string) (status, indent string) {
	lines := strings.Split(src, "\n")
	for _, l := range lines {
		if t := strings.TrimSpace(l); t != "" {
			if strings.HasPrefix(t, "%%") {
				return Complete, ""
			}
			break
		}
	}
	goLines := make([]string, len(lines)) // special lines stay blank
	for i, l := range lines {
		t := strings.TrimSpace(l)
		special := t != "" && (t[0] == '%' || t[0] == '!' || helpRE.MatchString(t))
		if special && !scanGo(strings.Join(goLines[:i], "\n")).unfinished() {
			continue
		}
		goLines[i] = l
	}
	goSrc := strings.Join(goLines, "\n")
	if strings.TrimSpace(goSrc) == "" {
		return Complete, ""
	}

	st := scanGo(goSrc)
	if st.invalid {
		return Invalid, ""
	}
	if !st.open {
		if _, err := Split(goSrc); err != nil {
			// An error at the end ("if x", "f(a,") may go away with more
			// input; one before it stays.
			var e *Error
			if !errors.As(err, &e) || offset(goSrc, e.Line, e.Col) < st.lastEnd {
				return Invalid, ""
			}
			return Incomplete, strings.Repeat("\t", st.depth)
		}
	}
	if st.unfinished() {
		return Incomplete, strings.Repeat("\t", st.depth)
	}
	return Complete, ""
}

// goState is what scanning Go source tells about its end.
type goState struct {
	depth   int         // brackets open at the end
	open    bool        // a raw string or block comment is open at the end
	invalid bool        // a closing bracket without its opener, or an error more input cannot fix
	last    token.Token // the last token, SEMICOLON if the scanner would end the statement there
	lastEnd int         // the end offset of the last token other than an inserted semicolon
}

// unfinished reports whether more input is needed to finish the source.
func (st goState) unfinished() bool {
	return !st.invalid && (st.open || st.depth > 0 || st.last != token.SEMICOLON)
}

// scanGo scans src and reports the state at its end.
func scanGo(src string) goState {
	st := goState{last: token.SEMICOLON}
	if strings.TrimSpace(src) == "" {
		return st
	}
	fset := token.NewFileSet()
	file := fset.AddFile("cell", -1, len(src))
	var s scanner.Scanner
	s.Init(file, []byte(src), func(_ token.Position, msg string) {
		switch msg {
		case "raw string literal not terminated", "comment not terminated":
			st.open = true
		default:
			st.invalid = true
		}
	}, 0)
	var stack []token.Token
	for {
		pos, tok, lit := s.Scan()
		if tok == token.EOF {
			break
		}
		switch tok {
		case token.LPAREN, token.LBRACK, token.LBRACE:
			stack = append(stack, tok)
		case token.RPAREN, token.RBRACK, token.RBRACE:
			if len(stack) == 0 || closerOf(stack[len(stack)-1]) != tok {
				st.invalid = true
			} else {
				stack = stack[:len(stack)-1]
			}
		}
		st.last = tok
		if tok != token.SEMICOLON || lit == ";" {
			off := file.Offset(pos)
			st.lastEnd = off + tokenLen(src, off, tok, lit)
		}
	}
	st.depth = len(stack)
	return st
}

// closerOf returns the bracket closing open.
func closerOf(open token.Token) token.Token {
	switch open {
	case token.LPAREN:
		return token.RPAREN
	case token.LBRACK:
		return token.RBRACK
	}
	return token.RBRACE
}

// offset returns the byte offset of line and col in src, or len(src) if
// they lie beyond it.
func offset(src string, line, col int) int {
	off := 0
	for l := 1; l < line; l++ {
		i := strings.IndexByte(src[off:], '\n')
		if i < 0 {
			return len(src)
		}
		off += i + 1
	}
	return min(off+col-1, len(src))
}
