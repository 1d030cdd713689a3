package pipeline

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gantry/sdk"
	"gantry/sdk/driver/spark"
	"gantry/sdk/environment"
	"gantry/sdk/snapshot"
	"gantry/sdk/workspace"
)

// PlanFile, in the pipeline run's directory, is the pipeline as
// submitted: every step with its code snapshot and environment, every
// input by content. The controller runs it; Resubmit submits it again.
const PlanFile = "pipeline.json"

// Properties of pipeline runs and their steps.
const (
	PropPipeline   = "gantry.pipeline"             // on the pipeline run: its name
	PropResubmitOf = "gantry.pipeline.resubmit_of" // on a resubmitted pipeline run: the run it resubmits
	PropStep       = "gantry.pipeline.step"        // on a step: its name
	PropKey        = "gantry.pipeline.key"         // on a step: its reuse key
	PropReusable   = "gantry.pipeline.reusable"    // on a completed step whose outputs are kept: its key
	PropReusedFrom = "gantry.pipeline.reused_from" // on a reused step: the run that did the work
	PropOutput     = "gantry.pipeline.output."     // + NAME, on a completed step: the output's snapshot ID
)

// plan is a pipeline as submitted.
type plan struct {
	Name           string              `json:"name,omitempty"`
	MaxConcurrency int                 `json:"max_concurrency"`
	Inputs         map[string]data     `json:"inputs,omitempty"`
	Steps          []plannedStep       `json:"steps"`
	Deps           map[string][]string `json:"deps,omitempty"`
}

// data is an input or output kept by content: a snapshot in the blob
// store, and the file's name when it is one file.
type data struct {
	ID   string `json:"id"`
	File string `json:"file,omitempty"`
	From string `json:"from,omitempty"` // where it was read, for people
}

// plannedStep is a step with its code snapshotted and its environment
// resolved.
type plannedStep struct {
	Step
	SnapshotID  string                  `json:"snapshot_id"`
	Environment environment.Environment `json:"resolved_environment"`
}

// Run is a pipeline run: the parent run whose children are the steps.
type Run struct {
	*sdk.Run
	ws *sdk.Workspace
}

// Submit submits p as a pipeline run of the experiment exp: it checks the
// graph, snapshots each step's code and every pipeline input, and starts
// the pipeline's controller. It returns at once, the run Queued. Nothing
// is recorded when the pipeline is not valid.
func Submit(ctx context.Context, ws *sdk.Workspace, exp string, p *Pipeline) (*Run, error) {
	pl, err := makePlan(ctx, ws, p)
	if err != nil {
		return nil, err
	}
	return submitPlan(ctx, ws, exp, pl, nil)
}

// Resubmit submits the pipeline of the pipeline run id again, as it was
// submitted (the same code and data): its completed steps are reused, the
// others run.
func Resubmit(ctx context.Context, ws *sdk.Workspace, id string) (*Run, error) {
	old, err := Open(ctx, ws, id)
	if err != nil {
		return nil, err
	}
	pl, err := old.plan()
	if err != nil {
		return nil, err
	}
	d, err := old.Details(ctx)
	if err != nil {
		return nil, err
	}
	for _, s := range pl.Steps {
		if _, err := ws.Store().Target(ctx, s.Target); err != nil {
			return nil, fmt.Errorf("resubmit pipeline %s: step %q: %w", id, s.Name, err)
		}
	}
	return submitPlan(ctx, ws, d.Experiment, pl, map[string]string{PropResubmitOf: d.ID})
}

// Open finds the pipeline run id (after a kernel restart, say).
func Open(ctx context.Context, ws *sdk.Workspace, id string) (*Run, error) {
	r, err := ws.Run(ctx, id)
	if err != nil {
		return nil, err
	}
	props, err := r.Properties(ctx)
	if err != nil {
		return nil, err
	}
	if _, ok := props[PropPipeline]; !ok {
		return nil, fmt.Errorf("run %s is not a pipeline run", id)
	}
	return &Run{Run: r, ws: ws}, nil
}

func submitPlan(ctx context.Context, ws *sdk.Workspace, exp string, pl *plan, props map[string]string) (*Run, error) {
	env, err := secretsEnv(ctx, ws, pl)
	if err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(pl, "", "  ")
	if err != nil {
		return nil, err
	}
	all := map[string]string{PropPipeline: pl.Name}
	for k, v := range props {
		all[k] = v
	}
	r, err := ws.Experiment(exp).SubmitParent(ctx, sdk.ParentRun{
		Loop: "pipeline", Properties: all, Env: env,
		Prepare: func(dir string) error { return os.WriteFile(filepath.Join(dir, PlanFile), b, 0o600) },
	})
	if err != nil {
		return nil, fmt.Errorf("submit pipeline: %w", err)
	}
	return &Run{Run: r, ws: ws}, nil
}

// secretEnvPrefix + a target's name holds, in the controller's
// environment, the secret of a Spark target that prompts for it.
const secretEnvPrefix = "GANTRY_TARGET_SECRET_"

// secretsEnv resolves the secrets of the Spark targets the plan's steps
// use, here, where they can be asked for, and returns them as environment
// entries for the controller (they are never written down).
func secretsEnv(ctx context.Context, ws *sdk.Workspace, pl *plan) ([]string, error) {
	var env []string
	seen := map[string]bool{}
	for _, s := range pl.Steps {
		if seen[s.Target] {
			continue
		}
		seen[s.Target] = true
		t, err := ws.Store().Target(ctx, s.Target)
		if err != nil {
			return nil, fmt.Errorf("step %q: %w", s.Name, err)
		}
		if t.Kind != workspace.KindSpark {
			if s.Kind == SparkStep || s.Kind == SQLStep {
				return nil, fmt.Errorf("step %q: a %s step runs on a Spark target, and %q is a %s target", s.Name, s.Kind, t.Name, t.Kind)
			}
			continue
		}
		c, err := spark.ParseConfig(t.Config)
		if err != nil {
			return nil, err
		}
		v, err := ws.SparkSecret(ctx, t.Name, c)
		if err != nil {
			return nil, fmt.Errorf("step %q: %w", s.Name, err)
		}
		if c.NoAuth {
			continue
		}
		if err := c.Reachable(ctx); err != nil {
			return nil, fmt.Errorf("step %q: %w", s.Name, err)
		}
		if c.SecretEnv != "" {
			env = append(env, c.SecretEnv+"="+v)
		} else {
			env = append(env, secretEnvPrefix+t.Name+"="+v)
		}
	}
	return env, nil
}

// makePlan checks p and keeps its code and data in the workspace.
func makePlan(ctx context.Context, ws *sdk.Workspace, p *Pipeline) (*plan, error) {
	g, err := p.check()
	if err != nil {
		return nil, err
	}
	for _, s := range p.Steps {
		if _, err := ws.Store().Target(ctx, s.Target); err != nil {
			return nil, fmt.Errorf("step %q: %w", s.Name, err)
		}
	}
	store, err := ws.BlobStore()
	if err != nil {
		return nil, err
	}
	pl := &plan{Name: p.Name, MaxConcurrency: p.MaxConcurrency, Inputs: map[string]data{}, Deps: g.deps}
	if pl.MaxConcurrency == 0 {
		pl.MaxConcurrency = 4
	}
	for name, path := range p.Inputs {
		d, err := keepData(ctx, store, path)
		if err != nil {
			return nil, fmt.Errorf("pipeline input %q: %w", name, err)
		}
		pl.Inputs[name] = d
	}
	snaps := map[string]string{} // source directory -> snapshot ID
	for _, i := range g.order {
		s := p.Steps[i]
		env, err := stepEnvironment(s)
		if err != nil {
			return nil, err
		}
		dir, err := filepath.Abs(s.dir())
		if err != nil {
			return nil, err
		}
		id, ok := snaps[dir]
		if !ok {
			m, _, err := snapshot.Take(ctx, dir, store, snapshot.Options{Exclude: workspaceExclude(dir, ws.Dir())})
			if err != nil {
				return nil, fmt.Errorf("step %q: %w", s.Name, err)
			}
			if id, err = sdk.PutManifest(ctx, store, m); err != nil {
				return nil, err
			}
			snaps[dir] = id
		}
		if s.Kind == SQLStep {
			if id, err = withRunner(ctx, store, id); err != nil {
				return nil, err
			}
		}
		s.Script = filepath.ToSlash(filepath.Clean(s.Script))
		s.Environment, s.EnvironmentFile = nil, ""
		pl.Steps = append(pl.Steps, plannedStep{Step: s, SnapshotID: id, Environment: *env})
	}
	return pl, nil
}

// workspaceExclude keeps a workspace inside the source directory out of
// its snapshot.
func workspaceExclude(src, wsDir string) []string {
	rel, err := filepath.Rel(src, wsDir)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		return nil
	}
	return []string{"/" + filepath.ToSlash(rel) + "/"}
}

// stepEnvironment is the step's environment: Environment, else what
// EnvironmentFile names, else a user-managed python3.
func stepEnvironment(s Step) (*environment.Environment, error) {
	if s.Environment != nil {
		return s.Environment, nil
	}
	v := s.EnvironmentFile
	if v == "" {
		v = "python3"
	}
	if ext := strings.ToLower(filepath.Ext(v)); ext == ".yml" || ext == ".yaml" {
		deps, err := environment.ReadCondaFile(v)
		if err != nil {
			return nil, fmt.Errorf("step %q: environment %s: %w", s.Name, v, err)
		}
		name := deps.Name
		if name == "" {
			name = strings.TrimSuffix(filepath.Base(v), filepath.Ext(v))
		}
		e := environment.New(name)
		e.Python.CondaDependencies = deps
		return e, e.Validate()
	}
	e := &environment.Environment{Name: filepath.Base(v)}
	e.Python.UserManagedDependencies = true
	e.Python.InterpreterPath = v
	return e, nil
}

// keepData snapshots the file or directory at path into the store.
func keepData(ctx context.Context, store *snapshot.BlobStore, path string) (data, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return data{}, err
	}
	abs, _ := filepath.Abs(path)
	if fi.IsDir() {
		// Data is data: no ignore file applies, and no size limit.
		m, _, err := snapshot.Take(ctx, path, store, snapshot.Options{MaxFiles: -1, MaxBytes: -1})
		if err != nil {
			return data{}, err
		}
		id, err := sdk.PutManifest(ctx, store, m)
		return data{ID: id, From: abs}, err
	}
	if !fi.Mode().IsRegular() {
		return data{}, fmt.Errorf("%s is neither a file nor a directory", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return data{}, err
	}
	defer f.Close()
	sum, size, err := store.Put(ctx, f)
	if err != nil {
		return data{}, err
	}
	name := filepath.Base(path)
	m := &snapshot.Manifest{Entries: []snapshot.Entry{{Path: name, Mode: fi.Mode().Perm() &^ 0o022, Size: size, SHA256: sum}}}
	id, err := sdk.PutManifest(ctx, store, m)
	return data{ID: id, File: name, From: abs}, err
}

// sqlRunner is the program a SQL step runs with spark-submit.
//
//go:embed gantry_sql.py
var sqlRunner []byte

// sqlRunnerName is its name in a SQL step's snapshot.
const sqlRunnerName = "gantry_sql.py"

// withRunner returns the snapshot id with the SQL runner added.
func withRunner(ctx context.Context, store *snapshot.BlobStore, id string) (string, error) {
	m, err := sdk.ReadManifest(store, id)
	if err != nil {
		return "", err
	}
	sum, size, err := store.Put(ctx, bytes.NewReader(sqlRunner))
	if err != nil {
		return "", err
	}
	out := &snapshot.Manifest{}
	for _, e := range m.Entries {
		if e.Path != sqlRunnerName {
			out.Entries = append(out.Entries, e)
		}
	}
	out.Entries = append(out.Entries, snapshot.Entry{Path: sqlRunnerName, Mode: fs.FileMode(0o644), Size: size, SHA256: sum})
	sort.Slice(out.Entries, func(i, j int) bool { return out.Entries[i].Path < out.Entries[j].Path })
	return sdk.PutManifest(ctx, store, out)
}
