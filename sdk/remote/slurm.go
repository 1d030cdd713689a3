package remote

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"gantry/sdk/driver/slurm"
	"gantry/sdk/journal"
	"gantry/sdk/workspace"
)

// On a Slurm login node a run's agent is a batch job: the server writes
// the batch script, submits it with sbatch and judges the agent alive by
// Slurm's queue (its PID is on another host). The remote root must be on a
// filesystem the compute nodes share, as home directories on clusters are.

// slurmJobFile, in a run's directory, holds the Slurm job ID of a run
// submitted as a batch job; its presence marks such runs.
const slurmJobFile = "slurm.job"

// slurmStateTTL is how long a squeue answer is reused.
const slurmStateTTL = 2 * time.Second

type slurmState struct {
	at     time.Time
	active bool
}

// submitBatch writes the run's batch script and submits it.
func (s *Server) submitBatch(ctx context.Context, req *Request) (*Response, error) {
	dir, err := RunDir(s.Root, req.Run)
	if err != nil {
		return nil, err
	}
	if b, err := os.ReadFile(filepath.Join(dir, slurmJobFile)); err == nil {
		return &Response{Data: b}, nil // submitted before: the same job
	}
	sbatch, err := exec.LookPath("sbatch")
	if err != nil {
		return nil, errors.New("sbatch is not on the login node's PATH: is Slurm's client installed there (apt-get install slurm-client)?")
	}
	nodes := max(req.Nodes, 1)
	agent := slurm.ShellQuote(s.Exe) + " agent --journal --await-commit --root " + slurm.ShellQuote(s.Root) + " --run " + slurm.ShellQuote(req.Run)
	script := filepath.Join(dir, "batch.sh")
	if err := os.WriteFile(script, []byte(slurm.BatchScriptFor(agent, req.Run, nodes, req.Requeue)), 0o700); err != nil {
		return nil, err
	}
	requeue := "--no-requeue"
	if req.Requeue {
		requeue = "--requeue"
	}
	args := append([]string{"--parsable", "--job-name=" + slurm.JobName(req.Run), fmt.Sprintf("--nodes=%d", nodes),
		"--ntasks-per-node=1", requeue, "--chdir=" + dir,
		"--output=" + filepath.Join(dir, "logs", "slurm-%j.out"), "--open-mode=append"}, req.Args...)
	args = append(args, script)
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(cctx, sbatch, args...).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("sbatch refused the run: %v: %s", err, strings.TrimSpace(string(out)))
	}
	id, _, _ := strings.Cut(strings.TrimSpace(string(out)), ";")
	if id == "" {
		return nil, fmt.Errorf("sbatch printed no job ID: %q", out)
	}
	if err := os.WriteFile(filepath.Join(dir, slurmJobFile), []byte(id), 0o600); err != nil {
		return nil, err
	}
	return &Response{Data: []byte(id)}, nil
}

// isBatch reports whether the run was submitted as a Slurm batch job.
func isBatch(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, slurmJobFile))
	return err == nil
}

// batchActive reports whether Slurm still has the run's job in a state
// that is not final (pending, running, requeued, completing...), asking
// squeue at most every slurmStateTTL.
func (s *Server) batchActive(ctx context.Context, runID string) bool {
	s.mu.Lock()
	st, ok := s.slurm[runID]
	s.mu.Unlock()
	if ok && time.Since(st.at) < slurmStateTTL {
		return st.active
	}
	active := true // when squeue cannot answer, do not call the run dead
	if squeue, err := exec.LookPath("squeue"); err == nil {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		out, err := exec.CommandContext(cctx, squeue, "-h", "--name="+slurm.JobName(runID), "-o", "%T").Output()
		cancel()
		if err == nil {
			active = strings.TrimSpace(string(out)) != ""
		}
	}
	s.mu.Lock()
	if s.slurm == nil {
		s.slurm = map[string]slurmState{}
	}
	s.slurm[runID] = slurmState{at: time.Now(), active: active}
	s.mu.Unlock()
	return active
}

// cancelBatch takes a run's job out of the queue if it has not started;
// a started agent sees the cancel file. A job canceled before its agent
// ran gets its outcome written to the journal here.
func (s *Server) cancelBatch(ctx context.Context, dir, runID string) error {
	scancel, err := exec.LookPath("scancel")
	if err != nil {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(cctx, scancel, "--state=PENDING", "--name="+slurm.JobName(runID)).CombinedOutput(); err != nil {
		return fmt.Errorf("scancel: %v: %s", err, strings.TrimSpace(string(out)))
	}
	s.mu.Lock()
	delete(s.slurm, runID)
	s.mu.Unlock()
	if s.batchActive(ctx, runID) {
		return nil // running: its agent cancels
	}
	if _, err := os.Stat(filepath.Join(dir, "agent.pid")); err == nil {
		return nil // the agent ran and recorded its own end
	}
	w, err := journal.Create(dir)
	if err != nil {
		return err
	}
	defer w.Close()
	err = w.Transition(ctx, runID, workspace.StateCanceled, "canceled while queued in Slurm")
	if errors.Is(err, workspace.ErrIllegalTransition) {
		return nil
	}
	return err
}
