package agent

// What the agent does differently when it is a Slurm batch job of a
// managed cluster (the slurm driver's batch script sets GANTRY_SLURM=1):
//
//   - On a low-priority cluster (GANTRY_SLURM_REQUEUE=1) a SIGTERM that is
//     not a cancel is a preemption: Slurm requeues the job, so the run goes
//     back to Queued instead of Failed.
//   - A requeued job (SLURM_RESTART_COUNT > 0) restarts the run from
//     Queued and counts the restart in the tag gantry.slurm.restarts.
//   - In a run of several nodes, the agents of ranks above 0 are workers:
//     they run the script on their node, with files and output under
//     nodes/rank-N in the run's directory, and record nothing; they leave
//     their outcome in a file there, and rank 0 records the run: Failed,
//     with the worker's exit code and reason, when a worker failed.

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
	"sync"
	"syscall"
	"time"

	"gantry/sdk/driver/slurm"
	"gantry/sdk/workspace"
)

// RestartsTag is the run tag that counts Slurm's restarts of the run.
const RestartsTag = "gantry.slurm.restarts"

func underSlurm() bool {
	return os.Getenv("GANTRY_SLURM") == "1" && os.Getenv("SLURM_JOB_ID") != ""
}

func slurmRequeues() bool { return underSlurm() && os.Getenv("GANTRY_SLURM_REQUEUE") == "1" }

func slurmRestarts() int {
	n, _ := strconv.Atoi(os.Getenv("SLURM_RESTART_COUNT"))
	return n
}

// slurmWorker returns the recorder and paths of a worker when this agent
// is rank N > 0 of a run of several nodes, else rec and paths; done, called
// when the worker ends, tells rank 0 (workerDone).
func slurmWorker(rec Recorder, paths Paths, runID string) (_ Recorder, _ Paths, done func(), err error) {
	rank, _ := strconv.Atoi(os.Getenv("GANTRY_NODE_RANK"))
	if !underSlurm() || rank <= 0 {
		return rec, paths, func() {}, nil
	}
	dir := filepath.Join(paths.RunDir, "nodes", "rank-"+strconv.Itoa(rank))
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o700); err != nil {
		return nil, paths, nil, fmt.Errorf("run %s rank %d: %w", runID, rank, err)
	}
	job, err := ReadJob(paths.RunDir)
	if err != nil {
		return nil, paths, nil, fmt.Errorf("run %s rank %d: %w", runID, rank, err)
	}
	if err := WriteJob(dir, job); err != nil {
		return nil, paths, nil, err
	}
	for _, name := range []string{ManifestFile, "gantry-python"} {
		link := filepath.Join(dir, name)
		_ = os.Remove(link)
		if err := os.Symlink(filepath.Join(paths.RunDir, name), link); err != nil {
			return nil, paths, nil, fmt.Errorf("run %s rank %d: %w", runID, rank, err)
		}
	}
	paths.RunDir = dir
	w := &workerRecorder{Recorder: rec}
	done = func() {
		w.mu.Lock()
		b, _ := json.Marshal(w.out)
		w.mu.Unlock()
		_ = os.WriteFile(filepath.Join(dir, workerDone()), b, 0o600)
	}
	return w, paths, done, nil
}

// workerDone is the file a worker leaves in its directory when it ends:
// one per Slurm restart, so that rank 0 of a requeued run waits for this
// attempt's workers, not the last one's.
func workerDone() string { return "done-" + strconv.Itoa(slurmRestarts()) }

// waitForWorkers holds rank 0 of a run of several nodes until the other
// ranks' agents have ended (or ctx ends), so that the run's final state
// comes after every node's work. It returns the first worker that failed,
// or nil.
func (a *agent) waitForWorkers(ctx context.Context) *failedWorker {
	n, _ := strconv.Atoi(os.Getenv("GANTRY_NUM_NODES"))
	rank, _ := strconv.Atoi(os.Getenv("GANTRY_NODE_RANK"))
	if !underSlurm() || n <= 1 || rank != 0 {
		return nil
	}
	var failed *failedWorker
	for i := 1; i < n; i++ {
		done := filepath.Join(a.dir, "nodes", "rank-"+strconv.Itoa(i), workerDone())
		for {
			b, err := os.ReadFile(done)
			if err == nil {
				var out workerOutcome
				if json.Unmarshal(b, &out) == nil && out.State == workspace.StateFailed && failed == nil {
					failed = &failedWorker{rank: i, workerOutcome: out}
				}
				break
			}
			select {
			case <-ctx.Done():
				return failed
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return failed
}

// workerOutcome is what a worker leaves for rank 0 when it ends: the last
// state and exit code it would have recorded.
type workerOutcome struct {
	State    workspace.State `json:"state,omitempty"`
	Reason   string          `json:"reason,omitempty"`
	ExitCode *int            `json:"exit_code,omitempty"`
}

// failedWorker is a worker whose outcome was Failed.
type failedWorker struct {
	rank int
	workerOutcome
}

// reason says why the run failed, for rank 0 to record.
func (f *failedWorker) reason() string {
	return fmt.Sprintf("rank %d failed: %s (its files are under nodes/rank-%d)", f.rank, f.Reason, f.rank)
}

// workerRecorder records nothing in the run, but keeps the worker's
// outcome for rank 0, and sees cancel requests.
type workerRecorder struct {
	Recorder
	mu  sync.Mutex
	out workerOutcome
}

func (w *workerRecorder) Transition(_ context.Context, _ string, to workspace.State, reason string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.out.State, w.out.Reason = to, reason
	return nil
}

func (w *workerRecorder) SetExitCode(_ context.Context, _ string, code int) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.out.ExitCode = &code
	return nil
}

func (*workerRecorder) Heartbeat(context.Context, string) error                      { return nil }
func (*workerRecorder) SetTag(context.Context, string, string, string) error         { return nil }
func (*workerRecorder) LogMetrics(context.Context, string, []workspace.Metric) error { return nil }

// slurmRestart notes a restart of a requeued Slurm job: the run goes back
// to Queued (after a node failure it is still Running or NotResponding;
// after a preemption the stopped agent already queued it) and the restart
// is counted.
func (a *agent) slurmRestart(ctx context.Context) {
	n := slurmRestarts()
	if !underSlurm() || n == 0 {
		return
	}
	a.logger.Printf("Slurm restart %d of job %s", n, os.Getenv("SLURM_JOB_ID"))
	_ = a.rec.SetTag(ctx, a.job.RunID, RestartsTag, strconv.Itoa(n))
	err := a.transition(ctx, workspace.StateQueued, fmt.Sprintf("requeued by Slurm: restart %d (its earlier agent was stopped with its node)", n))
	if err != nil && !errors.Is(err, workspace.ErrIllegalTransition) {
		a.logger.Printf("record restart: %v", err)
	}
}

// requeuedBySlurm is the stopReason of a run preempted and requeued by
// Slurm.
const requeuedBySlurm stopReason = 100

// slurmStop tells why a script under Slurm stopped. scancel after a cancel
// request and a preemption both send SIGTERM to every process of the job,
// the script's own children included, so the script may end first, and
// even with status 0: a shell whose child was killed goes on to its next
// line, and a training script that checkpoints on SIGTERM exits cleanly.
// So on a low-priority cluster the agent asks Slurm whether it requeued
// the job (slurmRequeued) whenever the script ends, however it ended. A
// preemption is recorded here, as Queued.
func (a *agent) slurmStop(ctx context.Context, why stopReason, waitErr error) stopReason {
	if why == exitedByItself {
		a.failedWorker = a.waitForWorkers(ctx)
	}
	if !underSlurm() {
		return why
	}
	termed := why == agentStopped || killedByTERM(waitErr)
	if termed && a.canceled(context.WithoutCancel(ctx)) {
		return canceledByUser
	}
	if !slurmRequeues() {
		return why
	}
	requeued, err := slurmRequeued(context.WithoutCancel(ctx))
	if err != nil {
		// Without an answer from Slurm, only SIGTERM tells a preemption:
		// the agent's own follows the script's soon.
		a.logger.Printf("ask Slurm whether it requeued the job: %v", err)
		if !termed {
			return why
		}
		if why != agentStopped {
			select {
			case <-ctx.Done():
			case <-time.After(2 * time.Second):
				return why
			}
		}
		requeued = true
	}
	if !requeued {
		return why
	}
	if a.requeue(ctx) {
		return requeuedBySlurm
	}
	if a.canceled(context.WithoutCancel(ctx)) {
		return canceledByUser
	}
	return why
}

// slurmRequeued reports whether Slurm has requeued this agent's job: its
// restart count is past the one this attempt started with. slurmctld
// counts the restart when it decides to preempt, before slurmd signals the
// job's processes, so the answer is settled by the time the script ends.
func slurmRequeued(ctx context.Context) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	job := os.Getenv("SLURM_JOB_ID")
	out, err := exec.CommandContext(ctx, "scontrol", "--oneliner", "show", "job", job).Output()
	if err != nil {
		return false, fmt.Errorf("scontrol show job %s: %w", job, err)
	}
	n, err := restartsField(string(out))
	if err != nil {
		return false, fmt.Errorf("scontrol show job %s: %w", job, err)
	}
	return n > slurmRestarts(), nil
}

// restartsField reads Restarts=N from a line of `scontrol --oneliner show
// job`.
func restartsField(line string) (int, error) {
	for _, f := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(f, "Restarts="); ok {
			return strconv.Atoi(v)
		}
	}
	return 0, errors.New("no Restarts= field in its answer")
}

// killedByTERM reports whether a script's end came from SIGTERM.
func killedByTERM(waitErr error) bool {
	var ee *exec.ExitError
	if !errors.As(waitErr, &ee) {
		return false
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return ws.Signal() == syscall.SIGTERM
	}
	return ee.ExitCode() == 128+int(syscall.SIGTERM)
}

// requeue records a run whose agent Slurm stopped to requeue it, unless a
// cancel was asked for; it reports whether it did.
func (a *agent) requeue(ctx context.Context) bool {
	ctx = context.WithoutCancel(ctx)
	if !slurmRequeues() || a.canceled(ctx) {
		return false
	}
	reason := fmt.Sprintf("preempted; requeued by Slurm (restart %d follows)", slurmRestarts()+1)
	return a.transition(ctx, workspace.StateQueued, reason) == nil
}

// slurmCause asks Slurm why it stopped this agent's job (a failed node,
// its time limit, an scancel from outside), for the run's reason; "" when
// not under Slurm or Slurm does not say.
func slurmCause(ctx context.Context) string {
	if !underSlurm() {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	run := func(ctx context.Context, name string, args ...string) ([]byte, error) {
		return exec.CommandContext(ctx, name, args...).Output()
	}
	// slurmctld marks a node down before it kills the node's jobs, but
	// give it a moment to settle the job's own state.
	var f slurm.JobFacts
	for i := 0; i < 10; i++ {
		var err error
		if f, err = slurm.ReadJobFacts(ctx, run, os.Getenv("SLURM_JOB_ID"), os.Getenv("SLURM_JOB_NODELIST")); err != nil {
			return ""
		}
		if len(f.FailedNodes()) > 0 || (f.State != "RUNNING" && f.State != "COMPLETING") {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	return f.Cause()
}
