// Package executor is the interpreter side of the Gantry kernel: a child
// process that owns one yaegi interpreter and runs cells for the kernel.
//
// The kernel starts the executor with its stdout and stderr connected to
// pipes the kernel reads (so output of the cell, of goroutines it started,
// of child processes and of a crash all reach the notebook), and with two
// more pipes for frames (kernel/frame): fd 3 carries requests in, fd 4
// carries replies and display messages out.
//
// Anything a cell does that ends this process (a panic in a goroutine,
// os.Exit, running out of memory, a stack overflow) ends only the executor:
// the kernel reports it and starts a new one.
package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"gantry/kernel/frame"
	"gantry/magics"
	"gantry/sdk"
)

// Config holds the executor's settings.
type Config struct {
	GoPath    string // where %require links modules; the interpreter imports source from GoPath/src
	GoRoot    string // Go sources for documentation; "" to look it up
	MaxStack  int    // bytes; 0 for the default
	MemLimit  int64  // bytes of address space; 0 for no limit
	Traceback string // GOTRACEBACK level for crashes; "" means "none"
}

// Executor runs requests from the kernel one at a time.
type Executor struct {
	cfg  Config
	in   *frame.Reader
	out  *frame.Writer
	reg  *magics.Registry
	sess *session
	// secrets are the SSH passwords and passphrases answered at a prompt
	// in this session, kept in memory only and shared by the magics and
	// the workspaces cells open, so one answer serves both.
	secrets *sdk.Secrets

	mu          sync.Mutex
	ctx         context.Context    // of the running request
	cancel      context.CancelFunc // cancels the running request
	inputs      chan *frame.Frame  // input replies for the running request
	stdinOK     bool               // the running request allows stdin
	stdinWarned bool               // the running request was told stdin is off
	syncSeq     int
	syncOut     *os.File // the process's stdout and stderr, kept even if a cell reassigns os.Stdout
	syncErr     *os.File
	requests    chan *frame.Frame
}

// Run serves requests read from in and writes replies to out until the
// kernel sends shutdown or closes the pipe.
func Run(ctx context.Context, cfg Config, in io.Reader, out io.Writer) error {
	if cfg.Traceback == "" {
		cfg.Traceback = "none"
	}
	debug.SetTraceback(cfg.Traceback)
	if cfg.MaxStack > 0 {
		debug.SetMaxStack(cfg.MaxStack)
	}
	if cfg.MemLimit > 0 {
		if err := limitMemory(cfg.MemLimit); err != nil {
			fmt.Fprintf(os.Stderr, "gantry executor: %v\n", err)
		}
	}
	e := &Executor{
		cfg:      cfg,
		in:       frame.NewReader(in),
		out:      frame.NewWriter(out),
		reg:      new(magics.Registry),
		inputs:   make(chan *frame.Frame, 1),
		requests: make(chan *frame.Frame, 16),
		syncOut:  os.Stdout,
		syncErr:  os.Stderr,
	}
	e.secrets = sdk.NewSecrets(func(ctx context.Context, question string) (string, error) {
		return e.readInput(e.runCtx(), question, true)
	})
	if err := magics.RegisterBuiltins(e.reg, e.secrets); err != nil {
		return fmt.Errorf("register magics: %w", err)
	}
	s, err := newSession(e)
	if err != nil {
		return fmt.Errorf("start interpreter: %w", err)
	}
	e.sess = s
	if err := e.out.Write(&frame.Frame{Kind: frame.KindReady}); err != nil {
		return err
	}

	readErr := make(chan error, 1)
	go func() { readErr <- e.readLoop() }()
	// Between cells, give memory the cell freed back to the system, so an
	// idle notebook holds what its values need and no more. Not after
	// every cell: a run of quick cells pays nothing.
	idle := time.NewTimer(time.Hour)
	idle.Stop()
	for {
		select {
		case <-idle.C:
			debug.FreeOSMemory()
		case <-ctx.Done():
			return ctx.Err()
		case err := <-readErr:
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		case f := <-e.requests:
			if f.Kind == frame.KindShutdown {
				return nil
			}
			e.serve(ctx, f)
			idle.Reset(idleScavenge)
		}
	}
}

// idleScavenge is how long the executor waits after a request before it
// returns freed memory to the system.
const idleScavenge = 500 * time.Millisecond

// readLoop reads frames; interrupts and input replies are handled at once,
// everything else is queued for the main loop.
func (e *Executor) readLoop() error {
	for {
		f, err := e.in.Read()
		if err != nil {
			return err
		}
		switch f.Kind {
		case frame.KindInterrupt:
			e.mu.Lock()
			if e.cancel != nil {
				e.cancel()
			}
			e.mu.Unlock()
		case frame.KindInputReply:
			select {
			case e.inputs <- f:
			default: // nobody is waiting: drop it
			}
		case frame.KindComm:
			e.sess.comms.deliver(f.Comm)
		default:
			e.requests <- f
			if f.Kind == frame.KindShutdown {
				return nil
			}
		}
	}
}

func (e *Executor) serve(ctx context.Context, f *frame.Frame) {
	ctx, cancel := context.WithCancel(ctx)
	e.mu.Lock()
	e.ctx, e.cancel = ctx, cancel
	e.stdinOK = f.AllowStdin
	e.stdinWarned = false
	e.mu.Unlock()
	defer func() {
		cancel()
		e.mu.Lock()
		e.ctx, e.cancel = nil, nil
		e.stdinOK = false
		e.mu.Unlock()
	}()

	reply := &frame.Frame{Kind: frame.KindReply, ID: f.ID, Status: "ok"}
	switch f.Kind {
	case frame.KindExecute:
		e.sess.execute(ctx, f, reply)
	case frame.KindComplete:
		e.sess.complete(f, reply)
	case frame.KindInspect:
		e.sess.inspect(f, reply)
	default:
		reply.Status = "error"
		reply.Error = &frame.Error{Name: "UnknownRequest", Value: fmt.Sprintf("the executor does not handle %q requests", f.Kind)}
	}
	e.finish(reply)
}

// finish writes the sync token to stdout and stderr, then the reply: the
// kernel forwards output up to the tokens before it answers the client.
func (e *Executor) finish(reply *frame.Frame) {
	e.syncSeq++
	reply.Sync = fmt.Sprintf("%d-%d", os.Getpid(), e.syncSeq)
	tok := SyncToken(reply.Sync)
	e.syncOut.WriteString(tok)
	e.syncErr.WriteString(tok)
	if err := e.out.Write(reply); err != nil {
		fmt.Fprintf(os.Stderr, "gantry executor: send reply: %v\n", err)
		os.Exit(70)
	}
	if reply.Restarted {
		// The interpreter is stuck in a call it cannot leave: end this
		// process so the kernel starts a clean one.
		os.Exit(75)
	}
}

// SyncToken is the marker the executor writes to stdout and stderr after
// each request. It starts with bytes no text output contains.
func SyncToken(id string) string { return "\x00\x1bGANTRY-SYNC:" + id + "\x00" }

// readInput asks the kernel for a line of input on behalf of the running
// cell and waits for the answer.
func (e *Executor) readInput(ctx context.Context, prompt string, password bool) (string, error) {
	e.mu.Lock()
	ok := e.stdinOK
	e.mu.Unlock()
	if !ok {
		e.mu.Lock()
		warn := !e.stdinWarned
		e.stdinWarned = true
		e.mu.Unlock()
		if warn {
			fmt.Fprintf(e.syncErr, "[gantry] the cell read from stdin, but %v\n", errNoStdin)
		}
		return "", errNoStdin
	}
	if err := e.out.Write(&frame.Frame{Kind: frame.KindInputRequest, Prompt: prompt, Password: password}); err != nil {
		return "", err
	}
	select {
	case f := <-e.inputs:
		if f.Status == "error" {
			return "", fmt.Errorf("read input: %s", f.Value)
		}
		return f.Value, nil
	case <-ctx.Done():
		return "", errInputInterrupted
	}
}

// errInputInterrupted ends a wait for input that an interrupt cut short.
var errInputInterrupted = errors.New("read input: interrupted")

var errNoStdin = errors.New("stdin is not available: this client does not allow input (allow_stdin is false); " +
	"run the cell from a client that supports input, such as JupyterLab, or pass the value in code or with %env")
