package magics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"gantry/kernel/frame"
	"gantry/sdk"
)

// --- %metrics --------------------------------------------------------------------

func (s *sdkMagics) metrics(ctx context.Context, c *Call) error {
	p, err := parseArgs("metrics", c.Args, nil, false)
	if err != nil {
		return err
	}
	if len(p.pos) == 0 {
		return errors.New("%metrics needs one or more run IDs: %metrics ID [ID ...] (%runs lists the runs)")
	}
	ws, err := s.ws(ctx)
	if err != nil {
		return fmt.Errorf("%%metrics: %w", err)
	}
	var (
		runs  []*sdk.Run
		vals  []map[string]float64
		names = map[string]bool{}
	)
	for _, id := range p.pos {
		run, err := resolveRun(ctx, ws, id)
		if err != nil {
			return fmt.Errorf("%%metrics: %w", err)
		}
		m, err := run.Metrics(ctx)
		if err != nil {
			return fmt.Errorf("%%metrics: run %s: %w", run.ID, err)
		}
		for n := range m.Scalars {
			names[n] = true
		}
		runs, vals = append(runs, run), append(vals, m.Scalars)
	}
	if len(names) == 0 {
		_, err := fmt.Fprintln(c.Stdout, "These runs logged no metrics: scripts log them with gantry_run.log(name, value).")
		return err
	}
	cols := make([]string, 0, len(names))
	for n := range names {
		cols = append(cols, n)
	}
	sort.Strings(cols)
	t := &table{head: append([]string{"run"}, cols...)}
	for i, run := range runs {
		row := []cell{{text: shortID(run.ID), title: run.ID}}
		for _, n := range cols {
			v, ok := vals[i][n]
			text := ""
			if ok {
				text = formatFloat(v)
			}
			row = append(row, cell{text: text, num: true})
		}
		t.add(row...)
	}
	c.S.Display(t.bundle())
	return nil
}

// formatFloat formats a metric value with up to 6 significant digits.
func formatFloat(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}

// --- %model ----------------------------------------------------------------------

func (s *sdkMagics) model(ctx context.Context, c *Call) error {
	p, err := parseArgs("model", c.Args, nil, false)
	if err != nil {
		return err
	}
	if len(p.pos) == 0 {
		return errors.New("%model needs a subcommand: %model list [NAME] or %model register RUN_ID NAME PATH_IN_OUTPUTS")
	}
	sub, args := p.pos[0], p.pos[1:]
	switch sub {
	case "list":
		if len(args) > 1 {
			return errors.New("%model list takes at most one NAME")
		}
	case "register":
		if len(args) != 3 {
			return fmt.Errorf("%%model register needs RUN_ID NAME PATH_IN_OUTPUTS, got %d words: e.g. %%model register 1a2b3c mnist model.pt", len(args))
		}
	default:
		return fmt.Errorf("%%model: unknown subcommand %q: use list or register", sub)
	}
	ws, err := s.ws(ctx)
	if err != nil {
		return fmt.Errorf("%%model: %w", err)
	}
	if sub == "list" {
		name := ""
		if len(args) == 1 {
			name = args[0]
		}
		ms, err := ws.Store().Models(ctx, name)
		if err != nil {
			return fmt.Errorf("%%model list: %w", err)
		}
		if len(ms) == 0 {
			msg := "No models registered: %model register RUN_ID NAME PATH_IN_OUTPUTS registers one."
			if name != "" {
				msg = fmt.Sprintf("No model called %q: %%model list shows them all.", name)
			}
			_, err := fmt.Fprintln(c.Stdout, msg)
			return err
		}
		t := &table{head: []string{"name", "version", "run", "path", "created"}}
		for _, m := range ms {
			t.add(cell{text: m.Name}, cell{text: strconv.Itoa(m.Version), num: true}, cell{text: shortID(m.RunID), title: m.RunID},
				cell{text: m.Path}, cell{text: when(m.Created)})
		}
		c.S.Display(t.bundle())
		return nil
	}
	run, err := resolveRun(ctx, ws, args[0])
	if err != nil {
		return fmt.Errorf("%%model register: %w", err)
	}
	name := args[1]
	dir, err := run.Dir()
	if err != nil {
		return fmt.Errorf("%%model register: %w", err)
	}
	outputs := filepath.Join(dir, "outputs")
	rel, err := outputsPath(outputs, args[2])
	if err != nil {
		return fmt.Errorf("%%model register: run %s: %w", run.ID, err)
	}
	// The sdk copies the files into the workspace, so the model outlives
	// the run's directory.
	m, err := run.RegisterModel(ctx, name, rel, nil)
	if err != nil {
		return fmt.Errorf("%%model register: %w", err)
	}
	_, err = fmt.Fprintf(c.Stdout, "Registered model %s version %d: outputs/%s of run %s.\n", m.Name, m.Version, m.Path, run.ID)
	return err
}

// outputsPath checks that p names a file or directory under the outputs
// directory and returns it relative to that directory, with slashes. p
// may start with "outputs/".
func outputsPath(outputs, p string) (string, error) {
	rel := filepath.Clean(filepath.FromSlash(p))
	if p == "" || !filepath.IsLocal(rel) {
		return "", fmt.Errorf("%q is not a path inside the run's outputs directory: give it relative to outputs/, such as model.pt", p)
	}
	exists := func(r string) bool { _, err := os.Stat(filepath.Join(outputs, r)); return err == nil }
	if !exists(rel) {
		if r, ok := strings.CutPrefix(rel, "outputs"+string(filepath.Separator)); ok && exists(r) {
			rel = r
		} else {
			return "", fmt.Errorf("outputs/%s not found; the run's outputs: %s", filepath.ToSlash(rel), listOutputs(outputs))
		}
	}
	return filepath.ToSlash(rel), nil
}

// listOutputs names up to 20 files under dir, for errors.
func listOutputs(dir string) string {
	var files []string
	more := false
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if len(files) == 20 {
			more = true
			return fs.SkipAll
		}
		r, _ := filepath.Rel(dir, path)
		files = append(files, filepath.ToSlash(r))
		return nil
	})
	if len(files) == 0 {
		return "none (a script writes them to the directory outputs/ in its working directory)"
	}
	s := strings.Join(files, ", ")
	if more {
		s += ", ..."
	}
	return s
}

// --- tables ----------------------------------------------------------------------

// cell is one table cell: text, an optional title (shown on hover in
// HTML), right-aligned when num.
type cell struct {
	text, title string
	num         bool
}

// table renders as HTML with a text/plain fallback.
type table struct {
	head []string
	rows [][]cell
	note string
}

func (t *table) add(cs ...cell) { t.rows = append(t.rows, cs) }

func (t *table) bundle() *frame.Bundle {
	return &frame.Bundle{Data: map[string]any{"text/html": t.html(), "text/plain": t.text()}}
}

func (t *table) html() string {
	var b strings.Builder
	b.WriteString("<table>\n<thead><tr>")
	for _, h := range t.head {
		fmt.Fprintf(&b, "<th>%s</th>", html.EscapeString(h))
	}
	b.WriteString("</tr></thead>\n<tbody>\n")
	for _, r := range t.rows {
		b.WriteString("<tr>")
		for _, c := range r {
			attrs := ""
			if c.title != "" {
				attrs += fmt.Sprintf(` title="%s"`, html.EscapeString(c.title))
			}
			if c.num {
				attrs += ` style="text-align:right"`
			}
			fmt.Fprintf(&b, "<td%s>%s</td>", attrs, html.EscapeString(c.text))
		}
		b.WriteString("</tr>\n")
	}
	b.WriteString("</tbody>\n</table>")
	if t.note != "" {
		fmt.Fprintf(&b, "\n<p>%s</p>", html.EscapeString(t.note))
	}
	return b.String()
}

func (t *table) text() string {
	width := make([]int, len(t.head))
	for i, h := range t.head {
		width[i] = len([]rune(h))
	}
	for _, r := range t.rows {
		for i, c := range r {
			if i < len(width) && len([]rune(c.text)) > width[i] {
				width[i] = len([]rune(c.text))
			}
		}
	}
	var b strings.Builder
	line := func(cs []string) {
		for i, s := range cs {
			if i > 0 {
				b.WriteString("  ")
			}
			pad := strings.Repeat(" ", width[i]-len([]rune(s)))
			if i == len(cs)-1 {
				pad = ""
			}
			b.WriteString(s + pad)
		}
		b.WriteByte('\n')
	}
	line(t.head)
	for _, r := range t.rows {
		cs := make([]string, len(r))
		for i, c := range r {
			cs[i] = c.text
		}
		line(cs)
	}
	if t.note != "" {
		b.WriteString(t.note + "\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

// compactJSON is raw JSON on one line, "{}" for none.
func compactJSON(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "{}"
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return string(raw)
	}
	out, _ := json.Marshal(v)
	return string(out)
}

// indentJSON is raw JSON indented for reading.
func indentJSON(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "{}"
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return string(raw)
	}
	out, _ := json.MarshalIndent(v, "", "  ")
	return string(out)
}
