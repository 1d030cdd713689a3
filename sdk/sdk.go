package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"gantry/sdk/agent"
	"gantry/sdk/driver"
	"gantry/sdk/driver/local"
	"gantry/sdk/driver/slurm"
	"gantry/sdk/driver/spark"
	sshdriver "gantry/sdk/driver/ssh"
	"gantry/sdk/environment"
	"gantry/sdk/gpu"
	"gantry/sdk/runlock"
	"gantry/sdk/snapshot"
	"gantry/sdk/workspace"
)

// Workspace is where compute targets, runs, metrics and models are kept:
// a directory with a SQLite database that is the record of truth.
type Workspace struct {
	w       *workspace.Workspace
	exe     string // the gantry binary that runs agents
	drivers map[string]driver.Factory
	remotes remotes  // SSH connections and followed runs
	secrets *Secrets // prompted secrets, shared (UseSecrets); nil: the workspace's own
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
	if kind == spark.Kind { // spark_compute.go
		return ws.sparkDriver()
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
// digits or hyphens, starting with a letter). It is get-or-create: when a
// local target of that name exists with the same settings it does nothing
// and returns nil, so a notebook can run it every time; when the settings
// differ, the error matches ErrExists and says how.
func (ws *Workspace) CreateLocalCompute(ctx context.Context, name string, c LocalCompute) error {
	cfg, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if err := (&local.Driver{}).Validate(ctx, cfg); err != nil {
		return fmt.Errorf("create compute %q: %w", name, err)
	}
	const remedy = "change them with UpdateLocalCompute, delete it first, or pick another name"
	if t, err := ws.w.Target(ctx, name); err == nil {
		return existing(t, "create compute", workspace.KindLocal, cfg, remedy)
	}
	err = ws.w.CreateTarget(ctx, workspace.Target{Name: name, Kind: workspace.KindLocal, Config: cfg,
		ProvisioningState: workspace.ProvisioningSucceeded})
	if errors.Is(err, ErrExists) { // created meanwhile by another process
		if t, terr := ws.w.Target(ctx, name); terr == nil {
			return existing(t, "create compute", workspace.KindLocal, cfg, remedy)
		}
	}
	return err
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
	// GPUCount is how many GPUs the run asks for (per node). On the
	// local and SSH targets the run's agent leases that many devices of
	// the machine (CUDA_VISIBLE_DEVICES), holding the run in Queued while
	// they are busy; on a managed cluster the job asks Slurm for them
	// (--gres=gpu:N). A run that asks for none sees no GPU.
	GPUCount int
}

// ScriptRunConfig is what to run: the seed's ScriptRunConfig.
type ScriptRunConfig struct {
	SourceDirectory string // snapshotted and sent to the target
	// Script is relative to SourceDirectory. A notebook (.ipynb) runs
	// headless on its kernel on the target (notebook.go), with Parameters.
	Script    string
	Command   []string // instead of Script
	Arguments []string
	// Parameters of a notebook Script, injected as papermill does, after
	// its cell tagged "parameters" (in name order): numbers, strings,
	// bools, nil, and slices and maps of them.
	Parameters map[string]any
	// Kernel runs a notebook Script on this kernelspec instead of its own.
	Kernel    string
	RunConfig RunConfiguration
	Snapshot  snapshot.Options
	// SubmitKey, if not "", names this submit: a submit retried with the
	// same key (after a crash, or a reply that never arrived) returns the
	// run the first attempt started instead of starting another. Keys are
	// unique in the workspace; a UUID or "notebook/cell/attempt" will do.
	SubmitKey string

	prepared // a pipeline step's parts, already in the workspace (child.go)
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
	m, err := src.snapshot(ctx, store, opts)
	if err != nil {
		return nil, fmt.Errorf("submit to experiment %q: %w", e.Name, err)
	}
	job := agent.Job{Experiment: e.Name, SnapshotID: m.ID(), Script: src.Script, Command: src.Command,
		Arguments: src.Arguments, Environment: *env, EnvVars: src.RunConfig.EnvVars, MaxDuration: src.RunConfig.MaxDuration,
		Target: target, MaxConcurrentRuns: local.MaxConcurrentRuns, GPUCount: src.RunConfig.GPUCount}
	if err := ws.checkGPUs(ctx, t, src.RunConfig.GPUCount); err != nil {
		return nil, fmt.Errorf("submit to %q: %w", target, err)
	}
	if src.notebook() {
		nb, err := ws.notebookJob(ctx, src, m, store, env, src.RunConfig.Environment != nil, drv, t)
		if err != nil {
			return nil, fmt.Errorf("submit to %q: %w", target, err)
		}
		job.Script, job.Notebook = "", nb
	}
	spec := workspace.RunSpec{Experiment: e.Name, ParentID: parentID, Target: target, SnapshotID: m.ID(),
		EnvKey: env.Key(), SubmitKey: src.SubmitKey, Properties: src.properties}
	if n := src.RunConfig.NodeCount; n > 1 { // kept for Resubmit
		spec.Properties = maps.Clone(spec.Properties)
		if spec.Properties == nil {
			spec.Properties = map[string]string{}
		}
		spec.Properties[nodeCountProperty] = strconv.Itoa(n)
	}
	for {
		if spec.SubmitKey != "" {
			held, supersedes, err := ws.runForKey(ctx, spec.SubmitKey)
			if err != nil {
				return nil, fmt.Errorf("submit to experiment %q: %w", e.Name, err)
			}
			if held != nil {
				return held, nil
			}
			spec.Supersedes = supersedes
		}
		run, err := ws.handOver(ctx, spec, job, drv, t, src.RunConfig, m)
		var bound *workspace.KeyBoundError
		if errors.As(err, &bound) {
			continue // another submit with the key got there first: look again
		}
		return run, err
	}
}

// nodeCountProperty is the run property that keeps how many nodes a run
// on a cluster asked for, when more than one (for Resubmit).
const nodeCountProperty = "gantry.node_count"

// handOver records a run of spec and hands it to its target t with drv.
// From the run's creation until the hand-over is recorded, this process
// holds the run's submit lock (package runlock): if it dies part way, the
// run is failed and never started, by its agent or by whoever looks at it
// next (reconcile.go), since the caller never received its ID.
func (ws *Workspace) handOver(ctx context.Context, spec workspace.RunSpec, job agent.Job, drv driver.Driver,
	t workspace.Target, rc RunConfiguration, m *snapshot.Manifest) (*Run, error) {
	spec.ID = uuid.NewString()
	dir, err := ws.w.RunDir(spec.ID)
	if err != nil {
		return nil, err
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, fmt.Errorf("submit to %q: %w", t.Name, err)
	}
	lock, err := runlock.BeginSubmit(dir)
	if err != nil {
		os.Remove(dir)
		return nil, fmt.Errorf("submit to %q: %w", t.Name, err)
	}
	r, err := ws.w.NewRun(ctx, spec)
	if err != nil {
		lock.Complete()
		os.RemoveAll(dir)
		return nil, err
	}
	defer lock.Complete() // after a failure too: the run is Failed then
	run := &Run{ws: ws, ID: r.ID}
	job.RunID = r.ID
	if err := run.prepareDir(dir, m, job); err != nil {
		return nil, run.failSubmit(ctx, err)
	}
	if err := ws.w.Transition(ctx, r.ID, workspace.StateQueued, "submitted to "+t.Name); err != nil {
		return nil, run.failSubmit(ctx, err)
	}
	h, err := drv.Submit(ctx, driver.Job{RunID: r.ID, WorkspaceDir: ws.w.Dir(), RunDir: dir, Target: t.Name, Config: t.Config,
		NodeCount: rc.NodeCount, GPUCount: rc.GPUCount})
	if err != nil {
		return nil, run.failSubmit(ctx, err)
	}
	hb, err := json.Marshal(h)
	if err == nil {
		err = ws.w.SetProperty(ctx, r.ID, handleProperty, string(hb))
	}
	if err != nil {
		// The agent waits for the hand-over and fails the run when it
		// sees that it did not complete.
		return nil, run.failSubmit(ctx, fmt.Errorf("record the run's handle: %w", err))
	}
	if err := lock.Complete(); err != nil {
		return nil, run.failSubmit(ctx, fmt.Errorf("complete the submit: %w", err))
	}
	if c, ok := drv.(driver.Committer); ok {
		// If this fails (the connection dropped), the follower tells the
		// agent when it next reaches the machine.
		_ = c.Commit(ctx, driver.Job{RunID: r.ID, WorkspaceDir: ws.w.Dir(), RunDir: dir, Target: t.Name, Config: t.Config}, h)
	}
	ws.follow(ctx, r.ID)
	return run, nil
}

// runForKey finds the run a retried submit with key is to return: the
// run that holds the key, if it was handed to its target. A submit with
// the key still under way is waited for. A run that holds the key but
// whose submit died part way is failed, and returned as supersedes: the
// new run takes the key over.
func (ws *Workspace) runForKey(ctx context.Context, key string) (held *Run, supersedes string, err error) {
	for {
		d, err := ws.w.RunBySubmitKey(ctx, key)
		if errors.Is(err, workspace.ErrNotFound) {
			return nil, "", nil
		}
		if err != nil {
			return nil, "", err
		}
		if d.Properties[handleProperty] != "" {
			ws.follow(ctx, d.ID)
			return &Run{ws: ws, ID: d.ID}, "", nil
		}
		dir, err := ws.w.RunDir(d.ID)
		if err != nil {
			return nil, "", err
		}
		st, err := runlock.Submit(dir)
		if err != nil {
			return nil, "", err
		}
		if st == runlock.SubmitInProgress {
			if _, err := runlock.AwaitSubmit(ctx, dir, 20*time.Millisecond); err != nil {
				return nil, "", err
			}
			continue
		}
		if !d.State.Final() {
			err := ws.w.Transition(ctx, d.ID, workspace.StateFailed, "its submit was interrupted before the run was handed to its target; the submit was retried with the same key")
			if err != nil && !errors.Is(err, workspace.ErrIllegalTransition) {
				return nil, "", err
			}
		}
		if err := runlock.ClearAbandoned(dir); err != nil {
			return nil, "", err
		}
		return nil, d.ID, nil
	}
}

// checkGPUs refuses, before anything is recorded, a request for more GPUs
// than the target can ever give: the local machine's devices, or a
// managed cluster's nodes. An SSH machine is asked by the run's agent.
func (ws *Workspace) checkGPUs(ctx context.Context, t workspace.Target, n int) error {
	switch {
	case n < 0:
		return fmt.Errorf("GPUCount is %d: ask for 0 or more GPUs", n)
	case n == 0:
		return nil
	case t.Kind == workspace.KindLocal:
		devs, err := gpu.Detect(ctx)
		if err != nil {
			return fmt.Errorf("the run asks for %d GPUs: %w", n, err)
		}
		if n > len(devs) {
			return fmt.Errorf("the run asks for %d GPUs, and this machine has %d (nvidia-smi lists them): ask for at most %d, or submit to a target with GPUs",
				n, len(devs), len(devs))
		}
	case t.Kind == workspace.KindSlurm:
		cfg, err := slurm.ParseConfig(t.Config)
		if err != nil {
			return err
		}
		return cfg.CheckGPUs(n, nil)
	}
	return nil
}

// check validates a ScriptRunConfig before anything is recorded.
func (src *ScriptRunConfig) check() error {
	if src.snapshotID != "" {
		return nil // checked when the pipeline was submitted
	}
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
	switch {
	case src.notebook() && len(src.Arguments) > 0:
		return fmt.Errorf("notebook %s takes Parameters (-p NAME VALUE), not Arguments %q", src.Script, src.Arguments)
	case !src.notebook() && (len(src.Parameters) > 0 || src.Kernel != ""):
		return fmt.Errorf("Parameters and Kernel are for notebooks (.ipynb); script %q takes Arguments", src.Script)
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
