package cell

import "unicode"

// IdentAt returns the identifier expression around a cursor in src: a
// name, or names joined by dots such as "fmt.Println" or "x.Field". The
// cursor, start and end count Unicode code points, as Jupyter does.
//
// The expression runs back from the cursor over names and dots, and
// forward over the rest of the name the cursor is in, so for completion
// the prefix is expr[:cursor-start] (in code points) and for inspection
// expr is the whole name. Leading dots and numbers are dropped: after
// "f().Na" or "x[0].Na" the expression is "Na", and in "1.5" there is
// none. With no identifier at the cursor, expr is "" and start and end
// are the cursor.
func IdentAt(src string, cursor int) (expr string, start, end int) {
	runes := []rune(src)
	cursor = min(max(cursor, 0), len(runes))
	start, end = cursor, cursor
	for start > 0 && (isIdentRune(runes[start-1]) || runes[start-1] == '.') {
		start--
	}
	for end < len(runes) && isIdentRune(runes[end]) {
		end++
	}
trim:
	for start < end {
		switch r := runes[start]; {
		case r == '.':
			start++
		case unicode.IsDigit(r):
			for start < end && runes[start] != '.' {
				start++ // past a number's part, up to the next dot
			}
		default:
			break trim
		}
	}
	if start > cursor || start == end {
		return "", cursor, cursor
	}
	return string(runes[start:end]), start, end
}

// isIdentRune reports whether r can be part of a Go identifier.
func isIdentRune(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r)
}
