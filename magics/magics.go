// Package magics parses and runs the notebook commands that are not Go:
// line magics (%name args), cell magics (%%name args + body), shell lines
// (!cmd) and help requests (?name, name?).
//
// A magic is a thin layer over a Go API: it parses its arguments, calls the
// API with the Session it is given, and writes what a person should see to
// the Session's output. Magics register in a Registry; the executor owns one
// Registry and resolves every magic through it, so later packages (compute,
// runs) add their magics the same way.
package magics

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"gantry/display/runcard"
	"gantry/kernel/frame"
)

// Session is what a magic may do to the kernel session that runs it. The
// executor implements it.
type Session interface {
	// Eval runs Go code in the cell interpreter, as if it were a cell of
	// its own, writing its output as a cell would. The returned bundle is
	// the rich value of a trailing expression, or nil.
	Eval(ctx context.Context, code string) (*frame.Bundle, error)
	// Reset discards all interpreter state (values, declarations, imports).
	Reset(ctx context.Context) error
	// Doc returns the documentation of a Go name as a person would read it
	// (signature and doc comment), or found=false.
	Doc(name string) (text string, found bool)
	// InScope reports whether name is declared by a cell or is the name of
	// a package the cells imported.
	InScope(name string) bool
	// Display publishes a MIME bundle as display_data.
	Display(b *frame.Bundle)
	// DisplayID publishes b under a display id, or replaces what was shown
	// under it when update is true (update_display_data): a line kept up
	// to date in place.
	DisplayID(id string, b *frame.Bundle, update bool)
	// Page shows text in the client's pager (a "page" payload).
	Page(text string)
	// OpenComm opens a comm from the kernel to the client's target, with
	// data and comm_open metadata (a widget's model, and the widget
	// protocol's version); it outlives the request.
	OpenComm(target string, data, metadata map[string]any) runcard.Comm
	// Ask asks the person at the notebook for a line (input_request),
	// hidden while typed when password is set. It fails when the client
	// allows no input.
	Ask(prompt string, password bool) (string, error)
	// GoPath is the directory whose src/ the interpreter imports source
	// packages from; %require links fetched modules there.
	GoPath() string
	// AskExit asks the client to end the session, as IPython's exit does:
	// an "ask_exit" payload on the execute reply, on which jupyter console
	// stops and shuts the kernel down. Notebooks ignore it.
	AskExit()
}

// Call is one invocation of a magic.
type Call struct {
	Name string // without % or %%
	Args string // the rest of the magic's line, untrimmed of inner spaces
	Body string // the cell after the first line, for cell magics
	Cell bool   // invoked as %%name

	Stdout io.Writer
	Stderr io.Writer
	S      Session
}

// Magic describes one magic.
type Magic struct {
	Name  string
	Line  bool   // usable as %name
	Cell  bool   // usable as %%name
	Usage string // one line: "%%writefile [-a] PATH"
	// Forms are the syntax of each of the magic's forms, one a line, for a
	// magic with subcommands; %help NAME lists them instead of Usage.
	Forms []string
	Doc   string // a paragraph for %help and ?%name
	Run   func(ctx context.Context, c *Call) error
}

// Registry holds magics by name. The zero value is empty and ready to use.
type Registry struct {
	mu sync.RWMutex
	m  map[string]*Magic
}

// Register adds m; a second magic of the same name is an error.
func (r *Registry) Register(m *Magic) error {
	if m.Name == "" || m.Run == nil || (!m.Line && !m.Cell) {
		return fmt.Errorf("register magic %q: name, Run and Line or Cell are required", m.Name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = make(map[string]*Magic)
	}
	if _, dup := r.m[m.Name]; dup {
		return fmt.Errorf("register magic %q: already registered", m.Name)
	}
	r.m[m.Name] = m
	return nil
}

// Lookup returns the magic registered under name.
func (r *Registry) Lookup(name string) (*Magic, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	m, ok := r.m[name]
	return m, ok
}

// All returns every registered magic sorted by name.
func (r *Registry) All() []*Magic {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]*Magic, 0, len(r.m))
	for _, m := range r.m {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Run runs the magic a Call names, with a clear error when there is none
// or it is used the wrong way.
func (r *Registry) Run(ctx context.Context, c *Call) error {
	if c.Name == "" {
		return fmt.Errorf("a magic needs a name after %%: %%lsmagic lists the magics there are")
	}
	if !c.Cell && strings.HasPrefix(c.Name, "%") {
		// Split passes a %%name line that is not the cell's first on as
		// a line magic named "%name".
		return fmt.Errorf("%%%s must be the first line of its cell: a cell magic takes the rest of the cell as its input", c.Name)
	}
	m, ok := r.Lookup(c.Name)
	prefix := "%"
	if c.Cell {
		prefix = "%%"
	}
	if !ok {
		return fmt.Errorf("unknown magic %s%s: %%lsmagic lists the magics there are", prefix, c.Name)
	}
	if c.Cell && !m.Cell {
		return fmt.Errorf("%%%%%s is not a cell magic: use it as %%%s on a line of its own", c.Name, c.Name)
	}
	if !c.Cell && !m.Line {
		return fmt.Errorf("%%%s is a cell magic: start the cell with %%%%%s", c.Name, c.Name)
	}
	return m.Run(ctx, c)
}

// Names returns the registered names with their prefixes (%name, %%name),
// for completion.
func (r *Registry) Names() []string {
	var out []string
	for _, m := range r.All() {
		if m.Line {
			out = append(out, "%"+m.Name)
		}
		if m.Cell {
			out = append(out, "%%"+m.Name)
		}
	}
	return out
}

// trimArgs is a small helper for magics that take one argument.
func trimArgs(s string) string { return strings.TrimSpace(s) }
