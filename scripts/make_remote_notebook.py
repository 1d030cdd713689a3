"""Writes notebooks/02-remote-vm.ipynb (kept as a script so the notebook's
cells are reviewed as text). Run: python3 scripts/make_remote_notebook.py"""
from notebook_builder import Notebook, train_py as training_script

train_py = training_script()  # %%writefile training/train.py

nb = Notebook()
md, code = nb.md, nb.code


md("""
# Training on a remote machine over SSH

The seed's *remote VM* target: any machine you can reach over SSH. This
notebook takes the training script of `01-local-training.ipynb`, runs it on
this machine, then moves it to an SSH target **by changing only the run
configuration's target**. Along the way it shows what the SSH target does:

1. **attach** checks the host key against `known_hosts`, logs in with a key,
   copies the `gantry` agent there (once per version) and reports the
   machine: OS, Python, conda, Docker, GPUs, free disk;
2. **submit** sends only the snapshot blobs the machine does not have yet;
3. the run's agent on the machine **owns the run**: it goes on when the
   connection drops or the kernel goes away, and its logs and metrics arrive
   here exactly once when the notebook reconnects.

The SSH server here is a real OpenSSH `sshd` on 127.0.0.1, started by
`scripts/sshd.sh` (`make demo-remote` and the tests do it). The cell below
reads where it is from the environment; for your own machine, put its
address, user and key there instead.
""")
code("""
import (
	"context"
	"fmt"
	"os"
	"strconv"

	"gantry/sdk"
	"gantry/sdk/environment"
	"gantry/sdk/workspace"
)
""")
code("""
ctx := context.Background()
ws, err := sdk.OpenWorkspace(ctx, "")
if err != nil {
	panic(err)
}
port, _ := strconv.Atoi(os.Getenv("GANTRY_SSH_PORT"))
box := sdk.SSHCompute{
	Address:    os.Getenv("GANTRY_SSH_ADDRESS"),
	Port:       port,
	User:       os.Getenv("GANTRY_SSH_USER"),
	KeyFile:    os.Getenv("GANTRY_SSH_KEY"),
	KnownHosts: os.Getenv("GANTRY_SSH_KNOWN_HOSTS"),
	RemoteRoot: os.Getenv("GANTRY_SSH_REMOTE_ROOT"), // empty: ~/.gantry-remote there
}
fmt.Printf("workspace %s\\nremote machine %s@%s port %d, key %s\\n", ws.Dir(), box.User, box.Address, box.Port, box.KeyFile)
""")
md("""
## 1. Attach the machine

`AttachSSHCompute` saves the target only when everything worked, and an
error names the step that failed (connect, host key, log in, install agent,
start remote, probe). No password or passphrase is ever stored: a target
names an environment variable that holds one, or asks at a prompt and keeps
the answer in the kernel's memory. The magic form is
`%compute attach gpu-box --kind ssh --address HOST --port 22 --user me --key ~/.ssh/id_ed25519`.
""")
code("""
if err := ws.CreateLocalCompute(ctx, "local", sdk.LocalCompute{}); err != nil {
	fmt.Println("note:", err)
}
// Run again, this notebook attaches afresh: the machine may have moved.
if _, err := ws.ComputeTarget(ctx, "gpu-box"); err == nil {
	if err := ws.DetachCompute(ctx, "gpu-box"); err != nil {
		panic(err)
	}
}
machine, err := ws.AttachSSHCompute(ctx, "gpu-box", box)
if err != nil {
	panic(err)
}
fmt.Printf("attached gpu-box: %s, %s, %d CPUs\\npython: %s\\ndocker: %q, GPUs: %d, free disk: %d MiB\\n",
	machine.OS, machine.Arch, machine.CPUs, machine.Python, machine.Docker, len(machine.GPUs), machine.FreeDiskMB)
""")
md("`%compute status` connects again and describes the machine as it is now.")
code("%compute status gpu-box")
md("## 2. The training script, unchanged from the local notebook")
code("""
if err := os.MkdirAll("training", 0o755); err != nil {
	panic(err)
}
""")
code(train_py)
md("""
## 3. One run configuration, two targets

The interpreter is `$GANTRY_PYTHON` (the project's venv, with scikit-learn),
which exists on the "remote" machine too because it is this one; on a real
machine give the path of its own interpreter, or a system-managed
environment, which the agent builds there and reuses by spec hash.
""")
code("""
python := os.Getenv("GANTRY_PYTHON")
if python == "" {
	python = "python3"
}
env := &environment.Environment{Name: "venv"}
env.Python.UserManagedDependencies = true
env.Python.InterpreterPath = python

// config is the whole run configuration; only the target differs.
func config(target string) sdk.ScriptRunConfig {
	return sdk.ScriptRunConfig{
		SourceDirectory: "training",
		Script:          "train.py",
		Arguments:       []string{"--alpha", "0.1"},
		RunConfig:       sdk.RunConfiguration{Target: target, Environment: env},
	}
}

exp := ws.Experiment("diabetes-remote")
local, err := exp.Submit(ctx, config("local"))
if err != nil {
	panic(err)
}
remote, err := exp.Submit(ctx, config("gpu-box"))
if err != nil {
	panic(err)
}
fmt.Println("local run ", local.ID)
fmt.Println("remote run", remote.ID)
""")
md("The remote run's output streams into the cell as the machine produces it.")
code("""
// wait shows a run's output as it arrives and returns its final state.
func wait(r *sdk.Run) workspace.State {
	st, _, err := r.WaitForCompletion(ctx, sdk.WaitOptions{Output: os.Stdout, RaiseOnError: true})
	if err != nil {
		panic(err)
	}
	return st
}
fmt.Println("remote run:", wait(remote))
fmt.Println("local run: ", wait(local))
""")
md("Same script, same data, same numbers: the metrics of both runs side by side.")
code("sdk.Compare(ctx, []*sdk.Run{local, remote}, \"mse\", sdk.Minimize)")
md("""
## 4. Only what changed travels

`Run.Transfer` says what a run's submit sent. The first submit to a new
machine sends every file of the snapshot; after a one-line change, the
resubmit sends that one file.
""")
code("""
// sent reports what a run's submit sent to its machine.
func sent(r *sdk.Run) string {
	t, _, err := r.Transfer(ctx)
	if err != nil {
		panic(err)
	}
	return fmt.Sprintf("%d of %d files, %d bytes", t.FilesSent, t.Files, t.BytesSent)
}
fmt.Println("first submit sent:", sent(remote))
""")
code("""
%%writefile training/NOTES.md
Ridge regression on the diabetes data; alpha from --alpha.
""")
code("""
again, err := exp.Submit(ctx, config("gpu-box"))
if err != nil {
	panic(err)
}
fmt.Println("resubmit sent:", sent(again))
""")
md("""
## 5. Close the laptop, come back

Closing the workspace drops the connection and stops following the run,
as a dying kernel would; the agent on the machine carries on. Opening the
workspace again and finding the run by ID reconnects, and the wait shows
the whole output, each line once, with every metric.
""")
code("""
id := again.ID
if err := ws.Close(); err != nil {
	panic(err)
}

ws, err = sdk.OpenWorkspace(ctx, "")
if err != nil {
	panic(err)
}
back, err := ws.Run(ctx, id)
if err != nil {
	panic(err)
}
fmt.Println("after reopening:", wait(back))
m, err := back.Metrics(ctx)
if err != nil {
	panic(err)
}
fmt.Printf("metrics: mse %.1f, r2 %.3f, %d cross-validation folds\\n", m.Scalars["mse"], m.Scalars["r2"], len(m.Series["cv_r2"]))
""")
code("""
dir, err := back.Dir()
if err != nil {
	panic(err)
}
info, err := os.Stat(dir + "/outputs/model.pkl")
if err != nil {
	panic(err)
}
fmt.Printf("the model came back with the run: outputs/model.pkl, %d bytes\\n", info.Size())
if err := ws.Close(); err != nil {
	panic(err)
}
""")

nb.write("02-remote-vm.ipynb")
