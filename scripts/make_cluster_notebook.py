"""Writes notebooks/03-cluster.ipynb (kept as a script so the notebook's
cells are reviewed as text). Run: python3 scripts/make_cluster_notebook.py"""
from notebook_builder import Notebook, train_py as training_script

train_py = training_script()  # %%writefile training/train.py
# The same script, saying which node of how many it is.
anchor = "args = ap.parse_args()\n"
assert anchor in train_py, "notebook 01's train.py changed: update make_cluster_notebook.py"
train_py = train_py.replace(anchor, anchor + (
    'print(f"node {os.environ.get(\'GANTRY_NODE_RANK\', \'0\')} of {os.environ.get(\'GANTRY_NUM_NODES\', \'1\')}", flush=True)\n'))

nb = Notebook()
md, code = nb.md, nb.code


md("""
# Training on a managed cluster (Slurm)

The seed's *managed compute*: a cluster created from the workspace with a VM
size, a minimum and a maximum number of nodes, a priority and an idle time
before scale-down. Gantry builds it on Slurm, the scheduler real training
clusters run on, the way cloud HPC offerings autoscale Slurm: the nodes are
Slurm CLOUD nodes that a *node provider* boots when runs need them and stops
when they have been idle.

This notebook

1. creates a cluster that scales from **zero** to 2 nodes,
2. runs the training script of `01-local-training.ipynb` **on 2 nodes** and
   watches the cluster scale up,
3. shows a **preemption**: a low-priority run on the same nodes is stopped
   for a dedicated run, requeued by Slurm, and finishes by itself from its
   checkpoint, with the preemption and the restart in its history,
4. watches the nodes go **back to zero** after the idle time.

The Slurm here is a private instance on this machine, started by
`scripts/slurm.sh start DIR` (`make demo-cluster` and the tests do it); its
`local` node provider starts each node as a `slurmd` process after a
simulated boot delay. The notebook finds it through `$GANTRY_SLURM_DIR`.
""")
code("""
import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gantry/sdk"
	"gantry/sdk/driver/slurm"
	"gantry/sdk/environment"
)
""")
code("""
ctx := context.Background()
ws, err := sdk.OpenWorkspace(ctx, "")
if err != nil {
	panic(err)
}
slurmDir := os.Getenv("GANTRY_SLURM_DIR")
if slurmDir == "" {
	panic("set GANTRY_SLURM_DIR to a Slurm instance: scripts/slurm.sh start DIR")
}
fmt.Printf("workspace %s\\nSlurm instance %s\\n", ws.Dir(), slurmDir)

// forget deletes the target name if it exists: run again, this notebook
// starts from a clean slate.
func forget(name string) {
	if _, err := ws.ComputeTarget(ctx, name); err != nil {
		return
	}
	if err := ws.DeleteCompute(ctx, name); err != nil {
		fmt.Println("note:", err)
		ws.DetachCompute(ctx, name) // its Slurm instance is gone
	}
}
forget("cpu-low")
forget("cpu-cluster")
""")
md("""
## 1. Create the cluster

`CreateCompute` writes the cluster's nodes and partitions into the Slurm
instance and applies them. `VMSize` comes from a catalogue of sizes (CPUs,
memory, GPUs) that you can extend (`slurm.DefaultCatalogue().Add`).
`IdleSecondsBeforeScaledown` is short here so that the scale-down shows in
the notebook; the default is 120 s.
""")
code("""
err = ws.CreateCompute(ctx, "cpu-cluster", sdk.ManagedCluster{
	VMSize:                     "STANDARD_D1_V2",
	MinNodes:                   0,
	MaxNodes:                   2,
	VMPriority:                 "dedicated",
	IdleSecondsBeforeScaledown: 10,
	SlurmDir:                   slurmDir,
})
if err != nil {
	panic(err)
}
fmt.Println("created cpu-cluster")
""")
md("Nothing runs yet, so nothing is up: both nodes are powered down and cost nothing.")
code("%compute status cpu-cluster")
md("## 2. The training script, the same as in the local notebook, saying which node it is on")
code("""
if err := os.MkdirAll("training", 0o755); err != nil {
	panic(err)
}
""")
code(train_py)
md("""
## 3. A run on 2 nodes

`NodeCount: 2` runs the script once per node, with `GANTRY_NODE_RANK`,
`GANTRY_NUM_NODES`, `GANTRY_MASTER_ADDR` and `GANTRY_MASTER_PORT` set, which
is what `torchrun` and MPI launchers need. Rank 0 records the run; the other
ranks' output is kept under `nodes/rank-N/` in the run's directory.

`WaitForCluster` shows the cluster's status as it changes until 2 nodes are
up: the submit boots them.
""")
code("""
python := os.Getenv("GANTRY_PYTHON")
if python == "" {
	python = "python3"
}
env := &environment.Environment{Name: "venv"}
env.Python.UserManagedDependencies = true
env.Python.InterpreterPath = python

exp := ws.Experiment("diabetes-cluster")
run, err := exp.Submit(ctx, sdk.ScriptRunConfig{
	SourceDirectory: "training",
	Script:          "train.py",
	Arguments:       []string{"--alpha", "0.1"},
	RunConfig:       sdk.RunConfiguration{Target: "cpu-cluster", Environment: env, NodeCount: 2},
})
if err != nil {
	panic(err)
}
fmt.Println("submitted", run.ID)
st, err := ws.WaitForCluster(ctx, "cpu-cluster", os.Stdout, 2)
if err != nil {
	panic(err)
}
fmt.Printf("scaled up: %d of %d nodes up\\n", st.Counts[slurm.Idle]+st.Counts[slurm.Busy], len(st.Nodes))
""")
md("The run's output streams into the cell (rank 0), then rank 1's log from the run's directory.")
code("""
state, _, err := run.WaitForCompletion(ctx, sdk.WaitOptions{Output: os.Stdout, RaiseOnError: true})
if err != nil {
	panic(err)
}
fmt.Println("2-node run:", state)
runDir, err := run.Dir()
if err != nil {
	panic(err)
}
rank1, err := os.ReadFile(filepath.Join(runDir, "nodes", "rank-1", "logs", "output.log"))
if err != nil {
	panic(err)
}
fmt.Print("--- rank 1 ---\\n", string(rank1))
""")
md("The nodes stay up for the idle time, ready for the next run.")
code("%compute status cpu-cluster")
md("""
## 4. Preemption: low-priority runs make room for dedicated ones

A second target shares the nodes of `cpu-cluster` at **low priority**
(cheaper in a cloud, and preemptible). The magic form of `CreateCompute`
makes it. Two long low-priority runs take both nodes; a dedicated run that
arrives meanwhile preempts them: its script gets SIGTERM and time to save a checkpoint, Slurm requeues
the job, and the run starts again by itself when the nodes are free,
resuming from its checkpoint.
""")
code("%compute create cluster cpu-low --nodes-of cpu-cluster --priority lowpriority")
code('''
%%writefile training/long.py
"""A long job that checkpoints: SIGTERM (a preemption) saves its step and
stops it; started again, it resumes from the checkpoint in outputs/."""
import json
import os
import signal
import time

import gantry_run as run

STEPS = 40
ckpt = os.path.join(run.outputs_dir(), "checkpoint.json")
step = json.load(open(ckpt))["step"] if os.path.exists(ckpt) else 0
print(f"start at step {step} (Slurm restart {os.environ.get('SLURM_RESTART_COUNT', '0')})", flush=True)


def save():
    with open(ckpt, "w") as f:
        json.dump({"step": step}, f)


def on_term(signum, frame):
    save()
    print(f"SIGTERM: checkpoint saved at step {step}", flush=True)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


signal.signal(signal.SIGTERM, on_term)
while step < STEPS:
    time.sleep(0.25)
    step += 1
    run.log("step", step)
    if step % 4 == 0:
        save()
        print(f"step {step}", flush=True)
print(f"finished {STEPS} steps", flush=True)
''')
code("""
// Two long low-priority runs take both nodes.
lowRun := func() *sdk.Run {
	r, err := exp.Submit(ctx, sdk.ScriptRunConfig{
		SourceDirectory: "training",
		Script:          "long.py",
		RunConfig:       sdk.RunConfiguration{Target: "cpu-low", Environment: env},
	})
	if err != nil {
		panic(err)
	}
	return r
}
low, low2 := lowRun(), lowRun()
// waitForOutput waits until the run's output holds text.
func waitForOutput(r *sdk.Run, text string) {
	dir, err := r.Dir()
	if err != nil {
		panic(err)
	}
	for {
		out, _ := os.ReadFile(filepath.Join(dir, "logs", "output.log"))
		if strings.Contains(string(out), text) {
			return
		}
		s, err := r.Status(ctx)
		if err != nil || s.Final() {
			panic(fmt.Sprintf("run %s ended %s (%v) before saying %q", r.ID, s, err, text))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
waitForOutput(low, "step 4")
waitForOutput(low2, "step 4")
fmt.Println("low-priority runs training:", low.ID, low2.ID)

// A dedicated 2-node run arrives: the nodes are busy, and its priority wins.
ded, err := exp.Submit(ctx, sdk.ScriptRunConfig{
	SourceDirectory: "training",
	Script:          "train.py",
	RunConfig:       sdk.RunConfiguration{Target: "cpu-cluster", Environment: env, NodeCount: 2},
})
if err != nil {
	panic(err)
}
state, _, err = ded.WaitForCompletion(ctx, sdk.WaitOptions{RaiseOnError: true})
if err != nil {
	panic(err)
}
fmt.Println("dedicated run:", state)
""")
md("The low-priority runs finish by themselves; the first one's output shows both attempts.")
code("""
state, _, err = low.WaitForCompletion(ctx, sdk.WaitOptions{Output: os.Stdout, RaiseOnError: true})
if err != nil {
	panic(err)
}
fmt.Println("low-priority run:", state)
state, _, err = low2.WaitForCompletion(ctx, sdk.WaitOptions{RaiseOnError: true})
if err != nil {
	panic(err)
}
fmt.Println("the other low-priority run:", state)
""")
md("Its history (`Run.Events`) shows the preemption and the restart.")
code("""
events, err := low.Events(ctx)
if err != nil {
	panic(err)
}
for _, e := range events {
	fmt.Printf("%s  %-13s -> %-13s %s\\n", e.Time.Format("15:04:05.000"), e.From, e.To, e.Reason)
}
d, err := low.Details(ctx)
if err != nil {
	panic(err)
}
fmt.Println("restarts:", d.Tags["gantry.slurm.restarts"])
""")
md("""
## 5. Back to zero

Without work, each node is stopped after the idle time (10 s here) and the
cluster costs nothing again.
""")
code("""
// waitForZero shows the cluster's status as it changes until every node
// is powered down.
func waitForZero(name string) {
	t0 := time.Now()
	last := ""
	for {
		st, err := ws.ClusterStatus(ctx, name)
		if err != nil {
			panic(err)
		}
		if s := st.String(); s != last {
			fmt.Printf("%5.1f s  %s\\n", time.Since(t0).Seconds(), s)
			last = s
		}
		if st.Counts[slurm.PoweredDown] == len(st.Nodes) {
			fmt.Printf("scaled down to 0 of %d nodes\\n", len(st.Nodes))
			return
		}
		if time.Since(t0) > 2*time.Minute {
			panic("the cluster did not scale down: " + st.String())
		}
		time.Sleep(250 * time.Millisecond)
	}
}
waitForZero("cpu-cluster")
""")
code("%compute status cpu-cluster")
md("""
`UpdateManagedCluster` (or `%compute update`) changes a cluster later:
more nodes, another minimum, another idle time. Runs already started go on.
""")
code("%compute update cpu-cluster --max-nodes 3")
code("""
if err := ws.Close(); err != nil {
	panic(err)
}
""")

nb.write("03-cluster.ipynb")
