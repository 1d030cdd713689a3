package magics

import (
	"go/scanner"
	"go/token"
	"regexp"
	"strconv"
	"strings"
)

// SegmentKind says what a Segment of a cell is.
type SegmentKind int

const (
	GoCode      SegmentKind = iota // Go source for the interpreter
	LineMagic                      // %name args
	CellMagic                      // %%name args, with the rest of the cell as Body
	Shell                          // !command
	HelpRequest                    // ?name, ??name, name?, name?? (shown with func Help)
)

func (k SegmentKind) String() string {
	switch k {
	case GoCode:
		return "GoCode"
	case LineMagic:
		return "LineMagic"
	case CellMagic:
		return "CellMagic"
	case Shell:
		return "Shell"
	case HelpRequest:
		return "HelpRequest"
	}
	return "SegmentKind(" + strconv.Itoa(int(k)) + ")"
}

// Segment is one piece of a cell, run in order with the others.
type Segment struct {
	Kind SegmentKind
	// Text is the segment's source. For GoCode it is the lines of the
	// segment as written, the first of them being line Line of the cell,
	// so positions in it map back to the cell. For Shell it is the command
	// without the leading "!". For magics and help it is the line (or, for
	// a cell magic, the cell from its first line on), trimmed.
	Text string
	Line int // the cell line (1-based) the segment starts on

	Name string // magics: the name without % or %%; Help: the name asked about, as written ("fmt.Println", "%cd")
	Args string // magics: the rest of the first line, trimmed
	Body string // cell magics: the cell after the first line

	Detail int // Help: 1 for ?name and name?, 2 for ??name and name??
}

// helpRE matches a help request: a Go identifier, a qualified identifier or
// a magic name, with one or two question marks before or after it.
var helpRE = regexp.MustCompile(`^(?:(\?\??)(` + helpName + `)|(` + helpName + `)(\?\??))$`)

// exitRE matches a cell that asks to end the session.
var exitRE = regexp.MustCompile(`^(exit|quit)(\(\s*\))?$`)

// helpName is a name help can be asked about: fmt.Println, x, %cd, %%time.
const helpName = `%{0,2}[\p{L}_][\p{L}\p{Nd}_]*(?:\.[\p{L}_][\p{L}\p{Nd}_]*)*`

// Split divides a cell into the segments to run, in order.
//
// If the first non-blank line starts with %%, the whole cell is one
// CellMagic. Otherwise each line is classified on its own: a line starting
// (after spaces) with % is a LineMagic, with ! a Shell line, and a line
// that is only a name with ? or ?? before or after it is a HelpRequest.
// Consecutive other lines form a GoCode segment. A line is always Go,
// whatever it starts with, when the Go code before it in the segment is
// unfinished: inside brackets, a raw string or a block comment, or ending
// in an operator (so "ok := a &&" followed by "!b" is Go).
//
// A cell that is only exit or quit, with or without (), is the LineMagic
// of that name with the parentheses as Args: it ends the session, as in
// IPython (see the exit magic).
func Split(cell string) []Segment {
	if t := strings.TrimSpace(cell); exitRE.MatchString(t) {
		name, args, _ := strings.Cut(t, "(")
		if args != "" {
			args = "(" + args
		}
		line := strings.Count(cell[:strings.Index(cell, t)], "\n") + 1
		return []Segment{{Kind: LineMagic, Text: t, Line: line, Name: name, Args: args}}
	}
	lines := strings.Split(cell, "\n")
	for i, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		first := strings.TrimSpace(l)
		if strings.HasPrefix(first, "%%") && !helpRE.MatchString(first) {
			name, args := splitMagic(first[2:])
			body := ""
			if i+1 < len(lines) {
				body = strings.Join(lines[i+1:], "\n")
			}
			return []Segment{{Kind: CellMagic, Text: strings.TrimSpace(strings.Join(lines[i:], "\n")),
				Line: i + 1, Name: name, Args: args, Body: body}}
		}
		break
	}

	var (
		segs  []Segment
		goBuf []string // pending Go lines
		goAt  int      // cell line of goBuf[0]
	)
	flush := func() {
		if seg, ok := goSegment(goBuf, goAt); ok {
			segs = append(segs, seg)
		}
		goBuf = nil
	}
	for i, l := range lines {
		t := strings.TrimSpace(l)
		special := t != "" && (t[0] == '%' || t[0] == '!' || helpRE.MatchString(t))
		if special && !unfinishedGo(goBuf) {
			flush()
			segs = append(segs, classify(t, i+1))
			continue
		}
		if len(goBuf) == 0 {
			goAt = i + 1
		}
		goBuf = append(goBuf, l)
	}
	flush()
	return segs
}

// classify makes the segment for a special (non-Go) trimmed line.
func classify(t string, line int) Segment {
	if m := helpRE.FindStringSubmatch(t); m != nil {
		if m[1] != "" {
			return Segment{Kind: HelpRequest, Text: t, Line: line, Name: m[2], Detail: len(m[1])}
		}
		return Segment{Kind: HelpRequest, Text: t, Line: line, Name: m[3], Detail: len(m[4])}
	}
	if t[0] == '!' {
		return Segment{Kind: Shell, Text: strings.TrimSpace(t[1:]), Line: line}
	}
	// A %%name line after the first is passed on as a line magic named
	// "%name"; Registry.Run explains that cell magics must come first.
	name, args := splitMagic(t[1:])
	return Segment{Kind: LineMagic, Text: t, Line: line, Name: name, Args: args}
}

// splitMagic splits "name args" at the first space or tab.
func splitMagic(s string) (name, args string) {
	s = strings.TrimRight(s, "\r")
	if i := strings.IndexAny(s, " \t"); i >= 0 {
		return s[:i], strings.TrimSpace(s[i+1:])
	}
	return s, ""
}

// goSegment trims blank lines from both ends of a run of Go lines; ok is
// false when nothing is left.
func goSegment(lines []string, at int) (Segment, bool) {
	for len(lines) > 0 && strings.TrimSpace(lines[0]) == "" {
		lines, at = lines[1:], at+1
	}
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	if len(lines) == 0 {
		return Segment{}, false
	}
	return Segment{Kind: GoCode, Text: strings.Join(lines, "\n"), Line: at}, true
}

// unfinishedGo reports whether the Go lines need more lines to be
// complete: brackets open, a raw string or block comment open, or a last
// token after which Go inserts no semicolon (an operator, "(", ",", ...).
func unfinishedGo(lines []string) bool {
	src := strings.Join(lines, "\n")
	if strings.TrimSpace(src) == "" {
		return false
	}
	fset := token.NewFileSet()
	file := fset.AddFile("cell", -1, len(src))
	var unterminated bool
	var s scanner.Scanner
	s.Init(file, []byte(src), func(_ token.Position, msg string) {
		if strings.Contains(msg, "not terminated") {
			unterminated = true
		}
	}, 0)
	depth := 0
	last := token.SEMICOLON
	for {
		_, tok, _ := s.Scan()
		if tok == token.EOF {
			break
		}
		switch tok {
		case token.LPAREN, token.LBRACK, token.LBRACE:
			depth++
		case token.RPAREN, token.RBRACK, token.RBRACE:
			depth--
		case token.ILLEGAL:
			continue // already an error in the Go code; it decides nothing here
		}
		last = tok
	}
	// At the end of the source the scanner inserts a semicolon wherever a
	// newline would end the statement, so any other last token means the
	// statement goes on.
	return unterminated || depth > 0 || last != token.SEMICOLON
}
