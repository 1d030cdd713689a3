package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gantry/sdk/agent"
	"gantry/sdk/driver"
	"gantry/sdk/driver/local"
	"gantry/sdk/driver/slurm"
	sshdriver "gantry/sdk/driver/ssh"
	"gantry/sdk/environment"
	"gantry/sdk/snapshot"
	"gantry/sdk/workspace"
)

// Workspace is where compute targets, runs, metrics and models are kept:
// a directory with a SQLite database that is the record of truth.
type Workspace struct {
	w       *workspace.Workspace
	exe     string // the gantry binary that runs agents
	drivers map[string]driver.Factory
	remotes remotes // SSH connections and followed runs
	// checks compares Slurm's view of runs with ours (cluster.go).
	checks clusterChecks
	// onWait is called when a wait for a run begins (see OnWait).
	onWait func(ctx context.Context, r *Run)
}

// OnWait sets f to be called, with the run, each time WaitForCompletion
// begins to wait for one of the workspace's runs. The Gantry kernel sets it
// on the workspaces cells open, to show the run's live card in the
// notebook. Set it before waiting; nil calls nothing.
func (ws *Workspace) OnWait(f func(ctx context.Context, r *Run)) { ws.onWait = f }

// OpenWorkspace opens (creating if need be) the workspace in dir; an empty
// dir means $GANTRY_WORKSPACE, else .gantry in the current directory.
func OpenWorkspace(ctx context.Context, dir string) (*Workspace, error) {
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, err
		}
		dir = workspace.DefaultDir(wd)
	}
	w, err := workspace.Open(ctx, dir)
	if err != nil {
		return nil, err
	}
	return &Workspace{w: w}, nil
}

// Close closes the workspace and its connections; runs go on.
func (ws *Workspace) Close() error {
	ws.closeRemotes()
	return ws.w.Close()
}

// Dir returns the workspace's directory.
func (ws *Workspace) Dir() string { return ws.w.Dir() }

// Store returns the workspace's data layer, for what this package does not
// wrap.
func (ws *Workspace) Store() *workspace.Workspace { return ws.w }

// gantry finds the binary that runs agents: $GANTRY_AGENT_BINARY if set
// (for tests, whose own binary is not gantry), this one if it is gantry,
// else gantry on PATH.
func (ws *Workspace) gantry() (string, error) {
	if ws.exe != "" {
		return ws.exe, nil
	}
	if exe := os.Getenv("GANTRY_AGENT_BINARY"); exe != "" {
		return exe, nil
	}
	if exe, err := os.Executable(); err == nil && filepath.Base(exe) == "gantry" {
		return exe, nil
	}
	if p, err := exec.LookPath("gantry"); err == nil {
		return p, nil
	}
	return "", errors.New("the gantry binary is needed to run agents and was not found: build it (go build -o bin/gantry ./cmd/gantry) and put it on PATH")
}

// handleProperty is the run property that keeps its driver's handle.
const handleProperty = "gantry.driver.handle"

// RegisterDriver makes targets of kind run with the driver f returns;
// SSH and Slurm drivers plug in here. The local driver is built in.
func (ws *Workspace) RegisterDriver(kind string, f driver.Factory) {
	if ws.drivers == nil {
		ws.drivers = map[string]driver.Factory{}
	}
	ws.drivers[kind] = f
}

// driver returns the driver for targets of kind.
func (ws *Workspace) driver(kind string) (driver.Driver, error) {
	if f, ok := ws.drivers[kind]; ok {
		return f(), nil
	}
	if kind == sshdriver.Kind {
		return ws.sshDriver()
	}
	if kind == local.Kind {
		exe, err := ws.gantry()
		if err != nil {
			return nil, err
		}
		return &local.Driver{Exe: exe}, nil
	}
	if kind == slurm.Kind { // managed clusters: cluster.go
		exe, err := ws.gantry()
		if err != nil {
			return nil, err
		}
		return &slurm.Driver{Exe: exe}, nil
	}
	return nil, fmt.Errorf("no driver runs targets of kind %q in this Gantry", kind)
}

// LocalCompute is the configuration of the local target: this machine.
type LocalCompute struct {
	// MaxConcurrentRuns caps the runs that execute at once (0: no cap).
	MaxConcurrentRuns int `json:"max_concurrent_runs,omitempty"`
}

// CreateLocalCompute adds the local target under name (2 to 16 letters,
// digits or hyphens, starting with a letter).
func (ws *Workspace) CreateLocalCompute(ctx context.Context, name string, c LocalCompute) error {
	cfg, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if err := (&local.Driver{}).Validate(ctx, cfg); err != nil {
		return fmt.Errorf("create compute %q: %w", name, err)
	}
	return ws.w.CreateTarget(ctx, workspace.Target{Name: name, Kind: workspace.KindLocal, Config: cfg,
		ProvisioningState: workspace.ProvisioningSucceeded})
}

// ComputeTargets lists the workspace's compute targets.
func (ws *Workspace) ComputeTargets(ctx context.Context) ([]workspace.Target, error) {
	return ws.w.Targets(ctx)
}

// RunConfiguration says where and how a script runs: the seed's
// RunConfiguration.
type RunConfiguration struct {
	Target      string                   // a compute target's name
	Environment *environment.Environment // nil: a user-managed "python3"
	EnvVars     map[string]string
	MaxDuration time.Duration // 0: no limit
	NodeCount   int           // for clusters; 1 on the local target
}

// ScriptRunConfig is what to run: the seed's ScriptRunConfig.
type ScriptRunConfig struct {
	SourceDirectory string   // snapshotted and sent to the target
	Script          string   // relative to SourceDirectory
	Command         []string // instead of Script
	Arguments       []string
	RunConfig       RunConfiguration
	Snapshot        snapshot.Options
}

// Experiment groups runs under a name.
type Experiment struct {
	ws   *Workspace
	Name string
}

// Experiment returns the experiment name, created on first use.
func (ws *Workspace) Experiment(name string) *Experiment { return &Experiment{ws: ws, Name: name} }

// Submit snapshots the source directory, records a run and hands it to its
// target; it returns at once, with the run Queued.
func (e *Experiment) Submit(ctx context.Context, src ScriptRunConfig) (*Run, error) {
	return e.submit(ctx, src, "")
}

// submit is Submit, of a child of the run parentID if it is not "".
func (e *Experiment) submit(ctx context.Context, src ScriptRunConfig, parentID string) (*Run, error) {
	ws := e.ws
	if err := src.check(); err != nil {
		return nil, fmt.Errorf("submit to experiment %q: %w", e.Name, err)
	}
	target := src.RunConfig.Target
	if target == "" {
		return nil, fmt.Errorf("submit to experiment %q: the run configuration names no target: set RunConfig.Target (ws.ComputeTargets lists them)", e.Name)
	}
	t, err := ws.w.Target(ctx, target)
	if err != nil {
		return nil, fmt.Errorf("submit to experiment %q: %w", e.Name, err)
	}
	drv, err := ws.driver(string(t.Kind))
	if err != nil {
		return nil, fmt.Errorf("submit to %q: %w", target, err)
	}
	var local LocalCompute
	if len(t.Config) > 0 {
		if err := json.Unmarshal(t.Config, &local); err != nil {
			return nil, fmt.Errorf("submit to %q: its configuration is unreadable: %w", target, err)
		}
	}
	env := src.RunConfig.Environment
	if env == nil {
		env = &environment.Environment{Name: "python3"}
		env.Python.UserManagedDependencies = true
		env.Python.InterpreterPath = "python3"
	}
	store, err := snapshot.NewBlobStore(ws.w.BlobsDir())
	if err != nil {
		return nil, err
	}
	opts := src.Snapshot
	if rel, ok := inside(src.SourceDirectory, ws.w.Dir()); ok {
		// The workspace beside the notebook is not part of the code.
		opts.Exclude = append(append([]string(nil), opts.Exclude...), "/"+filepath.ToSlash(rel)+"/")
	}
	m, _, err := snapshot.Take(ctx, src.SourceDirectory, store, opts)
	if err != nil {
		return nil, fmt.Errorf("submit to experiment %q: %w", e.Name, err)
	}
	return e.launch(ctx, t, drv, m, agent.Job{
		Script: src.Script, Command: src.Command, Arguments: src.Arguments, Environment: *env,
		EnvVars: src.RunConfig.EnvVars, MaxDuration: src.RunConfig.MaxDuration,
		Target: target, MaxConcurrentRuns: local.MaxConcurrentRuns,
	}, parentID, src.RunConfig.NodeCount)
}

// nodeCountProperty is the run property that keeps how many nodes a run
// on a cluster asked for, when more than one (for Resubmit).
const nodeCountProperty = "gantry.node_count"

// launch records a run of the snapshot m in experiment e, writes what its
// agent needs, and hands it to its target t's driver drv. job says what
// to run; launch fills in the run's identity.
func (e *Experiment) launch(ctx context.Context, t workspace.Target, drv driver.Driver, m *snapshot.Manifest, job agent.Job, parentID string, nodes int) (*Run, error) {
	ws := e.ws
	spec := workspace.RunSpec{Experiment: e.Name, ParentID: parentID, Target: t.Name, SnapshotID: m.ID(), EnvKey: job.Environment.Key()}
	if nodes > 1 {
		spec.Properties = map[string]string{nodeCountProperty: strconv.Itoa(nodes)}
	}
	r, err := ws.w.NewRun(ctx, spec)
	if err != nil {
		return nil, err
	}
	run := &Run{ws: ws, ID: r.ID}
	dir, err := ws.w.RunDir(r.ID)
	if err != nil {
		return nil, err
	}
	job.RunID, job.Experiment, job.SnapshotID, job.Target = r.ID, e.Name, m.ID(), t.Name
	if err := run.prepareDir(dir, m, job); err != nil {
		return nil, run.failSubmit(ctx, err)
	}
	if err := ws.w.Transition(ctx, r.ID, workspace.StateQueued, "submitted to "+t.Name); err != nil {
		return nil, err
	}
	h, err := drv.Submit(ctx, driver.Job{RunID: r.ID, WorkspaceDir: ws.w.Dir(), RunDir: dir, Target: t.Name, Config: t.Config, NodeCount: nodes})
	if err != nil {
		return nil, run.failSubmit(ctx, err)
	}
	if hb, err := json.Marshal(h); err == nil {
		_ = ws.w.SetProperty(ctx, r.ID, handleProperty, string(hb))
	}
	ws.follow(ctx, r.ID)
	return run, nil
}

// check validates a ScriptRunConfig before anything is recorded.
func (src *ScriptRunConfig) check() error {
	if src.SourceDirectory == "" {
		src.SourceDirectory = "."
	}
	fi, err := os.Stat(src.SourceDirectory)
	if err != nil {
		return fmt.Errorf("source directory %q: %w", src.SourceDirectory, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("source directory %q is a file: give the directory that holds the script", src.SourceDirectory)
	}
	if src.Script == "" && len(src.Command) == 0 {
		return errors.New("nothing to run: set Script (a path inside SourceDirectory) or Command")
	}
	if src.Script != "" {
		clean := filepath.Clean(src.Script)
		if filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") {
			return fmt.Errorf("script %q is outside the source directory %q: the script must be inside it, since only that directory is sent to the target", src.Script, src.SourceDirectory)
		}
		if _, err := os.Stat(filepath.Join(src.SourceDirectory, clean)); err != nil {
			return fmt.Errorf("script %q not found in source directory %q", src.Script, src.SourceDirectory)
		}
		src.Script = clean
	}
	return nil
}

// inside reports whether dir lies inside root, and its path relative to
// root.
func inside(root, dir string) (string, bool) {
	r, err1 := filepath.Abs(root)
	d, err2 := filepath.Abs(dir)
	if err1 != nil || err2 != nil {
		return "", false
	}
	rel, err := filepath.Rel(r, d)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", false
	}
	return rel, true
}
