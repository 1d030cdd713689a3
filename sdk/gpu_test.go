package sdk

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gantry/internal/gantrytest"
	"gantry/sdk/workspace"
)

// gpuScript prints the devices it sees, then waits until a file named
// "go" appears in its run directory (so a test can hold it running).
const gpuScript = `import os, time
print("visible=[%s]" % os.environ.get("CUDA_VISIBLE_DEVICES", "unset"), flush=True)
d = os.environ["GANTRY_RUN_DIR"]
while not os.path.exists(os.path.join(d, "go")):
    time.sleep(0.05)
`

// release lets gpuScript end.
func release(t *testing.T, r *Run) {
	t.Helper()
	dir, _ := r.Dir()
	if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestGPUsLeasedQueuedAndSampled gives runs devices of a machine with two
// (a stand-in nvidia-smi that prints what a real one does): each run its
// own, a run that asks for more than are free waits in Queued until they
// are, a run that asks for none sees none, a request for more than the
// machine has is refused at submit, and a run's GPU use is sampled into
// its metrics.
func TestGPUsLeasedQueuedAndSampled(t *testing.T) {
	util := gantrytest.FakeGPUs(t, 2)
	ws := testWorkspace(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute) // hang guard
	defer cancel()
	src := writeScript(t, gpuScript)
	submit := func(n int) *Run {
		t.Helper()
		r, err := ws.Experiment("gpu").Submit(ctx, ScriptRunConfig{SourceDirectory: src, Script: "train.py",
			RunConfig: RunConfiguration{Target: "local", GPUCount: n}})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if err := os.WriteFile(filepath.Join(util, "0"), []byte("55"), 0o600); err != nil {
		t.Fatal(err)
	}
	one := submit(1)
	waitForOutput(t, one, "visible=[0]")
	two := submit(2)
	none := submit(0)
	waitForOutput(t, none, "visible=[]")
	// Device 0 is taken: the run that asks for both waits.
	time.Sleep(time.Second)
	if st, _ := two.Status(ctx); st != workspace.StateQueued {
		t.Fatalf("a run asking for 2 of 2 GPUs while one is taken is %s, want Queued", st)
	}
	// The first run's device is sampled: hold it past a sample.
	time.Sleep(gpuSampleWait)
	release(t, one)
	release(t, none)
	waitForOutput(t, two, "visible=[0,1]")
	release(t, two)
	for _, r := range []*Run{one, two, none} {
		if st, out := waitRun(t, r); st != workspace.StateCompleted {
			t.Fatalf("run %s: %s\n%s", r.ID, st, out)
		}
	}
	m, err := one.Metrics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s := m.Series["gpu_util"]; len(s) == 0 || s[0].Value != 55 {
		t.Errorf("gpu_util of the run on device 0: %+v", s)
	}
	if s := m.Series["gpu_mem"]; len(s) == 0 || s[0].Value != 55*700 {
		t.Errorf("gpu_mem of the run on device 0: %+v", s)
	}
	if m, _ := none.Metrics(ctx); len(m.Series["gpu_util"]) != 0 {
		t.Errorf("a run without GPUs has GPU metrics: %+v", m.Series["gpu_util"])
	}
	// More than the machine has: refused before a run exists.
	before, _ := ws.w.Runs(ctx, workspace.Filter{Experiment: "gpu"})
	_, err = ws.Experiment("gpu").Submit(ctx, ScriptRunConfig{SourceDirectory: src, Script: "train.py",
		RunConfig: RunConfiguration{Target: "local", GPUCount: 3}})
	if err == nil || !strings.Contains(err.Error(), "asks for 3 GPUs, and this machine has 2") {
		t.Fatalf("3 GPUs of 2: %v", err)
	}
	if after, _ := ws.w.Runs(ctx, workspace.Filter{Experiment: "gpu"}); len(after) != len(before) {
		t.Errorf("a refused submit made a run")
	}
	var show bytes.Buffer
	if err := ws.DescribeCompute(ctx, &show, "local"); err != nil || !strings.Contains(show.String(), "GPU 1: NVIDIA H100 80GB HBM3, 81559 MiB, driver 550.54.15, CUDA 12.4") {
		t.Errorf("compute status: %v\n%s", err, show.String())
	}
}

// gpuSampleWait outlasts one GPU sample (every 5 s).
const gpuSampleWait = 6 * time.Second

// Without nvidia-smi a run asking for a GPU is refused at submit.
func TestGPUsWithoutAnyRefused(t *testing.T) {
	t.Setenv("PATH", "/usr/bin:/bin:"+filepath.Dir(mustLook(t, "python3")))
	ws := testWorkspace(t)
	_, err := ws.Experiment("gpu").Submit(context.Background(), ScriptRunConfig{SourceDirectory: writeScript(t, "print(1)\n"),
		Script: "train.py", RunConfig: RunConfiguration{Target: "local", GPUCount: 1}})
	if err == nil || !strings.Contains(err.Error(), "this machine has 0") {
		t.Fatalf("a GPU run without GPUs: %v", err)
	}
}

func mustLook(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skip(name + " is needed")
	}
	return p
}
