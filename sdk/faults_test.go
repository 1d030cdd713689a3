package sdk

// Faults a run must survive with a truthful final state: its agent killed,
// its submitter killed at any moment, a cancel with no agent left. Each
// test kills the real process with SIGKILL.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gantry/sdk/runlock"
	"gantry/sdk/workspace"
)

// hang guards the waits of these tests; never a performance bound.
const hang = 2 * time.Minute

// countingScript prints numbered lines, and after each one records the
// number in count.txt in the run's directory, so a test knows which lines
// the script had written when it was killed. It starts a child (whose PID
// it leaves in child.pid) that would outlive it if nothing stopped it.
const countingScript = `import os, subprocess, time
d = os.environ["GANTRY_RUN_DIR"]
child = subprocess.Popen(["sleep", "300"])
with open(os.path.join(d, "child.pid"), "w") as f:
    f.write(str(child.pid))
i = 0
while True:
    print("line", i, flush=True)
    with open(os.path.join(d, "count.txt.tmp"), "w") as f:
        f.write(str(i))
    os.replace(os.path.join(d, "count.txt.tmp"), os.path.join(d, "count.txt"))
    i += 1
    time.sleep(0.02)
`

// startCounting submits countingScript and waits until it has printed
// some lines.
func startCounting(t *testing.T, ws *Workspace) (*Run, string) {
	t.Helper()
	ctx := context.Background()
	run, err := ws.Experiment("faults").Submit(ctx, ScriptRunConfig{SourceDirectory: writeScript(t, countingScript),
		Script: "train.py", RunConfig: RunConfiguration{Target: "local"}})
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := run.Dir()
	waitFile(t, filepath.Join(dir, "child.pid"))
	for deadline := time.Now().Add(hang); ; time.Sleep(20 * time.Millisecond) {
		if n, _ := readInt(filepath.Join(dir, "count.txt")); n >= 10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the script printed nothing")
		}
	}
	return run, dir
}

func waitFile(t *testing.T, path string) {
	t.Helper()
	for deadline := time.Now().Add(hang); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never appeared", path)
		}
	}
}

func readInt(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// alive reports whether the process pid exists and is not a zombie.
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	return err == nil && !strings.Contains(string(stat), ") Z ")
}

// waitGone waits until pid has exited.
func waitGone(t *testing.T, what string, pid int) {
	t.Helper()
	for deadline := time.Now().Add(hang); alive(pid); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s (pid %d) is still running", what, pid)
		}
	}
}

// killAgent SIGKILLs the run's agent and waits until it is gone.
func killAgent(t *testing.T, dir string) {
	t.Helper()
	pid, err := readInt(filepath.Join(dir, "agent.pid"))
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitGone(t, "the agent", pid)
}

// checkAllLines checks that the output holds every line the script had
// written, each once, in order.
func checkAllLines(t *testing.T, output []byte, written int) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(string(output), "\n"), "\n")
	n := 0
	for _, l := range lines {
		if !strings.HasPrefix(l, "line ") {
			continue
		}
		if l != fmt.Sprintf("line %d", n) {
			t.Fatalf("line %d of the output is %q, want %q", n, l, fmt.Sprintf("line %d", n))
		}
		n++
	}
	if n <= written {
		t.Fatalf("the output has %d lines; the script had written %d before the fault", n, written+1)
	}
}

func TestAgentKilledEndsRunAndStopsScript(t *testing.T) {
	ws := testWorkspace(t)
	run, dir := startCounting(t, ws)
	scriptPID, _ := readInt(filepath.Join(dir, "script.pid"))
	childPID, _ := readInt(filepath.Join(dir, "child.pid"))
	killAgent(t, dir)
	killed := time.Now()
	// The script dies with its agent (PR_SET_PDEATHSIG), at once.
	waitGone(t, "the script", scriptPID)
	written, _ := readInt(filepath.Join(dir, "count.txt"))

	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	var out bytes.Buffer
	st, _, err := run.WaitForCompletion(ctx, WaitOptions{Output: &out, RaiseOnError: true})
	if st != workspace.StateFailed || !errors.Is(err, ErrRunFailed) || !strings.Contains(err.Error(), "agent died") {
		t.Fatalf("state %s, err %v; want Failed because the agent died", st, err)
	}
	t.Logf("ended %v after the kill: %v", time.Since(killed).Round(time.Millisecond), err)
	// Its child went too: nothing of the run is left running.
	waitGone(t, "the script's child", childPID)
	checkAllLines(t, out.Bytes(), written)
	if !strings.Contains(err.Error(), "processes its script left were stopped") {
		t.Errorf("the reason does not say the script's child was stopped: %v", err)
	}
}

func TestCancelWithDeadAgent(t *testing.T) {
	ws := testWorkspace(t)
	run, dir := startCounting(t, ws)
	childPID, _ := readInt(filepath.Join(dir, "child.pid"))
	killAgent(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	// Cancel before anyone looked at the run: it ends Canceled, not
	// CancelRequested for ever. (The kernel frees a dead agent's lock a
	// moment after its exit, so the cancel itself may still find it held;
	// the next look ends the run.)
	if err := run.Cancel(ctx); err != nil {
		t.Fatal(err)
	}
	st, _, err := run.WaitForCompletion(ctx, WaitOptions{})
	if err != nil || st != workspace.StateCanceled {
		t.Fatalf("state %s (%v) after cancel; want Canceled", st, err)
	}
	waitGone(t, "the script's child", childPID)
	// A second cancel of an ended run says so.
	if err := run.Cancel(ctx); !errors.Is(err, workspace.ErrIllegalTransition) {
		t.Errorf("cancel of a canceled run: %v; want an illegal transition", err)
	}
}

func TestListingEndsRunOfDeadAgent(t *testing.T) {
	ws := testWorkspace(t)
	run, dir := startCounting(t, ws)
	killAgent(t, dir)
	ctx := context.Background()
	// The kernel drops a dead process's locks a moment after its exit
	// (the last close of a file is deferred to a kernel worker), so the
	// first listing may still find the agent's lock held.
	for deadline := time.Now().Add(hang); ; time.Sleep(5 * time.Millisecond) {
		if err := ws.Reconcile(ctx); err != nil {
			t.Fatal(err)
		}
		d, _ := run.Details(ctx)
		if d.State == workspace.StateFailed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("state %s after Reconcile; want Failed", d.State)
		}
	}
}

// TestSubmitterKilled kills a process that submits runs at moments spread
// over the whole submit, many times: every run it made must reach a final
// state, a run whose handle was never recorded must not have run its
// script, and no run may be left without an end.
func TestSubmitterKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("kills 24 submitters")
	}
	ws := testWorkspace(t)
	src := writeScript(t, "import os\nopen(os.path.join(os.environ['GANTRY_RUN_DIR'], 'ran'), 'w').close()\nprint('ran')\n")
	ctx, cancel := context.WithTimeout(context.Background(), 4*hang)
	defer cancel()
	const attempts = 24
	for i := 0; i < attempts; i++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperSubmit$")
		cmd.Env = append(os.Environ(), "GANTRY_TEST_SUBMIT_WS="+ws.Dir(), "GANTRY_TEST_SUBMIT_SRC="+src,
			"GANTRY_AGENT_BINARY="+ws.exe, fmt.Sprintf("GANTRY_TEST_SUBMIT_KEY=attempt-%d", i))
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill it somewhere in its submit, which takes a few ms after it
		// says it is ready: from 0 to 11.5 ms in, by steps of 0.5 ms.
		ready := make([]byte, 6)
		if _, err := io.ReadFull(stdout, ready); err != nil || string(ready) != "ready\n" {
			t.Fatalf("submitter: %q %v", ready, err)
		}
		time.Sleep(time.Duration(i) * 500 * time.Microsecond)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	rs, err := ws.w.Runs(ctx, workspace.Filter{Experiment: "killed"})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d of %d killed submitters had created a run", len(rs), attempts)
	handed, unhanded := 0, 0
	for _, d := range rs {
		run := &Run{ws: ws, ID: d.ID}
		st, _, err := run.WaitForCompletion(ctx, WaitOptions{})
		if err != nil {
			t.Fatalf("run %s: %v", d.ID, err)
		}
		d, _ = run.Details(ctx)
		dir, _ := run.Dir()
		_, ranErr := os.Stat(filepath.Join(dir, "ran"))
		if d.Properties[handleProperty] == "" {
			unhanded++
			if ranErr == nil {
				t.Errorf("run %s ran its script although its submit never completed", d.ID)
			}
			if st != workspace.StateFailed {
				t.Errorf("run %s, never handed over, ended %s", d.ID, st)
			}
		} else {
			handed++
		}
		if s, _ := runlock.Submit(dir); s != runlock.SubmitDone {
			t.Errorf("run %s: its submit lock is still there after it ended", d.ID)
		}
	}
	t.Logf("%d runs handed over, %d failed for an interrupted submit", handed, unhanded)
	// A retry with each key gives one run per key that completes: the
	// handed-over run itself, or a new one in place of an abandoned one.
	for i := 0; i < attempts; i++ {
		key := fmt.Sprintf("attempt-%d", i)
		run, err := ws.Experiment("killed").Submit(ctx, ScriptRunConfig{SourceDirectory: src, Script: "train.py",
			RunConfig: RunConfiguration{Target: "local"}, SubmitKey: key})
		if err != nil {
			t.Fatal(err)
		}
		if st, _, err := run.WaitForCompletion(ctx, WaitOptions{}); err != nil || st != workspace.StateCompleted {
			if d, _ := ws.w.RunBySubmitKey(ctx, key); d.ID == run.ID && d.Properties[handleProperty] != "" && st == workspace.StateFailed {
				continue // a handed-over run that failed: not this test's subject
			}
			t.Fatalf("retried submit %s: %s, %v", key, st, err)
		}
		again, err := ws.Experiment("killed").Submit(ctx, ScriptRunConfig{SourceDirectory: src, Script: "train.py",
			RunConfig: RunConfiguration{Target: "local"}, SubmitKey: key})
		if err != nil || again.ID != run.ID {
			t.Fatalf("a third submit with key %s gave run %v (%v), want %s", key, again, err, run.ID)
		}
	}
}

// TestHelperSubmit is the submitter TestSubmitterKilled kills: it runs
// only as that test's child process.
func TestHelperSubmit(t *testing.T) {
	dir := os.Getenv("GANTRY_TEST_SUBMIT_WS")
	if dir == "" {
		t.Skip("a helper process of TestSubmitterKilled")
	}
	ctx := context.Background()
	ws, err := OpenWorkspace(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("ready")
	run, err := ws.Experiment("killed").Submit(ctx, ScriptRunConfig{SourceDirectory: os.Getenv("GANTRY_TEST_SUBMIT_SRC"),
		Script: "train.py", RunConfig: RunConfiguration{Target: "local"}, SubmitKey: os.Getenv("GANTRY_TEST_SUBMIT_KEY")})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("submitted", run.ID)
}
