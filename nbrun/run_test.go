package nbrun

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gantry/internal/gantrytest"
	"gantry/notebook"
)

// goNotebook writes a Gantry notebook of cells (sources; a source
// starting with "#tag:NAME\n" is tagged NAME) into dir.
func goNotebook(t *testing.T, dir string, cells ...string) string {
	t.Helper()
	nb := &notebook.Notebook{FormatMinor: 5, Metadata: map[string]json.RawMessage{
		"kernelspec": json.RawMessage(`{"name": "gantry", "language": "go", "display_name": "Go (Gantry)"}`)}}
	for i, src := range cells {
		c := &notebook.Cell{Type: notebook.Code, ID: string(rune('a' + i)), Metadata: map[string]json.RawMessage{}, Source: src}
		if tag, rest, ok := strings.Cut(src, "\n"); ok && strings.HasPrefix(tag, "#tag:") {
			c.Source = rest
			c.Metadata["tags"] = json.RawMessage(`["` + strings.TrimPrefix(tag, "#tag:") + `"]`)
		}
		if strings.HasPrefix(src, "#md\n") {
			c.Type, c.Source = notebook.Markdown, strings.TrimPrefix(src, "#md\n")
		}
		nb.Cells = append(nb.Cells, c)
	}
	path := filepath.Join(dir, "nb.ipynb")
	if err := notebook.WriteFile(path, nb); err != nil {
		t.Fatal(err)
	}
	return path
}

func run(t *testing.T, path string, o Options) (*Report, *notebook.Notebook, string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	o.Kernels.Self = gantrytest.Binary(t)
	o.Stdout, o.Stderr = &stdout, &stderr
	if o.Out == "" {
		o.Out = filepath.Join(filepath.Dir(path), "out.ipynb")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // hang guard
	defer cancel()
	rep, err := Run(ctx, path, o)
	nb, rerr := notebook.ReadFile(o.Out)
	if rerr != nil && rep.Error == "" {
		t.Fatalf("executed notebook: %v", rerr)
	}
	return rep, nb, stdout.String(), stderr.String(), err
}

func TestRunGoNotebook(t *testing.T) {
	dir := t.TempDir()
	path := goNotebook(t, dir,
		"#md\n# Title",
		"#tag:parameters\nalpha := 0.5\nname := \"default\"",
		"import \"fmt\"\nfmt.Printf(\"alpha=%v %T name=%s\\n\", alpha, alpha, name)\nalpha * 2",
		"import \"os\"\nfmt.Fprintln(os.Stderr, \"to stderr\")\nfmt.Println(\"a\")\nfmt.Println(\"b\")",
		"   ",
		"#tag:skip-execution\npanic(\"skipped\")",
		"#tag:raises-exception\npanic(\"expected\")",
		"wd, _ := os.Getwd()\nwd",
	)
	rep, nb, stdout, stderr, err := run(t, path, Options{Params: []notebook.Param{{Name: "alpha", Value: 0.9}, {Name: "name", Value: "x \"y\" é"}},
		HTML: filepath.Join(dir, "out.html"), Report: filepath.Join(dir, "report.json")})
	if err != nil {
		t.Fatalf("%v\nstdout: %s\nstderr: %s", err, stdout, stderr)
	}
	if !strings.Contains(stdout, "alpha=0.9 float64 name=x \"y\" é\n1.8\n") || !strings.Contains(stdout, "a\nb\n") {
		t.Errorf("stdout:\n%s", stdout)
	}
	if !strings.Contains(stderr, "to stderr") || !strings.Contains(stderr, "[nbrun] cell 4 of 9 (3/7): import \"fmt\"") ||
		!strings.Contains(stderr, "panic: expected") || strings.Contains(stderr, "skipped") {
		t.Errorf("stderr:\n%s", stderr)
	}
	if rep.Executed != 6 || rep.Failure != nil || rep.Kernel != "gantry" {
		t.Errorf("report %+v", rep)
	}
	// The executed notebook: the injected cell after the parameters cell,
	// outputs and execution counts in place, streams merged.
	if len(nb.Cells) != 9 || !nb.Cells[2].HasTag(notebook.InjectedTag) {
		t.Fatalf("cells: %d, third %+v", len(nb.Cells), nb.Cells[2])
	}
	c := nb.Cells[3]
	if c.ExecutionCount == nil || *c.ExecutionCount != 3 || len(c.Outputs) != 2 || c.Outputs[0].Text != "alpha=0.9 float64 name=x \"y\" é\n" {
		t.Errorf("cell 4: %+v %+v", c, c.Outputs)
	}
	if got, _ := c.Outputs[1].MIMEText("text/plain"); got != "1.8" {
		t.Errorf("cell 4 result %q", got)
	}
	streams := map[string]string{}
	for _, o := range nb.Cells[4].Outputs {
		streams[o.Name] += o.Text
	}
	if len(nb.Cells[4].Outputs) != 2 || streams["stdout"] != "a\nb\n" || streams["stderr"] != "to stderr\n" {
		t.Errorf("cell 5 outputs: %q", streams)
	}
	if nb.Cells[5].ExecutionCount != nil || nb.Cells[6].ExecutionCount != nil {
		t.Error("an empty or skipped cell was executed")
	}
	if o := nb.Cells[7].Outputs; len(o) != 1 || o[0].Type != notebook.Error {
		t.Errorf("raises-exception cell: %+v", o)
	}
	// The kernel ran in the notebook's directory.
	if got, _ := nb.Cells[8].Outputs[0].MIMEText("text/plain"); !strings.Contains(got, dir) {
		t.Errorf("working directory %s, want %s", got, dir)
	}
	html, err := os.ReadFile(filepath.Join(dir, "out.html"))
	if err != nil || !strings.Contains(string(html), "<h1>Title</h1>") || !strings.Contains(string(html), "alpha=0.9") {
		t.Errorf("HTML export: %v\n%s", err, html)
	}
	var report Report
	b, _ := os.ReadFile(filepath.Join(dir, "report.json"))
	if json.Unmarshal(b, &report) != nil || report.Executed != 6 {
		t.Errorf("report file: %s", b)
	}
}

func TestRunStopsAtFailingCell(t *testing.T) {
	dir := t.TempDir()
	path := goNotebook(t, dir, "x := 1\nx", "var m map[string]int\nm[\"a\"] = 1", "x + 1")
	rep, nb, _, stderr, err := run(t, path, Options{})
	var f *Failure
	if !errors.As(err, &f) {
		t.Fatalf("err = %v, want a *Failure\nstderr: %s", err, stderr)
	}
	if f.Cell != 2 || f.ExecutionCount != 2 || !strings.Contains(f.Error(), `cell 2 (In [2]) "var m map[string]int" failed: `) ||
		!strings.Contains(f.Error(), "assignment to entry in nil map") {
		t.Errorf("failure: %v (%+v)", f, f)
	}
	if rep.Failure == nil || rep.Executed != 2 {
		t.Errorf("report %+v", rep)
	}
	if nb.Cells[2].ExecutionCount != nil {
		t.Error("the cell after the failing one ran")
	}
	if o := nb.Cells[1].Outputs; len(o) != 1 || o[0].Type != notebook.Error {
		t.Errorf("failing cell outputs %+v", o)
	}
}

func TestRunCellTimeoutInterrupts(t *testing.T) {
	dir := t.TempDir()
	path := goNotebook(t, dir, "for {}", "1")
	_, _, _, _, err := run(t, path, Options{CellTimeout: 500 * time.Millisecond})
	var f *Failure
	if !errors.As(err, &f) || f.Cell != 1 || f.EName != "Timeout" || !strings.Contains(f.EValue, "longer than 500ms") {
		t.Fatalf("err = %v", err)
	}
}

func TestRunDisplaysUpdateAndClear(t *testing.T) {
	dir := t.TempDir()
	path := goNotebook(t, dir,
		"import \"gantry/display\"\nid := display.NewID()\ndisplay.ShowID(id, display.Markdown(\"step 1\"))\ndisplay.Update(id, display.Markdown(\"step 2\"))",
		"display.Show(display.Text(\"gone\"))\ndisplay.Clear(true)\ndisplay.Show(display.Text(\"kept\"))",
		"display.Show(display.Text(\"stays\"))\ndisplay.Clear(true)",
		"display.Show(display.Text(\"goes\"))\ndisplay.Clear(false)")
	_, nb, _, stderr, err := run(t, path, Options{})
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	o := nb.Cells[0].Outputs
	if len(o) != 1 {
		t.Fatalf("display outputs %+v", o)
	}
	if md, _ := o[0].MIMEText("text/markdown"); md != "step 2" {
		t.Errorf("updated display shows %q", md)
	}
	// clear_output(wait=True) clears when the next output comes, if one
	// does; clear_output() at once.
	for i, want := range []string{"kept", "stays", ""} {
		var got []string
		for _, o := range nb.Cells[i+1].Outputs {
			s, _ := o.MIMEText("text/plain")
			got = append(got, s)
		}
		if strings.Join(got, ",") != want {
			t.Errorf("cell %d after clear_output: %q, want %q", i+2, got, want)
		}
	}
}

func TestRunRefusesUnknownKernelAndBadNotebook(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("JUPYTER_PATH", filepath.Join(dir, "jp"))
	t.Setenv("JUPYTER_DATA_DIR", filepath.Join(dir, "data"))
	path := goNotebook(t, dir, "1")
	rep, _, _, _, err := run(t, path, Options{Kernel: "nosuch", Report: filepath.Join(dir, "report.json")})
	if b, _ := os.ReadFile(filepath.Join(dir, "report.json")); !strings.Contains(string(b), `"error": "the notebook's kernel \"nosuch\" is not installed`) ||
		!strings.HasPrefix(rep.Reason(), "the notebook did not run: the notebook's kernel") {
		t.Errorf("report of a run that did not start: %s (%q)", b, rep.Reason())
	}
	if !errors.Is(err, ErrNoKernel) || !strings.Contains(err.Error(), `kernel "nosuch" is not installed on this machine`) ||
		!strings.Contains(err.Error(), filepath.Join(dir, "jp", "kernels")) {
		t.Errorf("unknown kernel: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "bad.ipynb"), []byte("{"), 0o644)
	if _, err := Run(context.Background(), filepath.Join(dir, "bad.ipynb"), Options{}); err == nil || !strings.Contains(err.Error(), "not a notebook") {
		t.Errorf("bad notebook: %v", err)
	}
}
