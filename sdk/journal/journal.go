// Package journal is the record a run's agent keeps on a machine that
// cannot reach the workspace database: an append-only file of entries
// (state changes, exit code, tags, metrics) in the run's directory there.
// The SDK reads it from the last offset it applied and applies each entry
// to the workspace exactly once (Apply), so a dropped connection or a
// restarted kernel loses and doubles nothing.
//
// Each entry is a 4-byte big-endian length followed by a msgpack-encoded
// Entry, written with one write call. A reader takes complete entries only,
// so an entry being written, or cut short by a crash, is never half-read.
package journal

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"gantry/sdk/workspace"
)

// Files in the run's directory on the remote machine.
const (
	FileName      = "journal.bin" // the entries
	CancelFile    = "cancel"      // present once a cancel was requested
	HeartbeatFile = "heartbeat"   // touched by the agent while it lives
)

// maxEntry bounds one entry (16 MiB): a larger length means the file is
// corrupt.
const maxEntry = 16 << 20

// Types of Entry.
const (
	TypeState   = "state"
	TypeExit    = "exit"
	TypeTag     = "tag"
	TypeMetrics = "metrics"
)

// An Entry is one record of the journal.
type Entry struct {
	Type    string   `msgpack:"t"`
	Time    int64    `msgpack:"at"` // Unix nanoseconds
	State   string   `msgpack:"s,omitempty"`
	Reason  string   `msgpack:"r,omitempty"`
	Code    int      `msgpack:"c,omitempty"`
	Key     string   `msgpack:"k,omitempty"`
	Value   string   `msgpack:"v,omitempty"`
	Metrics []Metric `msgpack:"m,omitempty"`
}

// A Metric is one value of a metric; NaN and infinities travel as they are.
type Metric struct {
	Name  string  `msgpack:"n"`
	Step  int64   `msgpack:"s"`
	Value float64 `msgpack:"v"`
	Time  int64   `msgpack:"t"`
}

// Append encodes e onto b.
func Append(b []byte, e Entry) ([]byte, error) {
	body, err := msgpack.Marshal(&e)
	if err != nil {
		return b, fmt.Errorf("encode journal entry: %w", err)
	}
	if len(body) > maxEntry {
		return b, fmt.Errorf("journal entry of %d bytes is over the limit of %d", len(body), maxEntry)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(body)))
	return append(b, body...), nil
}

// Decode returns the complete entries at the start of data and how many
// bytes they take; an incomplete entry at the end is left for later.
func Decode(data []byte) ([]Entry, int, error) {
	var es []Entry
	n := 0
	for len(data)-n >= 4 {
		size := int(binary.BigEndian.Uint32(data[n:]))
		if size > maxEntry {
			return es, n, fmt.Errorf("journal entry at offset %d claims %d bytes: the journal is corrupt", n, size)
		}
		if len(data)-n-4 < size {
			break
		}
		var e Entry
		if err := msgpack.Unmarshal(data[n+4:n+4+size], &e); err != nil {
			return es, n, fmt.Errorf("journal entry at offset %d: %w", n, err)
		}
		es = append(es, e)
		n += 4 + size
	}
	return es, n, nil
}

// A Writer is the agent's side: an agent.Recorder that appends to the
// journal in a run's directory. It is safe for concurrent use.
type Writer struct {
	dir string
	mu  sync.Mutex
	f   *os.File
	st  workspace.State
	// cancelTaken is set once a transition was made out of a cancel
	// request: from then on the cancel file no longer counts as the state
	// CancelRequested (as in the workspace, where the request is a state
	// the run leaves).
	cancelTaken bool
}

// Create opens the journal in runDir for appending, creating it. The
// entries already there (from an agent that ran before, say) give the
// run's state; a new journal starts at Queued, where a submit leaves a run.
func Create(runDir string) (*Writer, error) {
	path := filepath.Join(runDir, FileName)
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	es, n, err := Decode(old)
	if err != nil {
		return nil, fmt.Errorf("open journal %s: %w", path, err)
	}
	if n < len(old) { // a torn last entry: cut it off before appending
		if err := os.Truncate(path, int64(n)); err != nil {
			return nil, fmt.Errorf("open journal: %w", err)
		}
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	w := &Writer{dir: runDir, f: f, st: workspace.StateQueued}
	for _, e := range es {
		if e.Type == TypeState {
			w.st = workspace.State(e.State)
		}
	}
	return w, nil
}

// Close closes the journal file.
func (w *Writer) Close() error { return w.f.Close() }

// State returns the run's state as the journal has it.
func (w *Writer) State() workspace.State {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.st
}

func (w *Writer) append(e Entry, sync bool) error {
	e.Time = time.Now().UnixNano()
	b, err := Append(nil, e)
	if err != nil {
		return err
	}
	if _, err := w.f.Write(b); err != nil {
		return fmt.Errorf("append to journal: %w", err)
	}
	if sync {
		if err := w.f.Sync(); err != nil {
			return fmt.Errorf("sync journal: %w", err)
		}
	}
	return nil
}

func (w *Writer) cancelRequested() bool {
	_, err := os.Stat(filepath.Join(w.dir, CancelFile))
	return err == nil
}

// Transition appends a change of state, checked against the state machine
// as the workspace would check it. A cancel request counts as the state
// CancelRequested.
func (w *Writer) Transition(ctx context.Context, runID string, to workspace.State, reason string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	from := w.st
	if !w.cancelTaken && !from.Final() && from != workspace.StateCancelRequested && w.cancelRequested() {
		from = workspace.StateCancelRequested
	}
	if !workspace.CanTransition(from, to) {
		return fmt.Errorf("run %s: cannot go from %s to %s: %w", runID, from, to, workspace.ErrIllegalTransition)
	}
	if err := w.append(Entry{Type: TypeState, State: string(to), Reason: reason}, true); err != nil {
		return err
	}
	if from == workspace.StateCancelRequested {
		w.cancelTaken = true
	}
	w.st = to
	return nil
}

// CancelRequested reports whether the cancel file exists.
func (w *Writer) CancelRequested(ctx context.Context, runID string) bool {
	return w.cancelRequested()
}

// Heartbeat touches the heartbeat file, which the SDK reads the age of.
func (w *Writer) Heartbeat(ctx context.Context, runID string) error {
	return os.WriteFile(filepath.Join(w.dir, HeartbeatFile), nil, 0o600)
}

// SetExitCode appends the exit code.
func (w *Writer) SetExitCode(ctx context.Context, runID string, code int) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.append(Entry{Type: TypeExit, Code: code}, true)
}

// SetTag appends a tag.
func (w *Writer) SetTag(ctx context.Context, runID, key, value string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.append(Entry{Type: TypeTag, Key: key, Value: value}, false)
}

// LogMetrics appends a batch of metrics as one entry.
func (w *Writer) LogMetrics(ctx context.Context, runID string, ms []workspace.Metric) error {
	e := Entry{Type: TypeMetrics, Metrics: make([]Metric, len(ms))}
	for i, m := range ms {
		t := m.Time
		if t.IsZero() {
			t = time.Now()
		}
		e.Metrics[i] = Metric{Name: m.Name, Step: m.Step, Value: m.Value, Time: t.UnixNano()}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.append(e, false)
}

// Apply applies the entries in data, read from the run's journal at
// offset from, to the workspace's run in one transaction, moving the run's
// cursor name past the last complete entry. It returns the new offset. An
// entry is applied exactly once: if another process applied it first the
// call does nothing and returns the offset that process reached.
//
// The state machine here may differ from the agent's for a moment (a
// cancel requested here, a run marked NotResponding while its machine was
// out of reach); a state change that does not fit is skipped, and a run
// that is NotResponding is Running again before it moves on.
func Apply(ctx context.Context, ws *workspace.Workspace, runID, name string, from int64, data []byte) (int64, error) {
	es, n, err := Decode(data)
	if err != nil && n == 0 {
		return from, err
	}
	if n == 0 {
		return from, nil
	}
	err = ws.Advance(ctx, runID, name, from, from+int64(n), func(u *workspace.RunUpdate) error {
		for _, e := range es {
			if err := applyEntry(u, e); err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, workspace.ErrCursorMoved) {
		at, cerr := ws.Cursor(ctx, runID, name)
		if cerr != nil {
			return from, cerr
		}
		return at, nil
	}
	if err != nil {
		return from, err
	}
	return from + int64(n), nil
}

func applyEntry(u *workspace.RunUpdate, e Entry) error {
	switch e.Type {
	case TypeState:
		to := workspace.State(e.State)
		if u.State() == workspace.StateNotResponding && to != workspace.StateRunning && workspace.CanTransition(workspace.StateRunning, to) {
			if err := u.Transition(workspace.StateRunning, "the remote machine answered again"); err != nil {
				return err
			}
		}
		if u.State() == to || !workspace.CanTransition(u.State(), to) {
			return nil
		}
		return u.Transition(to, e.Reason)
	case TypeExit:
		return u.SetExitCode(e.Code)
	case TypeTag:
		return u.SetTag(e.Key, e.Value)
	case TypeMetrics:
		ms := make([]workspace.Metric, len(e.Metrics))
		for i, m := range e.Metrics {
			ms[i] = workspace.Metric{Name: m.Name, Step: m.Step, Value: m.Value, Time: time.Unix(0, m.Time)}
		}
		return u.LogMetrics(ms)
	}
	return nil // an entry of a newer agent: skipped
}
