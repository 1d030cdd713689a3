package executor

import (
	"regexp"

	"gantry/kernel/gostd"
)

// missingSymbol matches yaegi's messages for a selector a compiled package
// lacks: `package unsafe "unsafe" has no symbol Slice`, `undefined
// selector math/rand/v2.N`.
var missingSymbol = regexp.MustCompile(`package \S+ "([^"]+)" has no symbol (\w+)|undefined selector:? ([\w./]+)\.(\w+)`)

// undefinedSelector matches the type checker's message for the same, by
// the package's name: `undefined: rand.N`.
var undefinedSelector = regexp.MustCompile(`undefined: (\w+)\.(\w+)`)

// stdHint adds to a compile error about a standard library symbol the
// interpreter cannot use why, and what to write instead.
func stdHint(msg string) string {
	m := missingSymbol.FindStringSubmatch(msg)
	if m == nil {
		if m := undefinedSelector.FindStringSubmatch(msg); m != nil {
			if why, ok := gostd.UnsupportedSelector(m[1], m[2]); ok {
				return msg + ": " + why
			}
		}
		return msg
	}
	path, name := m[1], m[2]
	if path == "" {
		path, name = m[3], m[4]
	}
	if why, ok := gostd.Unsupported(path, name); ok {
		return msg + ": " + why
	}
	return msg
}
