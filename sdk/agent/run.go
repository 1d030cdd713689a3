package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"gantry/sdk/environment"
	"gantry/sdk/runlock"
	"gantry/sdk/snapshot"
	"gantry/sdk/track"
	"gantry/sdk/workspace"
)

// Settings tune an agent; the zero value uses the defaults.
type Settings struct {
	Heartbeat   time.Duration // how often the agent says it is alive (default 2s)
	CancelPoll  time.Duration // how often it checks for a cancel request (default 250ms)
	CancelGrace time.Duration // between SIGTERM and SIGKILL on cancel or timeout (default 10s)
	Builder     environment.Builder
	// AwaitSubmit holds the run until its submitter has handed it over
	// (package runlock), and fails it if the submitter died part way. Run
	// sets it: an agent that records into the workspace may be started
	// before its submitter has finished.
	AwaitSubmit bool
	// AwaitCommit holds the run until the hand-over marker is in its
	// directory (package runlock), for CommitTimeout (default 10 min), and
	// fails it if none comes: for agents on another machine than their
	// submitter.
	AwaitCommit   bool
	CommitTimeout time.Duration
}

func (s *Settings) defaults() {
	if s.Heartbeat <= 0 {
		s.Heartbeat = 2 * time.Second
	}
	if s.CancelPoll <= 0 {
		s.CancelPoll = 250 * time.Millisecond
	}
	if s.CancelGrace <= 0 {
		s.CancelGrace = 10 * time.Second
	}
	if s.CommitTimeout <= 0 {
		s.CommitTimeout = 10 * time.Minute
	}
}

// agent is the state of one run being carried out.
type agent struct {
	rec    Recorder
	paths  Paths
	job    Job
	dir    string // the run's directory
	set    Settings
	logger *log.Logger

	failedWorker *failedWorker // a worker of a run of several nodes that failed (slurm.go)
	disk         *diskWatch    // whether the run's disk was seen full (disk.go)
	gpus         gpuPlan       // the run's GPUs (gpus.go)
}

// Run carries out the run runID of ws to its end and records the outcome
// in ws. It returns an error only when it could not even record a failure.
func Run(ctx context.Context, ws *workspace.Workspace, runID string, set Settings) error {
	paths, err := WorkspacePaths(ws, runID)
	if err != nil {
		return err
	}
	set.AwaitSubmit = true
	return RunWith(ctx, workspaceRecorder{ws}, paths, runID, set)
}

// RunWith carries out the run runID whose files are at paths, recording
// its progress with rec.
func RunWith(ctx context.Context, rec Recorder, paths Paths, runID string, set Settings) error {
	set.defaults()
	runDir := paths.RunDir
	rec, paths, workerDone, err := slurmWorker(rec, paths, runID) // slurm.go
	if err != nil {
		return err
	}
	defer workerDone()
	dir := paths.RunDir
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o700); err != nil {
		return fmt.Errorf("run %s: %w", runID, err)
	}
	// One agent per run: whoever watches tells by this lock whether the
	// run's agent lives (package runlock).
	lock, err := runlock.HoldAgent(dir)
	if err != nil {
		return fmt.Errorf("run %s: %w", runID, err)
	}
	defer lock.Release()
	lf, err := os.OpenFile(filepath.Join(dir, AgentLog), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("run %s: open agent log: %w", runID, err)
	}
	defer lf.Close()
	reserve(lf, 64<<10) // the agent's account of a full disk needs room too
	logger := log.New(lf, "", log.LstdFlags|log.Lmicroseconds)
	disk := &diskWatch{path: dir}
	a := &agent{rec: &persistent{Recorder: rec, disk: disk, logger: logger}, paths: paths, dir: dir, set: set,
		logger: logger, disk: disk}
	_ = os.WriteFile(filepath.Join(dir, PIDFile), []byte(strconv.Itoa(os.Getpid())), 0o600)

	job, err := ReadJob(dir)
	if err != nil {
		return a.fail(ctx, runID, "the run's job could not be read: "+err.Error())
	}
	a.job = job
	if set.AwaitSubmit {
		completed, err := runlock.AwaitSubmit(ctx, runDir, 0)
		if err != nil {
			return a.fail(ctx, runID, "wait for the submit to complete: "+err.Error())
		}
		if !completed {
			a.logger.Printf("the submitter died before handing the run over")
			err := a.fail(ctx, runID, SubmitAbandonedReason)
			if err == nil {
				err = runlock.ClearAbandoned(runDir)
			}
			return err
		}
	}
	if set.AwaitCommit {
		committed, err := runlock.AwaitCommit(ctx, runDir, 10*time.Millisecond, set.CommitTimeout)
		if err != nil {
			return a.fail(ctx, runID, "wait for the submit to complete: "+err.Error())
		}
		if !committed {
			a.logger.Printf("no hand-over marker within %s: the submitter died before the hand-over", set.CommitTimeout)
			return a.fail(ctx, runID, SubmitAbandonedReason)
		}
	}
	err = a.carryOut(ctx)
	if err != nil {
		a.logger.Printf("run ended with error: %v", err)
	}
	return err
}

// SubmitAbandonedReason is the reason of a run whose submitter died before
// handing it to its target: its caller never learnt the run's ID, so the
// run does not start.
const SubmitAbandonedReason = "the process that submitted this run ended before the submit completed, " +
	"so its caller never got the run's ID and the run was not started: submit it again"

// transition records a state change, logging it.
func (a *agent) transition(ctx context.Context, to workspace.State, reason string) error {
	a.logger.Printf("%s: %s", to, reason)
	return a.rec.Transition(ctx, a.job.RunID, to, reason)
}

// fail records the run as Failed with reason, unless it already ended.
func (a *agent) fail(ctx context.Context, runID, reason string) error {
	if ctx.Err() != nil && a.requeue(ctx) { // slurm.go: preempted, not failed
		return nil
	}
	a.logger.Printf("Failed: %s", reason)
	err := a.rec.Transition(context.WithoutCancel(ctx), runID, workspace.StateFailed, reason)
	if err != nil && !errors.Is(err, workspace.ErrIllegalTransition) {
		return fmt.Errorf("record failure of run %s (%s): %w", runID, reason, err)
	}
	return nil
}

// canceled reports whether a cancel was requested for the run.
func (a *agent) canceled(ctx context.Context) bool {
	return a.rec.CancelRequested(ctx, a.job.RunID)
}

// cancelRecorded ends a run whose cancel was requested.
func (a *agent) cancelRecorded(ctx context.Context, reason string) error {
	ctx = context.WithoutCancel(ctx)
	_ = a.rec.Transition(ctx, a.job.RunID, workspace.StateFinalizing, "collecting outputs after cancel")
	return a.rec.Transition(ctx, a.job.RunID, workspace.StateCanceled, reason)
}

func (a *agent) carryOut(ctx context.Context) error {
	id := a.job.RunID
	a.slurmRestart(ctx) // slurm.go
	release, err := a.waitForSlot(ctx)
	if err != nil {
		if a.canceled(ctx) {
			return a.cancelRecorded(ctx, "canceled while queued")
		}
		return a.fail(ctx, id, err.Error())
	}
	defer release()
	if a.gpus, err = a.planGPUs(ctx); err != nil { // gpus.go
		if a.canceled(ctx) {
			return a.cancelRecorded(ctx, "canceled while queued")
		}
		return a.fail(ctx, id, err.Error())
	}
	defer a.gpus.release()
	if err := a.transition(ctx, workspace.StatePreparing, "materialising the snapshot and preparing the environment"); err != nil {
		return a.afterIllegal(ctx, err)
	}
	python, err := a.prepare(ctx)
	if a.canceled(ctx) {
		return a.cancelRecorded(ctx, "canceled while preparing")
	}
	if err != nil {
		return a.fail(ctx, id, err.Error())
	}
	if err := a.transition(ctx, workspace.StateStarting, "starting the script"); err != nil {
		return a.afterIllegal(ctx, err)
	}
	return a.execute(ctx, python)
}

// afterIllegal handles a transition refused because the run moved on
// meanwhile (a cancel request, usually).
func (a *agent) afterIllegal(ctx context.Context, err error) error {
	if a.canceled(ctx) {
		return a.cancelRecorded(ctx, "canceled before the script started")
	}
	return err
}

// prepare materialises the snapshot into wd/ and prepares the environment;
// it returns the interpreter to run a script with.
func (a *agent) prepare(ctx context.Context) (string, error) {
	store, err := snapshot.NewBlobStore(a.paths.BlobsDir)
	if err != nil {
		return "", err
	}
	f, err := os.Open(filepath.Join(a.dir, ManifestFile))
	if err != nil {
		return "", fmt.Errorf("open the run's snapshot manifest: %w", err)
	}
	var m snapshot.Manifest
	err = m.Decode(f)
	f.Close()
	if err != nil {
		return "", fmt.Errorf("read the run's snapshot manifest: %w", err)
	}
	wd := filepath.Join(a.dir, WorkDir)
	_ = os.RemoveAll(wd) // a restarted agent starts the work dir anew
	if err := snapshot.Restore(ctx, &m, store, wd); err != nil {
		return "", fmt.Errorf("materialise the snapshot: %w", err)
	}
	outputs := filepath.Join(a.dir, OutputsDir)
	if err := os.MkdirAll(outputs, 0o755); err != nil {
		return "", err
	}
	if _, err := os.Lstat(filepath.Join(wd, OutputsDir)); errors.Is(err, os.ErrNotExist) {
		if err := os.Symlink(filepath.Join("..", OutputsDir), filepath.Join(wd, OutputsDir)); err != nil {
			return "", fmt.Errorf("link outputs/: %w", err)
		}
	}
	if len(a.job.Command) > 0 && a.job.Script == "" || a.job.Notebook != nil && !a.job.Notebook.Python {
		return "", nil // a command needs no interpreter, nor a Gantry notebook
	}
	logf, err := os.OpenFile(filepath.Join(a.dir, PrepareLog), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return "", err
	}
	defer logf.Close()
	env := a.job.Environment
	if env.Docker.Enabled {
		if err := environment.DockerAvailable(ctx); err != nil {
			return "", fmt.Errorf("environment %q runs in Docker (%s): %w", env.Name, env.Docker.BaseImage, err)
		}
		// The image brings its own interpreter.
		python := env.Python.InterpreterPath
		if python == "" || !env.Python.UserManagedDependencies {
			python = "python"
		}
		a.logger.Printf("environment %s runs in a container of %s with %s", env.Name, env.Docker.BaseImage, python)
		return python, nil
	}
	built, err := a.set.Builder.Build(ctx, &env, a.paths.EnvsDir, logf)
	if err != nil {
		return "", fmt.Errorf("prepare environment %q: %w (build log: %s)", env.Name, err, filepath.Join(a.dir, PrepareLog))
	}
	a.logger.Printf("environment %s ready (reused: %v): %s", built.Key, built.Reused, built.Python)
	return built.Python, nil
}

// execute runs the script and records how it ended.
func (a *agent) execute(ctx context.Context, python string) error {
	id := a.job.RunID
	argv := a.job.Command
	switch {
	case a.job.Notebook != nil:
		var err error
		if argv, err = a.notebookArgv(python); err != nil {
			return a.fail(ctx, id, err.Error())
		}
	case a.job.Script != "" && len(a.job.Launcher) > 0:
		argv = append(append(append([]string{}, a.job.Launcher...), a.job.Script), a.job.Arguments...)
	case a.job.Script != "":
		argv = append([]string{python, "-u", a.job.Script}, a.job.Arguments...)
	default:
		argv = append(append([]string{}, argv...), a.job.Arguments...)
	}
	out, err := os.OpenFile(filepath.Join(a.dir, OutputLog), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return a.fail(ctx, id, "open the output log: "+err.Error())
	}
	defer out.Close()
	// Space for the script's last words, should it fill the disk.
	reserve(out, outputReserve)
	defer unreserve(out)
	env := a.scriptEnv()
	if len(a.job.Launcher) > 0 && python != "" {
		env = append(env, "GANTRY_PYTHON="+python, "PYSPARK_PYTHON="+python, "PYSPARK_DRIVER_PYTHON="+python)
	}
	docker := a.job.Environment.Docker.Enabled
	if docker {
		argv = a.dockerArgv(argv, env)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = filepath.Join(a.dir, WorkDir)
	cmd.Env = env
	// Both streams write the log file itself, so their lines keep the order
	// they were written in and no pipe outlives the script in a child.
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Stdin = nil
	// The script leads a process group of its own, which cancel and
	// StopOrphans end whole; and it dies with its agent (a killed agent
	// leaves no script running unwatched).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return a.fail(ctx, id, fmt.Sprintf("start %s: %v", argv[0], err))
	}
	_ = os.WriteFile(filepath.Join(a.dir, ScriptPIDFile), []byte(strconv.Itoa(cmd.Process.Pid)), 0o600)
	a.logger.Printf("started %q as pid %d", argv, cmd.Process.Pid)
	if err := a.transition(ctx, workspace.StateRunning, fmt.Sprintf("script started (pid %d)", cmd.Process.Pid)); err != nil {
		if a.canceled(ctx) {
			killGroup(cmd.Process.Pid, a.set.CancelGrace, waitChan(cmd))
			return a.cancelRecorded(ctx, "canceled as the script started")
		}
		return err
	}

	tracker := newTracker(a.rec, id, filepath.Join(a.dir, TrackFile), a.logger)
	trackCtx, stopTrack := context.WithCancel(context.WithoutCancel(ctx))
	trackDone := make(chan struct{})
	go func() { tracker.run(trackCtx); close(trackDone) }()
	sampleDone := make(chan struct{})
	go func() { a.sampleGPUs(trackCtx, a.gpus.indices); close(sampleDone) }()

	done := waitChan(cmd)
	why := a.supervise(ctx, cmd, out, done, docker)
	waitErr := <-done
	// Children the script left behind end with it.
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	stopTrack()
	<-trackDone
	<-sampleDone
	return a.finish(ctx, why, waitErr)
}

// stopReason says why the agent ended a script early.
type stopReason int

const (
	exitedByItself stopReason = iota
	canceledByUser
	timedOut
	agentStopped
)

// supervise heartbeats, watches for cancel requests and the maximum
// duration, and ends the script's process group when one of them says so.
func (a *agent) supervise(ctx context.Context, cmd *exec.Cmd, out *os.File, done chan error, docker bool) stopReason {
	hb := time.NewTicker(a.set.Heartbeat)
	defer hb.Stop()
	poll := time.NewTicker(a.set.CancelPoll)
	defer poll.Stop()
	var deadline <-chan time.Time
	if a.job.MaxDuration > 0 {
		t := time.NewTimer(a.job.MaxDuration)
		defer t.Stop()
		deadline = t.C
	}
	pid := cmd.Process.Pid
	stop := func() {
		if docker {
			a.stopContainer(a.set.CancelGrace)
		}
		killGroup(pid, a.set.CancelGrace, done)
	}
	for {
		select {
		case err := <-done:
			// Put it back for the caller.
			go func() { done <- err }()
			return exitedByItself
		case <-hb.C:
			if err := a.rec.Heartbeat(ctx, a.job.RunID); err != nil {
				a.logger.Printf("heartbeat: %v", err)
			}
			a.disk.check()
			reserve(out, outputReserve) // what the script used of it, again

		case <-poll.C:
			if a.canceled(ctx) {
				a.logger.Printf("cancel requested: SIGTERM to process group %d", pid)
				stop()
				return canceledByUser
			}
		case <-deadline:
			a.logger.Printf("maximum duration %s reached: SIGTERM to process group %d", a.job.MaxDuration, pid)
			stop()
			return timedOut
		case <-ctx.Done():
			stop()
			return agentStopped
		}
	}
}

// finish records the outcome once the script has exited.
func (a *agent) finish(ctx context.Context, why stopReason, waitErr error) error {
	if why = a.slurmStop(ctx, why, waitErr); why == requeuedBySlurm { // slurm.go
		return nil
	}
	ctx = context.WithoutCancel(ctx)
	id := a.job.RunID
	code := 0
	var ee *exec.ExitError
	if errors.As(waitErr, &ee) {
		code = ee.ExitCode()
	}
	if f := a.failedWorker; f != nil && code == 0 && f.ExitCode != nil {
		code = *f.ExitCode
	}
	if err := a.rec.SetExitCode(ctx, id, code); err != nil {
		a.logger.Printf("record exit code: %v", err)
	}
	if why == canceledByUser {
		return a.cancelRecorded(ctx, "canceled by request")
	}
	if err := a.transition(ctx, workspace.StateFinalizing, "collecting outputs"); err != nil {
		if a.canceled(ctx) {
			return a.cancelRecorded(ctx, "canceled by request")
		}
		return err
	}
	a.disk.check()
	diskFull := ""
	if when, ok := a.disk.sawFull(); ok || a.outputSaysDiskFull() {
		if !ok {
			when = time.Now()
		}
		diskFull = fmt.Sprintf("disk full: the filesystem of %s ran out of space during the run (seen at %s); ",
			a.dir, when.Format(time.TimeOnly))
	}
	stopped := "the agent was stopped while the script ran"
	if why == agentStopped || killedByTERM(waitErr) {
		if cause := slurmCause(ctx); cause != "" { // slurm.go
			stopped += ": " + cause
			if why != agentStopped {
				return a.transition(ctx, workspace.StateFailed, fmt.Sprintf("the script was stopped by Slurm (%v): %s", waitErr, cause))
			}
		}
	}
	switch {
	case diskFull != "" && (code != 0 || waitErr != nil):
		return a.transition(ctx, workspace.StateFailed, fmt.Sprintf("%sthe script exited with status %d; its last output is in its output log", diskFull, code))
	case why == timedOut:
		return a.transition(ctx, workspace.StateFailed, fmt.Sprintf("the run exceeded its maximum duration of %s and was stopped", a.job.MaxDuration))
	case why == agentStopped:
		return a.transition(ctx, workspace.StateFailed, stopped)
	case a.failedWorker != nil && waitErr == nil:
		return a.transition(ctx, workspace.StateFailed, a.failedWorker.reason())
	case waitErr != nil && code < 0:
		return a.transition(ctx, workspace.StateFailed, "the script was killed: "+waitErr.Error())
	case code != 0 && a.job.Notebook != nil && a.notebookFailure() != "":
		return a.transition(ctx, workspace.StateFailed, a.notebookFailure())
	case code != 0:
		return a.transition(ctx, workspace.StateFailed, fmt.Sprintf("the script exited with status %d; see its output log", code))
	}
	if a.job.Notebook != nil {
		return a.transition(ctx, workspace.StateCompleted, "every cell of the notebook ran; the executed notebook is in outputs/")
	}
	return a.transition(ctx, workspace.StateCompleted, "the script exited with status 0")
}

// outputSaysDiskFull reports whether the end of the run's output log
// tells of a full disk (Python's OSError: [Errno 28], a shell's "No space
// left on device").
func (a *agent) outputSaysDiskFull() bool {
	f, err := os.Open(filepath.Join(a.dir, OutputLog))
	if err != nil {
		return false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	tail := make([]byte, min(fi.Size(), 16<<10))
	if _, err := f.ReadAt(tail, fi.Size()-int64(len(tail))); err != nil {
		return false
	}
	return bytes.Contains(tail, []byte("No space left on device")) || bytes.Contains(tail, []byte("Disk quota exceeded"))
}

// scriptEnv is the script's environment: the agent's, the job's, and the
// GANTRY_* variables that tell the script its run.
func (a *agent) scriptEnv() []string {
	env := os.Environ()
	for k, v := range a.job.Environment.EnvironmentVariables {
		env = append(env, k+"="+v)
	}
	for k, v := range a.job.EnvVars {
		env = append(env, k+"="+v)
	}
	if a.gpus.env != nil {
		env = append(env, "CUDA_VISIBLE_DEVICES="+*a.gpus.env)
	}
	helper := filepath.Join(a.dir, "gantry-python")
	env = append(env, track.Environ(a.job.RunID, a.job.Experiment, a.dir)...)
	env = append(env, "PYTHONUNBUFFERED=1")
	if _, err := os.Stat(helper); err == nil {
		env = append(env, "PYTHONPATH="+helper+string(os.PathListSeparator)+os.Getenv("PYTHONPATH"))
	}
	return env
}

// waitChan waits for cmd in the background.
func waitChan(cmd *exec.Cmd) chan error {
	ch := make(chan error, 1)
	go func() { ch <- cmd.Wait() }()
	return ch
}

// killGroup sends SIGTERM to the process group, then SIGKILL after grace
// if the leader has not exited (children are in the group and go too).
func killGroup(pid int, grace time.Duration, done chan error) {
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case err := <-done:
		go func() { done <- err }()
	case <-time.After(grace):
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
}
