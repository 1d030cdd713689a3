package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"gantry/sdk/agent"
	"gantry/sdk/controller"
	"gantry/sdk/driver"
	"gantry/sdk/driver/local"
	"gantry/sdk/driver/spark"
	"gantry/sdk/runlock"
	"gantry/sdk/workspace"
)

// A run's record is kept by the processes that carry it out: its
// submitter until the hand-over, then its agent. When one of them dies
// without recording an end, whoever looks at the run next (a wait, a
// status, a list) finds out from the run's locks (package runlock) and
// ends the run with the reason; nothing is left Queued or Running for
// good. The clusters and SSH targets have checks of their own (cluster.go,
// the SSH follower): a lock on another machine cannot be tested from here.

// handOverGrace is how long a run may exist without a handle and without
// a submit lock before it counts as abandoned (a submit by a process that
// died between creating the run and taking the lock, which is microseconds).
const handOverGrace = time.Minute

// Reconcile brings the record of every run that has not ended up to date
// with the processes that carry it out: a run whose agent has been silent
// for a while is NotResponding, and a run whose submitter or agent died is
// ended, with the reason, what is left of its script stopped. Call it
// before listing runs (%runs and gantry run list do). A full disk or a busy
// database is reported with an error matching workspace.ErrDiskFull or
// ErrLocked; the record is then as it was.
func (ws *Workspace) Reconcile(ctx context.Context) error {
	var errs []error
	if _, err := ws.w.MarkStale(ctx, staleAfter); err != nil {
		errs = append(errs, err)
	}
	for _, st := range []workspace.State{workspace.StateNotStarted, workspace.StateQueued, workspace.StatePreparing,
		workspace.StateStarting, workspace.StateRunning, workspace.StateNotResponding, workspace.StateCancelRequested,
		workspace.StateFinalizing} {
		rs, err := ws.w.Runs(ctx, workspace.Filter{State: st})
		if err != nil {
			return err
		}
		for _, d := range rs {
			if err := ws.reconcile(ctx, d); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// reconcile ends the run d if the processes that should record its end
// are gone.
func (ws *Workspace) reconcile(ctx context.Context, d workspace.Run) error {
	if d.State.Final() {
		return nil
	}
	dir, err := ws.w.RunDir(d.ID)
	if err != nil {
		return err
	}
	var h driver.Handle
	if raw := d.Properties[handleProperty]; raw == "" || json.Unmarshal([]byte(raw), &h) != nil || h.Kind == "" {
		return ws.reconcileSubmit(ctx, d, dir)
	}
	if h.Kind != local.Kind && h.Kind != spark.Kind && h.Kind != controller.Kind {
		return nil // an agent on another machine: its own checks (cluster.go, the SSH follower)
	}
	st, err := runlock.Agent(dir)
	if err != nil || st != runlock.AgentGone {
		return err
	}
	// Read again: the agent may have recorded an end just before it
	// exited.
	if d, err = ws.w.Run(ctx, d.ID); err != nil || d.State.Final() {
		return err
	}
	stopped, _ := agent.StopOrphans(dir, d.ID)
	left := ""
	if stopped > 0 {
		left = fmt.Sprintf("; %d processes its script left were stopped", stopped)
	}
	to, reason := workspace.StateFailed, fmt.Sprintf(
		"the run's agent died (it was killed, or the machine went down) while the run was %s, without recording an end; "+
			"what the script printed until then is in its output log, the agent's own account in logs/agent.log%s", d.State, left)
	if d.State == workspace.StateCancelRequested {
		to, reason = workspace.StateCanceled, "canceled; its agent had died, so nothing was left running"+left
	}
	if h.Kind == controller.Kind {
		return ws.endOrphanedParent(ctx, d)
	}
	return ws.end(ctx, d.ID, to, reason)
}

// endOrphanedParent ends a parent run whose controller died: its children
// that have not ended are canceled (nothing would act on their results),
// and the parent ends Failed, or Canceled if a cancel was asked.
func (ws *Workspace) endOrphanedParent(ctx context.Context, d workspace.Run) error {
	kids, err := ws.w.Runs(ctx, workspace.Filter{ParentID: d.ID})
	if err != nil {
		return err
	}
	var errs []error
	canceled := 0
	for _, k := range kids {
		if k.State.Final() {
			continue
		}
		if err := (&Run{ws: ws, ID: k.ID}).Cancel(ctx); err != nil {
			errs = append(errs, err)
			continue
		}
		canceled++
	}
	to, reason := workspace.StateFailed, fmt.Sprintf(
		"its controller died (it was killed, or the machine went down) while the run was %s; %d child runs still going were canceled; "+
			"submit it again: completed steps are reused. The controller's account is in logs/controller.log", d.State, canceled)
	if d.State == workspace.StateCancelRequested {
		to, reason = workspace.StateCanceled, fmt.Sprintf("canceled; its controller had died; %d child runs still going were canceled", canceled)
	}
	errs = append(errs, ws.end(ctx, d.ID, to, reason))
	return errors.Join(errs...)
}

// reconcileSubmit ends a run that was never handed to its target and
// whose submitter died.
func (ws *Workspace) reconcileSubmit(ctx context.Context, d workspace.Run, dir string) error {
	st, err := runlock.Submit(dir)
	if err != nil {
		return err
	}
	switch st {
	case runlock.SubmitInProgress:
		return nil
	case runlock.SubmitDone:
		// No lock and no handle: a run made by something other than a
		// submit (it has no job), a submit that has just begun, or one
		// whose record of its end or its handle failed.
		if time.Since(d.Created) < handOverGrace {
			return nil
		}
		if _, err := os.Stat(filepath.Join(dir, agent.JobFile)); err != nil {
			return nil
		}
	}
	if d, err = ws.w.Run(ctx, d.ID); err != nil || d.State.Final() || d.Properties[handleProperty] != "" {
		return err
	}
	to, reason := workspace.StateFailed, agent.SubmitAbandonedReason
	if d.State == workspace.StateCancelRequested {
		to, reason = workspace.StateCanceled, "canceled before it was handed to its target (its submitter had stopped)"
	}
	if err := ws.end(ctx, d.ID, to, reason); err != nil {
		return err
	}
	return runlock.ClearAbandoned(dir)
}

// end records a run's end found by reconciling; an end recorded meanwhile
// by someone else wins.
func (ws *Workspace) end(ctx context.Context, id string, to workspace.State, reason string) error {
	err := ws.w.Transition(ctx, id, to, reason)
	if errors.Is(err, workspace.ErrIllegalTransition) {
		return nil
	}
	return err
}
