package slurm_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gantry/internal/gantrytest"
	"gantry/sdk"
	sshdriver "gantry/sdk/driver/ssh"
	"gantry/sdk/workspace"
)

// An existing Slurm cluster, attached through its login node over SSH:
// here the test instance, whose login node is a real sshd on 127.0.0.1.
// Runs are batch jobs submitted there; their agents journal into the
// remote root, which the nodes share, and the SDK follows them over SSH.
func TestAttachedClusterThroughALoginNode(t *testing.T) {
	ws, ctx := open(t)
	login := gantrytest.StartSSHD(t)
	cluster(t, ws, ctx, "hpc", sdk.ManagedCluster{MaxNodes: 1, IdleSecondsBeforeScaledown: 30})
	sshdDir, port := login.Dir, login.Port
	user := login.Env["SSHD_USER"]

	cfg := sdk.SSHCompute{Address: "127.0.0.1", Port: port, User: user,
		KeyFile: filepath.Join(sshdDir, "id_ed25519"), KnownHosts: filepath.Join(sshdDir, "known_hosts"),
		RemoteRoot: filepath.Join(sshdDir, "shared-home"),
		Slurm:      &sshdriver.SlurmLogin{Partition: "hpc", SlurmConf: filepath.Join(slurmDir, "etc", "slurm.conf")}}
	probe, err := ws.AttachSSHCompute(ctx, "login", cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(probe.Slurm, "slurm") || !strings.Contains(strings.Join(probe.Partitions, "\n"), "hpc") {
		t.Errorf("the probe of a login node lacks Slurm: %q %q", probe.Slurm, probe.Partitions)
	}

	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "train.py"), []byte(`import os, sys, time, gantry_run
print("job", os.environ.get("SLURM_JOB_ID"), "rank", os.environ.get("GANTRY_NODE_RANK"), flush=True)
for i in range(5):
    gantry_run.log("step", i)
time.sleep(float(sys.argv[1]))
print("done", flush=True)
`), 0o644)
	submit := func(sleep string) *sdk.Run {
		r, err := ws.Experiment("attached").Submit(ctx, sdk.ScriptRunConfig{SourceDirectory: src, Script: "train.py",
			Arguments: []string{sleep}, RunConfig: sdk.RunConfiguration{Target: "login"}})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	wait := func(r *sdk.Run) (workspace.State, string) {
		var out bytes.Buffer
		st, _, err := r.WaitForCompletion(ctx, sdk.WaitOptions{Output: &out})
		if err != nil {
			t.Fatalf("wait: %v\n%s", err, out.String())
		}
		return st, out.String()
	}

	r := submit("0")
	st, out := wait(r)
	if st != workspace.StateCompleted || !strings.Contains(out, "rank 0") || !strings.Contains(out, "done\n") ||
		strings.Contains(out, "job None") {
		t.Fatalf("state %s\n%s", st, out)
	}
	if m, _ := r.Metrics(ctx); len(m.Series["step"]) != 5 {
		t.Errorf("metric step has %d points, want 5", len(m.Series["step"]))
	}

	// The node is busy with a long run; the next waits in Slurm's queue and
	// is canceled there, then the long one is canceled while it runs.
	long := submit("120")
	for st, _ := long.Status(ctx); st != workspace.StateRunning; st, _ = long.Status(ctx) {
		time.Sleep(100 * time.Millisecond)
	}
	queued := submit("0")
	time.Sleep(time.Second)
	if st, _ := queued.Status(ctx); st != workspace.StateQueued {
		t.Fatalf("the run behind a busy node is %s, want Queued", st)
	}
	for _, r := range []*sdk.Run{queued, long} {
		if err := r.Cancel(ctx); err != nil {
			t.Fatal(err)
		}
		if st, out := wait(r); st != workspace.StateCanceled {
			t.Fatalf("after cancel: %s\n%s", st, out)
		}
	}
	evs, _ := queued.Events(ctx)
	if last := evs[len(evs)-1]; !strings.Contains(last.Reason, "canceled while queued in Slurm") {
		t.Errorf("last event of the queued run: %+v", last)
	}
}
