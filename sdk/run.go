package sdk

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"gantry/sdk/agent"
	"gantry/sdk/controller"
	"gantry/sdk/driver"
	"gantry/sdk/snapshot"
	"gantry/sdk/workspace"
)

// Run is one execution of a script, owned by its agent. A Run value only
// watches: it can be dropped and found again with Workspace.Run.
type Run struct {
	ws *Workspace
	ID string
}

// Run finds a run by ID, for example after a kernel restart.
func (ws *Workspace) Run(ctx context.Context, id string) (*Run, error) {
	d, err := ws.w.Run(ctx, id)
	if err != nil {
		return nil, err
	}
	ws.follow(ctx, d.ID)
	return &Run{ws: ws, ID: d.ID}, nil
}

// prepareDir writes what the agent needs into the run's directory.
func (r *Run) prepareDir(dir string, m *snapshot.Manifest, job agent.Job) error {
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(dir, agent.ManifestFile), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := m.Encode(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := writePythonHelper(filepath.Join(dir, "gantry-python")); err != nil {
		return err
	}
	return agent.WriteJob(dir, job)
}

// failSubmit records a run that could not be handed to its target.
func (r *Run) failSubmit(ctx context.Context, cause error) error {
	if err := r.ws.w.Transition(context.WithoutCancel(ctx), r.ID, workspace.StateFailed, "submit failed: "+cause.Error()); err != nil {
		return fmt.Errorf("%w (and recording the failure: %v)", cause, err)
	}
	return cause
}

// Details returns the run's record.
func (r *Run) Details(ctx context.Context) (workspace.Run, error) { return r.ws.w.Run(ctx, r.ID) }

// Status returns the run's state. A run whose agent has stopped sending
// heartbeats is marked NotResponding; a run whose submitter or agent died
// without recording an end is ended, with the reason (reconcile.go).
func (r *Run) Status(ctx context.Context) (workspace.State, error) {
	if _, err := r.ws.w.MarkStale(ctx, staleAfter); err != nil && !transient(err) {
		return "", err
	}
	d, err := r.ws.w.Run(ctx, r.ID)
	if err != nil {
		return "", err
	}
	if err := r.ws.reconcile(ctx, d); err != nil && !transient(err) {
		return d.State, err
	}
	if err := r.checkCluster(ctx); err != nil { // cluster.go
		return d.State, err
	}
	d, err = r.ws.w.Run(ctx, r.ID)
	return d.State, err
}

// transient reports whether err is one that passes: the disk of the
// workspace is full, or another process holds its database for long.
// Watching a run goes on through them.
func transient(err error) bool {
	return errors.Is(err, workspace.ErrDiskFull) || errors.Is(err, workspace.ErrLocked)
}

// staleAfter is how long an agent may stay silent before its run is
// NotResponding (agents beat every 2 s).
const staleAfter = 15 * time.Second

// Cancel stops the run: its agent ends the script's process group
// (SIGTERM, then SIGKILL after a grace period) and records Canceled. A run
// whose agent is gone is ended here, what is left of its script stopped;
// a run not yet handed to its target never starts.
func (r *Run) Cancel(ctx context.Context) error {
	err := r.ws.w.Transition(ctx, r.ID, workspace.StateCancelRequested, "cancel requested")
	if err != nil && !errors.Is(err, workspace.ErrIllegalTransition) {
		return err
	}
	d, derr := r.Details(ctx)
	if derr != nil {
		return derr
	}
	if err != nil && d.State != workspace.StateCancelRequested {
		return err // final, or not in a state that cancels
	}
	// A cancel asked for again looks again at who is alive.
	if err := r.ws.reconcile(ctx, d); err != nil {
		return err
	}
	var h driver.Handle
	if err := json.Unmarshal([]byte(d.Properties[handleProperty]), &h); err != nil || h.Kind == "" {
		return nil // not handed to a target yet: the request is enough
	}
	if h.Kind == controller.Kind {
		return nil // the controller sees the request, and cancels the children
	}
	drv, err := r.ws.driver(h.Kind)
	if err != nil {
		return err
	}
	t, _ := r.ws.w.Target(ctx, d.Target)
	dir, _ := r.Dir()
	return drv.Cancel(ctx, driver.Job{RunID: r.ID, WorkspaceDir: r.ws.w.Dir(), RunDir: dir, Target: d.Target, Config: t.Config}, h)
}

// Metrics returns what the run logged.
func (r *Run) Metrics(ctx context.Context) (workspace.Metrics, error) {
	return r.ws.w.Metrics(ctx, r.ID)
}

// Dir returns the run's directory: logs/, outputs/, wd/.
func (r *Run) Dir() (string, error) { return r.ws.w.RunDir(r.ID) }

// WaitOptions tune WaitForCompletion.
type WaitOptions struct {
	Output       io.Writer // where the run's output goes as it arrives; nil for none
	Offset       int64     // byte offset in the output log to start from
	RaiseOnError bool      // return an error when the run Failed or was Canceled
	Poll         time.Duration
	// Status, if set, is called with the run's state when it changes and
	// about once a second while it lasts, with the time since the wait
	// began: for a status line kept up to date in place. Without it, a
	// wait with an Output writes a line there for each change of state
	// after the first (NotResponding, Running again, requeued,
	// CancelRequested...), with its reason, as "[gantry] ..." lines.
	Status func(state workspace.State, waited time.Duration)
}

// ErrRunFailed is returned by WaitForCompletion with RaiseOnError when the
// run did not complete.
var ErrRunFailed = errors.New("run did not complete")

// WaitForCompletion waits until the run reaches a final state, copying its
// output log to o.Output from o.Offset on as it grows (no line lost or
// shown twice). It returns the final state and the offset reached, from
// which a later wait can resume. It ends only when the run ends or ctx
// does: a run whose agent or submitter died is ended by the wait itself
// (Status), and a full disk or a busy database only slows it down.
func (r *Run) WaitForCompletion(ctx context.Context, o WaitOptions) (workspace.State, int64, error) {
	if o.Poll <= 0 {
		o.Poll = 50 * time.Millisecond
	}
	dir, err := r.Dir()
	if err != nil {
		return "", o.Offset, err
	}
	offset := o.Offset
	others := nodeLogs{} // the other nodes' output, of a run on several
	began := time.Now()
	r.ws.follow(ctx, r.ID)
	var lastState workspace.State
	var lastReport time.Time
	var lastTrouble string
	events := 0 // state changes already told, with an Output and no Status
	for {
		st, err := r.Status(ctx)
		switch {
		case err != nil && transient(err) && ctx.Err() == nil:
			if msg := err.Error(); msg != lastTrouble && o.Output != nil && o.Status == nil {
				fmt.Fprintf(o.Output, "[gantry] still waiting for run %s: %v\n", shortID(r.ID), err)
			}
			lastTrouble = err.Error()
		case err != nil:
			return st, offset, err
		default:
			lastTrouble = ""
		}
		if st == "" {
			st = lastState
		}
		if o.Status != nil && st != "" && (st != lastState || time.Since(lastReport) >= time.Second) {
			o.Status(st, time.Since(began))
			lastReport = time.Now()
		}
		if o.Output != nil {
			if offset, err = copyFrom(filepath.Join(dir, agent.OutputLog), offset, o.Output); err != nil {
				return st, offset, err
			}
			others.copy(dir, o.Output, false)
			if o.Status == nil && st != lastState {
				events = r.tellEvents(ctx, o.Output, events)
			}
		}
		lastState = st
		if st.Final() {
			if o.Output != nil { // the last words after the final state
				offset, _ = copyFrom(filepath.Join(dir, agent.OutputLog), offset, o.Output)
				others.copy(dir, o.Output, true)
			}
			if o.RaiseOnError && st != workspace.StateCompleted {
				d, _ := r.Details(ctx)
				return st, offset, fmt.Errorf("run %s %s: %w%s", r.ID, st, ErrRunFailed, lastReason(ctx, r, d))
			}
			return st, offset, nil
		}
		select {
		case <-ctx.Done():
			return st, offset, ctx.Err()
		case <-time.After(o.Poll):
		}
	}
}

// tellEvents writes to w the run's unusual changes of state (see
// unusual) after the first told ones, and returns how many events it has
// seen. The first call tells none of the history (the wait began there),
// only counts it.
func (r *Run) tellEvents(ctx context.Context, w io.Writer, told int) int {
	evs, err := r.ws.w.Events(ctx, r.ID)
	if err != nil {
		return told
	}
	if told == 0 {
		return len(evs)
	}
	for _, e := range evs[min(told, len(evs)):] {
		if !unusual(e) {
			continue
		}
		fmt.Fprintf(w, "[gantry] run %s: %s -> %s: %s\n", shortID(r.ID), e.From, e.To, e.Reason)
	}
	return len(evs)
}

// unusual reports whether a change of state is one a watcher would not
// expect, and is told during a wait: the agent's silence and its return,
// a requeue, a cancel request.
func unusual(e workspace.Event) bool {
	switch e.To {
	case workspace.StateNotResponding, workspace.StateCancelRequested:
		return true
	case workspace.StateQueued:
		return e.From != workspace.StateNotStarted
	case workspace.StateRunning:
		return e.From == workspace.StateNotResponding
	}
	return false
}

// lastReason gives the reason of the run's last event, for errors.
func lastReason(ctx context.Context, r *Run, _ workspace.Run) string {
	evs, err := r.ws.w.Events(ctx, r.ID)
	if err != nil || len(evs) == 0 {
		return ""
	}
	return ": " + evs[len(evs)-1].Reason
}

// copyFrom copies path from offset to w and returns the new offset. A
// missing file is empty.
func copyFrom(path string, offset int64, w io.Writer) (int64, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return offset, nil
	}
	if err != nil {
		return offset, err
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return offset, err
	}
	n, err := io.Copy(w, f)
	return offset + n, err
}

// pythonHelper is gantry_run.py, the one-file helper training scripts
// import to log metrics.
//
//go:embed track/python/gantry_run.py
var pythonHelper []byte

// writePythonHelper puts gantry_run.py where the agent adds it to the
// script's PYTHONPATH.
func writePythonHelper(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "gantry_run.py"), pythonHelper, 0o644)
}

// nodeLogs merges the output of a multi-node run's other nodes
// (nodes/rank-N/logs/output.log) into a wait's output, line by line, each
// line labelled with its node's rank; rank 0's output is the run's own.
type nodeLogs map[string]*nodeLog

type nodeLog struct {
	offset int64
	part   []byte // a line not yet complete
}

// copy writes the complete new lines of every other node's log to w; at
// the end (last) it writes incomplete ones too.
func (n nodeLogs) copy(dir string, w io.Writer, last bool) {
	paths, _ := filepath.Glob(filepath.Join(dir, "nodes", "rank-*", "logs", "output.log"))
	for _, p := range paths {
		rank := filepath.Base(filepath.Dir(filepath.Dir(p)))
		l := n[rank]
		if l == nil {
			l = &nodeLog{}
			n[rank] = l
		}
		var buf bytes.Buffer
		off, err := copyFrom(p, l.offset, &buf)
		if err != nil {
			continue
		}
		l.offset = off
		data := append(l.part, buf.Bytes()...)
		for {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				break
			}
			fmt.Fprintf(w, "[%s] %s\n", rank, data[:i])
			data = data[i+1:]
		}
		l.part = append([]byte(nil), data...)
		if last && len(l.part) > 0 {
			fmt.Fprintf(w, "[%s] %s\n", rank, l.part)
			l.part = nil
		}
	}
}
