package sdk

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gantry/sdk/workspace"
)

func TestResubmit(t *testing.T) {
	ws := testWorkspace(t)
	src := writeScript(t, "import sys\nprint('args', sys.argv[1:], flush=True)\n")
	ctx := context.Background()
	first, err := ws.Experiment("again").Submit(ctx, ScriptRunConfig{SourceDirectory: src, Script: "train.py",
		Arguments: []string{"--alpha", "0.5"}, RunConfig: RunConfiguration{Target: "local"}})
	if err != nil {
		t.Fatal(err)
	}
	if st, _, err := first.WaitForCompletion(ctx, WaitOptions{RaiseOnError: true, Poll: 10 * time.Millisecond}); err != nil {
		t.Fatalf("first run %s: %v", st, err)
	}
	// The source directory changes; the resubmitted run runs the snapshot.
	if err := os.WriteFile(filepath.Join(src, "train.py"), []byte("print('changed')\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	second, err := first.Resubmit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if second.ID == first.ID {
		t.Fatal("Resubmit returned the same run")
	}
	var out bytes.Buffer
	st, _, err := second.WaitForCompletion(ctx, WaitOptions{Output: &out, RaiseOnError: true, Poll: 10 * time.Millisecond})
	if err != nil || st != workspace.StateCompleted {
		t.Fatalf("resubmitted run: %s, %v", st, err)
	}
	if !strings.Contains(out.String(), "args ['--alpha', '0.5']") {
		t.Errorf("resubmitted run printed %q; want the first run's script and arguments", out.String())
	}
	a, _ := first.Details(ctx)
	b, _ := second.Details(ctx)
	if a.SnapshotID != b.SnapshotID || a.Experiment != b.Experiment || a.Target != b.Target || a.EnvKey != b.EnvKey {
		t.Errorf("resubmitted run %+v differs from the first %+v in snapshot, experiment, target or environment", b, a)
	}

	// A run whose target is gone says so, and what to do.
	if err := ws.DeleteCompute(ctx, "local"); err != nil {
		t.Fatal(err)
	}
	_, err = first.Resubmit(ctx)
	if err == nil || !strings.Contains(err.Error(), `compute "local"`) || !strings.Contains(err.Error(), "another target") {
		t.Errorf("Resubmit to a deleted target: %v; want an error naming the target and what to do", err)
	}
}
