package kernel

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"gantry/kernel/frame"
)

// proc is one running executor process, seen from the kernel.
type proc struct {
	cmd     *exec.Cmd
	w       *frame.Writer
	frames  chan *frame.Frame // frames from the executor; closed when its pipe ends
	replies chan *frame.Frame // replies to requests, from the kernel's pump; closed with frames
	ready   chan struct{}     // closed when the executor said it is ready
	dead    chan struct{}     // closed when the process has exited and its output is drained
	out     *streamReader
	err     *streamReader

	mu       sync.Mutex
	exitCode int    // from a KindExiting frame; -1 when none
	waitErr  error  // from cmd.Wait
	state    string // "exit status 2", "signal: killed"
}

// pipeDrain bounds how long output is read after the executor exits,
// while a process it started still holds its stdout or stderr.
const pipeDrain = 2 * time.Second

// startProc starts `exe executor` with output going to sink.
func startProc(ctx context.Context, exe string, env []string, sink streamSink) (*proc, error) {
	toExec, fromKernel, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start executor: %w", err)
	}
	fromExec, toKernel, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start executor: %w", err)
	}
	cmd := exec.Command(exe, "executor")
	cmd.Env = env
	cmd.ExtraFiles = []*os.File{toExec, toKernel} // fd 3, fd 4
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// Pipes of our own, not cmd.StdoutPipe: Wait closes those as soon as
	// the process exits, and what a dying executor wrote last (a panic's
	// message) could be lost unread. These are read to EOF.
	stdout, outW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start executor: %w", err)
	}
	stderr, errW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start executor: %w", err)
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	err = cmd.Start()
	outW.Close()
	errW.Close()
	if err != nil {
		stdout.Close()
		stderr.Close()
		return nil, fmt.Errorf("start executor %s: %w", exe, err)
	}
	toExec.Close()
	toKernel.Close()
	p := &proc{
		cmd:      cmd,
		w:        frame.NewWriter(fromKernel),
		frames:   make(chan *frame.Frame, 64),
		replies:  make(chan *frame.Frame, 4),
		ready:    make(chan struct{}),
		dead:     make(chan struct{}),
		exitCode: -1,
	}
	p.out = newStreamReader(stdout, "stdout", sink)
	p.err = newStreamReader(stderr, "stderr", sink)
	go p.readFrames(fromExec)
	go func() {
		err := cmd.Wait()
		// Read what the executor wrote to the end. A process the cell
		// started may still hold the pipes open: stop reading after
		// pipeDrain, so a restart never hangs on it.
		drained := make(chan struct{})
		go func() { p.out.wait(); p.err.wait(); close(drained) }()
		select {
		case <-drained:
		case <-time.After(pipeDrain):
		}
		stdout.Close() // ends a read still waiting
		stderr.Close()
		<-drained
		fromKernel.Close()
		p.mu.Lock()
		p.waitErr = err
		if cmd.ProcessState != nil {
			p.state = cmd.ProcessState.String()
		}
		p.mu.Unlock()
		close(p.dead)
	}()
	return p, nil
}

func (p *proc) readFrames(r io.ReadCloser) {
	defer close(p.frames)
	defer r.Close()
	fr := frame.NewReader(r)
	readySeen := false
	for {
		f, err := fr.Read()
		if err != nil {
			return
		}
		switch f.Kind {
		case frame.KindReady:
			if !readySeen {
				readySeen = true
				close(p.ready)
			}
			continue
		case frame.KindExiting:
			p.mu.Lock()
			p.exitCode = f.ExitCode
			p.mu.Unlock()
		}
		p.frames <- f
	}
}

// send writes a frame to the executor.
func (p *proc) send(f *frame.Frame) error { return p.w.Write(f) }

// kill ends the executor and every process it started.
func (p *proc) kill() {
	if p.cmd.Process != nil {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		_ = p.cmd.Process.Kill()
	}
}

// alive reports whether the process has not exited yet.
func (p *proc) alive() bool {
	select {
	case <-p.dead:
		return false
	default:
		return true
	}
}

// crashReason describes in plain words why the executor ended, from its
// exit status and the last lines it wrote to stderr.
func (p *proc) crashReason(memLimit string) string {
	p.mu.Lock()
	code, state := p.exitCode, p.state
	p.mu.Unlock()
	tail := p.err.fatalLine() + "\n" + p.err.tailString()
	var why string
	switch {
	case code >= 0:
		why = fmt.Sprintf("the cell called os.Exit(%d)", code)
	case strings.Contains(tail, "stack overflow") || strings.Contains(tail, "stack exceeds"):
		why = "stack overflow: a recursion went too deep (check the base case of recursive funcs)"
	case strings.Contains(tail, "out of memory") || strings.Contains(tail, "cannot allocate memory"):
		why = "the cell ran out of memory: the executor is limited to " + memLimit +
			" (set GANTRY_EXECUTOR_MEMORY in the kernelspec env to change it)"
	case strings.Contains(tail, "panic: "):
		line := tail[strings.LastIndex(tail, "panic: "):]
		if i := strings.IndexByte(line, '\n'); i >= 0 {
			line = line[:i]
		}
		why = "a goroutine started by the cell panicked (" + strings.TrimSuffix(line, " [recovered, repanicked]") + "): a panic outside the cell's own goroutine ends the interpreter; recover in the goroutine to keep it"
	case strings.Contains(tail, "fatal error: "):
		line := tail[strings.LastIndex(tail, "fatal error: "):]
		if i := strings.IndexByte(line, '\n'); i >= 0 {
			line = line[:i]
		}
		why = "the Go runtime stopped the executor: " + line
	case strings.HasPrefix(state, "exit status 1"):
		why = "the executor exited with status 1 (log.Fatal or os.Exit(1) in the cell)"
	case state != "":
		why = "the executor ended: " + state
	default:
		why = "the executor ended unexpectedly"
	}
	return why
}

// streamSink receives output of the executor.
type streamSink interface {
	stream(name, text string)
	synced(name, token string)
}

// streamReader forwards one of the executor's output pipes to a sink,
// coalescing writes that arrive close together into one message, never
// splitting a UTF-8 character, and reporting sync tokens in order.
type streamReader struct {
	name string
	sink streamSink
	done chan struct{}

	mu    sync.Mutex
	tail  []byte // the last bytes seen, for crash diagnosis
	fatal string // the Go runtime's first fatal line, once the process is dying
}

// fatalMarkers start the Go runtime's report of a fatal error. From the
// first one on, output is not forwarded (it is thousands of lines of the
// interpreter's own frames); the kernel reports the crash in one message.
var fatalMarkers = [][]byte{
	[]byte("runtime: goroutine stack exceeds"),
	[]byte("fatal error: "),
	[]byte("runtime: out of memory"),
}

// fatalAt returns the index of the first fatal marker at a line start in
// b, or -1.
func fatalAt(b []byte) int {
	at := -1
	for _, m := range fatalMarkers {
		for off := 0; ; {
			i := bytes.Index(b[off:], m)
			if i < 0 {
				break
			}
			i += off
			if i == 0 || b[i-1] == '\n' {
				if at < 0 || i < at {
					at = i
				}
				break
			}
			off = i + 1
		}
	}
	return at
}

func (s *streamReader) fatalLine() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fatal
}

const (
	streamFlushDelay = 20 * time.Millisecond
	streamMaxChunk   = 1 << 20
	tailSize         = 8 << 10
)

var syncPrefix = []byte("\x00\x1bGANTRY-SYNC:")

func newStreamReader(r io.Reader, name string, sink streamSink) *streamReader {
	s := &streamReader{name: name, sink: sink, done: make(chan struct{})}
	go s.run(r)
	return s
}

func (s *streamReader) wait() { <-s.done }

func (s *streamReader) tailString() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.tail)
}

func (s *streamReader) keepTail(b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tail = append(s.tail, b...)
	if len(s.tail) > tailSize {
		s.tail = append([]byte(nil), s.tail[len(s.tail)-tailSize:]...)
	}
}

// run reads r; a goroutine feeds chunks so that a timer can flush output
// that stops arriving.
func (s *streamReader) run(r io.Reader) {
	defer close(s.done)
	chunks := make(chan []byte, 16)
	go func() {
		defer close(chunks)
		for {
			buf := make([]byte, 64<<10)
			n, err := r.Read(buf)
			if n > 0 {
				chunks <- buf[:n]
			}
			if err != nil {
				return
			}
		}
	}()
	var pending []byte // text not yet sent
	var carry []byte   // bytes that may start a sync token or a UTF-8 character
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	armed := false
	flush := func() {
		if len(pending) > 0 {
			s.sink.stream(s.name, string(pending))
			pending = pending[:0]
		}
		if armed {
			timer.Stop()
			armed = false
		}
	}
	for {
		select {
		case b, ok := <-chunks:
			if !ok {
				pending = append(pending, carry...)
				flush()
				return
			}
			s.keepTail(b)
			if s.name == "stderr" {
				if s.fatalLine() != "" {
					continue
				}
				if i := fatalAt(b); i >= 0 {
					rest := b[i:]
					if j := bytes.Index(rest, []byte("fatal error: ")); j >= 0 {
						rest = rest[j:]
					}
					if j := bytes.IndexByte(rest, '\n'); j >= 0 {
						rest = rest[:j]
					}
					s.mu.Lock()
					s.fatal = string(rest)
					s.mu.Unlock()
					b = b[:i]
				}
			}
			data := append(carry, b...)
			carry = nil
			for len(data) > 0 {
				i := bytes.Index(data, syncPrefix)
				if i < 0 {
					keep := partialSuffix(data)
					pending = append(pending, data[:len(data)-keep]...)
					carry = append(carry[:0], data[len(data)-keep:]...)
					break
				}
				end := bytes.IndexByte(data[i+len(syncPrefix):], 0)
				if end < 0 {
					pending = append(pending, data[:i]...)
					carry = append(carry[:0], data[i:]...)
					break
				}
				pending = append(pending, data[:i]...)
				token := string(data[i+len(syncPrefix) : i+len(syncPrefix)+end])
				flush()
				s.sink.synced(s.name, token)
				data = data[i+len(syncPrefix)+end+1:]
			}
			if len(pending) >= streamMaxChunk {
				flush()
			} else if len(pending) > 0 && !armed {
				timer.Reset(streamFlushDelay)
				armed = true
			}
		case <-timer.C:
			armed = false
			flush()
		}
	}
}

// partialSuffix returns how many trailing bytes of b must wait for more
// input: a possible start of a sync token, or an incomplete UTF-8 sequence.
func partialSuffix(b []byte) int {
	for k := len(syncPrefix) - 1; k > 0; k-- {
		if len(b) >= k && bytes.Equal(b[len(b)-k:], syncPrefix[:k]) {
			return k
		}
	}
	// Incomplete UTF-8: look back at most 3 bytes for a lead byte.
	for k := 1; k <= 3 && k <= len(b); k++ {
		c := b[len(b)-k]
		if c < 0x80 {
			return 0
		}
		if c >= 0xC0 { // lead byte
			need := 2
			switch {
			case c >= 0xF0:
				need = 4
			case c >= 0xE0:
				need = 3
			}
			if k < need {
				return k
			}
			return 0
		}
	}
	return 0
}

var errExecutorGone = errors.New("executor is not running")
