package pipeline

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"gantry/internal/gantrytest"
	"gantry/sdk"
	"gantry/sdk/workspace"
)

// hang guards only: the machine may be slow.
const guard = 3 * time.Minute

// testWorkspace opens a workspace with a local target; agents and
// controllers run from a gantry binary built for the test.
func testWorkspace(t *testing.T) *sdk.Workspace {
	t.Helper()
	t.Setenv("GANTRY_AGENT_BINARY", gantrytest.Binary(t))
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is needed to run the steps")
	}
	ctx := context.Background()
	ws, err := sdk.OpenWorkspace(ctx, filepath.Join(t.TempDir(), "ws"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	if err := ws.CreateLocalCompute(ctx, "local", sdk.LocalCompute{}); err != nil {
		t.Fatal(err)
	}
	return ws
}

func write(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A two-step pipeline: prep reads the raw input and writes clean (its
// content upper-cased), train reads clean and writes model.
const prepPy = `import os, sys
out = os.environ["GANTRY_OUTPUT_CLEAN"]
os.makedirs(out, exist_ok=True)
text = open(os.environ["GANTRY_INPUT_RAW"]).read()
print("prep", len(text.split()), "rows", flush=True)
open(os.path.join(out, "clean.txt"), "w").write(text.upper())
`

const trainPy = `import os, sys
os.makedirs("outputs/model", exist_ok=True)
n = len(open(os.path.join(sys.argv[1], "clean.txt")).read().split())
print("train", n, sys.argv[2:], flush=True)
open("outputs/model/m.txt", "w").write(str(n))
`

type fixture struct {
	dir string
	p   *Pipeline
}

func newFixture(t *testing.T) *fixture {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "prep", "prep.py"), prepPy)
	write(t, filepath.Join(dir, "train", "train.py"), trainPy)
	write(t, filepath.Join(dir, "data", "raw.txt"), "a b c\n")
	return &fixture{dir: dir, p: &Pipeline{
		Name:   "fixture",
		Inputs: map[string]string{"raw": filepath.Join(dir, "data", "raw.txt")},
		Steps: []Step{
			{Name: "prep", Target: "local", SourceDirectory: filepath.Join(dir, "prep"), Script: "prep.py",
				Inputs: map[string]string{"raw": "raw"}, Outputs: []string{"clean"}},
			{Name: "train", Target: "local", SourceDirectory: filepath.Join(dir, "train"), Script: "train.py",
				Arguments: []string{"{inputs.clean}"}, Inputs: map[string]string{"clean": "prep.clean"}, Outputs: []string{"model"}},
		},
	}}
}

// run submits p, waits for it and returns its final state and, per step,
// whether it ran ("ran"), was reused ("reused") or did not run.
func run(t *testing.T, ws *sdk.Workspace, p *Pipeline) (workspace.State, map[string]string, *Run) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	pr, err := Submit(ctx, ws, "pipelines", p)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	st, err := pr.WaitForCompletion(ctx, WaitOptions{Output: &out})
	if err != nil {
		t.Fatalf("wait: %v\n%s", err, out.String())
	}
	steps, err := pr.Steps(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, s := range steps {
		switch {
		case s.Reused != "":
			got[s.Name] = "reused"
		case s.State == string(workspace.StateCompleted):
			got[s.Name] = "ran"
		default:
			got[s.Name] = s.State
		}
	}
	return st, got, pr
}

func TestReuseHitsAndMisses(t *testing.T) {
	ws := testWorkspace(t)
	f := newFixture(t)
	st, got, _ := run(t, ws, f.p)
	if st != workspace.StateCompleted || got["prep"] != "ran" || got["train"] != "ran" {
		t.Fatalf("first submit: %s %v", st, got)
	}
	raw := filepath.Join(f.dir, "data", "raw.txt")
	cases := []struct {
		name        string
		change      func(p *Pipeline)
		prep, train string
	}{
		{"nothing changed", func(*Pipeline) {}, "reused", "reused"},
		{"input touched, content the same", func(*Pipeline) {
			later := time.Now().Add(time.Hour)
			os.Chtimes(raw, later, later)
		}, "reused", "reused"},
		{"input content changed at the same path, same size", func(*Pipeline) { write(t, raw, "a b d\n") }, "ran", "ran"},
		{"prep's code changed, its output the same", func(*Pipeline) {
			write(t, filepath.Join(f.dir, "prep", "prep.py"), prepPy+"# a comment\n")
		}, "ran", "reused"},
		{"train's arguments changed", func(p *Pipeline) { p.Steps[1].Arguments = []string{"{inputs.clean}", "--epochs=2"} }, "reused", "ran"},
		{"train's environment changed", func(p *Pipeline) { p.Steps[1].EnvironmentFile = mustLookPath(t, "python3") }, "reused", "ran"},
		{"prep's settings changed (env vars)", func(p *Pipeline) { p.Steps[0].EnvVars = map[string]string{"SEED": "1"} }, "ran", "reused"},
		{"reuse turned off for train", func(p *Pipeline) { p.Steps[1].NoReuse = true }, "reused", "ran"},
		{"input rewritten with the same content", func(*Pipeline) { write(t, raw, "a b d\n") }, "reused", "reused"},
	}
	for _, c := range cases {
		c.change(f.p)
		st, got, _ := run(t, ws, f.p)
		if st != workspace.StateCompleted || got["prep"] != c.prep || got["train"] != c.train {
			t.Errorf("%s: pipeline %s, prep %s, train %s; want prep %s, train %s", c.name, st, got["prep"], got["train"], c.prep, c.train)
		}
		f.p.Steps[1].NoReuse = false
	}
}

func mustLookPath(t *testing.T, name string) string {
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skip(err)
	}
	abs, _ := filepath.Abs(p)
	return abs
}

func TestRefusedBeforeAnythingRuns(t *testing.T) {
	ws := testWorkspace(t)
	f := newFixture(t)
	cases := []struct {
		name   string
		change func(p *Pipeline)
		want   string
	}{
		{"cycle", func(p *Pipeline) { p.Steps[0].After = []string{"train"} }, "cycle"},
		{"missing input file", func(p *Pipeline) { p.Inputs["raw"] = filepath.Join(f.dir, "nope.txt") }, "is missing"},
		{"unknown output", func(p *Pipeline) { p.Steps[1].Inputs["clean"] = "prep.dirty" }, "declares no such output"},
		{"unknown step", func(p *Pipeline) { p.Steps[1].Inputs["clean"] = "nope.clean" }, "does not have"},
		{"unknown pipeline input", func(p *Pipeline) { p.Steps[0].Inputs["raw"] = "nope" }, "neither a pipeline input"},
		{"placeholder of no input", func(p *Pipeline) { p.Steps[1].Arguments = []string{"{inputs.nope}"} }, "names no input"},
		{"unknown target", func(p *Pipeline) { p.Steps[0].Target = "nowhere" }, "nowhere"},
		{"missing script", func(p *Pipeline) { p.Steps[0].Script = "gone.py" }, "not found"},
		{"sql step that is not sql", func(p *Pipeline) { p.Steps[0].Kind = SQLStep }, ".sql"},
	}
	ctx := context.Background()
	for _, c := range cases {
		g := newFixture(t)
		g.dir = f.dir
		c.change(g.p)
		_, err := Submit(ctx, ws, "pipelines", g.p)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want one that says %q", c.name, err, c.want)
		}
	}
	rs, err := ws.Store().Runs(ctx, workspace.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 0 {
		t.Errorf("refused pipelines left %d runs", len(rs))
	}
}

func TestFailedStepStopsDescendantsAndResubmitReusesTheRest(t *testing.T) {
	ws := testWorkspace(t)
	f := newFixture(t)
	marker := filepath.Join(f.dir, "broken")
	write(t, marker, "")
	write(t, filepath.Join(f.dir, "flaky", "flaky.py"), `import os, sys
if os.path.exists(`+"'"+marker+"'"+`):
    sys.exit("flaky: the marker is there")
os.makedirs("outputs/x", exist_ok=True)
open("outputs/x/ok", "w").write("ok")
`)
	// flaky -> train (after); prep is independent of flaky.
	f.p.Steps = append(f.p.Steps, Step{Name: "flaky", Target: "local", SourceDirectory: filepath.Join(f.dir, "flaky"),
		Script: "flaky.py", Outputs: []string{"x"}})
	f.p.Steps[1].After = []string{"flaky"}
	st, got, pr := run(t, ws, f.p)
	if st != workspace.StateFailed || got["flaky"] != "Failed" || got["train"] != NotRun || got["prep"] != "ran" {
		t.Fatalf("with a failing step: pipeline %s, steps %v", st, got)
	}
	d, _ := pr.Details(context.Background())
	evs, _ := ws.Store().Events(context.Background(), d.ID)
	if reason := evs[len(evs)-1].Reason; !strings.Contains(reason, "step flaky Failed") || !strings.Contains(reason, "1 not run") {
		t.Errorf("the pipeline's reason %q does not name the failed step and the steps not run", reason)
	}
	os.Remove(marker)
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	nr, err := Resubmit(ctx, ws, pr.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := nr.WaitForCompletion(ctx, WaitOptions{}); err != nil || st != workspace.StateCompleted {
		t.Fatalf("resubmit: %s %v", st, err)
	}
	steps, _ := nr.Steps(ctx)
	for _, s := range steps {
		if wantReused := s.Name == "prep"; (s.Reused != "") != wantReused {
			t.Errorf("resubmit: step %s reused=%v, want %v", s.Name, s.Reused != "", wantReused)
		}
	}
}

func TestStepThatDoesNotWriteItsOutputFails(t *testing.T) {
	ws := testWorkspace(t)
	f := newFixture(t)
	write(t, filepath.Join(f.dir, "prep", "prep.py"), "print('wrote nothing')\n")
	st, got, pr := run(t, ws, f.p)
	if st != workspace.StateFailed || got["train"] != NotRun {
		t.Fatalf("pipeline %s, steps %v", st, got)
	}
	evs, _ := ws.Store().Events(context.Background(), pr.ID)
	if r := evs[len(evs)-1].Reason; !strings.Contains(r, "without writing its output clean") {
		t.Errorf("reason %q does not say which output is missing", r)
	}
}

func TestPipelineOutlivesItsSubmitterAndAKilledControllerEndsIt(t *testing.T) {
	ws := testWorkspace(t)
	f := newFixture(t)
	write(t, filepath.Join(f.dir, "prep", "prep.py"), "import time\nprint('sleeping', flush=True)\ntime.sleep(120)\n")
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	pr, err := Submit(ctx, ws, "pipelines", f.p)
	if err != nil {
		t.Fatal(err)
	}
	// Another process (a restarted kernel) finds it and follows it.
	other, err := sdk.OpenWorkspace(ctx, ws.Dir())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	again, err := Open(ctx, other, pr.ID)
	if err != nil {
		t.Fatal(err)
	}
	var stepRun string
	for stepRun == "" {
		steps, err := again.Steps(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if steps[0].State == string(workspace.StateRunning) {
			stepRun = steps[0].RunID
		}
		if ctx.Err() != nil {
			t.Fatal("the first step never ran")
		}
		time.Sleep(50 * time.Millisecond)
	}
	d, _ := again.Details(ctx)
	var h struct {
		State struct{ PID int } `json:"state"`
	}
	if err := json.Unmarshal([]byte(d.Properties["gantry.driver.handle"]), &h); err != nil || h.State.PID == 0 {
		t.Fatalf("no controller PID in the handle %q", d.Properties["gantry.driver.handle"])
	}
	if err := syscall.Kill(h.State.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	st, err := again.WaitForCompletion(ctx, WaitOptions{})
	if err != nil || st != workspace.StateFailed {
		t.Fatalf("after the controller was killed: %s %v", st, err)
	}
	evs, _ := other.Store().Events(ctx, pr.ID)
	if r := evs[len(evs)-1].Reason; !strings.Contains(r, "controller died") || !strings.Contains(r, "1 child runs still going were canceled") {
		t.Errorf("reason %q", r)
	}
	child, _ := other.Run(ctx, stepRun)
	if st, _, err := child.WaitForCompletion(ctx, sdk.WaitOptions{}); err != nil || st != workspace.StateCanceled {
		t.Errorf("the running step ended %s (%v), want Canceled", st, err)
	}
}

func TestGraphSVGMarksStatesAndReuse(t *testing.T) {
	g := Graph{Steps: []StepStatus{
		{Name: "a", Kind: SQLStep, Target: "lake", State: "Completed", Reused: "0123456789"},
		{Name: "b", Kind: ScriptStep, Target: "local", State: "Failed", Deps: []string{"a"}},
		{Name: "c", Kind: ScriptStep, Target: "local", State: NotRun, Deps: []string{"b"}},
	}}
	svg := g.SVG()
	for _, want := range []string{`data-step="a" data-state="Completed"`, "reused 01234567", `stroke-dasharray`, "#ffcdd2", `data-state="NotRun"`, "marker-end"} {
		if !strings.Contains(svg, want) {
			t.Errorf("svg lacks %q", want)
		}
	}
}
