package slurm_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"gantry/notebook"
	"gantry/sdk"
	"gantry/sdk/workspace"
)

// A notebook runs on a managed cluster as on any target: its cells on the
// node, their output in the run's log, the executed notebook in outputs/.
func TestNotebookRunOnCluster(t *testing.T) {
	ws, ctx := open(t)
	cluster(t, ws, ctx, "nbc", sdk.ManagedCluster{MaxNodes: 1, IdleSecondsBeforeScaledown: 3})
	src := t.TempDir()
	nb := &notebook.Notebook{FormatMinor: 5, Metadata: map[string]json.RawMessage{}}
	nb.SetMetadata("kernelspec", map[string]string{"name": "gantry", "language": "go", "display_name": "Go (Gantry)"})
	nb.Cells = []*notebook.Cell{
		{Type: notebook.Code, ID: "p", Source: "steps := 1", Metadata: map[string]json.RawMessage{"tags": json.RawMessage(`["parameters"]`)}},
		{Type: notebook.Code, ID: "c", Source: "import (\n\t\"fmt\"\n\t\"os\"\n)\nfor i := 0; i < steps; i++ {\n\tfmt.Println(\"step\", i, \"on\", os.Getenv(\"SLURM_JOB_NODELIST\"))\n}"},
	}
	if err := notebook.WriteFile(filepath.Join(src, "steps.ipynb"), nb); err != nil {
		t.Fatal(err)
	}
	r, err := ws.Experiment("slurm").Submit(ctx, sdk.ScriptRunConfig{SourceDirectory: src, Script: "steps.ipynb",
		Parameters: map[string]any{"steps": 3}, RunConfig: sdk.RunConfiguration{Target: "nbc"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := wait(t, ctx, r); got != workspace.StateCompleted {
		t.Fatalf("run %s%s\n%s", got, history(ctx, r), output(t, r, "logs/output.log"))
	}
	if out := output(t, r, "logs/output.log"); !strings.Contains(out, "step 2 on nbc-1\n") {
		t.Errorf("output:\n%s", out)
	}
	dest := filepath.Join(t.TempDir(), "steps.ipynb")
	if err := r.Download(ctx, "outputs/steps.ipynb", dest); err != nil {
		t.Fatal(err)
	}
	done, err := notebook.ReadFile(dest)
	if err != nil || len(done.Cells) != 3 || len(done.Cells[2].Outputs) == 0 || !strings.Contains(done.Cells[2].Outputs[0].Text, "step 2 on nbc-1") {
		t.Errorf("executed notebook: %v %+v", err, done)
	}
	// A kernel the nodes lack is refused at submit.
	nb.SetMetadata("kernelspec", map[string]string{"name": "nosuch-kernel", "language": "python"})
	notebook.WriteFile(filepath.Join(src, "py.ipynb"), nb)
	_, err = ws.Experiment("slurm").Submit(ctx, sdk.ScriptRunConfig{SourceDirectory: src, Script: "py.ipynb",
		RunConfig: sdk.RunConfiguration{Target: "nbc"}})
	if err == nil || !strings.Contains(err.Error(), `kernel "nosuch-kernel" (language python) is not installed`) {
		t.Errorf("submit of a notebook whose kernel is missing: %v", err)
	}
}
