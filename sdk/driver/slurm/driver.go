package slurm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"gantry/sdk/driver"
)

// Kind is the target kind this driver runs.
const Kind = "slurm"

// Driver submits runs as Slurm batch jobs that run `gantry agent` with the
// binary at Exe.
type Driver struct {
	Exe string
}

var (
	_ driver.Driver    = (*Driver)(nil)
	_ driver.Validator = (*Driver)(nil)
	_ driver.Recoverer = (*Driver)(nil)
	_ driver.Scaler    = (*Driver)(nil)
)

// handle is what a run's driver handle keeps. JobID finds the job fast;
// JobName (gantry-RUNID) is what identifies it, since job IDs repeat.
type handle struct {
	JobID    int    `json:"job_id"`
	JobName  string `json:"job_name"`
	SlurmDir string `json:"slurm_dir"`
}

// JobName returns the name of the Slurm job of run runID.
func JobName(runID string) string { return "gantry-" + runID }

// instance opens the Slurm instance of a target configuration.
func instance(raw json.RawMessage) (Config, *Instance, error) {
	c, err := ParseConfig(raw)
	if err != nil {
		return c, nil, err
	}
	dir, err := c.Dir()
	if err != nil {
		return c, nil, err
	}
	in, err := OpenInstance(dir)
	return c, in, err
}

// Submit writes the run's batch script and submits it with sbatch.
func (d *Driver) Submit(ctx context.Context, job driver.Job) (driver.Handle, error) {
	if d.Exe == "" {
		return driver.Handle{}, errors.New("slurm driver: no gantry binary to run agents with")
	}
	c, in, err := instance(job.Config)
	if err != nil {
		return driver.Handle{}, fmt.Errorf("submit run %s: %w", job.RunID, err)
	}
	nodes := max(job.NodeCount, 1)
	script := BatchScript(d.Exe, job.WorkspaceDir, job.RunID, nodes, c.VMPriority == LowPriority)
	path := filepath.Join(job.RunDir, "slurm-batch.sh")
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		return driver.Handle{}, fmt.Errorf("submit run %s: write batch script: %w", job.RunID, err)
	}
	args := SbatchArgs(c, job.RunID, job.RunDir, nodes, path)
	if job.GPUCount > 0 {
		if err := c.CheckGPUs(job.GPUCount, nil); err != nil {
			return driver.Handle{}, fmt.Errorf("submit run %s: %w", job.RunID, err)
		}
		args = append(args[:len(args)-1], "--gres=gpu:"+strconv.Itoa(job.GPUCount), path)
	}
	out, err := in.command(ctx, "sbatch", args...)
	if err != nil {
		return driver.Handle{}, fmt.Errorf("submit run %s to cluster %q: %w", job.RunID, job.Target, err)
	}
	id, err := strconv.Atoi(strings.TrimSpace(strings.Split(string(out), ";")[0]))
	if err != nil {
		return driver.Handle{}, fmt.Errorf("submit run %s: sbatch said %q, not a job ID", job.RunID, out)
	}
	st, _ := json.Marshal(handle{JobID: id, JobName: JobName(job.RunID), SlurmDir: in.Dir})
	return driver.Handle{Kind: Kind, State: st}, nil
}

// SbatchArgs returns sbatch's arguments for a run of nodes nodes on the
// cluster c.
func SbatchArgs(c Config, runID, runDir string, nodes int, script string) []string {
	requeue := "--no-requeue"
	if c.VMPriority == LowPriority {
		requeue = "--requeue"
	}
	return []string{"--parsable",
		"--job-name=" + JobName(runID),
		"--partition=" + c.Partition(),
		"--nodes=" + strconv.Itoa(nodes),
		"--ntasks-per-node=1",
		"--exclusive",
		requeue,
		"--chdir=" + runDir,
		"--output=" + filepath.Join(runDir, "logs", "slurm-%j.out"),
		"--open-mode=append",
		script,
	}
}

// BatchScript returns the batch script of a run: the agent, once per node
// for a run of several nodes (srun, one task per node), with the GANTRY_*
// variables that launchers such as torchrun need.
func BatchScript(exe, wsDir, runID string, nodes int, requeue bool) string {
	agent := shellQuote(exe) + " agent --workspace " + shellQuote(wsDir) + " --run " + shellQuote(runID)
	return BatchScriptFor(agent, runID, nodes, requeue)
}

// BatchScriptFor is BatchScript with the agent's command line given: on
// an attached cluster the agent records into a journal instead of the
// workspace.
func BatchScriptFor(agent, runID string, nodes int, requeue bool) string {
	var b strings.Builder
	b.WriteString("#!/bin/sh\n# Written by Gantry: the agent of run " + runID + ".\n")
	b.WriteString("export GANTRY_SLURM=1 GANTRY_NUM_NODES=${SLURM_JOB_NUM_NODES:-1}\n")
	if requeue {
		b.WriteString("export GANTRY_SLURM_REQUEUE=1\n")
	}
	b.WriteString("export GANTRY_MASTER_PORT=$((29500 + ${SLURM_JOB_ID:-0} % 1000))\n")
	if nodes <= 1 {
		// Every rank is on this node: no need for the two scontrol calls,
		// round trips to slurmctld before the agent starts.
		b.WriteString("export GANTRY_MASTER_ADDR=127.0.0.1 GANTRY_NODE_RANK=0\nexec " + agent + "\n")
		return b.String()
	}
	b.WriteString(`first=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)
addr=$(scontrol show node "$first" -o | sed -n 's/.* NodeAddr=\([^ ]*\).*/\1/p')
export GANTRY_MASTER_ADDR=${addr:-$first}
`)
	b.WriteString("exec srun --ntasks-per-node=1 --kill-on-bad-exit=0 sh -c " +
		shellQuote("GANTRY_NODE_RANK=$SLURM_PROCID exec "+agent) + "\n")
	return b.String()
}

// ShellQuote quotes s for sh.
func ShellQuote(s string) string { return shellQuote(s) }

// shellQuote quotes s for sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func parseHandle(h driver.Handle) (handle, error) {
	var st handle
	if err := json.Unmarshal(h.State, &st); err != nil || st.JobName == "" || st.SlurmDir == "" {
		return st, fmt.Errorf("slurm driver: unreadable handle %s", h.State)
	}
	return st, nil
}

// Cancel cancels the run's Slurm job, found by name.
func (d *Driver) Cancel(ctx context.Context, job driver.Job, h driver.Handle) error {
	st, err := parseHandle(h)
	if err != nil {
		return err
	}
	in, err := OpenInstance(st.SlurmDir)
	if err != nil {
		return fmt.Errorf("cancel run %s: %w", job.RunID, err)
	}
	if _, err := in.command(ctx, "scancel", "--name="+st.JobName); err != nil {
		return fmt.Errorf("cancel run %s: %w", job.RunID, err)
	}
	return nil
}

// JobState returns Slurm's state of the run's job ("PENDING", "RUNNING",
// "NODE_FAIL", ...), or "" when Slurm no longer knows it.
func (d *Driver) JobState(ctx context.Context, job driver.Job, h driver.Handle) (string, error) {
	st, err := parseHandle(h)
	if err != nil {
		return "", err
	}
	in, err := OpenInstance(st.SlurmDir)
	if err != nil {
		return "", err
	}
	out, err := in.command(ctx, "squeue", "-h", "-t", "all", "--name="+st.JobName, "-o", "%T")
	if err != nil {
		return "", fmt.Errorf("state of run %s in Slurm: %w", job.RunID, err)
	}
	states := strings.Fields(string(out))
	for _, s := range states {
		if Active(s) {
			return s, nil
		}
	}
	if len(states) > 0 {
		return states[len(states)-1], nil
	}
	return "", nil
}

// Active reports whether a Slurm job state is one in which the job may
// still run.
func Active(state string) bool {
	switch state {
	case "PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED", "REQUEUED", "REQUEUE_HOLD",
		"REQUEUE_FED", "RESIZING", "SIGNALING", "STAGE_OUT", "STOPPED", "RESV_DEL_HOLD":
		return true
	}
	return false
}

// Alive reports whether the run's job is still queued or running in Slurm.
func (d *Driver) Alive(ctx context.Context, job driver.Job, h driver.Handle) (bool, error) {
	s, err := d.JobState(ctx, job, h)
	return Active(s), err
}

// Validate checks a managed cluster's configuration.
func (d *Driver) Validate(ctx context.Context, config json.RawMessage) error {
	c, err := ParseConfig(config)
	if err != nil {
		return err
	}
	return c.Check()
}

// Scale sets the bounds on the cluster's nodes.
func (d *Driver) Scale(ctx context.Context, config json.RawMessage, minNodes, maxNodes int) error {
	c, in, err := instance(config)
	if err != nil {
		return err
	}
	if c.NodesOf != "" {
		return fmt.Errorf("cluster uses the nodes of %q: scale that one", c.NodesOf)
	}
	c.MinNodes, c.MaxNodes = minNodes, maxNodes
	if err := c.Check(); err != nil {
		return err
	}
	return in.UpdatePool(ctx, PoolOf(c, ""))
}

// JobFacts asks Slurm about the run's job and its nodes, to tell why it
// ended. Slurm forgets a finished job after MinJobAge (300 s by default).
func (d *Driver) JobFacts(ctx context.Context, job driver.Job, h driver.Handle) (JobFacts, error) {
	st, err := parseHandle(h)
	if err != nil {
		return JobFacts{}, err
	}
	in, err := OpenInstance(st.SlurmDir)
	if err != nil {
		return JobFacts{}, err
	}
	return ReadJobFacts(ctx, in.command, strconv.Itoa(st.JobID), "")
}
