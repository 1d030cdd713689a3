package track

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// python returns the interpreter to test gantry_run.py with: the project's
// .venv, else python3 from PATH.
func python(t *testing.T) string {
	t.Helper()
	if p, err := filepath.Abs("../../.venv/bin/python"); err == nil {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	p, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no Python to run gantry_run.py with")
	}
	return p
}

// TestPythonHelper runs a script that uses gantry_run.py as the agent
// would, and reads what it wrote with a Tailer.
func TestPythonHelper(t *testing.T) {
	py := python(t)
	runDir := t.TempDir()
	helper, err := filepath.Abs("python")
	if err != nil {
		t.Fatal(err)
	}
	script := `
import gantry_run as run
png = b"\x89PNG\r\n\x1a\n" + b"pixels"
run.tag("model", "ridge")
run.tag("alpha", 0.5)
for i in range(3):
    run.log("loss", 1.0 / (i + 1))
run.log("lr", 0.01, step=7)
run.log("count", 3)
run.log("λ \"q\"", 1.5)
run.log_list("acc", [0.5, 1, 0.75])
run.log_row("scores", alpha=0.1, mse=3, name=1)
run.log_image("plot", data=png)
with open("elsewhere.png", "wb") as f:
    f.write(png)
run.log_image("copied", path="elsewhere.png")
inside = run.outputs_dir() + "/inside.png"
with open(inside, "wb") as f:
    f.write(png)
run.log_image("kept", path=inside)
assert run.run_id() == "run-42", run.run_id()
`
	cmd := exec.Command(py, "-c", script)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "PYTHONPATH="+helper)
	cmd.Env = append(cmd.Env, Environ("run-42", "exp", runDir)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", py, err, out)
	} else if len(out) > 0 {
		t.Errorf("script wrote %q, want nothing", out)
	}

	tl := NewTailer(filepath.Join(runDir, TrackFileName), 0)
	defer tl.Close()
	recs, _, err := tl.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var a StepAssigner
	a.AssignSteps(recs)
	for _, r := range recs {
		if time.Since(r.Time) > time.Minute || time.Since(r.Time) < 0 {
			t.Errorf("record %+v: time %v is not now", r, r.Time)
		}
		if r.Kind == KindImage {
			data, err := os.ReadFile(filepath.Join(runDir, filepath.FromSlash(r.Path)))
			if err != nil || !strings.HasPrefix(string(data), "\x89PNG") {
				t.Errorf("image %s: %v", r.Path, err)
			}
		}
	}
	want := []Record{
		{Kind: KindTag, Key: "model", Val: "ridge"},
		{Kind: KindTag, Key: "alpha", Val: "0.5"},
		{Kind: KindMetric, Name: "loss", Value: 1, Step: 0, HasStep: true},
		{Kind: KindMetric, Name: "loss", Value: 0.5, Step: 1, HasStep: true},
		{Kind: KindMetric, Name: "loss", Value: 1.0 / 3, Step: 2, HasStep: true},
		{Kind: KindMetric, Name: "lr", Value: 0.01, Step: 7, HasStep: true},
		{Kind: KindMetric, Name: "count", Value: 3, Step: 0, HasStep: true},
		{Kind: KindMetric, Name: "λ \"q\"", Value: 1.5, Step: 0, HasStep: true},
		{Kind: KindList, Name: "acc", Values: []float64{0.5, 1, 0.75}, Step: 0, HasStep: true},
		{Kind: KindRow, Name: "scores", Row: map[string]float64{"alpha": 0.1, "mse": 3, "name": 1}, Step: 0, HasStep: true},
		{Kind: KindImage, Name: "plot", Path: "outputs/plot.png", Step: 0, HasStep: true},
		{Kind: KindImage, Name: "copied", Path: "outputs/copied.png", Step: 0, HasStep: true},
		{Kind: KindImage, Name: "kept", Path: "outputs/inside.png", Step: 0, HasStep: true},
	}
	if got := strip(recs); !reflect.DeepEqual(got, want) {
		t.Errorf("records\n%+v\nwant\n%+v", got, want)
	}
}
