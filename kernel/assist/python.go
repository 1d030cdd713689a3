package assist

import (
	"io/fs"
	"regexp"
	"strings"
)

// pythonHelper is where the extra file system keeps gantry_run.py, the
// helper training scripts import (gantry/sdk/track/python).
const pythonHelper = "sdk/track/python/gantry_run.py"

// pythonDef matches a module-level function of the helper and its
// parameters.
var pythonDef = regexp.MustCompile(`(?m)^def ([a-z][a-z0-9_]*)\((.*)\):\n`)

// pythonDoc documents gantry_run, the Python helper training scripts use to
// report to Gantry, for ?gantry_run and ?gantry_run.log: the module's
// docstring and its public functions, or one function's signature and
// docstring.
func (a *Assistant) pythonDoc(parts []string) (string, bool) {
	if a.extra == nil || len(parts) == 0 || parts[0] != "gantry_run" || len(parts) > 2 {
		return "", false
	}
	src, err := fs.ReadFile(a.extra, pythonHelper)
	if err != nil {
		return "", false
	}
	text := string(src)
	type def struct{ name, sig, doc string }
	var defs []def
	for _, m := range pythonDef.FindAllStringSubmatchIndex(text, -1) {
		name, params := text[m[2]:m[3]], text[m[4]:m[5]]
		defs = append(defs, def{name, "gantry_run." + name + "(" + params + ")", docstring(text[m[1]:])})
	}
	if len(parts) == 2 {
		for _, d := range defs {
			if d.name == parts[1] {
				return d.sig + "\n\n" + d.doc + "\n", true
			}
		}
		return "", false
	}
	var b strings.Builder
	b.WriteString("Python module gantry_run (" + pythonHelper + " in Gantry; the agent puts it on a run's PYTHONPATH)\n\n")
	b.WriteString(docstring(text) + "\n\nFunctions:\n\n")
	for _, d := range defs {
		first, _, _ := strings.Cut(d.doc, "\n\n")
		b.WriteString("  " + d.sig + "\n      " + strings.Join(strings.Fields(first), " ") + "\n")
	}
	b.WriteString("\n?gantry_run.NAME shows one function in full.\n")
	return b.String(), true
}

// docstring returns the triple-quoted string that src starts with (after
// indentation), dedented, or "" if it starts with none.
func docstring(src string) string {
	s := strings.TrimLeft(src, " \t\n")
	if !strings.HasPrefix(s, `"""`) {
		return ""
	}
	body, _, ok := strings.Cut(s[3:], `"""`)
	if !ok {
		return ""
	}
	lines := strings.Split(body, "\n")
	indent := -1
	for _, l := range lines[1:] {
		if strings.TrimSpace(l) == "" {
			continue
		}
		if n := len(l) - len(strings.TrimLeft(l, " ")); indent < 0 || n < indent {
			indent = n
		}
	}
	for i := 1; i < len(lines) && indent > 0; i++ {
		if len(lines[i]) >= indent {
			lines[i] = lines[i][indent:]
		}
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}
