package workspace

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestConcurrentWorkspaces opens two Workspaces on one new directory at
// once, as a kernel and a CLI might, and has several goroutines write
// through each.
func TestConcurrentWorkspaces(t *testing.T) {
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "ws")
	ws := make([]*Workspace, 2)
	var wg sync.WaitGroup
	for i := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w, err := Open(ctx, dir)
			if err != nil {
				t.Error(err)
				return
			}
			ws[i] = w
		}()
	}
	wg.Wait()
	for _, w := range ws {
		if w == nil {
			t.FailNow()
		}
		defer w.Close()
	}

	const (
		workers = 4 // per Workspace
		iters   = 15
		points  = 50
	)
	errs := make(chan error, len(ws)*workers)
	for wi, w := range ws {
		for g := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- writeSome(t, w, fmt.Sprintf("w%d-g%d", wi, g), iters, points)
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}

	n := len(ws) * workers * iters
	checkWrites(t, ws[0], n, n*points)
}

// writeSome creates iters runs in experiment "shared", drives each to
// Running, logs points metrics to it, tags it and registers a version of
// the model "shared" from it.
func writeSome(t testing.TB, w *Workspace, who string, iters, points int) error {
	ctx := t.Context()
	for i := range iters {
		r, err := w.NewRun(ctx, RunSpec{Experiment: "shared", Tags: map[string]string{"who": who}})
		if err != nil {
			return err
		}
		for _, s := range []State{StateQueued, StatePreparing, StateStarting, StateRunning} {
			if err := w.Transition(ctx, r.ID, s, who); err != nil {
				return err
			}
		}
		ms := make([]Metric, points)
		for j := range ms {
			ms[j] = Metric{Name: "loss", Step: int64(j), Value: float64(i)}
		}
		if err := w.LogMetrics(ctx, r.ID, ms); err != nil {
			return err
		}
		if err := w.SetTag(ctx, r.ID, "i", fmt.Sprint(i)); err != nil {
			return err
		}
		if _, err := w.RegisterModel(ctx, Model{Name: "shared", RunID: r.ID, Path: who}); err != nil {
			return err
		}
	}
	return nil
}

// checkWrites checks that runs runs, each Running with 5 events, and as
// many versions of model "shared", numbered 1 to runs, were recorded, with
// points metrics in all.
func checkWrites(t *testing.T, w *Workspace, runs, points int) {
	t.Helper()
	ctx := t.Context()
	rs, err := w.Runs(ctx, Filter{Experiment: "shared", State: StateRunning})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != runs {
		t.Errorf("%d Running runs, want %d", len(rs), runs)
	}
	total := 0
	for _, r := range rs {
		es, err := w.Events(ctx, r.ID)
		if err != nil || len(es) != 5 {
			t.Errorf("run %s: %d events, %v; want 5", r.ID, len(es), err)
		}
		m, err := w.Metrics(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		total += len(m.Series["loss"])
	}
	if total != points {
		t.Errorf("%d metric points, want %d", total, points)
	}
	ms, err := w.Models(ctx, "shared")
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != runs {
		t.Fatalf("%d model versions, want %d", len(ms), runs)
	}
	seenRun := map[string]bool{}
	for i, m := range ms {
		if m.Version != i+1 {
			t.Fatalf("model versions are not 1..%d: version %d at %d", runs, m.Version, i)
		}
		if seenRun[m.RunID] {
			t.Errorf("run %s registered twice", m.RunID)
		}
		seenRun[m.RunID] = true
	}
}

// childEnv, when set, names the workspace directory that
// TestCrossProcess's child process writes to.
const childEnv = "GANTRY_WORKSPACE_TEST_CHILD"

// TestCrossProcess runs this test binary again as a child process that
// writes to the workspace while this process writes to it too.
func TestCrossProcess(t *testing.T) {
	const iters, points = 40, 100
	if dir := os.Getenv(childEnv); dir != "" {
		w, err := Open(t.Context(), dir)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		// Tell the parent that the child is up, and start when it does.
		if _, err := w.Experiment(t.Context(), "child-ready"); err != nil {
			t.Fatal(err)
		}
		waitExperiment(t, w, "parent-go", nil)
		writeHalves(t, w, "child", "parent", iters, points, nil)
		return
	}

	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "ws")
	w := openDir(t, dir, options{})
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestCrossProcess$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), childEnv+"="+dir)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	// Start together, so that the two really overlap.
	waitExperiment(t, w, "child-ready", done)
	if _, err := w.Experiment(ctx, "parent-go"); err != nil {
		t.Fatal(err)
	}
	writeHalves(t, w, "parent", "child", iters, points, done)
	if err := <-done; err != nil {
		t.Fatalf("child: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "--- PASS: TestCrossProcess") {
		t.Fatalf("child did not run the test:\n%s", out.String())
	}
	checkWrites(t, w, 2*iters, 2*iters*points)

	// The two processes wrote at the same time: each created a run while
	// the other was creating its runs.
	span := map[string][2]time.Time{}
	rs, err := w.Runs(ctx, Filter{Experiment: "shared"})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		who := r.Tags["who"]
		s, ok := span[who]
		if !ok || r.Created.Before(s[0]) {
			s[0] = r.Created
		}
		if !ok || r.Created.After(s[1]) {
			s[1] = r.Created
		}
		span[who] = s
	}
	p, c := span["parent"], span["child"]
	t.Logf("parent wrote from %v to %v, child from %v to %v",
		p[0].Format(time.StampMicro), p[1].Format(time.StampMicro), c[0].Format(time.StampMicro), c[1].Format(time.StampMicro))
	if !p[0].Before(c[1]) || !c[0].Before(p[1]) {
		t.Error("the parent and child processes did not write at the same time")
	}
}

// writeHalves writes half of its share, then waits until the other process
// has written half of its own before writing the rest: so each process
// writes both before and after the other's midpoint, and the two surely
// overlap, however the scheduler runs them.
func writeHalves(t *testing.T, w *Workspace, who, other string, iters, points int, done <-chan error) {
	t.Helper()
	if err := writeSome(t, w, who, iters/2, points); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Experiment(t.Context(), who+"-half"); err != nil {
		t.Fatal(err)
	}
	waitExperiment(t, w, other+"-half", done)
	if err := writeSome(t, w, who, iters-iters/2, points); err != nil {
		t.Fatal(err)
	}
}

// waitExperiment waits until the experiment called name exists, failing
// the test if done delivers first.
func waitExperiment(t *testing.T, w *Workspace, name string, done <-chan error) {
	t.Helper()
	for {
		es, err := w.Experiments(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			if e.Name == name {
				return
			}
		}
		select {
		case err := <-done:
			t.Fatalf("child exited before writing: %v", err)
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// reopenChildEnv, when set, names the workspace that
// TestReopenKeepsTheOtherOpenWorkspaceAlive's child opens and closes.
const reopenChildEnv = "GANTRY_WORKSPACE_TEST_REOPEN_CHILD"

// Opening a workspace a second time in a process must not drop the locks
// the first one holds: if it did, another process closing its last
// connection would delete the -wal and -shm files under the first, whose
// next write would fail with a disk I/O error.
func TestReopenKeepsTheOtherOpenWorkspaceAlive(t *testing.T) {
	if dir := os.Getenv(reopenChildEnv); dir != "" {
		w, err := Open(t.Context(), dir)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Experiment(t.Context(), "child"); err != nil {
			t.Fatal(err)
		}
		w.Close()
		return
	}
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "ws")
	first, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if _, err := first.Experiment(ctx, "first"); err != nil {
		t.Fatal(err)
	}
	second, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	second.Close()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestReopenKeepsTheOtherOpenWorkspaceAlive$", "-test.count=1")
	cmd.Env = append(os.Environ(), reopenChildEnv+"="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "workspace.db-shm")); err != nil {
		t.Errorf("the -shm file of an open workspace is gone: %v", err)
	}
	if _, err := first.Experiment(ctx, "after"); err != nil {
		t.Errorf("write after another process closed: %v", err)
	}
}
