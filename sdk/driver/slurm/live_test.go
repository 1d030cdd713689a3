package slurm_test

// Tests against a real Slurm, started by scripts/slurm.sh in a temporary
// directory. They are skipped, with the reason, where Slurm is not
// installed. Timeouts are hang guards, never performance assertions.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gantry/sdk"
	"gantry/sdk/driver/slurm"
	"gantry/sdk/workspace"
)

// slurmDir is the test instance's directory; "" when Slurm is missing.
var slurmDir, skipReason string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if err := slurm.Installed(); err != nil {
		skipReason = err.Error()
		return m.Run()
	}
	root, _ := filepath.Abs("../../..")
	tmp, err := os.MkdirTemp("", "gantry-slurm-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	if os.Getenv("GANTRY_AGENT_BINARY") == "" {
		exe := filepath.Join(tmp, "gantry")
		build := exec.Command("go", "build", "-o", exe, "./cmd/gantry")
		build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build gantry:", err)
			return 1
		}
		os.Setenv("GANTRY_AGENT_BINARY", exe)
	}
	dir := filepath.Join(tmp, "slurm")
	script := filepath.Join(root, "scripts", "slurm.sh")
	start := exec.Command(script, "start", dir)
	start.Env = append(os.Environ(), "GANTRY_BOOT_DELAY=1")
	if out, err := start.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "scripts/slurm.sh start: %v\n%s", err, out)
		return 1
	}
	defer func() {
		if out, err := exec.Command(script, "stop", dir).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "scripts/slurm.sh stop: %v\n%s", err, out)
		}
	}()
	slurmDir = dir
	return m.Run()
}

// open returns a workspace of its own for a live test.
func open(t *testing.T) (*sdk.Workspace, context.Context) {
	t.Helper()
	if slurmDir == "" {
		t.Skip("live Slurm tests skipped: " + skipReason)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute) // hang guard
	t.Cleanup(cancel)
	ws, err := sdk.OpenWorkspace(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	return ws, ctx
}

func cluster(t *testing.T, ws *sdk.Workspace, ctx context.Context, name string, c sdk.ManagedCluster) {
	t.Helper()
	if c.VMSize == "" && c.NodesOf == "" {
		c.VMSize = "STANDARD_D1_V2"
	}
	c.SlurmDir = slurmDir
	if err := ws.CreateCompute(ctx, name, c); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := ws.DeleteCompute(context.Background(), name); err != nil {
			t.Errorf("delete %s: %v", name, err)
		}
	})
}

func submit(t *testing.T, ws *sdk.Workspace, ctx context.Context, target, shell string, nodes int) *sdk.Run {
	t.Helper()
	r, err := ws.Experiment("slurm").Submit(ctx, sdk.ScriptRunConfig{
		SourceDirectory: t.TempDir(),
		Command:         []string{"sh", "-c", shell},
		RunConfig:       sdk.RunConfiguration{Target: target, NodeCount: nodes},
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func wait(t *testing.T, ctx context.Context, r *sdk.Run) workspace.State {
	t.Helper()
	st, _, err := r.WaitForCompletion(ctx, sdk.WaitOptions{Poll: 200 * time.Millisecond})
	if err != nil {
		t.Fatalf("run %s: %v (state %s)%s", r.ID, err, st, history(ctx, r))
	}
	return st
}

func waitState(t *testing.T, ctx context.Context, r *sdk.Run, want workspace.State) {
	t.Helper()
	for {
		st, err := r.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st == want {
			return
		}
		if st.Final() {
			t.Fatalf("run %s ended %s while waiting for %s%s", r.ID, st, want, history(ctx, r))
		}
		select {
		case <-ctx.Done():
			t.Fatalf("run %s still %s, waiting for %s%s", r.ID, st, want, history(ctx, r))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func history(ctx context.Context, r *sdk.Run) string {
	evs, _ := r.Events(context.WithoutCancel(ctx))
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "\n  %s -> %s: %s", e.From, e.To, e.Reason)
	}
	return b.String()
}

func output(t *testing.T, r *sdk.Run, rel string) string {
	t.Helper()
	dir, _ := r.Dir()
	b, _ := os.ReadFile(filepath.Join(dir, rel))
	return string(b)
}

// slurmErrors returns the last error and fatal lines of the test
// instance's daemons' logs (without the ones every start writes), to
// explain a node failure.
func slurmErrors() string {
	logs, _ := filepath.Glob(filepath.Join(slurmDir, "log", "*.log"))
	var b strings.Builder
	for _, l := range logs {
		data, _ := os.ReadFile(l)
		var lines []string
		for _, line := range strings.Split(string(data), "\n") {
			noise := strings.Contains(line, "pmix") || strings.Contains(line, "MPI:") || strings.Contains(line, "state file") ||
				strings.Contains(line, "Trying backup") || strings.Contains(line, "MailProg")
			if !noise && (strings.Contains(line, "error") || strings.Contains(line, "fatal")) {
				lines = append(lines, line)
			}
		}
		if len(lines) > 8 {
			lines = lines[len(lines)-8:]
		}
		for _, line := range lines {
			fmt.Fprintf(&b, "%s: %s\n", filepath.Base(l), line)
		}
	}
	return b.String()
}

func waitNodes(t *testing.T, ws *sdk.Workspace, ctx context.Context, name string, ok func(slurm.Status) bool) slurm.Status {
	t.Helper()
	for {
		st, err := ws.ClusterStatus(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if ok(st) {
			return st
		}
		select {
		case <-ctx.Done():
			t.Fatalf("cluster %s: still %s", name, st)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// A 2-node run scales the cluster from zero, sees the GANTRY_* variables
// on both nodes, and the nodes go back to zero after the idle time.
func TestScaleFromZeroTwoNodes(t *testing.T) {
	ws, ctx := open(t)
	cluster(t, ws, ctx, "scale", sdk.ManagedCluster{MaxNodes: 2, IdleSecondsBeforeScaledown: 3})
	st, err := ws.ClusterStatus(ctx, "scale")
	if err != nil || st.Counts[slurm.PoweredDown] != 2 {
		t.Fatalf("new cluster: %s, %v; want 2 powered down", st, err)
	}
	r := submit(t, ws, ctx, "scale", `echo "rank=$GANTRY_NODE_RANK nodes=$GANTRY_NUM_NODES addr=$GANTRY_MASTER_ADDR port=$GANTRY_MASTER_PORT"`, 2)
	if got := wait(t, ctx, r); got != workspace.StateCompleted {
		t.Fatalf("run %s%s", got, history(ctx, r))
	}
	out0, out1 := output(t, r, "logs/output.log"), output(t, r, "nodes/rank-1/logs/output.log")
	if !strings.Contains(out0, "rank=0 nodes=2 addr=127.0.0.1 port=") || !strings.Contains(out1, "rank=1 nodes=2 addr=127.0.0.1 port=") {
		t.Fatalf("rank 0 said %q, rank 1 said %q", out0, out1)
	}
	// The wait's view merges the nodes' output, each other node's lines
	// labelled with its rank.
	var merged strings.Builder
	if _, _, err := r.WaitForCompletion(ctx, sdk.WaitOptions{Output: &merged}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(merged.String(), "rank=0 nodes=2") || !strings.Contains(merged.String(), "[rank-1] rank=1 nodes=2") {
		t.Errorf("merged output:\n%s", merged.String())
	}
	prov, _ := os.ReadFile(filepath.Join(slurmDir, "log", "provider.log"))
	for _, n := range []string{"resume scale-1", "resume scale-2"} {
		if !strings.Contains(string(prov), n) {
			t.Errorf("provider log lacks %q", n)
		}
	}
	waitNodes(t, ws, ctx, "scale", func(s slurm.Status) bool { return s.Counts[slurm.PoweredDown] == 2 })
}

// A worker node whose script fails fails the run, with its exit code and
// rank, though rank 0's script succeeded.
func TestWorkerFailureFailsRun(t *testing.T) {
	ws, ctx := open(t)
	cluster(t, ws, ctx, "wfail", sdk.ManagedCluster{MaxNodes: 2, IdleSecondsBeforeScaledown: 3})
	r := submit(t, ws, ctx, "wfail", `if [ "$GANTRY_NODE_RANK" = 1 ]; then echo "rank 1 gives up"; exit 3; fi; echo "rank 0 fine"`, 2)
	if got := wait(t, ctx, r); got != workspace.StateFailed {
		t.Fatalf("run %s, want Failed%s", got, history(ctx, r))
	}
	h := history(ctx, r)
	if !strings.Contains(h, "rank 1 failed: the script exited with status 3") {
		t.Errorf("history does not blame rank 1:%s", h)
	}
	d, _ := r.Details(ctx)
	if d.ExitCode == nil || *d.ExitCode != 3 {
		t.Errorf("exit code %v, want rank 1's 3", d.ExitCode)
	}
	if out := output(t, r, "nodes/rank-1/logs/output.log"); !strings.Contains(out, "rank 1 gives up") {
		t.Errorf("rank 1 output %q", out)
	}
}

// min_nodes are kept up; update(max_nodes) takes effect.
func TestMinNodesAndUpdate(t *testing.T) {
	ws, ctx := open(t)
	cluster(t, ws, ctx, "keep", sdk.ManagedCluster{MinNodes: 1, MaxNodes: 1, IdleSecondsBeforeScaledown: 2})
	if _, err := ws.WaitForCluster(ctx, "keep", nil, 1); err != nil {
		t.Fatal(err)
	}
	if err := ws.UpdateManagedCluster(ctx, "keep", sdk.ManagedCluster{VMSize: "STANDARD_D1_V2", MinNodes: 0, MaxNodes: 3, IdleSecondsBeforeScaledown: 2}); err != nil {
		t.Fatal(err)
	}
	st := waitNodes(t, ws, ctx, "keep", func(s slurm.Status) bool { return len(s.Nodes) == 3 && s.Counts[slurm.PoweredDown] == 3 })
	t.Logf("after update: %s", st)
	if err := ws.UpdateManagedCluster(ctx, "keep", sdk.ManagedCluster{VMSize: "STANDARD_D1_V2", MinNodes: 4, MaxNodes: 3}); err == nil {
		t.Fatal("update accepted min_nodes > max_nodes")
	}
}

// A dedicated run preempts a low-priority one on the same nodes; Slurm
// requeues it and it completes by itself, with the restart in its history.
// The low-priority script checkpoints on SIGTERM and exits 0, as a training
// script should: a clean exit after a preemption is still a preemption.
func TestPreemptionRequeues(t *testing.T) {
	ws, ctx := open(t)
	cluster(t, ws, ctx, "low", sdk.ManagedCluster{MaxNodes: 1, VMPriority: "lowpriority", IdleSecondsBeforeScaledown: 30})
	cluster(t, ws, ctx, "ded", sdk.ManagedCluster{NodesOf: "low", VMPriority: "dedicated"})
	low := submit(t, ws, ctx, "low", `echo "start restart=${SLURM_RESTART_COUNT:-0}"; trap 'echo checkpoint; exit 0' TERM; if [ "${SLURM_RESTART_COUNT:-0}" = 0 ]; then sleep 120 & wait; fi; echo finished`, 1)
	waitState(t, ctx, low, workspace.StateRunning)
	ded := submit(t, ws, ctx, "ded", "echo dedicated", 1)
	if got := wait(t, ctx, ded); got != workspace.StateCompleted {
		t.Fatalf("dedicated run %s%s", got, history(ctx, ded))
	}
	if got := wait(t, ctx, low); got != workspace.StateCompleted {
		t.Fatalf("low-priority run %s%s", got, history(ctx, low))
	}
	h := history(ctx, low)
	if !strings.Contains(h, "Running -> Queued: preempted; requeued by Slurm") {
		t.Errorf("history lacks the preemption:%s", h)
	}
	d, _ := low.Details(ctx)
	if d.Tags["gantry.slurm.restarts"] != "1" || d.ExitCode == nil || *d.ExitCode != 0 {
		t.Errorf("tags %v, exit code %v; want restarts 1, exit 0", d.Tags, d.ExitCode)
	}
	if out := output(t, low, "logs/output.log"); !strings.Contains(out, "checkpoint") || !strings.Contains(out, "restart=1") || !strings.Contains(out, "finished") {
		t.Errorf("output %q", out)
	}
}

// Cancel while queued and while running.
func TestCancel(t *testing.T) {
	ws, ctx := open(t)
	cluster(t, ws, ctx, "cx", sdk.ManagedCluster{MaxNodes: 1, IdleSecondsBeforeScaledown: 30})
	a := submit(t, ws, ctx, "cx", "sleep 120", 1)
	waitState(t, ctx, a, workspace.StateRunning)
	b := submit(t, ws, ctx, "cx", "echo never", 1)
	if err := b.Cancel(ctx); err != nil {
		t.Fatal(err)
	}
	if got := wait(t, ctx, b); got != workspace.StateCanceled {
		t.Fatalf("queued run %s%s", got, history(ctx, b))
	}
	if err := a.Cancel(ctx); err != nil {
		t.Fatal(err)
	}
	if got := wait(t, ctx, a); got != workspace.StateCanceled {
		t.Fatalf("running run %s%s", got, history(ctx, a))
	}
	if out := output(t, b, "logs/output.log"); strings.Contains(out, "never") {
		t.Fatal("the canceled queued run ran")
	}
}

// Many queued runs all reach a final state, none lost.
func TestManyRuns(t *testing.T) {
	ws, ctx := open(t)
	n := 200
	if s := os.Getenv("GANTRY_SLURM_MANY"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute) // hang guard
	defer cancel()
	cluster(t, ws, ctx, "many", sdk.ManagedCluster{MaxNodes: 4, IdleSecondsBeforeScaledown: 30})
	runs := make([]*sdk.Run, n)
	for i := range runs {
		runs[i] = submit(t, ws, ctx, "many", "echo "+strconv.Itoa(i), 1)
	}
	for i, r := range runs {
		if got := wait(t, ctx, r); got != workspace.StateCompleted {
			t.Fatalf("run %d %s%s\nSlurm's errors:\n%s", i, got, history(ctx, r), slurmErrors())
		}
		if out := output(t, r, "logs/output.log"); strings.TrimSpace(out) != strconv.Itoa(i) {
			t.Fatalf("run %d said %q", i, out)
		}
	}
}

// Bad sizes, min > max, max < 1, negative idle, name clashes.
func TestCreateErrors(t *testing.T) {
	ws, ctx := open(t)
	for _, tc := range []struct {
		c    sdk.ManagedCluster
		want string
	}{
		{sdk.ManagedCluster{VMSize: "HUGE", MaxNodes: 1}, `unknown VM size "HUGE"`},
		{sdk.ManagedCluster{VMSize: "STANDARD_D1_V2", MinNodes: 2, MaxNodes: 1}, "min_nodes (2) is more than max_nodes (1)"},
		{sdk.ManagedCluster{VMSize: "STANDARD_D1_V2", MaxNodes: 0}, "max_nodes is 0"},
		{sdk.ManagedCluster{VMSize: "STANDARD_D1_V2", MaxNodes: 1, IdleSecondsBeforeScaledown: -1}, "idle_seconds_before_scaledown is -1"},
		{sdk.ManagedCluster{VMSize: "STANDARD_D1_V2", MaxNodes: 1, VMPriority: "spot"}, `vm_priority "spot"`},
	} {
		tc.c.SlurmDir = slurmDir
		err := ws.CreateCompute(ctx, "bad", tc.c)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("CreateCompute(%+v) = %v, want an error with %q", tc.c, err, tc.want)
		}
	}
	if _, err := ws.ComputeTarget(ctx, "bad"); !errors.Is(err, workspace.ErrNotFound) {
		t.Errorf("a refused cluster was kept: %v", err)
	}
	cluster(t, ws, ctx, "clash", sdk.ManagedCluster{MaxNodes: 1})
	// Get-or-create: the same settings again (the Slurm instance taken
	// from the cluster) are fine; others are refused, saying which.
	if err := ws.CreateCompute(ctx, "CLASH", sdk.ManagedCluster{VMSize: "STANDARD_D1_V2", MaxNodes: 1}); err != nil {
		t.Errorf("same name and settings: %v, want nil", err)
	}
	err := ws.CreateCompute(ctx, "clash", sdk.ManagedCluster{VMSize: "STANDARD_D1_V2", MaxNodes: 2, SlurmDir: slurmDir})
	if !errors.Is(err, sdk.ErrExists) || !strings.Contains(err.Error(), "max_nodes: 1 there, 2 here") {
		t.Errorf("same name, other settings: %v", err)
	}
	// Another workspace on the same Slurm: the cluster's nodes are taken.
	other, err := sdk.OpenWorkspace(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	err = other.CreateCompute(ctx, "clash", sdk.ManagedCluster{VMSize: "STANDARD_D1_V2", MaxNodes: 1, SlurmDir: slurmDir})
	if !errors.Is(err, slurm.ErrPoolExists) {
		t.Errorf("same name in the Slurm instance: %v", err)
	}
	if _, err := other.ComputeTarget(ctx, "clash"); !errors.Is(err, workspace.ErrNotFound) {
		t.Errorf("the clashing cluster was kept: %v", err)
	}
	err = ws.CreateCompute(ctx, "nodir", sdk.ManagedCluster{VMSize: "STANDARD_D1_V2", MaxNodes: 1, SlurmDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "scripts/slurm.sh start") {
		t.Errorf("no instance: %v", err)
	}
}

func TestNotInstalledMessage(t *testing.T) {
	if !strings.Contains(slurm.ErrNotInstalled.Error(), "apt-get install slurm-wlm munge") {
		t.Fatal(slurm.ErrNotInstalled)
	}
}

// A node that dies mid-run (its slurmd, the job's step daemon, the agent
// and the script all killed, as when a VM goes) ends the run Failed with
// the reason, never stuck in Running.
func TestNodeFailure(t *testing.T) {
	ws, ctx := open(t)
	cluster(t, ws, ctx, "nf", sdk.ManagedCluster{MaxNodes: 1, IdleSecondsBeforeScaledown: 30})
	r := submit(t, ws, ctx, "nf", "sleep 300", 1)
	waitState(t, ctx, r, workspace.StateRunning)
	dir, _ := r.Dir()
	agentPID := readPID(t, filepath.Join(dir, "agent.pid"))
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", agentPID))
	if err != nil {
		t.Fatal(err)
	}
	// Field 4 of stat is the parent: the job's slurmstepd.
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	stepd, _ := strconv.Atoi(fields[1])
	slurmd := readPID(t, filepath.Join(slurmDir, "run", "slurmd-nf-1.pid"))
	for _, pid := range []int{slurmd, stepd, agentPID} {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	for _, e := range mustEvents(t, ctx, r) {
		var pid int
		if _, err := fmt.Sscanf(e.Reason, "script started (pid %d)", &pid); err == nil {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		}
	}
	st, _, err := r.WaitForCompletion(ctx, sdk.WaitOptions{Poll: 200 * time.Millisecond})
	if err != nil {
		t.Fatalf("run %s: %v%s", st, err, history(ctx, r))
	}
	h := history(ctx, r)
	if st != workspace.StateFailed || !strings.Contains(h, "the Slurm job ended") {
		t.Fatalf("run %s after its node failed:%s", st, h)
	}
	t.Logf("history:%s", h)
}

func readPID(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		t.Fatalf("%s: %q", path, b)
	}
	return pid
}

func mustEvents(t *testing.T, ctx context.Context, r *sdk.Run) []workspace.Event {
	t.Helper()
	evs, err := r.Events(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// A 2-node run loses its second node (its slurmd, step daemon, agent and
// script all killed, as when a VM goes): rank 0's agent, stopped by
// Slurm, ends the run Failed with a reason that names the lost node and
// Slurm's word for it, not a bare "the agent was stopped".
func TestWorkerNodeLost(t *testing.T) {
	ws, ctx := open(t)
	cluster(t, ws, ctx, "wlost", sdk.ManagedCluster{MaxNodes: 2, IdleSecondsBeforeScaledown: 30})
	r := submit(t, ws, ctx, "wlost", `echo "rank $GANTRY_NODE_RANK up"; sleep 300`, 2)
	waitState(t, ctx, r, workspace.StateRunning)
	dir, _ := r.Dir()
	worker := filepath.Join(dir, "nodes", "rank-1")
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(worker, "script.pid")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rank 1 never started its script%s", history(ctx, r))
		}
	}
	agentPID := readPID(t, filepath.Join(worker, "agent.pid"))
	env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", agentPID))
	if err != nil {
		t.Fatal(err)
	}
	var node string
	for _, kv := range strings.Split(string(env), "\x00") {
		if v, ok := strings.CutPrefix(kv, "SLURMD_NODENAME="); ok {
			node = v
		}
	}
	if node == "" {
		t.Fatal("rank 1's agent has no SLURMD_NODENAME")
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", agentPID))
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	stepd, _ := strconv.Atoi(fields[1])
	script := readPID(t, filepath.Join(worker, "script.pid"))
	slurmd := readPID(t, filepath.Join(slurmDir, "run", "slurmd-"+node+".pid"))
	for _, pid := range []int{slurmd, stepd, agentPID, script} {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	_ = syscall.Kill(-script, syscall.SIGKILL)
	st, _, err := r.WaitForCompletion(ctx, sdk.WaitOptions{Poll: 200 * time.Millisecond})
	if err != nil {
		t.Fatalf("run %s: %v%s", st, err, history(ctx, r))
	}
	h := history(ctx, r)
	if st != workspace.StateFailed || !strings.Contains(h, "node "+node+" failed (Slurm: ") {
		t.Fatalf("run %s after losing node %s; want Failed naming it:%s\n%s", st, node, h, slurmErrors())
	}
	t.Logf("history:%s", h)
}

// A cluster of a GPU size declares its nodes' GPUs to Slurm (gres.conf,
// with stand-in devices on this machine); a run asks with --gres and sees
// the devices Slurm gave it; a request the size cannot meet is refused at
// submit with the sizes that would.
func TestGPUCluster(t *testing.T) {
	ws, ctx := open(t)
	cluster(t, ws, ctx, "gpux", sdk.ManagedCluster{VMSize: "STANDARD_NC12", MaxNodes: 1, IdleSecondsBeforeScaledown: 30})
	gres, err := os.ReadFile(filepath.Join(slurmDir, "etc", "gres.conf"))
	if err != nil || !strings.Contains(string(gres), "NodeName=gpux-1 Name=gpu File=") {
		t.Fatalf("gres.conf: %v\n%s", err, gres)
	}
	r, err := ws.Experiment("slurm").Submit(ctx, sdk.ScriptRunConfig{SourceDirectory: t.TempDir(),
		Command:   []string{"sh", "-c", `echo "visible=[$CUDA_VISIBLE_DEVICES]"`},
		RunConfig: sdk.RunConfiguration{Target: "gpux", GPUCount: 2}})
	if err != nil {
		t.Fatal(err)
	}
	if got := wait(t, ctx, r); got != workspace.StateCompleted {
		t.Fatalf("run %s%s\n%s", got, history(ctx, r), slurmErrors())
	}
	if out := output(t, r, "logs/output.log"); !strings.Contains(out, "visible=[0,1]") {
		t.Errorf("the run saw %q, want Slurm's two devices", out)
	}
	_, err = ws.Experiment("slurm").Submit(ctx, sdk.ScriptRunConfig{SourceDirectory: t.TempDir(),
		Command: []string{"true"}, RunConfig: sdk.RunConfiguration{Target: "gpux", GPUCount: 3}})
	if err == nil || !strings.Contains(err.Error(), "STANDARD_NC24 (4 GPUs)") {
		t.Fatalf("3 GPUs on 2-GPU nodes: %v", err)
	}
}
