// Command slurmbench measures managed clusters on Slurm beside raw Slurm,
// in one run on one machine, and prints a markdown table (also written to
// -out):
//
//   - submit -> Running on an idle node: a cluster with MinNodes = MaxNodes
//     = 1, waited for until its node is idle; -runs times, Gantry and raw
//     alternating, each on an idle node: Gantry from the Experiment.Submit
//     call to the time of the run's Running event (its agent started the
//     script); raw `sbatch --parsable -p PARTITION --wrap ...` until
//     `squeue -h -j ID -o %T` (polled every 10 ms) says RUNNING, and until
//     the raw job's first command ran (it writes date +%s%N). Batch jobs
//     start on slurmctld's 1-second backfill tick, so rep i of Gantry and
//     of raw are both submitted at the same offset after a tick (offsets
//     spread over the second). Median, p95, the difference of medians, the
//     median of the paired differences, and where Gantry's time goes (from
//     the run's events);
//   - scale-up from zero: two identical clusters of MinNodes 0, MaxNodes 1
//     and -idle idle seconds, nodes powered down; submit -> Running for
//     Gantry on one and raw sbatch on the other, -scale-reps times, waiting
//     for the node to power down again before each; beside the provider's
//     boot delay (GANTRY_BOOT_DELAY);
//   - throughput: -tput runs of a trivial script (print(1) with -python as
//     a user-managed interpreter) on a cluster of -nodes nodes kept up,
//     from the first submit until every run is final (each not Completed
//     counts as a failure); raw: as many `sbatch --wrap true` to the same
//     partition until squeue no longer shows them.
//
// It starts its own Slurm instance with scripts/slurm.sh in a temporary
// directory (stopped at the end, also on error or interrupt) and opens a
// temporary workspace. Run it from the repository root with the gantry
// binary on PATH (or GANTRY_AGENT_BINARY set):
//
//	go build -o bin/gantry ./cmd/gantry
//	PATH=$PWD/bin:$PATH go run ./bench/slurmbench -python .venv/bin/python
//
// or `make bench-slurm`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"gantry/bench/internal/durations"
	"gantry/sdk"
	"gantry/sdk/driver/slurm"
	"gantry/sdk/environment"
	"gantry/sdk/workspace"
)

var (
	runs      = flag.Int("runs", 20, "submits to an idle node to time, each for Gantry and raw sbatch")
	scaleReps = flag.Int("scale-reps", 3, "scale-ups from zero to time, each for Gantry and raw sbatch")
	idle      = flag.Int("idle", 5, "idle seconds before scale-down of the scale-from-zero clusters")
	tput      = flag.Int("tput", 200, "tiny runs for the throughput measurement")
	nodes     = flag.Int("nodes", 3, "nodes kept up for the throughput measurement")
	python    = flag.String("python", "python3", "interpreter of the user-managed environment")
	bootDelay = flag.String("boot-delay", "", "GANTRY_BOOT_DELAY for the instance (default: $GANTRY_BOOT_DELAY, else 2)")
	out       = flag.String("out", "bench/results/slurm.md", "also write the table here (\"\": do not)")
	keep      = flag.Bool("keep", false, "keep the temporary directory (Slurm logs, workspace)")
)

func main() {
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := bench(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "slurmbench:", err)
		os.Exit(1)
	}
}

// b is the benchmark's state.
type b struct {
	ws       *sdk.Workspace
	slurmDir string
	env      *environment.Environment
	src      string // holds main.py (print(1)) and sleep.py
	tmp      string
	rows     []string
	notes    []string
}

func bench(ctx context.Context) error {
	if err := slurm.Installed(); err != nil {
		return err
	}
	if os.Getenv("GANTRY_AGENT_BINARY") == "" {
		if _, err := exec.LookPath("gantry"); err != nil {
			return errors.New("the gantry binary is needed: go build -o bin/gantry ./cmd/gantry and put bin on PATH (or set GANTRY_AGENT_BINARY)")
		}
	}
	delay := *bootDelay
	if delay == "" {
		delay = os.Getenv("GANTRY_BOOT_DELAY")
	}
	if delay == "" {
		delay = "2"
	}
	tmp, err := os.MkdirTemp("", "slurmbench-")
	if err != nil {
		return err
	}
	if *keep {
		fmt.Fprintln(os.Stderr, "slurmbench: keeping", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	s := &b{tmp: tmp, slurmDir: filepath.Join(tmp, "slurm"), src: filepath.Join(tmp, "src")}
	script, _ := filepath.Abs("scripts/slurm.sh")
	start := exec.Command(script, "start", s.slurmDir)
	start.Env = append(os.Environ(), "GANTRY_BOOT_DELAY="+delay)
	t0 := time.Now()
	if o, err := start.CombinedOutput(); err != nil {
		exec.Command(script, "stop", s.slurmDir).Run()
		return fmt.Errorf("scripts/slurm.sh start: %v\n%s", err, o)
	}
	startTook := time.Since(t0)
	defer func() {
		if o, err := exec.Command(script, "stop", s.slurmDir).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "slurmbench: scripts/slurm.sh stop: %v\n%s", err, o)
		}
	}()

	if s.ws, err = sdk.OpenWorkspace(ctx, filepath.Join(tmp, "ws")); err != nil {
		return err
	}
	defer s.ws.Close()
	s.env = &environment.Environment{Name: "py"}
	s.env.Python.UserManagedDependencies = true
	s.env.Python.InterpreterPath = *python
	os.MkdirAll(s.src, 0o755)
	os.WriteFile(filepath.Join(s.src, "main.py"), []byte("print(1)\n"), 0o644)
	os.WriteFile(filepath.Join(s.src, "sleep.py"), []byte("import time\ntime.sleep(0.2)\n"), 0o644)

	if err := s.idleNode(ctx); err != nil {
		return fmt.Errorf("submit -> running: %w", err)
	}
	if err := s.scaleUp(ctx, delay); err != nil {
		return fmt.Errorf("scale-up from zero: %w", err)
	}
	if err := s.throughput(ctx); err != nil {
		return fmt.Errorf("throughput: %w", err)
	}

	load, _ := os.ReadFile("/proc/loadavg")
	var o strings.Builder
	fmt.Fprintf(&o, "## Managed clusters on Slurm (%s, %d CPUs, Slurm from Debian, boot delay %s s)\n\n",
		time.Now().Format("2006-01-02"), numCPU(), delay)
	fmt.Fprintf(&o, "| metric | Gantry | raw Slurm | Gantry - raw / ratio |\n|---|---|---|---|\n")
	for _, r := range s.rows {
		o.WriteString(r + "\n")
	}
	o.WriteString("\n")
	fmt.Fprintf(&o, "- Slurm instance started by scripts/slurm.sh in %s; load average at the end: %s\n", secs(startTook), strings.TrimSpace(string(load)))
	for _, n := range s.notes {
		o.WriteString("- " + n + "\n")
	}
	fmt.Print(o.String())
	if *out != "" {
		os.MkdirAll(filepath.Dir(*out), 0o755)
		return os.WriteFile(*out, []byte(o.String()), 0o644)
	}
	return nil
}

// cluster creates a managed cluster on the bench's instance.
func (s *b) cluster(ctx context.Context, name string, min, max, idle int) error {
	return s.ws.CreateCompute(ctx, name, sdk.ManagedCluster{VMSize: "STANDARD_D1_V2", MinNodes: min, MaxNodes: max,
		IdleSecondsBeforeScaledown: idle, SlurmDir: s.slurmDir})
}

// waitNodes waits until the cluster's status satisfies ok.
func (s *b) waitNodes(ctx context.Context, name string, ok func(slurm.Status) bool) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute) // hang guard
	defer cancel()
	for {
		st, err := s.ws.ClusterStatus(ctx, name)
		if err != nil {
			return err
		}
		if ok(st) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster %s still %s: %w", name, st, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func idleCount(n int) func(slurm.Status) bool {
	return func(st slurm.Status) bool { return st.Counts[slurm.Idle] == n && st.Queued+st.Running == 0 }
}

// submit submits script of the bench's source directory to target.
func (s *b) submit(ctx context.Context, exp, target, script string) (*sdk.Run, error) {
	return s.ws.Experiment(exp).Submit(ctx, sdk.ScriptRunConfig{SourceDirectory: s.src, Script: script,
		RunConfig: sdk.RunConfiguration{Target: target, Environment: s.env}})
}

// waitRunning polls the run's record every 2 ms until it is Running (or
// later) and returns its events.
func (s *b) waitRunning(ctx context.Context, r *sdk.Run) ([]workspace.Event, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	for {
		d, err := s.ws.Store().Run(ctx, r.ID)
		if err != nil {
			return nil, err
		}
		if !d.Started.IsZero() || d.State.Final() {
			evs, err := r.Events(ctx)
			if err != nil {
				return nil, err
			}
			if _, ok := eventAt(evs, workspace.StateRunning); !ok {
				return evs, fmt.Errorf("run %s ended %s without running:%s", r.ID, d.State, history(evs))
			}
			return evs, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("run %s still %s: %w", r.ID, d.State, ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// waitFinal waits until the run is final and reports an error unless it
// completed.
func (s *b) waitFinal(ctx context.Context, r *sdk.Run) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	for {
		d, err := s.ws.Store().Run(ctx, r.ID)
		if err != nil {
			return err
		}
		if d.State.Final() {
			if d.State != workspace.StateCompleted {
				evs, _ := r.Events(ctx)
				return fmt.Errorf("run %s ended %s:%s", r.ID, d.State, history(evs))
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("run %s still %s: %w", r.ID, d.State, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func eventAt(evs []workspace.Event, to workspace.State) (time.Time, bool) {
	for _, e := range evs {
		if e.To == to {
			return e.Time, true
		}
	}
	return time.Time{}, false
}

func history(evs []workspace.Event) string {
	var o strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&o, "\n  %s %s -> %s: %s", e.Time.Format("15:04:05.000"), e.From, e.To, e.Reason)
	}
	return o.String()
}

// slurmCmd runs a Slurm command of the bench's instance.
func (s *b) slurmCmd(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "SLURM_CONF="+filepath.Join(s.slurmDir, "etc", "slurm.conf"))
	o, err := cmd.CombinedOutput()
	if err != nil {
		return string(o), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, o)
	}
	return string(o), nil
}

// rawJob submits a raw batch job and returns its id.
func (s *b) rawJob(ctx context.Context, partition, name, wrap string) (string, error) {
	o, err := s.slurmCmd(ctx, "sbatch", "--parsable", "-p", partition, "-J", name, "-o", "/dev/null", "--wrap", wrap)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(strings.Split(o, ";")[0]), nil
}

// rawRunning polls squeue every 10 ms until job id is RUNNING and returns
// when squeue said so.
func (s *b) rawRunning(ctx context.Context, id string) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	for {
		o, err := s.slurmCmd(ctx, "squeue", "-h", "-j", id, "-o", "%T")
		now := time.Now()
		if err != nil {
			return now, err
		}
		switch st := strings.TrimSpace(o); st {
		case "RUNNING", "COMPLETING", "COMPLETED":
			if st != "RUNNING" {
				return now, fmt.Errorf("job %s was %s before it was seen RUNNING: poll too slow", id, st)
			}
			return now, nil
		}
		select {
		case <-ctx.Done():
			return now, fmt.Errorf("job %s not running: %w", id, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// rawGone waits until squeue no longer shows jobs named name (polled every
// 20 ms) and returns when it saw that.
func (s *b) rawGone(ctx context.Context, name string) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	for {
		o, err := s.slurmCmd(ctx, "squeue", "-h", "-n", name, "-o", "%i")
		now := time.Now()
		if err != nil {
			return now, err
		}
		if strings.TrimSpace(o) == "" {
			return now, nil
		}
		select {
		case <-ctx.Done():
			return now, fmt.Errorf("jobs %s still queued: %w", name, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// stampAt reads the date +%s%N a raw job wrote into file.
func stampAt(ctx context.Context, file string) (time.Time, error) {
	for {
		b, err := os.ReadFile(file)
		if ns, perr := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && perr == nil {
			return time.Unix(0, ns), nil
		}
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("%s: no time stamp", file)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// idleNode: submit -> Running on an idle node, Gantry and raw alternating.
func (s *b) idleNode(ctx context.Context) error {
	const name = "idle1"
	if err := s.cluster(ctx, name, 1, 1, 300); err != nil {
		return err
	}
	defer s.ws.DeleteCompute(context.WithoutCancel(ctx), name)
	if _, err := s.ws.WaitForCluster(ctx, name, nil, 1); err != nil {
		return err
	}
	var g, gSeen, raw, rawScript, submitCall, toQueued, toAgent, prep, toRun []time.Duration
	stampFile := filepath.Join(s.tmp, "raw-start")
	var diff []time.Duration       // Gantry - raw, each pair submitted at the same phase of Slurm's tick
	for i := 0; i < *runs+1; i++ { // the first of each is a warm-up
		offset := time.Duration(50+(i*293)%900) * time.Millisecond
		if err := s.waitNodes(ctx, name, idleCount(1)); err != nil {
			return err
		}
		if err := s.alignToTick(ctx, offset); err != nil {
			return err
		}
		t0 := time.Now()
		r, err := s.submit(ctx, "idle", name, "sleep.py")
		if err != nil {
			return err
		}
		returned := time.Now()
		evs, err := s.waitRunning(ctx, r)
		seen := time.Now()
		if err != nil {
			return err
		}
		if err := s.waitFinal(ctx, r); err != nil {
			return err
		}
		if i > 0 {
			running, _ := eventAt(evs, workspace.StateRunning)
			queued, _ := eventAt(evs, workspace.StateQueued)
			preparing, _ := eventAt(evs, workspace.StatePreparing)
			starting, _ := eventAt(evs, workspace.StateStarting)
			g = append(g, running.Sub(t0))
			gSeen = append(gSeen, seen.Sub(t0))
			toQueued = append(toQueued, queued.Sub(t0))
			submitCall = append(submitCall, returned.Sub(queued))
			toAgent = append(toAgent, preparing.Sub(returned))
			prep = append(prep, starting.Sub(preparing))
			toRun = append(toRun, running.Sub(starting))
		}

		if err := s.waitNodes(ctx, name, idleCount(1)); err != nil {
			return err
		}
		os.Remove(stampFile)
		if err := s.alignToTick(ctx, offset); err != nil {
			return err
		}
		t0 = time.Now()
		id, err := s.rawJob(ctx, name, "rawbench-idle", "date +%s%N >"+stampFile+"; sleep 0.2")
		if err != nil {
			return err
		}
		seenR, err := s.rawRunning(ctx, id)
		if err != nil {
			return err
		}
		st, err := stampAt(ctx, stampFile)
		if err != nil {
			return err
		}
		if _, err := s.rawGone(ctx, "rawbench-idle"); err != nil {
			return err
		}
		if i > 0 {
			raw = append(raw, seenR.Sub(t0))
			rawScript = append(rawScript, st.Sub(t0))
			diff = append(diff, g[len(g)-1]-raw[len(raw)-1])
		}
	}
	s.rows = append(s.rows,
		fmt.Sprintf("| submit -> RUNNING on an idle node (median / p95 of %d) | Submit call -> Running event: %s / %s | sbatch -> squeue says R (10 ms polls): %s / %s | %+.1f ms (difference of medians; target <= 50 ms); paired, median %+.1f ms |",
			*runs, ms(durations.Median(g)), ms(durations.Pct(g, 95)), ms(durations.Median(raw)), ms(durations.Pct(raw, 95)), msf(durations.Median(g)-durations.Median(raw)), msf(durations.Median(diff))),
		fmt.Sprintf("| same, as seen by polling (Gantry: workspace every 2 ms) | %s / %s | | %+.1f ms |", ms(durations.Median(gSeen)), ms(durations.Pct(gSeen, 95)), msf(durations.Median(gSeen)-durations.Median(raw))),
		fmt.Sprintf("| submit -> the job's first command ran | (the script starts at Running) | sbatch -> `date` in the batch job: %s / %s | %+.1f ms |",
			ms(durations.Median(rawScript)), ms(durations.Pct(rawScript, 95)), msf(durations.Median(g)-durations.Median(rawScript))),
		fmt.Sprintf("| Gantry's submit -> Running, by step (medians) | snapshot + record: %s; Queued -> Submit returns (sbatch): %s; Submit returns -> agent Preparing (Slurm + batch script + agent start): %s; Preparing -> Starting (snapshot restore, environment): %s; Starting -> Running: %s | | |",
			ms(durations.Median(toQueued)), ms(durations.Median(submitCall)), ms(durations.Median(toAgent)), ms(durations.Median(prep)), ms(durations.Median(toRun))))
	return nil
}

// alignToTick sleeps until offset after a tick of slurmctld's backfill
// scheduler, which starts batch jobs here once a second (the times of the
// latest "_start_job" lines of slurmctld.log give its phase): submit ->
// RUNNING is mostly the wait for that tick, so Gantry and raw are
// submitted at the same phases, or their difference would be the phase's.
func (s *b) alignToTick(ctx context.Context, offset time.Duration) error {
	b, err := os.ReadFile(filepath.Join(s.slurmDir, "log", "slurmctld.log"))
	if err != nil {
		return err
	}
	var tick time.Time
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.Contains(l, "_start_job") || len(l) < 25 || l[0] != '[' {
			continue
		}
		if t, err := time.ParseInLocation("2006-01-02T15:04:05.000", l[1:24], time.Local); err == nil {
			tick = t
		}
	}
	if tick.IsZero() {
		return nil
	}
	at := tick.Add(offset)
	for at.Before(time.Now().Add(5 * time.Millisecond)) {
		at = at.Add(time.Second)
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(time.Until(at)):
		return nil
	}
}

// scaleUp: submit -> Running on clusters whose node is powered down.
func (s *b) scaleUp(ctx context.Context, delay string) error {
	const gname, rname = "zero", "zeroraw"
	for _, n := range []string{gname, rname} {
		if err := s.cluster(ctx, n, 0, 1, *idle); err != nil {
			return err
		}
		defer s.ws.DeleteCompute(context.WithoutCancel(ctx), n)
	}
	down := func(st slurm.Status) bool {
		return st.Counts[slurm.PoweredDown] == 1 && st.Queued+st.Running == 0
	}
	var g, raw []time.Duration
	var cycle []time.Duration
	var lastEnd time.Time
	for i := 0; i < *scaleReps; i++ {
		if err := s.waitNodes(ctx, gname, down); err != nil {
			return err
		}
		if !lastEnd.IsZero() {
			cycle = append(cycle, time.Since(lastEnd))
		}
		t0 := time.Now()
		r, err := s.submit(ctx, "zero", gname, "main.py")
		if err != nil {
			return err
		}
		evs, err := s.waitRunning(ctx, r)
		if err != nil {
			return err
		}
		running, _ := eventAt(evs, workspace.StateRunning)
		g = append(g, running.Sub(t0))
		if err := s.waitFinal(ctx, r); err != nil {
			return err
		}
		lastEnd = time.Now()

		if err := s.waitNodes(ctx, rname, down); err != nil {
			return err
		}
		t0 = time.Now()
		id, err := s.rawJob(ctx, rname, "rawbench-zero", "sleep 0.5") // long enough for a 10 ms poll to see RUNNING
		if err != nil {
			return err
		}
		seen, err := s.rawRunning(ctx, id)
		if err != nil {
			return err
		}
		raw = append(raw, seen.Sub(t0))
	}
	s.rows = append(s.rows, fmt.Sprintf("| scale-up from zero: submit -> RUNNING, node powered down (median of %d; min-max) | %s (%s-%s) | %s (%s-%s) | %+.0f ms; boot delay %s s |",
		*scaleReps, secs(durations.Median(g)), secs(slices.Min(g)), secs(slices.Max(g)), secs(durations.Median(raw)), secs(slices.Min(raw)), secs(slices.Max(raw)),
		msf(durations.Median(g)-durations.Median(raw)), delay))
	if len(cycle) > 0 {
		s.notes = append(s.notes, fmt.Sprintf("scale-down: with IdleSecondsBeforeScaledown %d the node was powered down again %s (median) after the run ended", *idle, secs(durations.Median(cycle))))
	}
	return nil
}

// throughput: many tiny runs on nodes kept up.
func (s *b) throughput(ctx context.Context) error {
	const name = "tput"
	if err := s.cluster(ctx, name, *nodes, *nodes, 300); err != nil {
		return err
	}
	defer s.ws.DeleteCompute(context.WithoutCancel(ctx), name)
	if _, err := s.ws.WaitForCluster(ctx, name, nil, *nodes); err != nil {
		return err
	}
	if err := s.waitNodes(ctx, name, idleCount(*nodes)); err != nil {
		return err
	}
	// Raw first: sbatch --wrap true, one after another, then until squeue
	// shows none of them.
	t0 := time.Now()
	for i := 0; i < *tput; i++ {
		if _, err := s.rawJob(ctx, name, "rawbench-tput", "true"); err != nil {
			return err
		}
	}
	rawSubmitted := time.Since(t0)
	end, err := s.rawGone(ctx, "rawbench-tput")
	if err != nil {
		return err
	}
	rawTook := end.Sub(t0)
	rawFailed := 0
	if b, err := os.ReadFile(filepath.Join(s.slurmDir, "log", "jobcomp.txt")); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, "JobName=rawbench-tput") && !strings.Contains(l, "JobState=COMPLETED") {
				rawFailed++
			}
		}
	}

	if err := s.waitNodes(ctx, name, idleCount(*nodes)); err != nil {
		return err
	}
	t0 = time.Now()
	for i := 0; i < *tput; i++ {
		if _, err := s.submit(ctx, "tput", name, "main.py"); err != nil {
			return err
		}
	}
	gSubmitted := time.Since(t0)
	wctx, cancel := context.WithTimeout(ctx, 15*time.Minute) // hang guard
	defer cancel()
	var rs []workspace.Run
	for {
		rs, err = s.ws.Store().Runs(wctx, workspace.Filter{Experiment: "tput"})
		if err != nil {
			return err
		}
		final := 0
		for _, r := range rs {
			if r.State.Final() {
				final++
			}
		}
		if final == len(rs) {
			break
		}
		select {
		case <-wctx.Done():
			return fmt.Errorf("%d of %d runs final: %w", final, len(rs), wctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	var last time.Time
	failed := map[workspace.State]int{}
	for _, r := range rs {
		if r.Ended.After(last) {
			last = r.Ended
		}
		if r.State != workspace.StateCompleted {
			failed[r.State]++
		}
	}
	gTook := last.Sub(t0)
	gRate, rawRate := float64(*tput)/gTook.Seconds(), float64(*tput)/rawTook.Seconds()
	s.rows = append(s.rows, fmt.Sprintf("| throughput: %d tiny runs on %d nodes kept up, first submit -> all final | %.1f runs/s (%s; submits took %s; not Completed: %s) | sbatch --wrap true: %.1f jobs/s (%s; sbatch loop %s; not COMPLETED: %d) | %.2f (target >= 0.8) |",
		*tput, *nodes, gRate, secs(gTook), secs(gSubmitted), failures(failed), rawRate, secs(rawTook), secs(rawSubmitted), rawFailed, gRate/rawRate))
	return nil
}

func failures(m map[workspace.State]int) string {
	if len(m) == 0 {
		return "none"
	}
	var p []string
	for s, n := range m {
		p = append(p, fmt.Sprintf("%d %s", n, s))
	}
	slices.Sort(p)
	return strings.Join(p, ", ")
}

func numCPU() int {
	b, _ := exec.Command("nproc").Output()
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

func ms(d time.Duration) string   { return fmt.Sprintf("%.1f ms", msf(d)) }
func msf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }
