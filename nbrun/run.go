// Package nbrun runs a Jupyter notebook headless, without a Jupyter
// server: it finds the notebook's kernel as jupyter_client does (Gantry
// notebooks run on this binary's own kernel, so they need nothing
// installed), starts it, speaks the Jupyter protocol to it over ZeroMQ
// (package kernel/wire signs and checks every message), executes the
// code cells in order, and streams each cell's output as it arrives. The
// executed notebook keeps the outputs and execution counts, as nbclient
// writes them; an HTML export and a JSON report are optional.
//
// It is what `gantry nbrun` runs, and what a notebook run executes on its
// target: the agent of a run whose job is a notebook runs `gantry nbrun`
// as the run's script.
package nbrun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gantry/kernel/wire"
	"gantry/notebook"
)

// Tags nbclient gives meaning to.
const (
	// RaisesTag marks a cell whose error is expected: the run goes on.
	RaisesTag = "raises-exception"
	// SkipTag marks a cell that is not executed.
	SkipTag = "skip-execution"
)

// Options say how to run a notebook.
type Options struct {
	Params  []notebook.Param // injected as papermill does (none: no cell is injected)
	Kernel  string           // a kernelspec to run on instead of the notebook's own
	Kernels Kernels          // where kernels are found; Kernels.Python also goes first on the kernel's PATH
	Dir     string           // the kernel's working directory (default: the notebook's)
	Env     []string         // the kernel's environment (nil: this process's)

	Out    string // where to write the executed notebook ("": nowhere)
	HTML   string // where to write its HTML export ("": nowhere)
	Report string // where to write a JSON Report ("": nowhere)

	CellTimeout  time.Duration // 0: none
	StartTimeout time.Duration // 0: 2 minutes

	// Stdout gets the cells' output and results, Stderr their errors and
	// a progress line per cell (nil: discarded).
	Stdout, Stderr io.Writer
}

// Report says how a run of a notebook went.
type Report struct {
	Notebook string   `json:"notebook"`
	Kernel   string   `json:"kernel,omitempty"`
	Executed int      `json:"executed"` // code cells executed
	Seconds  float64  `json:"seconds"`
	Failure  *Failure `json:"failure,omitempty"`
	// Error is why the run failed, when not for a cell: the notebook
	// could not be read, its kernel is not installed, it would not start.
	Error string `json:"error,omitempty"`
}

// Reason says in one line why the run failed, "" if it did not.
func (r *Report) Reason() string {
	switch {
	case r.Failure != nil:
		return "the notebook's " + r.Failure.Error()
	case r.Error != "":
		return "the notebook did not run: " + r.Error
	}
	return ""
}

// Failure is the cell that stopped a run.
type Failure struct {
	Cell           int    `json:"cell"` // 1-based, among all cells of the executed notebook
	ExecutionCount int    `json:"execution_count,omitempty"`
	Line           string `json:"line"` // the cell's first line of source
	EName          string `json:"ename"`
	EValue         string `json:"evalue"`
}

func (f *Failure) Error() string {
	where := fmt.Sprintf("cell %d", f.Cell)
	if f.ExecutionCount > 0 {
		where += fmt.Sprintf(" (In [%d])", f.ExecutionCount)
	}
	if f.Line != "" {
		where += fmt.Sprintf(" %q", f.Line)
	}
	msg := f.EName
	if f.EValue != "" {
		msg += ": " + f.EValue
	}
	return where + " failed: " + msg
}

// Run executes the notebook at path. A cell that fails stops the run:
// the error is then a *Failure. The executed notebook, HTML and report
// are written however the run ends.
func Run(ctx context.Context, path string, o Options) (rep *Report, err error) {
	start := time.Now()
	rep = &Report{Notebook: path}
	defer func() {
		rep.Seconds = time.Since(start).Seconds()
		if err != nil && rep.Failure == nil {
			rep.Error = err.Error()
		}
		if o.Report != "" {
			b, _ := json.MarshalIndent(rep, "", "  ")
			if werr := os.WriteFile(o.Report, append(b, '\n'), 0o644); werr != nil && err == nil {
				err = fmt.Errorf("write report: %w", werr)
			}
		}
	}()
	stdout, stderr := o.Stdout, o.Stderr
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	nb, err := notebook.ReadFile(path)
	if err != nil {
		return rep, err
	}
	name, language := nb.Kernel()
	if o.Kernel != "" {
		name, language = o.Kernel, ""
	}
	spec, err := o.Kernels.Find(ctx, name, language)
	if err != nil {
		return rep, err
	}
	rep.Kernel = spec.Name
	if o.Kernel != "" {
		_ = nb.SetMetadata("kernelspec", map[string]string{"name": spec.Name, "display_name": spec.DisplayName, "language": spec.Language})
	}
	if len(o.Params) > 0 {
		if declared := nb.Declared(); declared != nil {
			for _, p := range o.Params {
				if !slices.Contains(declared, p.Name) {
					fmt.Fprintf(stderr, "[nbrun] warning: parameter %s is not set in the notebook's parameters cell\n", p.Name)
				}
			}
		}
		has, err := nb.Inject(o.Params)
		if err != nil {
			return rep, err
		}
		if !has {
			fmt.Fprintf(stderr, "[nbrun] warning: the notebook has no cell tagged %q: the parameters go in a cell at the top\n", notebook.ParametersTag)
		}
	}
	for _, c := range nb.Cells {
		if c.Type == notebook.Code {
			c.Outputs, c.ExecutionCount = nil, nil
		}
	}
	dir := o.Dir
	if dir == "" {
		dir = filepath.Dir(path)
	}
	if o.Env == nil && o.Kernels.Python != "" {
		o.Env = withPython(os.Environ(), o.Kernels.Python)
	}
	r := &runner{nb: nb, o: o, rep: rep, stdout: stdout, stderr: stderr, displays: map[string][]*notebook.Output{}}
	err = r.execute(ctx, spec, dir)
	rep.Seconds = time.Since(start).Seconds()
	if werr := r.write(); werr != nil && err == nil {
		err = werr
	}
	if err == nil {
		fmt.Fprintf(stderr, "[nbrun] done: %d code cells in %.1fs\n", rep.Executed, rep.Seconds)
	}
	return rep, err
}

// withPython puts python's directory first on env's PATH, as activating
// its environment does: `!python` and `!pip` in cells are its.
func withPython(env []string, python string) []string {
	p, err := exec.LookPath(python)
	if err != nil {
		return env
	}
	bin, _ := filepath.Abs(filepath.Dir(p))
	out := make([]string, 0, len(env)+1)
	path := bin
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = bin + string(os.PathListSeparator) + v
			continue
		}
		out = append(out, kv)
	}
	return append(out, "PATH="+path)
}

// runner executes one notebook.
type runner struct {
	nb             *notebook.Notebook
	o              Options
	rep            *Report
	stdout, stderr io.Writer
	saved          time.Time

	// Of the cell being executed.
	cell         *notebook.Cell
	clearPending bool // clear_output(wait=True): clear before the next output
	// Displays by display_id, which update_display_data updates wherever
	// they are.
	displays map[string][]*notebook.Output
}

func (r *runner) execute(ctx context.Context, spec *Spec, dir string) error {
	timeout := r.o.StartTimeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	sctx, cancel := context.WithTimeout(ctx, timeout)
	k, err := Start(sctx, spec, dir, r.o.Env)
	cancel()
	if err != nil {
		return err
	}
	defer k.Close()
	code := 0
	for _, c := range r.nb.Cells {
		if c.Type == notebook.Code && strings.TrimSpace(c.Source) != "" {
			code++
		}
	}
	n := 0
	for i, c := range r.nb.Cells {
		if c.Type != notebook.Code || strings.TrimSpace(c.Source) == "" || c.HasTag(SkipTag) {
			continue
		}
		n++
		line := firstLine(c.Source)
		fmt.Fprintf(r.stderr, "[nbrun] cell %d of %d (%d/%d): %s\n", i+1, len(r.nb.Cells), n, code, line)
		r.cell, r.clearPending = c, false
		cctx, cancel := ctx, context.CancelFunc(func() {})
		if r.o.CellTimeout > 0 {
			cctx, cancel = context.WithTimeout(ctx, r.o.CellTimeout)
		}
		reply, err := k.Execute(cctx, c.Source, r.handle)
		cancel()
		r.rep.Executed++
		if reply != nil && reply.ExecutionCount > 0 {
			ec := reply.ExecutionCount
			c.ExecutionCount = &ec
		}
		fail := &Failure{Cell: i + 1, Line: line}
		if c.ExecutionCount != nil {
			fail.ExecutionCount = *c.ExecutionCount
		}
		switch {
		case err != nil && errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
			fail.EName, fail.EValue = "Timeout", fmt.Sprintf("the cell ran longer than %s and was interrupted", r.o.CellTimeout)
		case err != nil && ctx.Err() != nil:
			fail.EName, fail.EValue = "Interrupted", "the run was stopped while the cell ran"
		case err != nil:
			fail.EName, fail.EValue = "DeadKernelError", err.Error()
		case reply.Status == "ok":
			r.maybeSave()
			continue
		case c.HasTag(RaisesTag):
			r.maybeSave()
			continue
		default:
			fail.EName, fail.EValue = reply.EName, reply.EValue
			if fail.EName == "" {
				fail.EName = "Error"
				fail.EValue = "the kernel replied " + reply.Status
			}
		}
		r.rep.Failure = fail
		return fail
	}
	return nil
}

func firstLine(src string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(src), "\n")
	if len(line) > 60 {
		line = line[:57] + "..."
	}
	return line
}

// handle turns one iopub message of the running cell into the cell's
// outputs, as nbclient does, and writes it to stdout or stderr.
func (r *runner) handle(m *wire.Message) {
	var c struct {
		Name           string                     `json:"name"`
		Text           string                     `json:"text"`
		Data           map[string]json.RawMessage `json:"data"`
		Metadata       map[string]json.RawMessage `json:"metadata"`
		ExecutionCount *int                       `json:"execution_count"`
		EName          string                     `json:"ename"`
		EValue         string                     `json:"evalue"`
		Traceback      []string                   `json:"traceback"`
		Wait           bool                       `json:"wait"`
		Transient      struct {
			DisplayID string `json:"display_id"`
		} `json:"transient"`
	}
	if json.Unmarshal(m.Content, &c) != nil {
		return
	}
	cell := r.cell
	add := func(o *notebook.Output) {
		if r.clearPending {
			cell.Outputs, r.clearPending = nil, false
		}
		cell.Outputs = append(cell.Outputs, o)
	}
	switch t := m.Header.MsgType; t {
	case "execute_input":
		if c.ExecutionCount != nil {
			cell.ExecutionCount = c.ExecutionCount
		}
	case "stream":
		w := r.stdout
		if c.Name == "stderr" {
			w = r.stderr
		}
		io.WriteString(w, c.Text)
		if n := len(cell.Outputs); n > 0 && !r.clearPending && cell.Outputs[n-1].Type == notebook.Stream && cell.Outputs[n-1].Name == c.Name {
			cell.Outputs[n-1].Text += c.Text
			return
		}
		add(&notebook.Output{Type: notebook.Stream, Name: c.Name, Text: c.Text})
	case "display_data", "execute_result":
		o := &notebook.Output{Type: t, Data: c.Data, Metadata: c.Metadata, DisplayID: c.Transient.DisplayID}
		if t == notebook.ExecuteResult {
			o.ExecutionCount = c.ExecutionCount
		}
		add(o)
		if o.DisplayID != "" {
			r.displays[o.DisplayID] = append(r.displays[o.DisplayID], o)
		}
		r.show(o)
	case "update_display_data":
		for _, o := range r.displays[c.Transient.DisplayID] {
			o.Data, o.Metadata = c.Data, c.Metadata
		}
	case "error":
		add(&notebook.Output{Type: notebook.Error, EName: c.EName, EValue: c.EValue, Traceback: c.Traceback})
		tb := strings.Join(c.Traceback, "\n")
		if tb == "" {
			tb = c.EName + ": " + c.EValue
		}
		fmt.Fprintln(r.stderr, notebook.StripANSI(tb))
	case "clear_output":
		if c.Wait {
			r.clearPending = true
		} else {
			cell.Outputs = nil
		}
	}
}

// show writes a result or display as text: its text/plain, else what
// kind of output it is.
func (r *runner) show(o *notebook.Output) {
	if s, ok := o.MIMEText("text/plain"); ok {
		fmt.Fprintln(r.stdout, notebook.StripANSI(s))
		return
	}
	for mime := range o.Data {
		fmt.Fprintf(r.stdout, "[%s output]\n", mime)
		return
	}
}

// maybeSave writes the executed notebook so far, at most every 2 seconds,
// so that a long run's progress can be looked at.
func (r *runner) maybeSave() {
	if r.o.Out == "" || time.Since(r.saved) < 2*time.Second {
		return
	}
	if notebook.WriteFile(r.o.Out, r.nb) == nil {
		r.saved = time.Now()
	}
}

// write writes the executed notebook and its HTML export.
func (r *runner) write() error {
	if r.o.Out != "" {
		if err := notebook.WriteFile(r.o.Out, r.nb); err != nil {
			return err
		}
	}
	if r.o.HTML != "" {
		f, err := os.Create(r.o.HTML)
		if err != nil {
			return fmt.Errorf("write HTML: %w", err)
		}
		title := strings.TrimSuffix(filepath.Base(r.rep.Notebook), filepath.Ext(r.rep.Notebook))
		err = notebook.HTML(f, r.nb, title)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("write HTML %s: %w", r.o.HTML, err)
		}
	}
	return nil
}
