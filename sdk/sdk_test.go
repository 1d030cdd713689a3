package sdk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gantry/internal/gantrytest"
	"gantry/sdk/environment"
	"gantry/sdk/workspace"
)

// testWorkspace opens a workspace in a temp dir with a local target, using
// a gantry binary built for the test to run agents.
func testWorkspace(t *testing.T) *Workspace {
	t.Helper()
	bin := gantrytest.Binary(t)
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is needed to run training scripts")
	}
	ctx := context.Background()
	ws, err := OpenWorkspace(ctx, filepath.Join(t.TempDir(), "ws"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	ws.exe = bin
	if err := ws.CreateLocalCompute(ctx, "local", LocalCompute{}); err != nil {
		t.Fatal(err)
	}
	return ws
}

func writeScript(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "train.py"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestSubmitRunsToCompletion(t *testing.T) {
	ws := testWorkspace(t)
	src := writeScript(t, `import gantry_run, os, sys
for i in range(5):
    print("epoch", i, flush=True)
    gantry_run.log("loss", 1.0 / (i + 1))
print("to stderr", file=sys.stderr)
gantry_run.tag("model", "tiny")
with open(os.path.join("outputs", "model.txt"), "w") as f:
    f.write("weights")
`)
	ctx := context.Background()
	run, err := ws.Experiment("exp").Submit(ctx, ScriptRunConfig{SourceDirectory: src, Script: "train.py",
		RunConfig: RunConfiguration{Target: "local"}})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	st, off, err := run.WaitForCompletion(ctx, WaitOptions{Output: &out, RaiseOnError: true, Poll: 10 * time.Millisecond})
	if err != nil || st != workspace.StateCompleted {
		dir, _ := run.Dir()
		agentLog, _ := os.ReadFile(filepath.Join(dir, "logs", "agent.log"))
		t.Fatalf("state %s, err %v\noutput:\n%s\nagent log:\n%s", st, err, out.String(), agentLog)
	}
	for _, want := range []string{"epoch 0\n", "epoch 4\n", "to stderr\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if off != int64(out.Len()) {
		t.Errorf("offset %d, but %d bytes were shown", off, out.Len())
	}
	m, err := run.Metrics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(m.Series["loss"]); got != 5 {
		t.Errorf("loss series has %d points, want 5: %+v", got, m)
	}
	d, _ := run.Details(ctx)
	if d.Tags["model"] != "tiny" || d.ExitCode == nil || *d.ExitCode != 0 {
		t.Errorf("details: tags %v exit %v", d.Tags, d.ExitCode)
	}
	dir, _ := run.Dir()
	if b, err := os.ReadFile(filepath.Join(dir, "outputs", "model.txt")); err != nil || string(b) != "weights" {
		t.Errorf("outputs/model.txt: %q %v", b, err)
	}
	// A second wait from the offset shows nothing twice.
	var again bytes.Buffer
	if _, _, err := run.WaitForCompletion(ctx, WaitOptions{Output: &again, Offset: off}); err != nil || again.Len() != 0 {
		t.Errorf("resumed wait showed %q (%v)", again.String(), err)
	}
}

func TestFailingScriptIsFailed(t *testing.T) {
	ws := testWorkspace(t)
	src := writeScript(t, "import sys\nprint('bad things')\nsys.exit(3)\n")
	ctx := context.Background()
	run, err := ws.Experiment("exp").Submit(ctx, ScriptRunConfig{SourceDirectory: src, Script: "train.py",
		RunConfig: RunConfiguration{Target: "local"}})
	if err != nil {
		t.Fatal(err)
	}
	st, _, err := run.WaitForCompletion(ctx, WaitOptions{RaiseOnError: true})
	if st != workspace.StateFailed || !errors.Is(err, ErrRunFailed) || !strings.Contains(err.Error(), "status 3") {
		t.Fatalf("state %s, err %v; want Failed with exit status 3 in the error", st, err)
	}
}

func TestCancelStopsScriptAndChildren(t *testing.T) {
	ws := testWorkspace(t)
	src := writeScript(t, `import subprocess, time, os
child = subprocess.Popen(["sleep", "300"])
with open(os.path.join(os.environ["GANTRY_RUN_DIR"], "child.pid"), "w") as f:
    f.write(str(child.pid))
print("started", flush=True)
time.sleep(300)
`)
	ctx := context.Background()
	run, err := ws.Experiment("exp").Submit(ctx, ScriptRunConfig{SourceDirectory: src, Script: "train.py",
		RunConfig: RunConfiguration{Target: "local"}})
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := run.Dir()
	var childPID []byte
	for i := 0; i < 600 && len(childPID) == 0; i++ {
		childPID, _ = os.ReadFile(filepath.Join(dir, "child.pid"))
		time.Sleep(50 * time.Millisecond)
	}
	if len(childPID) == 0 {
		t.Fatal("the script never started its child")
	}
	if err := run.Cancel(ctx); err != nil {
		t.Fatal(err)
	}
	st, _, err := run.WaitForCompletion(ctx, WaitOptions{})
	if err != nil || st != workspace.StateCanceled {
		t.Fatalf("state %s, err %v; want Canceled", st, err)
	}
	if _, err := os.Stat("/proc/" + strings.TrimSpace(string(childPID))); err == nil {
		stat, _ := os.ReadFile("/proc/" + strings.TrimSpace(string(childPID)) + "/stat")
		if !strings.Contains(string(stat), ") Z ") {
			t.Fatalf("the script's child %s survived the cancel", childPID)
		}
	}
}

func TestSubmitBadInput(t *testing.T) {
	ws := testWorkspace(t)
	ctx := context.Background()
	src := writeScript(t, "print(1)\n")
	tests := []struct {
		name string
		cfg  ScriptRunConfig
		want string
	}{
		{"missing source", ScriptRunConfig{SourceDirectory: "/no/such/dir", Script: "train.py", RunConfig: RunConfiguration{Target: "local"}}, "/no/such/dir"},
		{"missing script", ScriptRunConfig{SourceDirectory: src, Script: "nope.py", RunConfig: RunConfiguration{Target: "local"}}, "not found"},
		{"script outside", ScriptRunConfig{SourceDirectory: src, Script: "../x.py", RunConfig: RunConfiguration{Target: "local"}}, "outside the source directory"},
		{"unknown target", ScriptRunConfig{SourceDirectory: src, Script: "train.py", RunConfig: RunConfiguration{Target: "nope"}}, "nope"},
		{"no target", ScriptRunConfig{SourceDirectory: src, Script: "train.py"}, "no target"},
		{"nothing to run", ScriptRunConfig{SourceDirectory: src, RunConfig: RunConfiguration{Target: "local"}}, "nothing to run"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ws.Experiment("exp").Submit(ctx, tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Submit error = %v, want it to mention %q", err, tt.want)
			}
		})
	}
	if runs, _ := ws.Experiment("exp").Runs(ctx); len(runs) != 0 {
		t.Fatalf("bad submits recorded %d runs", len(runs))
	}
}

func TestWorkspaceInsideSourceIsNotSnapshotted(t *testing.T) {
	ws := testWorkspace(t)
	src := writeScript(t, "print('ok')\n")
	ctx := context.Background()
	// A second workspace inside the source directory, as .gantry beside a notebook.
	inner, err := OpenWorkspace(ctx, filepath.Join(src, ".gantry"))
	if err != nil {
		t.Fatal(err)
	}
	defer inner.Close()
	inner.exe = ws.exe
	if err := inner.CreateLocalCompute(ctx, "local", LocalCompute{}); err != nil {
		t.Fatal(err)
	}
	run, err := inner.Experiment("exp").Submit(ctx, ScriptRunConfig{SourceDirectory: src, Script: "train.py",
		RunConfig: RunConfiguration{Target: "local"}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := run.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range m.Entries {
		if strings.HasPrefix(e.Path, ".gantry") {
			t.Fatalf("the snapshot holds the workspace: %s", e.Path)
		}
	}
	if st, _, err := run.WaitForCompletion(ctx, WaitOptions{}); err != nil || st != workspace.StateCompleted {
		t.Fatalf("state %s, err %v", st, err)
	}
}

func TestMaxConcurrentRunsQueuesAndCancelWhileQueued(t *testing.T) {
	ws := testWorkspace(t)
	ctx := context.Background()
	if err := ws.CreateLocalCompute(ctx, "one-at-a-time", LocalCompute{MaxConcurrentRuns: 1}); err != nil {
		t.Fatal(err)
	}
	marks := filepath.Join(t.TempDir(), "marks")
	src := writeScript(t, `import sys, time
with open(sys.argv[1], "a") as f: f.write("start\n")
time.sleep(float(sys.argv[2]))
with open(sys.argv[1], "a") as f: f.write("end\n")
`)
	cfg := func(sleep string) ScriptRunConfig {
		return ScriptRunConfig{SourceDirectory: src, Script: "train.py", Arguments: []string{marks, sleep},
			RunConfig: RunConfiguration{Target: "one-at-a-time"}}
	}
	first, err := ws.Experiment("q").Submit(ctx, cfg("0.5"))
	if err != nil {
		t.Fatal(err)
	}
	second, err := ws.Experiment("q").Submit(ctx, cfg("0.5"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []*Run{first, second} {
		if st, _, err := r.WaitForCompletion(ctx, WaitOptions{}); err != nil || st != workspace.StateCompleted {
			t.Fatalf("run %s: %s %v", r.ID, st, err)
		}
	}
	b, _ := os.ReadFile(marks)
	if got := string(b); got != "start\nend\nstart\nend\n" {
		t.Fatalf("runs overlapped on a target that runs one at a time: %q", got)
	}

	// A third waits behind a long one and is canceled while queued.
	long, err := ws.Experiment("q").Submit(ctx, cfg("60"))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 400; i++ {
		if st, _ := long.Status(ctx); st == workspace.StateRunning {
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	queued, err := ws.Experiment("q").Submit(ctx, cfg("0"))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if st, _ := queued.Status(ctx); st != workspace.StateQueued {
		t.Fatalf("the run behind a busy slot is %s, want Queued", st)
	}
	if err := queued.Cancel(ctx); err != nil {
		t.Fatal(err)
	}
	if st, _, err := queued.WaitForCompletion(ctx, WaitOptions{}); err != nil || st != workspace.StateCanceled {
		t.Fatalf("queued run after cancel: %s %v", st, err)
	}
	if err := long.Cancel(ctx); err != nil {
		t.Fatal(err)
	}
	if st, _, err := long.WaitForCompletion(ctx, WaitOptions{}); err != nil || st != workspace.StateCanceled {
		t.Fatalf("long run after cancel: %s %v", st, err)
	}
}

func TestDockerEnvironmentWithoutEngineFailsClearly(t *testing.T) {
	ws := testWorkspace(t)
	ctx := context.Background()
	src := writeScript(t, "print('never')\n")
	env := &environment.Environment{Name: "in-docker"}
	env.Python.UserManagedDependencies = true
	env.Python.InterpreterPath = "python3"
	env.Docker.Enabled = true
	env.Docker.BaseImage = environment.DefaultCPUImage
	run, err := ws.Experiment("d").Submit(ctx, ScriptRunConfig{SourceDirectory: src, Script: "train.py",
		RunConfig: RunConfiguration{Target: "local", Environment: env}})
	if err != nil {
		t.Fatal(err)
	}
	st, _, err := run.WaitForCompletion(ctx, WaitOptions{RaiseOnError: true})
	if st != workspace.StateFailed || err == nil || !strings.Contains(err.Error(), "Docker") {
		t.Fatalf("state %s, err %v; want Failed with a reason naming Docker", st, err)
	}
}

func TestOutputFloodIsKeptWhole(t *testing.T) {
	ws := testWorkspace(t)
	ctx := context.Background()
	// 100 MB of numbered lines.
	src := writeScript(t, `import sys
line = "x" * 90
w = sys.stdout.write
for i in range(1000000):
    w("%08d %s\n" % (i, line))
`)
	run, err := ws.Experiment("flood").Submit(ctx, ScriptRunConfig{SourceDirectory: src, Script: "train.py",
		RunConfig: RunConfiguration{Target: "local"}})
	if err != nil {
		t.Fatal(err)
	}
	c := &lineCounter{}
	st, n, err := run.WaitForCompletion(ctx, WaitOptions{Output: c})
	if err != nil || st != workspace.StateCompleted {
		t.Fatalf("state %s, err %v", st, err)
	}
	if c.lines != 1000000 || n != 100000000 || c.bad != 0 {
		t.Fatalf("got %d lines (%d out of order), %d bytes; want 1,000,000 lines, 100,000,000 bytes", c.lines, c.bad, n)
	}
}

// lineCounter counts lines and checks they are numbered in order.
type lineCounter struct {
	partial []byte
	lines   int
	bad     int
}

func (c *lineCounter) Write(p []byte) (int, error) {
	data := append(c.partial, p...)
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		line := data[:i]
		if len(line) < 8 || string(line[:8]) != fmt.Sprintf("%08d", c.lines) {
			c.bad++
		}
		c.lines++
		data = data[i+1:]
	}
	c.partial = append(c.partial[:0], data...)
	return len(p), nil
}

func TestBadEnvironmentsFailTheRunWithReason(t *testing.T) {
	ws := testWorkspace(t)
	ctx := context.Background()
	src := writeScript(t, "print('ran')\n")
	badInterp := &environment.Environment{Name: "bad-interp"}
	badInterp.Python.UserManagedDependencies = true
	badInterp.Python.InterpreterPath = "/no/such/python"

	badPkg := environment.New("bad-pkg")
	badPkg.Python.CondaDependencies = &environment.CondaDependencies{
		PipPackages: []string{"gantry-no-such-package-xyz==1.0"},
		PipOptions:  environment.PipOptions{NoIndex: true, FindLinks: []string{t.TempDir()}},
	}
	tests := []struct {
		name string
		env  *environment.Environment
		want string
	}{
		{"bad interpreter path", badInterp, "/no/such/python"},
		{"nonexistent package", badPkg, "environment.log"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run, err := ws.Experiment("env").Submit(ctx, ScriptRunConfig{SourceDirectory: src, Script: "train.py",
				RunConfig: RunConfiguration{Target: "local", Environment: tt.env}})
			if err != nil {
				t.Fatal(err)
			}
			st, _, err := run.WaitForCompletion(ctx, WaitOptions{RaiseOnError: true})
			if st != workspace.StateFailed || err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("state %s, err %v; want Failed naming %q", st, err, tt.want)
			}
		})
	}
	// The next run is unaffected.
	run, err := ws.Experiment("env").Submit(ctx, ScriptRunConfig{SourceDirectory: src, Script: "train.py",
		RunConfig: RunConfiguration{Target: "local"}})
	if err != nil {
		t.Fatal(err)
	}
	if st, _, err := run.WaitForCompletion(ctx, WaitOptions{RaiseOnError: true}); err != nil || st != workspace.StateCompleted {
		t.Fatalf("run after the failures: %s %v", st, err)
	}
}

func TestCancelWhilePreparing(t *testing.T) {
	ws := testWorkspace(t)
	ctx := context.Background()
	// An interpreter whose version check (run while Preparing) is slow.
	slow := filepath.Join(t.TempDir(), "slow-python")
	if err := os.WriteFile(slow, []byte("#!/bin/sh\nif [ \"$1\" = \"-c\" ]; then sleep 2; fi\nexec python3 \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	env := &environment.Environment{Name: "slow"}
	env.Python.UserManagedDependencies = true
	env.Python.InterpreterPath = slow
	src := writeScript(t, "print('must not run')\n")
	run, err := ws.Experiment("p").Submit(ctx, ScriptRunConfig{SourceDirectory: src, Script: "train.py",
		RunConfig: RunConfiguration{Target: "local", Environment: env}})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 400; i++ {
		if st, _ := run.Status(ctx); st == workspace.StatePreparing {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st, _ := run.Status(ctx); st != workspace.StatePreparing {
		t.Fatalf("run is %s, want Preparing", st)
	}
	if err := run.Cancel(ctx); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	st, _, err := run.WaitForCompletion(ctx, WaitOptions{Output: &out})
	if err != nil || st != workspace.StateCanceled || strings.Contains(out.String(), "must not run") {
		t.Fatalf("state %s, err %v, output %q; want Canceled before the script ran", st, err, out.String())
	}
}
