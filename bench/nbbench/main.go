// Command nbbench measures notebooks as runs and gantry nbrun, and prints
// a markdown table (also written to -out):
//
//   - runs on the local target, from Experiment.Submit to the run's
//     Completed state as WaitForCompletion (poll 10 ms) sees it: a Python
//     script, the same code as a Python notebook (ipykernel), and the same
//     work as a Gantry (Go) notebook; the overhead of a notebook run is the
//     difference of medians from the script run's;
//   - headless, without runs: gantry nbrun against papermill (the named
//     peer) on the same Python and Go notebooks, and python on the script.
//
// Each is measured -n times (default 10), interleaved, so that the
// machine's noise falls on all alike; medians and p90 are reported.
//
//	PATH=$PWD/bin:$PATH go run ./bench/nbbench -python .venv/bin/python
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"gantry/bench/internal/durations"
	"gantry/notebook"
	"gantry/sdk"
	"gantry/sdk/environment"
	"gantry/sdk/workspace"
)

var (
	n      = flag.Int("n", 10, "measurements of each")
	python = flag.String("python", "python3", "interpreter with ipykernel and papermill (the repository's .venv)")
	out    = flag.String("out", "bench/results/nb.md", "markdown file to write")
)

// The same work in each form: five epochs that print a line, log a
// metric and write an output file.
const pyScript = `import gantry_run, os
epochs = 5
for i in range(epochs):
    print("epoch", i, flush=True)
    gantry_run.log("loss", 1.0 / (i + 1))
with open(os.path.join("outputs", "model.txt"), "w") as f:
    f.write("weights")
`

var pyCells = []string{"epochs = 5", "import gantry_run, os", `for i in range(epochs):
    print("epoch", i, flush=True)
    gantry_run.log("loss", 1.0 / (i + 1))`, `with open(os.path.join("outputs", "model.txt"), "w") as f:
    f.write("weights")`}

var goCells = []string{"epochs := 5", `import (
	"fmt"
	"os"
	"gantry/sdk/track"
)`, `run, err := track.FromEnv()
if err != nil { // headless, not a run
	run, _ = track.Local(os.TempDir() + "/nbbench-track")
}
for i := 0; i < epochs; i++ {
	fmt.Println("epoch", i)
	run.Log("loss", 1.0/float64(i+1), i)
}
run.Close()`, `os.WriteFile("outputs/model.txt", []byte("weights"), 0o644)`}

func writeNotebook(path, kernel, language string, cells []string) {
	nb := &notebook.Notebook{FormatMinor: 5, Metadata: map[string]json.RawMessage{}}
	check(nb.SetMetadata("kernelspec", map[string]string{"name": kernel, "language": language, "display_name": kernel}))
	for i, src := range cells {
		c := &notebook.Cell{Type: notebook.Code, ID: fmt.Sprint("c", i), Source: src, Metadata: map[string]json.RawMessage{}}
		if i == 0 {
			c.Metadata["tags"] = json.RawMessage(`["parameters"]`)
		}
		nb.Cells = append(nb.Cells, c)
	}
	check(notebook.WriteFile(path, nb))
}

type series struct {
	name string
	d    []time.Duration
}

func main() {
	flag.Parse()
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "gantry-nbbench")
	check(err)
	defer os.RemoveAll(tmp)
	py, err := exec.LookPath(*python)
	check(err)
	py, _ = filepath.Abs(py)
	src := filepath.Join(tmp, "src")
	check(os.MkdirAll(src, 0o755))
	check(os.WriteFile(filepath.Join(src, "train.py"), []byte(pyScript), 0o644))
	// Headless, outside a run, gantry_run only checks its arguments.
	helper, err := os.ReadFile("sdk/track/python/gantry_run.py")
	check(err)
	check(os.WriteFile(filepath.Join(src, "gantry_run.py"), helper, 0o644))
	writeNotebook(filepath.Join(src, "train-py.ipynb"), "python3", "python", pyCells)
	writeNotebook(filepath.Join(src, "train-go.ipynb"), "gantry", "go", goCells)

	ws, err := sdk.OpenWorkspace(ctx, filepath.Join(tmp, "ws"))
	check(err)
	defer ws.Close()
	check(ws.CreateLocalCompute(ctx, "local", sdk.LocalCompute{}))
	env := &environment.Environment{Name: "bench"}
	env.Python.UserManagedDependencies, env.Python.InterpreterPath = true, py
	run := func(script string) time.Duration {
		start := time.Now()
		r, err := ws.Experiment("nbbench").Submit(ctx, sdk.ScriptRunConfig{SourceDirectory: src, Script: script,
			RunConfig: sdk.RunConfiguration{Target: "local", Environment: env}})
		check(err)
		st, _, err := r.WaitForCompletion(ctx, sdk.WaitOptions{Poll: 10 * time.Millisecond})
		check(err)
		if st != workspace.StateCompleted {
			check(fmt.Errorf("run %s of %s: %s", r.ID, script, st))
		}
		return time.Since(start)
	}
	gantry, err := exec.LookPath("gantry")
	check(err)
	// papermill finds the Gantry kernel through a kernelspec of this binary.
	jp := filepath.Join(tmp, "jupyter")
	check(exec.Command(gantry, "install", "--prefix", jp, "--papermill-python", py).Run())
	headless := func(argv ...string) time.Duration {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Dir = src
		cmd.Env = append(os.Environ(), "JUPYTER_PATH="+filepath.Join(jp, "share", "jupyter"))
		start := time.Now()
		if b, err := cmd.CombinedOutput(); err != nil {
			check(fmt.Errorf("%q: %v\n%s", argv, err, b))
		}
		return time.Since(start)
	}
	executed := filepath.Join(tmp, "out.ipynb")
	all := []*series{{name: "run: Python script"}, {name: "run: Python notebook"}, {name: "run: Go notebook"},
		{name: "headless: python train.py"},
		{name: "headless: gantry nbrun, Python notebook"}, {name: "headless: papermill, Python notebook"},
		{name: "headless: gantry nbrun, Go notebook"}, {name: "headless: papermill, Go notebook"}}
	measure := []func() time.Duration{
		func() time.Duration { return run("train.py") },
		func() time.Duration { return run("train-py.ipynb") },
		func() time.Duration { return run("train-go.ipynb") },
		func() time.Duration { return headless(py, "train.py") },
		func() time.Duration {
			return headless(gantry, "nbrun", "train-py.ipynb", "--python", py, "--out", executed)
		},
		func() time.Duration {
			return headless(py, "-m", "papermill", "--no-progress-bar", "train-py.ipynb", executed)
		},
		func() time.Duration { return headless(gantry, "nbrun", "train-go.ipynb", "--out", executed) },
		func() time.Duration {
			return headless(py, "-m", "papermill", "--no-progress-bar", "train-go.ipynb", executed)
		},
	}
	check(os.MkdirAll(filepath.Join(src, "outputs"), 0o755)) // the headless forms write here
	for i := range *n + 1 {
		for j, m := range measure {
			d := m()
			if i > 0 { // the first round warms caches
				all[j].d = append(all[j].d, d)
			}
		}
		fmt.Fprintf(os.Stderr, "round %d of %d\n", i, *n)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Notebooks as runs, and gantry nbrun\n\n%s, %d CPUs, %s; %d measurements each (after one warm-up round), interleaved.\n\n",
		runtime.GOOS+"/"+runtime.GOARCH, runtime.NumCPU(), time.Now().Format(time.DateOnly), *n)
	b.WriteString("| what | median | p90 |\n|---|---|---|\n")
	for _, s := range all {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", s.name, ms(durations.Median(s.d)), ms(durations.Pct(s.d, 90)))
	}
	med := func(i int) time.Duration { return durations.Median(all[i].d) }
	fmt.Fprintf(&b, "\nOverhead of a notebook run over the script run (difference of medians, same target): "+
		"Python notebook %s (%.2fx), Go notebook %s (%.2fx).\n", ms(med(1)-med(0)), ratio(med(1), med(0)), ms(med(2)-med(0)), ratio(med(2), med(0)))
	fmt.Fprintf(&b, "gantry nbrun against papermill: Python notebook %.2fx, Go notebook %.2fx of papermill's time.\n",
		ratio(med(4), med(5)), ratio(med(6), med(7)))
	fmt.Print(b.String())
	check(os.MkdirAll(filepath.Dir(*out), 0o755))
	check(os.WriteFile(*out, []byte(b.String()), 0o644))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)) }

func ratio(a, b time.Duration) float64 { return float64(a) / float64(b) }

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "nbbench:", err)
		os.Exit(1)
	}
}
