package snapshot

import (
	"bufio"
	"bytes"
	"path"
	"strings"
)

// ignoreRules holds the patterns of the ignore files met so far, in the
// order git gives them priority: a deeper file's patterns after those of
// the directories above it, and within a file, later lines after earlier
// ones. The last pattern that matches a path decides.
//
// A pattern matches a path itself, never through the path's parent: the
// walk never enters an excluded directory, which is how git makes
// everything under an excluded directory excluded, and how "!" cannot
// re-include a file inside one. See gitignore(5).
type ignoreRules struct {
	patterns []ignorePattern
}

type ignorePattern struct {
	base     string   // slash path of the directory of the ignore file; "" for the root
	segs     []string // globs split at "/"; "**" stands for any number of directories
	negate   bool     // the line started with "!"
	dirOnly  bool     // the line ended with "/"
	anchored bool     // the line had a "/" before its end: match the path under base, else the name alone
}

// add parses the lines of an ignore file in directory base.
func (r *ignoreRules) add(data []byte, base string) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if p, ok := parsePattern(sc.Text(), base); ok {
			r.patterns = append(r.patterns, p)
		}
	}
}

// parsePattern parses one line of an ignore file. It reports false for a
// blank line, a comment, or a line that names nothing.
func parsePattern(line, base string) (ignorePattern, bool) {
	p := ignorePattern{base: base}
	line = strings.TrimSuffix(line, "\r")
	if line == "" || line[0] == '#' {
		return p, false
	}
	// Trailing spaces go, unless escaped with a backslash.
	end := len(line)
	for end > 0 && line[end-1] == ' ' && !(end >= 2 && line[end-2] == '\\') {
		end--
	}
	line = line[:end]
	if strings.HasPrefix(line, "!") {
		p.negate = true
		line = line[1:]
	}
	if strings.HasSuffix(line, "/") {
		p.dirOnly = true
		line = strings.TrimRight(line, "/")
	}
	if strings.Contains(line, "/") {
		p.anchored = true
		line = strings.TrimLeft(line, "/")
	}
	if line == "" {
		return p, false
	}
	p.segs = strings.Split(line, "/")
	return p, true
}

// excluded reports whether the ignore rules exclude the slash path rel,
// relative to the root, which names a directory if isDir is set.
func (r *ignoreRules) excluded(rel string, isDir bool) bool {
	var segs []string // rel split at "/", made when a pattern needs it
	name := path.Base(rel)
	for i := len(r.patterns) - 1; i >= 0; i-- {
		p := &r.patterns[i]
		if p.dirOnly && !isDir {
			continue
		}
		sub := rel
		if p.base != "" {
			if len(rel) <= len(p.base) || rel[len(p.base)] != '/' || !strings.HasPrefix(rel, p.base) {
				continue
			}
			sub = rel[len(p.base)+1:]
		}
		var ok bool
		if p.anchored {
			if segs == nil {
				segs = strings.Split(rel, "/")
			}
			ok = matchSegments(p.segs, segs[len(segs)-strings.Count(sub, "/")-1:])
		} else {
			ok = matchGlob(p.segs[0], name)
		}
		if ok {
			return !p.negate
		}
	}
	return false
}

// matchSegments matches path segments against pattern segments, where a
// "**" segment matches any number of whole segments: zero or more when
// other segments follow it ("**/foo", "a/**/b"), one or more when it ends
// the pattern ("abc/**" matches what is inside abc, not abc itself).
func matchSegments(pat, segs []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			if len(pat) == 1 {
				return len(segs) > 0
			}
			for i := 0; i <= len(segs); i++ {
				if matchSegments(pat[1:], segs[i:]) {
					return true
				}
			}
			return false
		}
		if len(segs) == 0 || !matchGlob(pat[0], segs[0]) {
			return false
		}
		pat, segs = pat[1:], segs[1:]
	}
	return len(segs) == 0
}

// matchGlob matches a name (no "/") against a glob as git's wildmatch
// does, byte by byte: "*" matches any run of bytes, "?" any one byte,
// "[...]" a set (see matchClass), and a backslash makes the next byte
// literal. A malformed set matches nothing, as in git.
func matchGlob(glob, name string) bool {
	gx, nx := 0, 0
	starGx, starNx := -1, -1 // where to resume after the last "*"
	for gx < len(glob) || nx < len(name) {
		if gx < len(glob) {
			switch c := glob[gx]; c {
			case '*':
				starGx, starNx = gx, nx+1
				gx++
				continue
			case '?':
				if nx < len(name) {
					gx++
					nx++
					continue
				}
			case '[':
				if nx < len(name) {
					ok, width, valid := matchClass(glob[gx:], name[nx])
					if !valid {
						return false
					}
					if ok {
						gx += width
						nx++
						continue
					}
				}
			case '\\':
				if gx+1 < len(glob) && nx < len(name) && glob[gx+1] == name[nx] {
					gx += 2
					nx++
					continue
				}
			default:
				if nx < len(name) && name[nx] == c {
					gx++
					nx++
					continue
				}
			}
		}
		if starGx >= 0 && starNx <= len(name) {
			gx, nx = starGx, starNx
			continue
		}
		return false
	}
	return true
}

// matchClass matches c against the set that starts glob ("[..."): "!" or
// "^" first negates it, "]" first is literal, "a-z" is a range, a
// backslash escapes, and "[:alpha:]" and the other POSIX classes stand for
// their ASCII members. It returns whether c matched, the set's width in
// bytes, and false for valid if the set is not closed or names an unknown
// class.
func matchClass(glob string, c byte) (matched bool, width int, valid bool) {
	i := 1
	negated := i < len(glob) && (glob[i] == '!' || glob[i] == '^')
	if negated {
		i++
	}
	prev := -1 // the previous literal byte, which may start a range
	for first := true; ; first = false {
		if i >= len(glob) {
			return false, 0, false
		}
		ch := glob[i]
		if ch == ']' && !first {
			break
		}
		switch {
		case ch == '\\':
			i++
			if i >= len(glob) {
				return false, 0, false
			}
			matched = matched || glob[i] == c
			prev = int(glob[i])
		case ch == '-' && prev >= 0 && i+1 < len(glob) && glob[i+1] != ']':
			i++
			hi := glob[i]
			if hi == '\\' {
				i++
				if i >= len(glob) {
					return false, 0, false
				}
				hi = glob[i]
			}
			matched = matched || (c >= byte(prev) && c <= hi)
			prev = -1
		case ch == '[' && i+1 < len(glob) && glob[i+1] == ':':
			end := strings.IndexByte(glob[i+2:], ']')
			if end < 0 {
				return false, 0, false
			}
			end += i + 2
			if end-1 < i+2 || glob[end-1] != ':' {
				// No ":]": the "[" is an ordinary member.
				matched = matched || c == '['
				prev = '['
				break
			}
			in, known := inClass(glob[i+2:end-1], c)
			if !known {
				return false, 0, false
			}
			matched = matched || in
			i, prev = end, -1
		default:
			matched = matched || ch == c
			prev = int(ch)
		}
		i++
	}
	return matched != negated, i + 1, true
}

// inClass reports whether c belongs to the POSIX class name, and whether
// the name is one.
func inClass(name string, c byte) (in, known bool) {
	lower, upper, digit := 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9'
	graph := '!' <= c && c <= '~'
	switch name {
	case "alnum":
		return lower || upper || digit, true
	case "alpha":
		return lower || upper, true
	case "blank":
		return c == ' ' || c == '\t', true
	case "cntrl":
		return c < ' ' || c == 0x7f, true
	case "digit":
		return digit, true
	case "graph":
		return graph, true
	case "lower":
		return lower, true
	case "print":
		return graph || c == ' ', true
	case "punct":
		return graph && !lower && !upper && !digit, true
	case "space":
		return c == ' ' || ('\t' <= c && c <= '\r'), true
	case "upper":
		return upper, true
	case "xdigit":
		return digit || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F'), true
	}
	return false, false
}
