package magics

import (
	"fmt"
	"strings"
)

// Help shows documentation through s.Page: an overview when name is empty,
// the usage and description of a magic when name is "%name" or "%%name",
// and otherwise, in this order, the documentation of a Go name in scope
// (declared by a cell, or in a package the cells imported), of a magic of
// that name, or of any other Go name (s.Doc): so %help metrics is the
// magic, not Go's runtime/metrics, until a cell imports that package.
// detail is 1 for ?name and 2 for ??name; both show the same text today.
// A name with no documentation is an error.
func Help(r *Registry, s Session, name string, detail int) error {
	name = strings.TrimSpace(name)
	if name == "" {
		s.Page(overview(r))
		return nil
	}
	if strings.HasPrefix(name, "%") {
		if m, ok := r.Lookup(strings.TrimLeft(name, "%")); ok {
			s.Page(magicDoc(m))
			return nil
		}
		return fmt.Errorf("no documentation for %s: it is not a magic; %%lsmagic lists the magics there are", name)
	}
	first, _, _ := strings.Cut(name, ".")
	text, found := s.Doc(name)
	if found && s.InScope(first) {
		s.Page(text)
		return nil
	}
	if m, ok := r.Lookup(name); ok {
		page := magicDoc(m)
		if found {
			page += "\n" + wrap(alsoGo(name, text), "")
		}
		s.Page(page)
		return nil
	}
	if found {
		s.Page(text)
		return nil
	}
	return fmt.Errorf("no documentation for %s: check the spelling, and import its package in a cell first if it is not in scope", name)
}

// alsoGo points from a magic's page to the Go documentation of the same
// name, text.
func alsoGo(name, text string) string {
	line, _, _ := strings.Cut(text, "\n")
	if _, path, ok := strings.Cut(line, ` // import "`); ok {
		path = strings.TrimSuffix(path, `"`)
		if strings.Contains(path, "/") {
			return fmt.Sprintf("This is the magic %%%s. For Go's package %s, ask for ?%s.", name, path, path)
		}
		return fmt.Sprintf("This is the magic %%%s. For Go's package %s, import it in a cell; ?%s then shows it.", name, path, name)
	}
	return fmt.Sprintf("This is the magic %%%s. Go documentation of %s exists too: import its package in a cell, and ?%s shows it.", name, name, name)
}

// overview is %help without a name.
func overview(r *Registry) string {
	var b strings.Builder
	b.WriteString(`A Gantry cell holds Go code: statements, declarations and imports.
It may also hold, each on a line of its own:

  %name ARGS     a line magic
  %%name ARGS    a cell magic, on the cell's first line; the rest of the
                 cell is its input
  !COMMAND       a shell command, run with /bin/sh
  ?name, name?   the documentation of a Go name (?fmt.Println) or of a
                 magic (?%cd)

Magics:
`)
	for _, m := range r.All() {
		b.WriteString("  " + m.Usage + "\n")
		b.WriteString(wrap(firstSentence(m.Doc), "      "))
	}
	b.WriteString("\n%help NAME or ?NAME shows more about one of them.\n")
	return b.String()
}

// lsmagic is the text of %lsmagic.
func lsmagic(r *Registry) string {
	var line, cell []string
	for _, m := range r.All() {
		if m.Line {
			line = append(line, "%"+m.Name)
		}
		if m.Cell {
			cell = append(cell, "%%"+m.Name)
		}
	}
	return "Line magics:\n" + wrap(strings.Join(line, "  "), "  ") +
		"\nCell magics:\n" + wrap(strings.Join(cell, "  "), "  ") +
		"\n%help NAME shows what a magic does.\n"
}

// magicDoc is the page for one magic: its usage, then its description.
func magicDoc(m *Magic) string {
	usage := m.Usage
	if usage == "" {
		usage = "%" + m.Name
		if !m.Line {
			usage = "%%" + m.Name
		}
	}
	if len(m.Forms) > 0 {
		var b strings.Builder
		for _, f := range m.Forms {
			b.WriteString(wrap(f, "    ")[4:]) // long forms go on, indented
		}
		usage = strings.TrimSuffix(b.String(), "\n")
	}
	doc := m.Doc
	if doc == "" {
		doc = "No description."
	}
	var b strings.Builder
	for _, para := range strings.Split(doc, "\n\n") {
		b.WriteString("\n" + wrap(para, ""))
	}
	return usage + "\n" + b.String()
}

// firstSentence returns s up to and including its first ". ".
func firstSentence(s string) string {
	if i := strings.Index(s, ". "); i >= 0 {
		return s[:i+1]
	}
	return s
}

// wrap breaks s into lines of at most 76 columns at spaces, each starting
// with indent, and ends it with a newline.
func wrap(s, indent string) string {
	const width = 76
	var b strings.Builder
	n := 0
	for _, w := range strings.Fields(s) {
		switch {
		case n == 0:
			b.WriteString(indent)
			n = len(indent)
		case n+1+len(w) > width:
			b.WriteString("\n" + indent)
			n = len(indent)
		default:
			b.WriteByte(' ')
			n++
		}
		b.WriteString(w)
		n += len(w)
	}
	b.WriteByte('\n')
	return b.String()
}
