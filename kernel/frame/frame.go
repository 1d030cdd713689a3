// Package frame defines the messages the kernel and its executor process
// exchange over a pair of pipes, and their encoding: each frame is a 4-byte
// big-endian length followed by a msgpack-encoded Frame.
//
// The kernel owns the Jupyter sockets; the executor owns the interpreter.
// Neither side trusts the other to stay alive: a frame that cannot be read
// ends the stream with an error, never a panic.
package frame

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/vmihailenco/msgpack/v5"
)

// MaxSize bounds one frame (64 MiB): a larger length prefix means the stream
// is corrupt, and reading stops rather than allocating without bound.
const MaxSize = 64 << 20

// Kind names what a Frame carries.
type Kind string

// Kernel to executor.
const (
	KindExecute    Kind = "execute"     // run a cell
	KindComplete   Kind = "complete"    // completion candidates at a cursor
	KindInspect    Kind = "inspect"     // documentation of the symbol at a cursor
	KindInterrupt  Kind = "interrupt"   // cancel the running cell
	KindInputReply Kind = "input_reply" // answer to an InputRequest
	KindComm       Kind = "comm"        // comm_open / comm_msg / comm_close from a client
	KindShutdown   Kind = "shutdown"    // exit cleanly
)

// Executor to kernel.
const (
	KindReady        Kind = "ready"         // the interpreter is up
	KindDisplay      Kind = "display"       // display_data or update_display_data
	KindClearOutput  Kind = "clear_output"  // clear_output
	KindInputRequest Kind = "input_request" // the cell reads stdin
	KindReply        Kind = "reply"         // the answer to a request, by ID
	KindExiting      Kind = "exiting"       // the cell called os.Exit
	KindCommTargets  Kind = "comm_targets"  // the comm targets the executor serves
)

// Frame is one message between kernel and executor. Only the fields that
// belong to its Kind are set.
type Frame struct {
	Kind Kind   `msgpack:"k"`
	ID   string `msgpack:"id,omitempty"` // request ID; a reply carries its request's ID

	// Execute, Complete, Inspect.
	Code         string `msgpack:"code,omitempty"`
	CursorPos    int    `msgpack:"cursor,omitempty"` // in Unicode code points
	DetailLevel  int    `msgpack:"detail,omitempty"`
	Silent       bool   `msgpack:"silent,omitempty"`
	AllowStdin   bool   `msgpack:"stdin,omitempty"`
	ExecutionNum int    `msgpack:"n,omitempty"`

	// Sync is written by the executor to its stdout and stderr after a
	// request finishes; the kernel forwards output up to the token and then
	// knows the request's output is complete.
	Sync string `msgpack:"sync,omitempty"`

	// Reply.
	Status    string           `msgpack:"status,omitempty"` // "ok" | "error" | "abort"
	Error     *Error           `msgpack:"err,omitempty"`
	Result    *Bundle          `msgpack:"result,omitempty"` // execute_result of a trailing expression
	Payload   []map[string]any `msgpack:"payload,omitempty"`
	Matches   []string         `msgpack:"matches,omitempty"`
	CursorEnd int              `msgpack:"cend,omitempty"`
	CursorBeg int              `msgpack:"cbeg,omitempty"`
	Found     bool             `msgpack:"found,omitempty"`
	Metadata  map[string]any   `msgpack:"meta,omitempty"`
	Restarted bool             `msgpack:"restarted,omitempty"` // interpreter state was reset

	// Display, ClearOutput.
	Display *Bundle `msgpack:"display,omitempty"`
	Update  bool    `msgpack:"update,omitempty"`
	Wait    bool    `msgpack:"wait,omitempty"`

	// InputRequest, InputReply.
	Prompt   string `msgpack:"prompt,omitempty"`
	Password bool   `msgpack:"password,omitempty"`
	Value    string `msgpack:"value,omitempty"`

	// Exiting.
	ExitCode int `msgpack:"exit,omitempty"`

	// Comm.
	Comm    *Comm    `msgpack:"comm,omitempty"`
	Targets []string `msgpack:"targets,omitempty"`
}

// Error is a failed request, in Jupyter's terms.
type Error struct {
	Name      string   `msgpack:"name"`
	Value     string   `msgpack:"value"`
	Traceback []string `msgpack:"tb"`
}

func (e *Error) Error() string { return e.Name + ": " + e.Value }

// Bundle is a MIME bundle: data by MIME type, its metadata, and transient
// fields such as display_id.
type Bundle struct {
	Data      map[string]any `msgpack:"data"`
	Metadata  map[string]any `msgpack:"metadata,omitempty"`
	Transient map[string]any `msgpack:"transient,omitempty"`
}

// Comm is a comm message in either direction.
type Comm struct {
	Type       string         `msgpack:"type"` // "open" | "msg" | "close"
	CommID     string         `msgpack:"comm_id"`
	TargetName string         `msgpack:"target,omitempty"`
	Data       map[string]any `msgpack:"data,omitempty"`
	Metadata   map[string]any `msgpack:"metadata,omitempty"`
}

// Writer writes frames; it is safe for concurrent use.
type Writer struct {
	mu sync.Mutex
	w  *bufio.Writer
}

// NewWriter returns a Writer on w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: bufio.NewWriterSize(w, 64<<10)} }

// Write encodes f and flushes it to the underlying writer.
func (w *Writer) Write(f *Frame) error {
	b, err := msgpack.Marshal(f)
	if err != nil {
		return fmt.Errorf("encode %s frame: %w", f.Kind, err)
	}
	if len(b) > MaxSize {
		return fmt.Errorf("encode %s frame: %d bytes is over the %d-byte limit", f.Kind, len(b), MaxSize)
	}
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(b)))
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, err := w.w.Write(hdr[:]); err != nil {
		return fmt.Errorf("write %s frame: %w", f.Kind, err)
	}
	if _, err := w.w.Write(b); err != nil {
		return fmt.Errorf("write %s frame: %w", f.Kind, err)
	}
	if err := w.w.Flush(); err != nil {
		return fmt.Errorf("write %s frame: %w", f.Kind, err)
	}
	return nil
}

// Reader reads frames written by a Writer. It is not safe for concurrent use.
type Reader struct {
	r   *bufio.Reader
	buf []byte
}

// NewReader returns a Reader on r.
func NewReader(r io.Reader) *Reader { return &Reader{r: bufio.NewReaderSize(r, 64<<10)} }

// ErrTooLarge reports a length prefix over MaxSize.
var ErrTooLarge = errors.New("frame too large")

// Read returns the next frame. It returns io.EOF when the stream ends
// cleanly between frames.
func (r *Reader) Read() (*Frame, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r.r, hdr[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("read frame header: %w", err)
		}
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > MaxSize {
		return nil, fmt.Errorf("read frame: length %d: %w", n, ErrTooLarge)
	}
	if cap(r.buf) < int(n) {
		r.buf = make([]byte, n)
	}
	b := r.buf[:n]
	if _, err := io.ReadFull(r.r, b); err != nil {
		return nil, fmt.Errorf("read frame body: %w", err)
	}
	f := new(Frame)
	if err := msgpack.Unmarshal(b, f); err != nil {
		return nil, fmt.Errorf("decode frame: %w", err)
	}
	return f, nil
}
