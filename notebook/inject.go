package notebook

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"regexp"
	"strings"
)

// Tags papermill gives meaning to.
const (
	ParametersTag = "parameters"          // the cell of default values
	InjectedTag   = "injected-parameters" // the cell of the values a run was given
)

// Inject puts params into nb as papermill does: a code cell tagged
// InjectedTag, translated for the notebook's kernel, replaces the injected
// cell a previous run left, else goes right after the first cell tagged
// ParametersTag, else at the top. It reports whether the notebook had a
// parameters cell.
func (nb *Notebook) Inject(params []Param) (hasParametersCell bool, err error) {
	kernel, language := nb.Kernel()
	src, err := Translate(kernel, language, params, "Parameters")
	if err != nil {
		return false, err
	}
	cell := &Cell{Type: Code, Source: src, Metadata: map[string]json.RawMessage{"tags": json.RawMessage(`["` + InjectedTag + `"]`)}}
	if nb.FormatMinor >= 5 {
		cell.ID = newCellID()
	}
	injected, defaults := -1, -1
	for i, c := range nb.Cells {
		if injected < 0 && c.HasTag(InjectedTag) {
			injected = i
		}
		if defaults < 0 && c.HasTag(ParametersTag) {
			defaults = i
		}
	}
	switch {
	case injected >= 0:
		nb.Cells[injected] = cell
	case defaults >= 0:
		nb.Cells = append(nb.Cells[:defaults+1], append([]*Cell{cell}, nb.Cells[defaults+1:]...)...)
	default:
		nb.Cells = append([]*Cell{cell}, nb.Cells...)
	}
	return defaults >= 0, nil
}

// newCellID returns a random cell ID, as nbformat makes them.
func newCellID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Declarations in a parameters cell: `name := v`, `var name [T] = v`
// (also inside var blocks) in Go; `name[: T] = v` in Python.
var (
	goDecl = regexp.MustCompile(`^\s*(?:var\s+)?([\p{L}_][\p{L}\p{Nd}_]*)(?:\s+[^=:]+?)?\s*:?=`)
	pyDecl = regexp.MustCompile(`^([\p{L}_][\p{L}\p{Nd}_]*)\s*(?::[^=]+)?=[^=]`)
)

// Declared returns the names the notebook's parameters cell assigns, so a
// caller can warn of a parameter the notebook does not expect, as
// papermill does; nil when there is no parameters cell.
func (nb *Notebook) Declared() []string {
	var cell *Cell
	for _, c := range nb.Cells {
		if c.HasTag(ParametersTag) {
			cell = c
			break
		}
	}
	if cell == nil {
		return nil
	}
	kernel, language := nb.Kernel()
	re := pyDecl
	if kernel == "gantry" || language == "go" {
		re = goDecl
	}
	names := []string{}
	for _, line := range strings.Split(cell.Source, "\n") {
		if m := re.FindStringSubmatch(line); m != nil && m[1] != "var" {
			names = append(names, m[1])
		}
	}
	return names
}
