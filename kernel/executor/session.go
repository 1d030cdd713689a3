package executor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"

	"github.com/traefik/yaegi/interp"
	"github.com/traefik/yaegi/stdlib/unrestricted"
	"github.com/traefik/yaegi/stdlib/unsafe"

	"gantry"
	"gantry/display"
	"gantry/input"
	"gantry/kernel/assist"
	"gantry/kernel/cell"
	"gantry/kernel/frame"
	"gantry/kernel/front"
	"gantry/kernel/gostd"
	"gantry/kernel/importer"
	"gantry/kernel/lower"
	"gantry/kernel/symbols"
	"gantry/sdk"
)

// session is one interpreter and what the kernel knows about the cells it
// has run: imports made, declarations (to re-evaluate callers of a
// redefined func, and to document cell names), and names defined. Cells
// are type-checked (front) against the packages the interpreter imports
// (imp) and lowered (lower) before they run.
type session struct {
	e      *Executor
	i      *interp.Interpreter
	disp   *display.Display
	assist *assist.Assistant
	comms  *comms
	imp    *importer.Importer
	front  *front.Session
	lower  *lower.State

	mu      sync.Mutex
	imports map[string]string    // local name -> import path
	done    map[string]bool      // "name path" of imports made
	decls   map[string]cell.Decl // by name ("T.M" for methods)
	evalSrc map[string]string    // declarations as the interpreter ran them (lowered), by name
	order   []string             // declaration names in order of definition
	names   map[string]bool      // every name defined by cells
	methods map[string]bool      // names of methods cells declared (for rich display)
	chunkN  int
	chunks  map[int]chunkPos // chunk number -> place in the notebook
	panics  lockedBuffer     // yaegi's unwinding lines for the running chunk
	curExec int
	page    []string
	askExit bool // the cell asked the client to end the session (exit)
}

func newSession(e *Executor) (*session, error) {
	s := &session{e: e, comms: newComms(e), chunks: map[int]chunkPos{}}
	fset := token.NewFileSet()
	s.imp = importer.New(fset, e.cfg.GoPath)
	s.front = front.New(fset, s.imp)
	for path, src := range gostd.SourceTexts() {
		// The interpreter compiles these standard packages from source.
		s.imp.AddSource(path, src)
	}
	if err := s.reset(); err != nil {
		return nil, err
	}
	goroot := e.cfg.GoRoot
	if goroot == "" {
		goroot = findGoRoot()
	}
	s.assist = assist.New(goroot, gantry.Sources)
	return s, nil
}

// reset replaces the interpreter with a fresh one.
func (s *session) reset() error {
	gopath := s.e.cfg.GoPath
	if gopath != "" {
		if err := os.MkdirAll(filepath.Join(gopath, "src"), 0o755); err != nil {
			return fmt.Errorf("create GOPATH %s: %w", gopath, err)
		}
	}
	i := interp.New(interp.Options{
		GoPath:       gopath,
		Stdout:       os.Stdout,
		Stderr:       &panicFilter{s: s, w: os.Stderr},
		Stdin:        &stdinReader{s: s},
		Unrestricted: true,
		Args:         []string{"cell"}, // os.Args as a program run without arguments sees it
		// The generic standard packages, compiled when a cell imports one.
		SourcecodeFilesystem: gostd.Sources(gopath),
	})
	use := func(t interp.Exports) error {
		s.imp.Use(t)
		return i.Use(t)
	}
	// The running Go's standard library (package gostd); the generic
	// packages come from source through SourcecodeFilesystem.
	if err := use(gostd.Symbols); err != nil {
		return fmt.Errorf("load standard library: %w", err)
	}
	if err := use(unrestricted.Symbols); err != nil {
		return fmt.Errorf("load standard library: %w", err)
	}
	if err := use(unsafe.Symbols); err != nil {
		return fmt.Errorf("load unsafe: %w", err)
	}
	var stdin io.Reader = &stdinReader{s: s}
	exit := func(code int) {
		_ = s.e.out.Write(&frame.Frame{Kind: frame.KindExiting, ExitCode: code})
		os.Exit(code)
	}
	if err := use(interp.Exports{"os/os": {
		"Stdin": reflect.ValueOf(&stdin).Elem(),
		"Exit":  reflect.ValueOf(exit),
	}}); err != nil {
		return fmt.Errorf("patch os: %w", err)
	}
	s.disp = display.New(publisher{s.e})
	if err := use(display.Symbols(s.disp)); err != nil {
		return fmt.Errorf("load gantry/display: %w", err)
	}
	if err := use(symbols.Symbols); err != nil {
		return fmt.Errorf("load the gantry/sdk packages: %w", err)
	}
	// A workspace a cell opens keeps prompted secrets with the session's,
	// as the magics' workspaces do.
	openWorkspace := func(ctx context.Context, dir string) (*sdk.Workspace, error) {
		ws, err := sdk.OpenWorkspace(ctx, dir)
		if err == nil {
			ws.UseSecrets(s.e.secrets)
		}
		return ws, err
	}
	if err := use(interp.Exports{"gantry/sdk/sdk": {"OpenWorkspace": reflect.ValueOf(openWorkspace)}}); err != nil {
		return fmt.Errorf("patch gantry/sdk: %w", err)
	}
	if err := use(input.Symbols(input.New(asker{s.e}))); err != nil {
		return fmt.Errorf("load gantry/input: %w", err)
	}
	if err := use(s.comms.symbols()); err != nil {
		return fmt.Errorf("load gantry/comm: %w", err)
	}
	if err := use(interp.Exports{"gantry/cellrt/cellrt": {"Unread": reflect.ValueOf(newUnreadError)}}); err != nil {
		return fmt.Errorf("load the cells' runtime: %w", err)
	}
	if _, err := i.Eval(prelude); err != nil {
		return fmt.Errorf("load prelude: %w", err)
	}
	s.mu.Lock()
	s.i = i
	s.imports = map[string]string{}
	s.done = map[string]bool{}
	s.decls = map[string]cell.Decl{}
	s.evalSrc = map[string]string{}
	s.order = nil
	s.names = map[string]bool{}
	s.methods = map[string]bool{}
	s.front.Reset()
	s.lower = lower.NewState()
	s.mu.Unlock()
	return nil
}

// prelude is evaluated in every new interpreter. Its names start with
// __gantry so they cannot clash with a cell's.
const prelude = `import (
	__gantry_display "gantry/display"
	__gantry_fmt "fmt"
	__gantry_cellrt "gantry/cellrt"
)

func __gantry_stopOnErr(err error, where string) {
	if err != nil {
		panic(__gantry_cellrt.Unread(err, where))
	}
}

func __gantry_keep(v any) any { return v }
func __gantry_asBundle(v __gantry_display.MIMEBundler) __gantry_display.Bundle { return v.MIMEBundle() }
func __gantry_asHTML(v __gantry_display.HTMLer) __gantry_display.Bundle { return __gantry_display.HTML(v.HTML()) }
func __gantry_asMarkdown(v __gantry_display.Markdowner) __gantry_display.Bundle { return __gantry_display.Markdown(v.Markdown()) }
func __gantry_asSVG(v __gantry_display.SVGer) __gantry_display.Bundle { return __gantry_display.SVG(v.SVG()) }
func __gantry_asError(v error) __gantry_display.Bundle { return __gantry_display.Text(v.Error()) }
func __gantry_asString(v __gantry_fmt.Stringer) __gantry_display.Bundle { return __gantry_display.Text(v.String()) }
`

// publisher sends display messages from cells to the kernel.
type publisher struct{ e *Executor }

func (p publisher) Publish(b display.Bundle, id string, update bool) {
	fb := &frame.Bundle{Data: b.Data, Metadata: b.Metadata}
	if id != "" {
		fb.Transient = map[string]any{"display_id": id}
	}
	_ = p.e.out.Write(&frame.Frame{Kind: frame.KindDisplay, Display: fb, Update: update})
}

func (p publisher) Clear(wait bool) {
	_ = p.e.out.Write(&frame.Frame{Kind: frame.KindClearOutput, Wait: wait})
}

// asker reads input for gantry/input.
type asker struct{ e *Executor }

func (a asker) Ask(prompt string, password bool) (string, error) {
	s, err := a.e.readInput(a.e.runCtx(), prompt, password)
	stopIfInterrupted(err)
	return s, err
}

// stopIfInterrupted ends the running cell where it waits for input when
// the wait ended with an interrupt: the code after the read must not run
// (the interpreter notices the interrupt only at its next step, which may
// come after a few more statements). It panics, and the executor reports
// the interrupt.
func stopIfInterrupted(err error) {
	if errors.Is(err, errInputInterrupted) {
		panic(err)
	}
}

// stdinReader is os.Stdin and fmt.Scan's input inside cells: each read
// with nothing buffered asks the client for a line.
type stdinReader struct {
	s   *session
	buf bytes.Buffer
}

func (r *stdinReader) Read(p []byte) (int, error) {
	if r.buf.Len() == 0 {
		line, err := r.s.e.readInput(r.s.e.runCtx(), "", false)
		stopIfInterrupted(err)
		if err != nil {
			return 0, err
		}
		r.buf.WriteString(line)
		r.buf.WriteByte('\n')
	}
	return r.buf.Read(p)
}

// panicFilter drops the "L:C: panic: f(...)" lines yaegi prints while a
// panic unwinds interpreted frames; the executor reports the panic itself,
// with cell positions. Everything else passes through.
type panicFilter struct {
	s *session
	w io.Writer
}

func (f *panicFilter) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte(": panic")) && bytes.Count(p, []byte("\n")) <= 1 && panicLine.Match(bytes.TrimSpace(p)) {
		return f.s.panics.Write(p)
	}
	return f.w.Write(p)
}

func findGoRoot() string {
	if r := os.Getenv("GOROOT"); r != "" {
		return r
	}
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}
