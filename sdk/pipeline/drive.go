package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gantry/sdk"
	"gantry/sdk/controller"
	"gantry/sdk/snapshot"
	"gantry/sdk/workspace"
)

// Poll is how often the controller looks at its running steps.
const Poll = 50 * time.Millisecond

// step is the controller's view of one step.
type step struct {
	plannedStep
	run     *sdk.Run
	key     string
	state   workspace.State // "" until it has a run
	notRun  bool            // an ancestor failed: it never runs
	reason  string          // why it failed
	outputs map[string]data // once completed
	// reusedFrom is the run that did the work of a reused step.
	reusedFrom string
}

func (s *step) final() bool {
	return s.notRun || s.state.Final() && (s.outputs != nil || s.state != workspace.StateCompleted)
}

// LoadSecrets puts the Spark secrets the submitter handed the controller
// in its environment into ws's memory, and drops them from the
// environment (they reach spark-submit by another way: package spark).
func LoadSecrets(ws *sdk.Workspace) {
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		if name, ok := strings.CutPrefix(k, secretEnvPrefix); ok {
			_ = ws.SetSecret(name, "secret", v)
			os.Unsetenv(k)
		}
	}
}

// Drive is the pipeline's loop, run by its controller (package
// controller): it starts each step once the steps it depends on have
// completed (or reuses an earlier run of it), collects the outputs of
// the steps that complete, and ends when every step has ended or cannot
// run. A step already started by an earlier controller of the same run is
// found again by its submit key, never started twice.
func Drive(ctx context.Context, ws *sdk.Workspace, runID string, logger *log.Logger) controller.Outcome {
	fail := func(format string, a ...any) controller.Outcome {
		return controller.Outcome{State: workspace.StateFailed, Reason: fmt.Sprintf(format, a...)}
	}
	pr, err := Open(ctx, ws, runID)
	if err != nil {
		return fail("open the pipeline run: %v", err)
	}
	pl, err := pr.plan()
	if err != nil {
		return fail("%v", err)
	}
	store, err := ws.BlobStore()
	if err != nil {
		return fail("%v", err)
	}
	steps := make([]*step, len(pl.Steps))
	byName := map[string]*step{}
	for i, ps := range pl.Steps {
		steps[i] = &step{plannedStep: ps}
		byName[ps.Name] = steps[i]
	}
	d := &driveState{ctx: ctx, ws: ws, pr: pr, pl: pl, store: store, byName: byName, log: logger}
	for {
		running := 0
		for _, s := range steps {
			if s.final() {
				continue
			}
			if s.run != nil {
				d.watch(s)
				if !s.final() {
					running++
				}
				continue
			}
			ready, blocked := d.depsOf(s)
			if blocked != "" {
				s.notRun = true
				logger.Printf("step %s: not run: %s", s.Name, blocked)
				continue
			}
			if !ready || ctx.Err() != nil || running >= pl.MaxConcurrency {
				continue
			}
			if err := d.start(s); err != nil {
				s.state, s.reason = workspace.StateFailed, err.Error()
				logger.Printf("step %s: %v", s.Name, err)
				continue
			}
			if !s.final() {
				running++
			}
		}
		if running == 0 && (ctx.Err() != nil || allFinal(steps)) {
			break
		}
		if ctx.Err() != nil {
			d.cancelRunning(steps)
			time.Sleep(Poll)
			continue
		}
		select {
		case <-ctx.Done():
		case <-time.After(Poll):
		}
	}
	return outcome(steps, ctx.Err() != nil)
}

func allFinal(steps []*step) bool {
	for _, s := range steps {
		if !s.final() {
			return false
		}
	}
	return true
}

// outcome sums up the steps.
func outcome(steps []*step, canceled bool) controller.Outcome {
	ran, reused, notRun := 0, 0, 0
	var failed []*step
	for _, s := range steps {
		switch {
		case s.notRun || s.state == "":
			notRun++
		case s.state == workspace.StateCompleted && s.reason == "":
			if s.run != nil && s.isReused() {
				reused++
			} else {
				ran++
			}
		default:
			failed = append(failed, s)
		}
	}
	summary := fmt.Sprintf("%d steps ran, %d reused, %d not run", ran, reused, notRun)
	if canceled {
		return controller.Outcome{State: workspace.StateCanceled, Reason: summary}
	}
	if len(failed) > 0 {
		f := failed[0]
		return controller.Outcome{State: workspace.StateFailed,
			Reason: fmt.Sprintf("step %s %s: %s (%s)", f.Name, f.state, f.reason, summary)}
	}
	return controller.Outcome{State: workspace.StateCompleted, Reason: summary}
}

func (s *step) isReused() bool { return s.reusedFrom != "" }

// driveState is what the loop's parts share.
type driveState struct {
	ctx    context.Context
	ws     *sdk.Workspace
	pr     *Run
	pl     *plan
	store  *snapshot.BlobStore
	byName map[string]*step
	log    *log.Logger
}

// depsOf tells whether the steps s depends on have all completed (ready),
// or why s can never run (blocked).
func (d *driveState) depsOf(s *step) (ready bool, blocked string) {
	ready = true
	for _, dep := range d.pl.Deps[s.Name] {
		t := d.byName[dep]
		switch {
		case t.notRun:
			return false, fmt.Sprintf("step %s did not run", dep)
		case t.state.Final() && (t.state != workspace.StateCompleted || t.reason != ""):
			return false, fmt.Sprintf("step %s %s", dep, t.state)
		case !t.final():
			ready = false
		}
	}
	return ready, ""
}

// inputs returns the data of the step's inputs, by their names in the
// step.
func (d *driveState) inputs(s *step) (map[string]data, error) {
	in := map[string]data{}
	for local, ref := range s.Inputs {
		stepName, out, isStep := strings.Cut(ref, ".")
		if !isStep {
			in[local] = d.pl.Inputs[ref]
			continue
		}
		o, ok := d.byName[stepName].outputs[out]
		if !ok {
			return nil, fmt.Errorf("output %s of step %s is not recorded", out, stepName)
		}
		in[local] = o
	}
	return in, nil
}

// Key returns the reuse key of a step: the digest of everything that
// decides what it computes. Two steps with equal keys compute the same.
func stepKey(s plannedStep, in map[string]data) string {
	ids := map[string]string{}
	for k, v := range in {
		ids[k] = v.ID + "/" + v.File
	}
	b, _ := json.Marshal(struct {
		Kind      StepKind
		Snapshot  string
		Env       string
		Script    string
		Command   []string
		Args      []string
		EnvVars   map[string]string
		Target    string
		Nodes     int
		MaxDur    time.Duration
		MainClass string
		Format    string
		Outputs   []string
		Inputs    map[string]string
	}{s.Kind, s.SnapshotID, s.Environment.Key(), s.Script, s.Command, s.Arguments, s.EnvVars, s.Target,
		s.NodeCount, s.MaxDuration, s.MainClass, s.Format, s.Outputs, ids})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// start starts the step s: reused when a completed run has its key,
// else submitted.
func (d *driveState) start(s *step) error {
	in, err := d.inputs(s)
	if err != nil {
		return err
	}
	s.key = stepKey(s.plannedStep, in)
	if err := d.reuse(s); err != nil || s.run != nil {
		return err
	}
	paths := map[string]string{}
	vars := map[string]string{}
	for k, v := range s.EnvVars {
		vars[k] = v
	}
	ids := map[string]string{}
	for local, v := range in {
		p := "inputs/" + local
		if v.File != "" {
			p += "/" + v.File
		}
		paths["inputs."+local] = p
		vars[envName("GANTRY_INPUT_", local)] = p
		ids[local] = v.ID
	}
	for _, o := range s.Outputs {
		paths["outputs."+o] = "outputs/" + o
		vars[envName("GANTRY_OUTPUT_", o)] = "outputs/" + o
	}
	args := make([]string, len(s.Arguments))
	for i, a := range s.Arguments {
		args[i] = placeholderRE.ReplaceAllStringFunc(a, func(m string) string { return paths[m[1:len(m)-1]] })
	}
	script := s.Script
	switch s.Kind {
	case SQLStep:
		format := s.Format
		if format == "" {
			format = "csv"
		}
		args = []string{"--sql", s.Script, "--output", "outputs/" + s.Outputs[0], "--format", format}
		for local := range in {
			args = append(args, "--input", local+"="+paths["inputs."+local])
		}
		script = sqlRunnerName
	case SparkStep:
		if s.MainClass != "" {
			vars["GANTRY_SPARK_MAIN_CLASS"] = s.MainClass
		}
	}
	env := s.Environment
	r, err := d.pr.SubmitPrepared(d.ctx, sdk.PreparedRun{
		SnapshotID: s.SnapshotID, Data: ids, Script: script, Command: s.Command, Arguments: args,
		RunConfig:   sdk.RunConfiguration{Target: s.Target, EnvVars: vars, MaxDuration: s.MaxDuration, NodeCount: s.NodeCount},
		Environment: &env, SubmitKey: "pipeline/" + d.pr.ID + "/" + s.Name,
		Properties: map[string]string{PropStep: s.Name, PropKey: s.key},
	})
	if err != nil {
		return fmt.Errorf("submit: %w", err)
	}
	s.run, s.state = r, workspace.StateQueued
	d.log.Printf("step %s: run %s submitted to %s (key %s)", s.Name, r.ID, s.Target, s.key[:12])
	return nil
}

// reuse records s as reused when a completed run has its key.
func (d *driveState) reuse(s *step) error {
	if s.NoReuse {
		return nil
	}
	prev, err := d.ws.FindCompleted(d.ctx, PropReusable, s.key)
	if err != nil || prev == nil {
		return err
	}
	outs := map[string]data{}
	props := map[string]string{PropStep: s.Name, PropKey: s.key, PropReusable: s.key}
	for _, o := range s.Outputs {
		raw := prev.Properties[PropOutput+o]
		var v data
		if raw == "" || json.Unmarshal([]byte(raw), &v) != nil {
			return nil // not reusable after all: run it
		}
		outs[o] = v
		props[PropOutput+o] = raw
	}
	origin := prev.ID
	if o := prev.Properties[PropReusedFrom]; o != "" {
		origin = o
	}
	props[PropReusedFrom] = origin
	r, err := d.pr.RecordReused(d.ctx, s.Target, s.SnapshotID, s.Environment.Key(),
		fmt.Sprintf("reused: step %s had run with the same code, environment, settings and input content in run %s", s.Name, origin), props)
	if err != nil {
		return err
	}
	s.run, s.state, s.outputs, s.reusedFrom = r, workspace.StateCompleted, outs, origin
	d.log.Printf("step %s: reused run %s as %s", s.Name, origin, r.ID)
	return nil
}

// watch looks at the run of a started step, and collects its outputs
// when it has completed.
func (d *driveState) watch(s *step) {
	st, err := s.run.Status(d.ctx)
	if err != nil {
		if d.ctx.Err() == nil {
			d.log.Printf("step %s: status: %v", s.Name, err)
		}
		return
	}
	s.state = st
	if !st.Final() {
		return
	}
	if st != workspace.StateCompleted {
		s.reason = lastReason(d.ctx, s.run)
		d.log.Printf("step %s: %s: %s", s.Name, st, s.reason)
		return
	}
	if err := d.collect(s); err != nil {
		s.reason = err.Error()
		s.outputs = map[string]data{}
		d.log.Printf("step %s: %v", s.Name, err)
		return
	}
	d.log.Printf("step %s: completed", s.Name)
}

// collect keeps the outputs of a completed step by content, records them
// on its run, and only then marks the run reusable.
func (d *driveState) collect(s *step) error {
	dir, err := s.run.Dir()
	if err != nil {
		return err
	}
	outs := map[string]data{}
	for _, o := range s.Outputs {
		p := filepath.Join(dir, "outputs", o)
		v, err := keepData(d.ctx, d.store, p)
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("the step completed without writing its output %s (outputs/%s; $%s holds the path): a step must write every output it declares", o, o, envName("GANTRY_OUTPUT_", o))
		}
		if err != nil {
			return fmt.Errorf("keep output %s: %w", o, err)
		}
		v.From = ""
		outs[o] = v
		b, _ := json.Marshal(v)
		if err := s.run.SetProperty(d.ctx, PropOutput+o, string(b)); err != nil {
			return err
		}
	}
	if err := s.run.SetProperty(d.ctx, PropReusable, s.key); err != nil {
		return err
	}
	s.outputs = outs
	return nil
}

// cancelRunning asks every running step to stop.
func (d *driveState) cancelRunning(steps []*step) {
	ctx := context.WithoutCancel(d.ctx)
	for _, s := range steps {
		if s.run != nil && !s.state.Final() && s.state != workspace.StateCancelRequested {
			if err := s.run.Cancel(ctx); err != nil {
				d.log.Printf("step %s: cancel: %v", s.Name, err)
			}
			s.state = workspace.StateCancelRequested
		}
	}
	// Watch them to their end with a context that is not canceled.
	d.ctx = ctx
}

// lastReason is the reason of the run's last event.
func lastReason(ctx context.Context, r *sdk.Run) string {
	evs, err := r.Events(ctx)
	if err != nil || len(evs) == 0 {
		return ""
	}
	return evs[len(evs)-1].Reason
}
