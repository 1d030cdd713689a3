package sdk

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"gantry/sdk/driver"
	"gantry/sdk/workspace"
)

// recordingDriver is a fake target driver: a pure test of how the SDK
// hands runs to drivers.
type recordingDriver struct {
	submitted []driver.Job
	canceled  []driver.Handle
}

func (d *recordingDriver) Submit(ctx context.Context, job driver.Job) (driver.Handle, error) {
	d.submitted = append(d.submitted, job)
	return driver.Handle{Kind: "ssh", State: json.RawMessage(`{"job":"42"}`)}, nil
}

func (d *recordingDriver) Cancel(ctx context.Context, job driver.Job, h driver.Handle) error {
	d.canceled = append(d.canceled, h)
	return nil
}

func TestDriversPlugIn(t *testing.T) {
	ctx := context.Background()
	ws, err := OpenWorkspace(ctx, filepath.Join(t.TempDir(), "ws"))
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if err := ws.Store().CreateTarget(ctx, workspace.Target{Name: "box", Kind: workspace.KindSSH,
		Config: json.RawMessage(`{"host":"127.0.0.1"}`)}); err != nil {
		t.Fatal(err)
	}
	src := writeScript(t, "print(1)\n")
	cfg := ScriptRunConfig{SourceDirectory: src, Script: "train.py", RunConfig: RunConfiguration{Target: "box"}}

	// A kind without a driver: a clear error.
	if _, err := ws.driver("nosuch"); err == nil || !strings.Contains(err.Error(), `kind "nosuch"`) {
		t.Fatalf("driver of an unknown kind: %v", err)
	}

	// A registered driver replaces the built-in one of its kind.
	d := &recordingDriver{}
	ws.RegisterDriver("ssh", func() driver.Driver { return d })
	run, err := ws.Experiment("e").Submit(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.submitted) != 1 || d.submitted[0].RunID != run.ID || d.submitted[0].Target != "box" ||
		string(d.submitted[0].Config) != `{"host":"127.0.0.1"}` {
		t.Fatalf("driver saw %+v", d.submitted)
	}
	if st, _ := run.Status(ctx); st != workspace.StateQueued {
		t.Fatalf("state after submit %s, want Queued", st)
	}
	if err := run.Cancel(ctx); err != nil {
		t.Fatal(err)
	}
	if len(d.canceled) != 1 || string(d.canceled[0].State) != `{"job":"42"}` {
		t.Fatalf("cancel reached the driver with %+v, want the handle Submit returned", d.canceled)
	}
}
