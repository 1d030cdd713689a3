// Package controller runs the loop that drives a parent run through its
// child runs — a pipeline's steps, a sweep's trials — as a process of its
// own, detached from whoever submitted the parent: a kernel that restarts
// or dies does not stop it, and the next one follows the parent from the
// workspace.
//
// A controller is to a parent run what an agent is to a run: Launch starts
// `gantry controller --workspace DIR --run ID` in its own session, holding
// the parent's agent lock (package runlock) from its first instant, and
// Run, in that process, waits for the submit's hand-over, records the
// parent Running, beats its heartbeat, turns a cancel request into the
// cancellation of the loop's context, and records the outcome the loop
// returns. If the controller dies, the lock is free, and whoever looks at
// the parent next ends it (sdk's reconcile), canceling its unfinished
// children.
//
// What the loop does is the caller's: cmd/gantry picks it by the parent's
// Spec (controller.json in its directory).
package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"gantry/sdk/agent"
	"gantry/sdk/driver"
	"gantry/sdk/runlock"
	"gantry/sdk/workspace"
)

// Kind is the kind of a parent run's handle: a controller on this machine.
const Kind = "controller"

// SpecFile, in the parent run's directory, says which loop drives it.
const SpecFile = "controller.json"

// LogFile is the controller's own account, in the parent run's directory.
const LogFile = "logs/controller.log"

// Spec says which loop drives a parent run.
type Spec struct {
	Loop string `json:"loop"` // "pipeline"
}

// WriteSpec writes spec into the parent run's directory.
func WriteSpec(runDir string, spec Spec) error {
	b, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(runDir, SpecFile), b, 0o600)
}

// ReadSpec reads the spec of the parent run in runDir.
func ReadSpec(runDir string) (Spec, error) {
	var s Spec
	b, err := os.ReadFile(filepath.Join(runDir, SpecFile))
	if err != nil {
		return s, fmt.Errorf("read the controller's spec: %w", err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("read the controller's spec: %w", err)
	}
	return s, nil
}

// state is what the handle keeps.
type state struct {
	PID int `json:"pid"`
}

// Launch starts the controller of the parent run runID with the gantry
// binary exe, detached, with env added to its environment (secrets the
// loop needs, which are never written down), and returns its handle.
func Launch(exe, wsDir, runDir, runID string, env []string) (driver.Handle, error) {
	pid, err := agent.LaunchWith(exe, []string{"controller", "--workspace", wsDir, "--run", runID}, env, runDir, runID)
	if err != nil {
		return driver.Handle{}, fmt.Errorf("launch the controller of run %s: %w", runID, err)
	}
	st, _ := json.Marshal(state{PID: pid})
	return driver.Handle{Kind: Kind, State: st}, nil
}

// An Outcome is how a loop ended: a final state and its reason.
type Outcome struct {
	State  workspace.State
	Reason string
}

// A Loop drives the parent's children until the parent's outcome is
// known. Its context is canceled when a cancel of the parent is
// requested: the loop then cancels its children and returns.
type Loop func(ctx context.Context, log *log.Logger) Outcome

// Settings tune Run; the zero value uses the defaults.
type Settings struct {
	Heartbeat  time.Duration // default 2s
	CancelPoll time.Duration // default 250ms
}

// Run carries out the parent run runID of ws with loop, in the controller
// process, and records its outcome.
func Run(ctx context.Context, ws *workspace.Workspace, runID string, loop Loop, set Settings) error {
	if set.Heartbeat <= 0 {
		set.Heartbeat = 2 * time.Second
	}
	if set.CancelPoll <= 0 {
		set.CancelPoll = 250 * time.Millisecond
	}
	dir, err := ws.RunDir(runID)
	if err != nil {
		return err
	}
	lock, err := runlock.HoldAgent(dir)
	if err != nil {
		return fmt.Errorf("controller of run %s: %w", runID, err)
	}
	defer lock.Release()
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o700); err != nil {
		return err
	}
	lf, err := os.OpenFile(filepath.Join(dir, LogFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("controller of run %s: %w", runID, err)
	}
	defer lf.Close()
	logger := log.New(lf, "", log.LstdFlags|log.Lmicroseconds)
	end := func(to workspace.State, reason string) error {
		logger.Printf("%s: %s", to, reason)
		err := ws.Transition(context.WithoutCancel(ctx), runID, to, reason)
		if errors.Is(err, workspace.ErrIllegalTransition) {
			return nil // ended meanwhile (canceled before it started, say)
		}
		return err
	}
	completed, err := runlock.AwaitSubmit(ctx, dir, 0)
	if err != nil {
		return end(workspace.StateFailed, "wait for the submit to complete: "+err.Error())
	}
	if !completed {
		if err := end(workspace.StateFailed, agent.SubmitAbandonedReason); err != nil {
			return err
		}
		return runlock.ClearAbandoned(dir)
	}
	for _, st := range []workspace.State{workspace.StatePreparing, workspace.StateStarting, workspace.StateRunning} {
		if err := ws.Transition(ctx, runID, st, "the controller drives the child runs"); err != nil {
			if d, derr := ws.Run(ctx, runID); derr == nil && d.State == workspace.StateCancelRequested {
				return end(workspace.StateCanceled, "canceled before it started")
			}
			return end(workspace.StateFailed, "record the start: "+err.Error())
		}
	}
	loopCtx, cancelLoop := context.WithCancel(ctx)
	defer cancelLoop()
	done := make(chan Outcome, 1)
	go func() { done <- loop(loopCtx, logger) }()
	hb := time.NewTicker(set.Heartbeat)
	defer hb.Stop()
	poll := time.NewTicker(set.CancelPoll)
	defer poll.Stop()
	canceled := false
	for {
		select {
		case out := <-done:
			if canceled {
				out = Outcome{workspace.StateCanceled, "canceled by request; " + out.Reason}
			}
			if out.State == workspace.StateCompleted {
				if err := ws.Transition(context.WithoutCancel(ctx), runID, workspace.StateFinalizing, "every child run ended"); err != nil && !errors.Is(err, workspace.ErrIllegalTransition) {
					logger.Printf("record Finalizing: %v", err)
				}
			}
			return end(out.State, out.Reason)
		case <-hb.C:
			if err := ws.Heartbeat(ctx, runID); err != nil {
				logger.Printf("heartbeat: %v", err)
			}
		case <-poll.C:
			if canceled {
				continue
			}
			if d, err := ws.Run(ctx, runID); err == nil && d.State == workspace.StateCancelRequested {
				logger.Printf("cancel requested")
				canceled = true
				cancelLoop()
			}
		case <-ctx.Done():
			// The controller itself is being stopped (SIGTERM): the loop
			// cancels its children and the parent ends Failed.
			cancelLoop()
			out := <-done
			return end(workspace.StateFailed, "the pipeline's controller was stopped; "+out.Reason)
		}
	}
}
