package sdk

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/google/uuid"

	"gantry/sdk/controller"
	"gantry/sdk/runlock"
	"gantry/sdk/workspace"
)

// ParentRun describes a run driven by a controller (package controller)
// through child runs: a pipeline, a sweep.
type ParentRun struct {
	Loop string // the controller's loop: "pipeline"
	// Prepare writes what the loop needs into the run's directory before
	// the controller starts.
	Prepare    func(runDir string) error
	Properties map[string]string // recorded with the run
	Tags       map[string]string
	// Env is added to the controller's environment: secrets its loop
	// needs, which are never written down.
	Env []string
}

// SubmitParent records a parent run in the experiment and starts its
// controller, detached; it returns at once, the run Queued. As with
// Submit, the run starts only once it is handed over: a submitter that dies
// part way leaves it Failed, never half started.
func (e *Experiment) SubmitParent(ctx context.Context, p ParentRun) (*Run, error) {
	ws := e.ws
	exe, err := ws.gantry()
	if err != nil {
		return nil, err
	}
	id := uuid.NewString()
	dir, err := ws.w.RunDir(id)
	if err != nil {
		return nil, err
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, fmt.Errorf("submit to experiment %q: %w", e.Name, err)
	}
	lock, err := runlock.BeginSubmit(dir)
	if err != nil {
		os.Remove(dir)
		return nil, fmt.Errorf("submit to experiment %q: %w", e.Name, err)
	}
	defer lock.Complete()
	r, err := ws.w.NewRun(ctx, workspace.RunSpec{ID: id, Experiment: e.Name, Properties: p.Properties, Tags: p.Tags})
	if err != nil {
		lock.Complete()
		os.RemoveAll(dir)
		return nil, err
	}
	run := &Run{ws: ws, ID: r.ID}
	if err := os.MkdirAll(dir+"/logs", 0o700); err != nil {
		return nil, run.failSubmit(ctx, err)
	}
	if err := controller.WriteSpec(dir, controller.Spec{Loop: p.Loop}); err != nil {
		return nil, run.failSubmit(ctx, err)
	}
	if p.Prepare != nil {
		if err := p.Prepare(dir); err != nil {
			return nil, run.failSubmit(ctx, err)
		}
	}
	if err := ws.w.Transition(ctx, r.ID, workspace.StateQueued, "submitted to its controller"); err != nil {
		return nil, run.failSubmit(ctx, err)
	}
	h, err := controller.Launch(exe, ws.w.Dir(), dir, r.ID, p.Env)
	if err != nil {
		return nil, run.failSubmit(ctx, err)
	}
	hb, err := json.Marshal(h)
	if err == nil {
		err = ws.w.SetProperty(ctx, r.ID, handleProperty, string(hb))
	}
	if err != nil {
		return nil, run.failSubmit(ctx, fmt.Errorf("record the run's handle: %w", err))
	}
	if err := lock.Complete(); err != nil {
		return nil, run.failSubmit(ctx, fmt.Errorf("complete the submit: %w", err))
	}
	return run, nil
}
