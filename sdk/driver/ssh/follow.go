package ssh

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"gantry/sdk/driver"
	"gantry/sdk/journal"
	"gantry/sdk/remote"
	"gantry/sdk/workspace"
)

// Settings of a follower.
const (
	// notRespondingAfter is how long a machine may stay out of reach
	// before its Running runs are NotResponding.
	notRespondingAfter = 6 * time.Second
	// heartbeatFresh is the age under which the agent's heartbeat counts.
	heartbeatFresh = 10 * time.Second
	// logPoll is how long a read of the output log waits for it to grow.
	logPoll = 250 * time.Millisecond
	// journalCursor names the run's journal offset in the workspace.
	journalCursor = "ssh.journal"
)

// mirrored are the run's logs copied here as they grow; the local copy's
// length is the offset to read from next, so every byte arrives once.
var mirrored = []string{"logs/output.log", "logs/environment.log"}

// Follow keeps the run's local record up to date with the machine until
// the run reaches a final state or ctx ends: it mirrors the logs, applies
// the journal exactly once, marks the run NotResponding while the machine
// is out of reach and Running again when it answers, delivers a cancel
// recorded while the machine was away, and fetches the outputs before the
// final state is applied. Several followers of one run, in this process or
// others, apply nothing twice.
func (d *Driver) Follow(ctx context.Context, ws *workspace.Workspace, job driver.Job) error {
	cfg, err := ParseConfig(job.Config)
	if err != nil {
		return err
	}
	f := &follower{d: d, ws: ws, job: job, cfg: cfg}
	var unreachable time.Time
	for {
		r, err := ws.Run(ctx, job.RunID)
		if err != nil {
			return err
		}
		if r.State.Final() {
			return nil
		}
		c, err := d.Pool.Get(ctx, job.Target, cfg)
		if err == nil {
			err = f.sync(ctx, c, r.State)
		}
		if err == nil {
			unreachable = time.Time{}
			continue
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if unreachable.IsZero() {
			unreachable = time.Now()
		}
		if away := time.Since(unreachable); away >= notRespondingAfter && r.State == workspace.StateRunning {
			_ = ws.Transition(ctx, job.RunID, workspace.StateNotResponding,
				fmt.Sprintf("%s has not answered for %s (%v); reconnecting", job.Target, away.Round(time.Second), err))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

type follower struct {
	d          *Driver
	ws         *workspace.Workspace
	job        driver.Job
	cfg        Config
	cancelSent bool
	committed  bool // the hand-over marker was sent (a run followed has a handle)
	deadSeen   int  // syncs in a row that found the agent gone and no outcome
}

// sync brings the local record up to date once.
func (f *follower) sync(ctx context.Context, c *Conn, state workspace.State) error {
	id := f.job.RunID
	if !f.committed {
		if _, err := c.Call(ctx, remote.Request{Op: remote.OpCommit, Run: id}); err != nil {
			return err
		}
		f.committed = true
	}
	if state == workspace.StateCancelRequested && !f.cancelSent {
		if _, err := c.Call(ctx, remote.Request{Op: remote.OpCancel, Run: id}); err != nil {
			return err
		}
		f.cancelSent = true
	}
	from, err := f.ws.Cursor(ctx, id, journalCursor)
	if err != nil {
		return err
	}
	jr, err := c.Call(ctx, remote.Request{Op: remote.OpRead, Run: id, Name: journal.FileName, Offset: from})
	if err != nil {
		return err
	}
	es, _, _ := journal.Decode(jr.Data)
	final := false
	for _, e := range es {
		if e.Type == journal.TypeState && workspace.State(e.State).Final() {
			final = true
		}
	}
	wait := logPoll
	if final || !jr.Alive {
		wait = 0
	}
	for i, name := range mirrored {
		w := wait
		if i > 0 {
			w = 0
		}
		if err := f.mirror(ctx, c, name, w); err != nil {
			return err
		}
	}
	if final {
		if err := f.fetchOutputs(ctx, c); err != nil {
			return err
		}
	}
	if _, err := journal.Apply(ctx, f.ws, id, journalCursor, from, jr.Data); err != nil {
		return err
	}
	complete := from+int64(len(jr.Data)) >= jr.Size
	if jr.Alive && jr.HeartbeatAgeMS >= 0 && time.Duration(jr.HeartbeatAgeMS)*time.Millisecond < heartbeatFresh {
		// A NotResponding run is Running again; a run that has ended takes
		// no heartbeat, and refuses it.
		_ = f.ws.Heartbeat(ctx, id)
	}
	if jr.Alive || !complete || final {
		f.deadSeen = 0
	} else if f.deadSeen++; f.deadSeen >= 2 {
		// The agent is gone, twice in a row, and its journal ends without
		// an outcome.
		r, err := f.ws.Run(ctx, id)
		switch {
		case err != nil || r.State.Final():
		case r.State == workspace.StateCancelRequested:
			_ = f.ws.Transition(ctx, id, workspace.StateCanceled, fmt.Sprintf(
				"canceled; its agent on %s had died, so nothing was left running", f.job.Target))
		default:
			_ = f.ws.Transition(ctx, id, workspace.StateFailed, fmt.Sprintf(
				"the agent on %s died (killed, or the machine rebooted) without recording how the run ended; "+
					"what the script printed until then is in its output log, the agent's own account in %s/runs/%s/logs/agent.out there",
				f.job.Target, c.Hello.Root, id))
		}
	}
	return nil
}

// mirror appends to the local copy of a run's file what the machine has
// beyond it, waiting up to wait for the first new bytes.
func (f *follower) mirror(ctx context.Context, c *Conn, name string, wait time.Duration) error {
	path := filepath.Join(f.job.RunDir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	out, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer out.Close()
	for {
		fi, err := out.Stat()
		if err != nil {
			return err
		}
		off := fi.Size()
		resp, err := c.Call(ctx, remote.Request{Op: remote.OpRead, Run: f.job.RunID, Name: name, Offset: off, WaitMS: int(wait / time.Millisecond)})
		if err != nil {
			return err
		}
		if len(resp.Data) > 0 {
			if _, err := out.Write(resp.Data); err != nil {
				return fmt.Errorf("copy %s of run %s: %w", name, f.job.RunID, err)
			}
		}
		if off+int64(len(resp.Data)) >= resp.Size {
			return nil
		}
		wait = 0
	}
}

// fetchOutputs copies the run's outputs/ here, skipping files already
// copied whole.
func (f *follower) fetchOutputs(ctx context.Context, c *Conn) error {
	resp, err := c.Call(ctx, remote.Request{Op: remote.OpOutputs, Run: f.job.RunID})
	if err != nil {
		return fmt.Errorf("list the outputs of run %s: %w", f.job.RunID, err)
	}
	for _, file := range resp.Files {
		if !filepath.IsLocal(filepath.FromSlash(file.Path)) {
			return fmt.Errorf("outputs of run %s: %q is not a path inside the run's directory", f.job.RunID, file.Path)
		}
		dst := filepath.Join(f.job.RunDir, filepath.FromSlash(file.Path))
		if fi, err := os.Stat(dst); err == nil && fi.Size() == file.Size {
			continue
		}
		if err := f.fetch(ctx, c, file, dst); err != nil {
			return fmt.Errorf("fetch output %s of run %s: %w", file.Path, f.job.RunID, err)
		}
	}
	return nil
}

func (f *follower) fetch(ctx context.Context, c *Conn, file remote.File, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	tmp := dst + ".part"
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	var off int64
	for off < file.Size {
		resp, err := c.Call(ctx, remote.Request{Op: remote.OpRead, Run: f.job.RunID, Name: file.Path, Offset: off})
		if err == nil && len(resp.Data) == 0 {
			err = io.ErrUnexpectedEOF
		}
		if err == nil {
			_, err = out.Write(resp.Data)
		}
		if err != nil {
			out.Close()
			os.Remove(tmp)
			return err
		}
		off += int64(len(resp.Data))
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}
