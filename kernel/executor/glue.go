package executor

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"reflect"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"gantry/comm"
	"gantry/display"
	"gantry/display/runcard"
	"gantry/kernel/frame"
	"gantry/magics"
)

func stdout() io.Writer { return os.Stdout }
func stderr() io.Writer { return os.Stderr }

// runCtx returns the context of the running request, or a cancelled one
// when nothing runs (input is then refused).
func (e *Executor) runCtx() context.Context {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ctx != nil {
		return e.ctx
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// lockedBuffer is a bytes.Buffer safe for concurrent use.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.Reset()
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// limitMemory keeps the executor within n bytes of resident memory, so a
// cell that allocates without bound ends this process, not the machine:
// the garbage collector works harder as the heap nears n
// (debug.SetMemoryLimit), a watchdog ends the process when resident memory
// passes n anyway, and the address space is capped at n plus the Go
// runtime's own reservations as a backstop for allocations faster than
// the watchdog.
func limitMemory(n int64) error {
	debug.SetMemoryLimit(n * 9 / 10)
	lim := uint64(n) + 4<<30
	if err := syscall.Setrlimit(syscall.RLIMIT_AS, &syscall.Rlimit{Cur: lim, Max: lim}); err != nil {
		return fmt.Errorf("limit address space to %d bytes: %w", lim, err)
	}
	go watchMemory(n)
	return nil
}

func watchMemory(n int64) {
	page := int64(os.Getpagesize())
	buf := make([]byte, 128)
	heap := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	for {
		time.Sleep(5 * time.Millisecond)
		metrics.Read(heap)
		if heap[0].Value.Kind() == metrics.KindUint64 && int64(heap[0].Value.Uint64()) > n {
			fmt.Fprintf(os.Stderr, "fatal error: out of memory: the cell's values took %d MiB, over the executor's limit of %d MiB\n", heap[0].Value.Uint64()>>20, n>>20)
			os.Exit(3)
		}
		f, err := os.Open("/proc/self/statm")
		if err != nil {
			return
		}
		k, _ := f.Read(buf)
		f.Close()
		fields := strings.Fields(string(buf[:k]))
		if len(fields) < 2 {
			return
		}
		rss, err := strconv.ParseInt(fields[1], 10, 64)
		if err != nil {
			return
		}
		if rss*page > n {
			fmt.Fprintf(os.Stderr, "fatal error: out of memory: the executor used %d MiB, over its limit of %d MiB\n", rss*page>>20, n>>20)
			os.Exit(3)
		}
	}
}

// api is the magics.Session of one request.
type api struct {
	s   *session
	ctx context.Context
}

func (s *session) api(ctx context.Context) magics.Session { return api{s, ctx} }

func (a api) Eval(ctx context.Context, code string) (*frame.Bundle, error) {
	return a.s.evalGo(ctx, code, 1)
}

func (a api) Reset(ctx context.Context) error {
	return a.s.reset()
}

func (a api) Doc(name string) (string, bool) { return a.s.assist.Doc(name, scope{a.s}) }

func (a api) InScope(name string) bool {
	sc := scope{a.s}
	if _, _, ok := sc.Decl(name); ok {
		return true
	}
	_, ok := sc.Imports()[name]
	return ok
}

func (a api) Display(b *frame.Bundle) {
	publisher{a.s.e}.Publish(display.Bundle{Data: b.Data, Metadata: b.Metadata}, "", false)
}

func (a api) DisplayID(id string, b *frame.Bundle, update bool) {
	publisher{a.s.e}.Publish(display.Bundle{Data: b.Data, Metadata: b.Metadata}, id, update)
}

func (a api) Page(text string) { a.s.page = append(a.s.page, text) }

func (a api) OpenComm(target string, data, metadata map[string]any) runcard.Comm {
	return a.s.comms.m.OpenWith(target, data, metadata)
}

func (a api) GoPath() string { return a.s.e.cfg.GoPath }

func (a api) AskExit() { a.s.askExit = true }

func (a api) Ask(prompt string, password bool) (string, error) {
	return a.s.e.readInput(a.ctx, prompt, password)
}

// scope tells the assistant what the cells have defined.
type scope struct{ s *session }

func (sc scope) Names() []string { return sortedKeys(sc.s.names) }

func (sc scope) Decl(name string) (src, doc string, ok bool) {
	d, ok := sc.s.decls[name]
	return d.Src, d.Doc, ok
}

func (sc scope) Imports() map[string]string {
	out := make(map[string]string, len(sc.s.imports))
	for k, v := range sc.s.imports {
		out[k] = v
	}
	return out
}

func (sc scope) Exports(path string) []string {
	var out []string
	for k, syms := range sc.s.i.Symbols(path) {
		if i := strings.LastIndex(k, "/"); i < 0 || (k[:i] != path && k != path) {
			continue
		}
		for n := range syms {
			if n != "" && n[0] != '_' {
				out = append(out, n)
			}
		}
	}
	return out
}

func (s *session) complete(f, reply *frame.Frame) {
	matches, start, end, meta := s.assist.Complete(f.Code, f.CursorPos, scope{s}, s.e.reg.Names())
	if matches == nil {
		matches = []string{}
	}
	reply.Matches, reply.CursorBeg, reply.CursorEnd, reply.Metadata = matches, start, end, meta
}

func (s *session) inspect(f, reply *frame.Frame) {
	text, found := s.assist.Inspect(f.Code, f.CursorPos, f.DetailLevel, scope{s})
	reply.Found = found
	if found {
		reply.Result = &frame.Bundle{Data: map[string]any{"text/plain": text}}
	}
}

// comms adapts the comm package to the frame stream.
type comms struct {
	e *Executor
	m *comm.Manager
}

func newComms(e *Executor) *comms {
	c := &comms{e: e}
	c.m = comm.NewManager(c)
	return c
}

func (c *comms) SendComm(kind, id, target string, data, metadata map[string]any) {
	_ = c.e.out.Write(&frame.Frame{Kind: frame.KindComm, Comm: &frame.Comm{Type: kind, CommID: id, TargetName: target, Data: data, Metadata: metadata}})
}

func (c *comms) deliver(fc *frame.Comm) {
	if fc != nil {
		c.m.Deliver(fc.Type, fc.CommID, fc.TargetName, fc.Data)
	}
}

func (c *comms) symbols() map[string]map[string]reflect.Value { return comm.Symbols(c.m) }
