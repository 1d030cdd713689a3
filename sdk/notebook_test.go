package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gantry/notebook"
	"gantry/sdk/environment"
	"gantry/sdk/workspace"
)

// writeNotebook writes a notebook of kernel (a kernelspec name and
// language) whose first cell, tagged parameters, is params, and whose
// other cells are cells; it returns its directory.
func writeNotebook(t *testing.T, kernel, language, params string, cells ...string) string {
	t.Helper()
	dir := t.TempDir()
	nb := &notebook.Notebook{FormatMinor: 5, Metadata: map[string]json.RawMessage{}}
	nb.SetMetadata("kernelspec", map[string]string{"name": kernel, "language": language, "display_name": kernel})
	nb.Cells = append(nb.Cells, &notebook.Cell{Type: notebook.Code, ID: "params", Source: params,
		Metadata: map[string]json.RawMessage{"tags": json.RawMessage(`["parameters"]`)}})
	for i, src := range cells {
		nb.Cells = append(nb.Cells, &notebook.Cell{Type: notebook.Code, ID: "c" + string(rune('a'+i)), Source: src})
	}
	if err := notebook.WriteFile(filepath.Join(dir, "train.ipynb"), nb); err != nil {
		t.Fatal(err)
	}
	return dir
}

// goTraining is a Gantry notebook that logs a metric per epoch.
var goTraining = []string{
	"alpha := 0.5\nepochs := 2\nname := \"default\"",
	`import (
	"fmt"
	"os"
	"gantry/sdk/track"
)
run, err := track.FromEnv()
if err != nil {
	panic(err)
}
for i := 0; i < epochs; i++ {
	fmt.Println("epoch", i, "alpha", alpha)
	run.Log("loss", alpha/float64(i+1), i)
}
run.Close()
fmt.Printf("name=%q\n", name)`,
	`os.WriteFile("outputs/extra.txt", []byte(name), 0o644)`,
}

// executed downloads the run's executed notebook.
func executed(t *testing.T, run *Run) *notebook.Notebook {
	t.Helper()
	dest := filepath.Join(t.TempDir(), "executed.ipynb")
	if err := run.Download(context.Background(), "outputs/train.ipynb", dest); err != nil {
		t.Fatal(err)
	}
	nb, err := notebook.ReadFile(dest)
	if err != nil {
		t.Fatal(err)
	}
	return nb
}

// checkGoTraining checks a completed run of goTraining with alpha 0.9,
// epochs 3 and name "it's \"quoted\"\n".
func checkGoTraining(t *testing.T, run *Run, out string) {
	t.Helper()
	ctx := context.Background()
	for _, want := range []string{"[nbrun] cell 2 of 4 (2/4): // Parameters", "epoch 0 alpha 0.9\n", "epoch 2 alpha 0.9\n",
		`name="it's \"quoted\"\n"`, "[nbrun] done: 4 code cells"} {
		if !strings.Contains(out, want) {
			t.Errorf("the run's output lacks %q:\n%s", want, out)
		}
	}
	m, err := run.Metrics(ctx)
	if err != nil || len(m.Series["loss"]) != 3 || m.Series["loss"][0].Value != 0.9 {
		t.Errorf("loss: %+v (err %v)", m.Series["loss"], err)
	}
	nb := executed(t, run)
	if len(nb.Cells) != 4 || !nb.Cells[1].HasTag(notebook.InjectedTag) {
		t.Fatalf("executed notebook: %d cells, second %+v", len(nb.Cells), nb.Cells[1])
	}
	if want := "// Parameters\nvar alpha = 0.9\nvar epochs = 3\nvar name = \"it's \\\"quoted\\\"\\n\"\n"; nb.Cells[1].Source != want {
		t.Errorf("injected cell:\n%s\nwant\n%s", nb.Cells[1].Source, want)
	}
	c := nb.Cells[2]
	if c.ExecutionCount == nil || *c.ExecutionCount != 3 || len(c.Outputs) == 0 || !strings.Contains(c.Outputs[0].Text, "epoch 1 alpha 0.9") {
		t.Errorf("executed cell 3: count %v outputs %+v", c.ExecutionCount, c.Outputs)
	}
	dir := t.TempDir()
	for _, f := range []string{"outputs/train.html", "outputs/extra.txt"} {
		if err := run.Download(ctx, f, filepath.Join(dir, filepath.Base(f))); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "train.html")); !strings.Contains(string(b), "epoch 2 alpha 0.9") {
		t.Errorf("HTML export lacks the output:\n%.500s", b)
	}
}

var goParams = map[string]any{"alpha": 0.9, "epochs": 3, "name": "it's \"quoted\"\n"}

func TestNotebookRunOnLocalTarget(t *testing.T) {
	ws := testWorkspace(t)
	src := writeNotebook(t, "gantry", "go", goTraining[0], goTraining[1:]...)
	run, err := ws.Experiment("nb").Submit(context.Background(), ScriptRunConfig{SourceDirectory: src, Script: "train.ipynb",
		Parameters: goParams, RunConfig: RunConfiguration{Target: "local"}})
	if err != nil {
		t.Fatal(err)
	}
	st, out := waitRun(t, run)
	if st != workspace.StateCompleted {
		t.Fatalf("state %s: %s\n%s", st, finalReason(t, ws, run), out)
	}
	checkGoTraining(t, run, out)
}

func finalReason(t *testing.T, ws *Workspace, run *Run) string {
	evs, err := ws.Store().Events(context.Background(), run.ID)
	if err != nil || len(evs) == 0 {
		return ""
	}
	return evs[len(evs)-1].Reason
}

func TestNotebookFailingCellFailsTheRun(t *testing.T) {
	ws := testWorkspace(t)
	src := writeNotebook(t, "gantry", "go", "n := 1", "import \"fmt\"\nfmt.Println(\"before\")", "var m map[string]int\nm[\"x\"] = n", "fmt.Println(\"never\")")
	run, err := ws.Experiment("nb").Submit(context.Background(), ScriptRunConfig{SourceDirectory: src, Script: "train.ipynb",
		RunConfig: RunConfiguration{Target: "local"}})
	if err != nil {
		t.Fatal(err)
	}
	st, out := waitRun(t, run)
	reason := finalReason(t, ws, run)
	if st != workspace.StateFailed || !strings.Contains(reason, `cell 3 (In [3]) "var m map[string]int" failed: `) ||
		!strings.Contains(reason, "assignment to entry in nil map") || !strings.Contains(reason, "executed notebook is in outputs/") {
		t.Fatalf("state %s, reason %q\n%s", st, reason, out)
	}
	if strings.Contains(out, "never") || !strings.Contains(out, "before") {
		t.Errorf("output:\n%s", out)
	}
	nb := executed(t, run)
	if o := nb.Cells[2].Outputs; len(o) == 0 || o[len(o)-1].Type != notebook.Error || nb.Cells[3].ExecutionCount != nil {
		t.Errorf("executed notebook: failing cell outputs %+v, next cell count %v", o, nb.Cells[3].ExecutionCount)
	}
}

func TestNotebookSubmitRefusesWhatCannotRun(t *testing.T) {
	ws := testWorkspace(t)
	ctx := context.Background()
	goNB := writeNotebook(t, "gantry", "go", "x := 1")
	missing := writeNotebook(t, "nosuch-kernel", "python", "x = 1")
	script := writeScript(t, "print(1)\n")
	ignored := writeNotebook(t, "gantry", "go", "x := 1")
	os.WriteFile(filepath.Join(ignored, ".gantryignore"), []byte("*.ipynb\n"), 0o644)
	for _, tc := range []struct {
		name string
		src  ScriptRunConfig
		want string
	}{
		{"kernel not on the target", ScriptRunConfig{SourceDirectory: missing, Script: "train.ipynb"},
			`notebook train.ipynb cannot run: the notebook's kernel "nosuch-kernel" (language python) is not installed on this machine`},
		{"kernel given not on the target", ScriptRunConfig{SourceDirectory: goNB, Script: "train.ipynb", Kernel: "nosuch"},
			`the notebook's kernel "nosuch" is not installed`},
		{"parameter name not Go", ScriptRunConfig{SourceDirectory: goNB, Script: "train.ipynb", Parameters: map[string]any{"learning-rate": 1}},
			`parameter name "learning-rate" is not a Go identifier`},
		{"parameter not a value", ScriptRunConfig{SourceDirectory: goNB, Script: "train.ipynb", Parameters: map[string]any{"f": func() {}}},
			"parameter f: a func() cannot be a parameter"},
		{"notebook not sent", ScriptRunConfig{SourceDirectory: ignored, Script: "train.ipynb"},
			"notebook train.ipynb is not in the run's snapshot: is it a link, or excluded by an ignore file?"},
		{"arguments to a notebook", ScriptRunConfig{SourceDirectory: goNB, Script: "train.ipynb", Arguments: []string{"--alpha", "1"}},
			"takes Parameters (-p NAME VALUE), not Arguments"},
		{"parameters to a script", ScriptRunConfig{SourceDirectory: script, Script: "train.py", Parameters: map[string]any{"a": 1}},
			"Parameters and Kernel are for notebooks"},
	} {
		tc.src.RunConfig.Target = "local"
		_, err := ws.Experiment("nb").Submit(ctx, tc.src)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
	if rs, _ := ws.Store().Runs(ctx, workspace.Filter{}); len(rs) != 0 {
		t.Errorf("refused submits recorded %d runs", len(rs))
	}
}

// venvPython is the repository's .venv interpreter, which has ipykernel.
func venvPython(t *testing.T) string {
	t.Helper()
	py, _ := filepath.Abs("../.venv/bin/python")
	if exec.Command(py, "-c", "import ipykernel").Run() != nil {
		t.Skip("needs the repository's .venv with ipykernel (scripts/setup.sh)")
	}
	return py
}

func TestPythonNotebookRunsOnItsOwnKernel(t *testing.T) {
	ws := testWorkspace(t)
	py := venvPython(t)
	src := writeNotebook(t, "python3", "python", "alpha = 0.5\nname = 'x'",
		"import gantry_run\nfor i in range(3):\n    print('epoch', i, alpha)\n    gantry_run.log('loss', alpha / (i + 1))",
		"print(repr(name))\nassert isinstance(alpha, float)")
	env := &environment.Environment{Name: "venv"}
	env.Python.UserManagedDependencies, env.Python.InterpreterPath = true, py
	run, err := ws.Experiment("nb").Submit(context.Background(), ScriptRunConfig{SourceDirectory: src, Script: "train.ipynb",
		Parameters: map[string]any{"alpha": 2.0, "name": "é\"\\"}, RunConfig: RunConfiguration{Target: "local", Environment: env}})
	if err != nil {
		t.Fatal(err)
	}
	st, out := waitRun(t, run)
	if st != workspace.StateCompleted {
		t.Fatalf("state %s: %s\n%s", st, finalReason(t, ws, run), out)
	}
	if !strings.Contains(out, "epoch 2 2.0\n") || !strings.Contains(out, `'é"\\'`) {
		t.Errorf("output:\n%s", out)
	}
	if m, _ := run.Metrics(context.Background()); len(m.Series["loss"]) != 3 {
		t.Errorf("loss: %+v", m.Series["loss"])
	}
	if nb := executed(t, run); nb.Cells[1].Source != "# Parameters\nalpha = 2.0\nname = \"\\xe9\\\"\\\\\"\n" {
		t.Errorf("injected cell %q", nb.Cells[1].Source)
	}
}

func TestSSHNotebookRun(t *testing.T) {
	s := startSSHD(t)
	ws := attachSSH(t, s)
	ctx := context.Background()
	src := writeNotebook(t, "gantry", "go", goTraining[0], goTraining[1:]...)
	run, err := ws.Experiment("nb").Submit(ctx, ScriptRunConfig{SourceDirectory: src, Script: "train.ipynb",
		Parameters: goParams, RunConfig: RunConfiguration{Target: "box"}})
	if err != nil {
		t.Fatal(err)
	}
	st, out := waitRun(t, run)
	if st != workspace.StateCompleted {
		t.Fatalf("state %s: %s\n%s", st, finalReason(t, ws, run), out)
	}
	checkGoTraining(t, run, out)
	// A kernel the machine lacks is refused at submit, by the machine.
	missing := writeNotebook(t, "nosuch-kernel", "python", "x = 1")
	_, err = ws.Experiment("nb").Submit(ctx, ScriptRunConfig{SourceDirectory: missing, Script: "train.ipynb",
		RunConfig: RunConfiguration{Target: "box"}})
	if err == nil || !strings.Contains(err.Error(), `cannot run: on box: the notebook's kernel "nosuch-kernel" (language python) is not installed on this machine`) {
		t.Errorf("submit of a notebook whose kernel the machine lacks: %v", err)
	}
}

func TestNotebookRunCanceledLeavesNoKernel(t *testing.T) {
	ws := testWorkspace(t)
	src := writeNotebook(t, "gantry", "go", "n := 0", "import (\n\t\"fmt\"\n\t\"time\"\n)\nfor i := n; ; i++ {\n\tfmt.Println(\"tick\", i)\n\ttime.Sleep(50 * time.Millisecond)\n}")
	run, err := ws.Experiment("nb").Submit(context.Background(), ScriptRunConfig{SourceDirectory: src, Script: "train.ipynb",
		RunConfig: RunConfiguration{Target: "local"}})
	if err != nil {
		t.Fatal(err)
	}
	waitForOutput(t, run, "tick 3\n")
	if err := run.Cancel(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st, out := waitRun(t, run); st != workspace.StateCanceled {
		t.Fatalf("state %s\n%s", st, out)
	}
	// Neither nbrun, nor the kernel, nor its executor outlives the run.
	deadline := time.Now().Add(time.Minute) // hang guard
	for {
		left := processesOfRun(run.ID)
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes of the canceled run remain: %v", left)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// processesOfRun lists the live processes whose environment names the run.
func processesOfRun(id string) []string {
	var left []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil || !bytes.Contains(env, []byte("GANTRY_RUN_ID="+id)) {
			continue
		}
		stat, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if !bytes.Contains(stat, []byte(") Z ")) {
			cmd, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
			left = append(left, e.Name()+": "+string(bytes.ReplaceAll(cmd, []byte{0}, []byte{' '})))
		}
	}
	return left
}
