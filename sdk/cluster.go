package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"gantry/sdk/driver"
	"gantry/sdk/driver/slurm"
	"gantry/sdk/workspace"
)

// ManagedCluster is the configuration of a managed cluster: the seed's
// AmlCompute, on Slurm. Nodes are booted when runs need them, up to
// MaxNodes, and stopped after IdleSecondsBeforeScaledown without work,
// down to MinNodes.
//
// The cluster lives in a Slurm instance: the directory SlurmDir, else
// $GANTRY_SLURM_DIR (scripts/slurm.sh start DIR makes one on this machine).
// The workspace must be on a filesystem the cluster's nodes share.
type ManagedCluster struct {
	VMSize   string // a size in Sizes
	MinNodes int    // nodes kept up (default 0)
	MaxNodes int
	// VMPriority is "dedicated" (the default) or "lowpriority": runs that
	// dedicated runs on the same nodes preempt, and that Slurm requeues.
	VMPriority                 string
	IdleSecondsBeforeScaledown int // 0: slurm.DefaultIdleSeconds
	// NodesOf names another managed cluster whose nodes this one shares,
	// at its own VMPriority; VMSize and the node counts are then unused.
	NodesOf  string
	SlurmDir string
	Sizes    slurm.Catalogue // nil: slurm.DefaultCatalogue()
}

// clusterConfig turns c into the target configuration of cluster name.
func (ws *Workspace) clusterConfig(ctx context.Context, name string, c ManagedCluster) (slurm.Config, error) {
	cfg := slurm.Config{SlurmDir: c.SlurmDir, Pool: strings.ToLower(name), VMPriority: c.VMPriority,
		MinNodes: c.MinNodes, MaxNodes: c.MaxNodes, IdleSecondsBeforeScaledown: c.IdleSecondsBeforeScaledown}
	if cfg.VMPriority == "" {
		cfg.VMPriority = slurm.Dedicated
	}
	if c.NodesOf != "" {
		t, err := ws.w.Target(ctx, c.NodesOf)
		if err != nil {
			return cfg, fmt.Errorf("nodes of %q: %w", c.NodesOf, err)
		}
		other, err := slurm.ParseConfig(t.Config)
		if t.Kind != workspace.KindSlurm || err != nil || other.NodesOf != "" {
			return cfg, fmt.Errorf("nodes of %q: it is not a managed cluster with nodes of its own", c.NodesOf)
		}
		cfg.NodesOf, cfg.Pool, cfg.SlurmDir = t.Name, other.Pool, other.SlurmDir
		cfg.VMSize, cfg.MinNodes, cfg.MaxNodes = other.VMSize, other.MinNodes, other.MaxNodes
		cfg.IdleSecondsBeforeScaledown = other.IdleSecondsBeforeScaledown
		return cfg, cfg.Check()
	}
	sizes := c.Sizes
	if sizes == nil {
		sizes = slurm.DefaultCatalogue()
	}
	size, err := sizes.Lookup(c.VMSize)
	if err != nil {
		return cfg, err
	}
	cfg.VMSize = size
	if err := cfg.Check(); err != nil {
		return cfg, err
	}
	if cfg.SlurmDir == "" {
		dir, err := cfg.Dir()
		if err != nil {
			return cfg, err
		}
		cfg.SlurmDir = dir // kept, so the target does not depend on the environment
	}
	return cfg, nil
}

// CreateCompute creates the managed cluster name (2 to 16 letters, digits
// or hyphens) in its Slurm instance and adds it to the workspace.
//
// It is get-or-create: when a managed cluster of that name exists with the
// same settings it does nothing and returns nil; when they differ, the
// error matches ErrExists and says how (UpdateManagedCluster changes node
// counts, priority and idle time).
func (ws *Workspace) CreateCompute(ctx context.Context, name string, c ManagedCluster) error {
	have, err := ws.w.Target(ctx, name)
	found := err == nil
	if found && have.Kind != workspace.KindSlurm {
		return existing(have, "create compute", workspace.KindSlurm, nil, "")
	}
	if found && c.SlurmDir == "" {
		if old, err := slurm.ParseConfig(have.Config); err == nil {
			c.SlurmDir = old.SlurmDir // as UpdateManagedCluster: the instance it was made in
		}
	}
	cfg, err := ws.clusterConfig(ctx, name, c)
	if err != nil {
		return fmt.Errorf("create compute %q: %w", name, err)
	}
	if found {
		raw, _ := json.Marshal(cfg)
		return existing(have, "create compute", workspace.KindSlurm, raw,
			"change them with UpdateManagedCluster, delete it first, or pick another name")
	}
	var in *slurm.Instance
	if cfg.NodesOf == "" {
		if in, err = slurm.OpenInstance(cfg.SlurmDir); err != nil {
			return fmt.Errorf("create compute %q: %w", name, err)
		}
	}
	raw, _ := json.Marshal(cfg)
	t := workspace.Target{Name: name, Kind: workspace.KindSlurm, Config: raw, ProvisioningState: workspace.ProvisioningCreating}
	if err := ws.w.CreateTarget(ctx, t); err != nil {
		return err
	}
	if in != nil {
		if err := in.CreatePool(ctx, slurm.PoolOf(cfg, ws.Dir())); err != nil {
			_ = ws.w.DeleteTarget(context.WithoutCancel(ctx), name)
			return fmt.Errorf("create compute %q: %w", name, err)
		}
	}
	t.ProvisioningState = workspace.ProvisioningSucceeded
	return ws.w.UpdateTarget(ctx, t)
}

// UpdateManagedCluster changes the node counts, size, priority or idle
// time of the managed cluster name; runs already started go on.
func (ws *Workspace) UpdateManagedCluster(ctx context.Context, name string, c ManagedCluster) error {
	t, err := ws.w.Target(ctx, name)
	if err != nil {
		return err
	}
	if t.Kind != workspace.KindSlurm {
		return fmt.Errorf("update compute %q: it is a %s target, not a managed cluster", name, t.Kind)
	}
	old, err := slurm.ParseConfig(t.Config)
	if err != nil {
		return fmt.Errorf("update compute %q: %w", name, err)
	}
	if c.SlurmDir == "" {
		c.SlurmDir = old.SlurmDir
	}
	cfg, err := ws.clusterConfig(ctx, name, c)
	if err != nil {
		return fmt.Errorf("update compute %q: %w", name, err)
	}
	if cfg.SlurmDir != old.SlurmDir || cfg.NodesOf != old.NodesOf {
		return fmt.Errorf("update compute %q: its Slurm instance and shared nodes cannot change: delete it and create it again", name)
	}
	if cfg.NodesOf == "" {
		in, err := slurm.OpenInstance(cfg.SlurmDir)
		if err != nil {
			return fmt.Errorf("update compute %q: %w", name, err)
		}
		if err := in.UpdatePool(ctx, slurm.PoolOf(cfg, ws.Dir())); err != nil {
			return fmt.Errorf("update compute %q: %w", name, err)
		}
	}
	t.Config, _ = json.Marshal(cfg)
	return ws.w.UpdateTarget(ctx, t)
}

// deleteCluster cancels a managed cluster's runs in Slurm and releases its
// nodes; DeleteCompute then forgets it.
func (ws *Workspace) deleteCluster(ctx context.Context, t workspace.Target) error {
	cfg, err := slurm.ParseConfig(t.Config)
	if err != nil || cfg.NodesOf != "" {
		return err
	}
	in, err := slurm.OpenInstance(cfg.SlurmDir)
	if err != nil {
		return fmt.Errorf("delete compute %q: %w", t.Name, err)
	}
	return in.DeletePool(ctx, cfg.Pool)
}

// ClusterStatus reports the managed cluster's nodes by state and its
// queued and running runs.
func (ws *Workspace) ClusterStatus(ctx context.Context, name string) (slurm.Status, error) {
	t, err := ws.w.Target(ctx, name)
	if err != nil {
		return slurm.Status{}, err
	}
	if t.Kind != workspace.KindSlurm {
		return slurm.Status{}, fmt.Errorf("compute %q is a %s target, not a managed cluster", name, t.Kind)
	}
	cfg, err := slurm.ParseConfig(t.Config)
	if err != nil {
		return slurm.Status{}, err
	}
	in, err := slurm.OpenInstance(cfg.SlurmDir)
	if err != nil {
		return slurm.Status{}, fmt.Errorf("status of compute %q: %w", name, err)
	}
	return in.PoolStatus(ctx, cfg.Pool)
}

// WaitForCluster waits until the managed cluster name has at least
// minNodeCount nodes up (idle or busy), writing its status to show when it
// changes (the seed's wait_for_completion(show_output, min_node_count)).
func (ws *Workspace) WaitForCluster(ctx context.Context, name string, show io.Writer, minNodeCount int) (slurm.Status, error) {
	if _, err := ws.WaitForCompute(ctx, name, nil); err != nil {
		return slurm.Status{}, err
	}
	var last string
	for {
		st, err := ws.ClusterStatus(ctx, name)
		if err != nil {
			return st, err
		}
		if s := st.String(); s != last && show != nil {
			fmt.Fprintf(show, "compute %s: %s\n", name, s)
			last = s
		}
		if st.Counts[slurm.Idle]+st.Counts[slurm.Busy] >= minNodeCount {
			return st, nil
		}
		select {
		case <-ctx.Done():
			return st, fmt.Errorf("wait for compute %q: %w", name, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// clusterChecks throttles and remembers the comparisons of Slurm's view of
// runs with ours.
type clusterChecks struct {
	mu      sync.Mutex
	last    map[string]time.Time // run ID -> last check
	suspect map[string]int       // run ID -> checks in a row that found the job ended
}

// checkEvery is how often a run's Slurm job is looked at.
const checkEvery = 2 * time.Second

func (c *clusterChecks) due(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last == nil {
		c.last, c.suspect = map[string]time.Time{}, map[string]int{}
	}
	if time.Since(c.last[id]) < checkEvery {
		return false
	}
	c.last[id] = time.Now()
	return true
}

// ended counts a check that found the run's job ended, and reports
// whether two in a row did (a requeue passes through states that are not
// active for a moment).
func (c *clusterChecks) ended(id string, yes bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !yes {
		delete(c.suspect, id)
		return false
	}
	c.suspect[id]++
	return c.suspect[id] >= 2
}

// checkCluster compares Slurm's view of a run on a managed cluster with
// ours: a job Slurm has finished with while our record says the run goes
// on lost its agent (a node failure, a job canceled before its agent
// started), and the run is ended here with the reason.
func (r *Run) checkCluster(ctx context.Context) error {
	d, err := r.Details(ctx)
	if err != nil || d.State.Final() || d.State == workspace.StateNotStarted {
		return err
	}
	var h driver.Handle
	if json.Unmarshal([]byte(d.Properties[handleProperty]), &h) != nil || h.Kind != slurm.Kind {
		return nil
	}
	if !r.ws.checks.due(r.ID) {
		return nil
	}
	job := driver.Job{RunID: r.ID, WorkspaceDir: r.ws.Dir(), Target: d.Target}
	state, err := (&slurm.Driver{}).JobState(ctx, job, h)
	if err != nil {
		return nil // Slurm unreachable: the heartbeats judge meanwhile
	}
	if !r.ws.checks.ended(r.ID, !slurm.Active(state)) {
		return nil
	}
	d, err = r.Details(ctx)
	if err != nil || d.State.Final() {
		return err
	}
	if state == "" {
		state = "no longer known"
	}
	cause := "its node failed or the agent was killed"
	if f, err := (&slurm.Driver{}).JobFacts(ctx, job, h); err == nil && f.Cause() != "" {
		cause = f.Cause()
	}
	to, reason := workspace.StateFailed, fmt.Sprintf("the Slurm job ended (%s) without the run's agent recording an end: %s%s", state, cause, slurmLogsHint(ctx, r.ws, d.Target))
	if d.State == workspace.StateCancelRequested {
		to, reason = workspace.StateCanceled, fmt.Sprintf("canceled in Slurm (%s) before its agent ran", state)
	}
	err = r.ws.w.Transition(ctx, r.ID, to, reason)
	if errors.Is(err, workspace.ErrIllegalTransition) {
		return nil // the agent got there first
	}
	return err
}

// slurmLogsHint says where the logs of a managed cluster's Slurm are, for
// a reason that blames a node.
func slurmLogsHint(ctx context.Context, ws *Workspace, target string) string {
	t, err := ws.w.Target(ctx, target)
	if err != nil {
		return ""
	}
	cfg, err := slurm.ParseConfig(t.Config)
	if err != nil {
		return ""
	}
	in, err := slurm.OpenInstance(cfg.SlurmDir)
	if err != nil {
		return ""
	}
	return " (the nodes' and slurmctld's logs are in " + filepath.Join(in.Dir, "log") + ")"
}

// Events returns the run's history: each change of state with its reason,
// preemptions and restarts on a managed cluster included.
func (r *Run) Events(ctx context.Context) ([]workspace.Event, error) {
	return r.ws.w.Events(ctx, r.ID)
}
