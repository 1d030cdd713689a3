package assist

import (
	"go/scanner"
	"go/token"
	"strconv"
	"strings"
	"unicode"
)

// lexState is the lexical context of a position in a cell.
type lexState int

const (
	stCode         lexState = iota // Go code outside literals and comments
	stLineComment                  // after //
	stBlockComment                 // inside /* */
	stString                       // inside "..."
	stRawString                    // inside `...`
	stRune                         // inside '...'
	stMagic                        // in the name of a %magic at the start of a line
	stShell                        // in a !shell line
)

// scanTo reports the lexical state of src at position cursor. For strings
// and raw strings, lit is the position of the literal's first content rune
// (just after the quote); for a magic, the position of its first %.
//
// A line whose first non-blank character is % starts a magic and one whose
// first is ! a shell command, as the executor reads them; the text after a
// magic's name is read as Go, since line magics like %time take Go code.
func scanTo(src []rune, cursor int) (st lexState, lit int) {
	bol := true // only blanks since the start of the line, in stCode
	for i := 0; i < cursor; i++ {
		c := src[i]
		switch st {
		case stCode:
			if bol {
				switch c {
				case ' ', '\t', '\r', '\n':
					continue
				case '%':
					st, lit, bol = stMagic, i, false
					continue
				case '!':
					st, bol = stShell, false
					continue
				}
				bol = false
			}
			switch c {
			case '\n':
				bol = true
			case '/':
				if i+1 < cursor && src[i+1] == '/' {
					st, i = stLineComment, i+1
				} else if i+1 < cursor && src[i+1] == '*' {
					st, i = stBlockComment, i+1
				}
			case '"':
				st, lit = stString, i+1
			case '`':
				st, lit = stRawString, i+1
			case '\'':
				st = stRune
			}
		case stString, stRune:
			switch {
			case c == '\\':
				i++ // skip the escaped character
			case c == '\n':
				st, bol = stCode, true // unterminated
			case c == '"' && st == stString, c == '\'' && st == stRune:
				st = stCode
			}
		case stRawString:
			if c == '`' {
				st = stCode
			}
		case stBlockComment:
			if c == '*' && i+1 < cursor && src[i+1] == '/' {
				st, i = stCode, i+1
			}
		case stLineComment, stShell:
			if c == '\n' {
				st, bol = stCode, true
			}
		case stMagic:
			if unicode.IsSpace(c) {
				st, bol = stCode, c == '\n'
			}
		}
	}
	return st, lit
}

// isIdentRune reports whether r may appear in a Go identifier.
func isIdentRune(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

// identStart returns the start of the identifier (or number) that ends at
// end in src.
func identStart(src []rune, end int) int {
	i := end
	for i > 0 && isIdentRune(src[i-1]) {
		i--
	}
	return i
}

// chainBefore returns the identifiers of a selector chain "a.b.c" whose
// last element ends at end, just before a '.', e.g. ["a" "b" "c"]. It
// reports false when the chain does not start with an identifier (as in
// "f().x" or "1.5").
func chainBefore(src []rune, end int) ([]string, bool) {
	var parts []string
	for {
		i := identStart(src, end)
		if i == end || unicode.IsDigit(src[i]) {
			return nil, false
		}
		parts = append([]string{string(src[i:end])}, parts...)
		if i == 0 || src[i-1] != '.' {
			return parts, true
		}
		end = i - 1
	}
}

// maxCallScan bounds how far back nameAt looks for the call around the
// cursor.
const maxCallScan = 4000

// nameAt returns the selector chain under or just before the cursor, up to
// and including the identifier at the cursor: in "fmt.Println", "fmt" with
// the cursor on fmt and "fmt.Println" on Println. When the cursor is not on
// an identifier, it names the function of the call whose arguments hold the
// cursor, so that inspecting inside "fmt.Println(|)" documents Println.
func nameAt(src []rune, cursor int) string {
	i, j := identStart(src, cursor), cursor
	for j < len(src) && isIdentRune(src[j]) {
		j++
	}
	if i == j {
		p := openParen(src, cursor)
		if p < 0 {
			return ""
		}
		j = p
		for j > 0 && (src[j-1] == ' ' || src[j-1] == '\t') {
			j--
		}
		if i = identStart(src, j); i == j {
			return ""
		}
	}
	if unicode.IsDigit(src[i]) {
		return ""
	}
	if i > 0 && src[i-1] == '.' {
		if parts, ok := chainBefore(src, i-1); ok {
			return strings.Join(parts, ".") + "." + string(src[i:j])
		}
	}
	return string(src[i:j])
}

// openParen returns the position of the unclosed '(' before cursor in the
// same statement, or -1.
func openParen(src []rune, cursor int) int {
	depth := 0
	for k := cursor - 1; k >= 0 && k >= cursor-maxCallScan; k-- {
		switch src[k] {
		case ')':
			depth++
		case '(':
			if depth == 0 {
				return k
			}
			depth--
		case '{', '}', ';':
			if depth == 0 {
				return -1
			}
		}
	}
	return -1
}

// tokens returns the Go tokens of src, ignoring errors (src is usually an
// unfinished cell).
func tokens(src string) (toks []token.Token, lits []string) {
	fset := token.NewFileSet()
	file := fset.AddFile("", -1, len(src))
	var s scanner.Scanner
	s.Init(file, []byte(src), func(token.Position, string) {}, 0)
	for {
		_, tok, lit := s.Scan()
		if tok == token.EOF {
			return toks, lits
		}
		toks, lits = append(toks, tok), append(lits, lit)
	}
}

// inImport reports whether a string literal that starts right after prefix
// is an import path: prefix ends in `import`, `import name`, or inside the
// parentheses of `import (`.
func inImport(prefix string) bool {
	toks, lits := tokens(prefix)
	n := len(toks)
	if n > 0 && toks[n-1] == token.SEMICOLON && lits[n-1] == "\n" {
		n-- // inserted at the end of prefix, after an alias
	}
	k := n
	if k > 0 && (toks[k-1] == token.IDENT || toks[k-1] == token.PERIOD) {
		k-- // an alias
	}
	if k > 0 && toks[k-1] == token.IMPORT {
		return true
	}
	for j := n - 1; j >= 0; j-- {
		switch toks[j] {
		case token.STRING, token.IDENT, token.PERIOD, token.SEMICOLON:
		case token.LPAREN:
			return j > 0 && toks[j-1] == token.IMPORT
		default:
			return false
		}
	}
	return false
}

// codeImports returns the imports declared in code, by local name. Blank
// and dot imports are left out.
func codeImports(code string) map[string]string {
	toks, lits := tokens(code)
	m := make(map[string]string)
	spec := func(j int) int { // reads [alias] "path" at j; returns the next index
		alias := ""
		if j < len(toks) && (toks[j] == token.IDENT || toks[j] == token.PERIOD) {
			alias = lits[j]
			if toks[j] == token.PERIOD {
				alias = "."
			}
			j++
		}
		if j >= len(toks) || toks[j] != token.STRING {
			return j
		}
		path, err := strconv.Unquote(lits[j])
		if err != nil || path == "" {
			return j + 1
		}
		if alias == "" {
			alias = localName(path)
		}
		if alias != "_" && alias != "." {
			m[alias] = path
		}
		return j + 1
	}
	for j := 0; j < len(toks); j++ {
		if toks[j] != token.IMPORT {
			continue
		}
		if j+1 < len(toks) && toks[j+1] == token.LPAREN {
			for j += 2; j < len(toks) && toks[j] != token.RPAREN; {
				if toks[j] == token.SEMICOLON {
					j++
					continue
				}
				next := spec(j)
				if next == j {
					break
				}
				j = next
			}
			continue
		}
		j = spec(j+1) - 1
	}
	return m
}
