package sdk

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"gantry/sdk/snapshot"
	"gantry/sdk/workspace"
)

// recordRun records a run without running anything, for tests of what
// reads runs.
func recordRun(t *testing.T, ws *Workspace, exp string) *Run {
	t.Helper()
	r, err := ws.w.NewRun(context.Background(), workspace.RunSpec{Experiment: exp, Target: "local"})
	if err != nil {
		t.Fatal(err)
	}
	return &Run{ws: ws, ID: r.ID}
}

func writeRunFile(t *testing.T, r *Run, name, body string) {
	t.Helper()
	dir, err := r.Dir()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestTagsAndProperties(t *testing.T) {
	ws := testWorkspace(t)
	ctx := context.Background()
	r := recordRun(t, ws, "exp")
	if err := r.SetTag(ctx, "lr", "0.1"); err != nil {
		t.Fatal(err)
	}
	if err := r.SetTag(ctx, "lr", "0.2"); err != nil {
		t.Fatal(err)
	}
	if tags, err := r.Tags(ctx); err != nil || tags["lr"] != "0.2" {
		t.Fatalf("tags %v, %v", tags, err)
	}
	if err := r.SetProperty(ctx, "seed", "1"); err != nil {
		t.Fatal(err)
	}
	if err := r.SetProperty(ctx, "seed", "1"); err != nil {
		t.Fatalf("setting a property to its value again: %v", err)
	}
	if err := r.SetProperty(ctx, "seed", "2"); !errors.Is(err, workspace.ErrImmutable) {
		t.Fatalf("changing a property: %v, want ErrImmutable", err)
	}
	if props, _ := r.Properties(ctx); props["seed"] != "1" {
		t.Fatalf("properties %v", props)
	}
}

func TestRunsFilter(t *testing.T) {
	ws := testWorkspace(t)
	ctx := context.Background()
	a, b, c := recordRun(t, ws, "exp"), recordRun(t, ws, "exp"), recordRun(t, ws, "exp")
	recordRun(t, ws, "other")
	a.SetTag(ctx, "kind", "sweep")
	b.SetTag(ctx, "kind", "sweep")
	c.SetTag(ctx, "kind", "base")
	if err := ws.w.Transition(ctx, b.ID, workspace.StateCanceled, "test"); err != nil {
		t.Fatal(err)
	}
	ids := func(rs []*Run, err error) []string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return out
	}
	e := ws.Experiment("exp")
	if got := ids(e.Runs(ctx)); len(got) != 3 {
		t.Errorf("all runs: %v", got)
	}
	if got, want := ids(e.Runs(ctx, Filter{Tags: map[string]string{"kind": "sweep"}})), []string{b.ID, a.ID}; !reflect.DeepEqual(got, want) {
		t.Errorf("tag filter: %v, want %v", got, want)
	}
	if got, want := ids(e.Runs(ctx, Filter{State: workspace.StateCanceled})), []string{b.ID}; !reflect.DeepEqual(got, want) {
		t.Errorf("state filter: %v, want %v", got, want)
	}
	if got := ids(e.Runs(ctx, Filter{Limit: 1})); len(got) != 1 || got[0] != c.ID {
		t.Errorf("limit 1: %v, want the newest %s", got, c.ID)
	}
}

func TestFilesAndDownload(t *testing.T) {
	ws := testWorkspace(t)
	ctx := context.Background()
	r := recordRun(t, ws, "exp")
	writeRunFile(t, r, "outputs/model.txt", "weights")
	writeRunFile(t, r, "outputs/ckpt/step1.bin", "s1")
	writeRunFile(t, r, "logs/output.log", "hello\n")
	writeRunFile(t, r, "job.json", "{}") // not an output: not listed
	files, err := r.Files(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"logs/output.log", "outputs/ckpt/step1.bin", "outputs/model.txt"}
	if !reflect.DeepEqual(files, want) {
		t.Fatalf("Files = %v, want %v", files, want)
	}
	dest := t.TempDir()
	if err := r.Download(ctx, "outputs/model.txt", dest); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dest, "model.txt")); string(b) != "weights" {
		t.Fatalf("downloaded into a dir: %q", b)
	}
	if err := r.Download(ctx, "logs/output.log", filepath.Join(dest, "out.txt")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dest, "out.txt")); string(b) != "hello\n" {
		t.Fatalf("downloaded to a file: %q", b)
	}
	// Names that leave the run's directory are refused, links included.
	secret := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secret, []byte("x"), 0o600)
	dir, _ := r.Dir()
	if err := os.Symlink(secret, filepath.Join(dir, "outputs", "link")); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"../../workspace.db", "/etc/passwd", "outputs/../../x", "outputs/link", "outputs/nope", "outputs/ckpt"} {
		if err := r.Download(ctx, bad, filepath.Join(dest, "bad")); err == nil {
			t.Errorf("Download(%q) succeeded", bad)
		}
	}
	if _, err := os.Stat(filepath.Join(dest, "bad")); err == nil {
		t.Error("a refused download wrote its destination")
	}
}

func TestSnapshotDiffAndChildren(t *testing.T) {
	ws := testWorkspace(t)
	ctx := context.Background()
	src := writeScript(t, "import gantry_run\ngantry_run.log('acc', 0.5)\n")
	parent, err := ws.Experiment("exp").Submit(ctx, ScriptRunConfig{SourceDirectory: src, Script: "train.py",
		RunConfig: RunConfiguration{Target: "local"}})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(src, "extra.py"), []byte("x = 1\n"), 0o644)
	child, err := parent.SubmitChild(ctx, ScriptRunConfig{SourceDirectory: src, Script: "train.py",
		RunConfig: RunConfiguration{Target: "local"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []*Run{parent, child} {
		if st, _, err := r.WaitForCompletion(ctx, WaitOptions{RaiseOnError: true, Poll: 10 * time.Millisecond}); err != nil {
			t.Fatalf("run %s: %s %v", r.ID, st, err)
		}
	}
	d, _ := child.Details(ctx)
	if d.ParentID != parent.ID || d.Experiment != "exp" {
		t.Fatalf("child: parent %q experiment %q", d.ParentID, d.Experiment)
	}
	kids, err := parent.Children(ctx)
	if err != nil || len(kids) != 1 || kids[0].ID != child.ID {
		t.Fatalf("Children = %v, %v", kids, err)
	}
	if p, _ := child.Parent(ctx); p == nil || p.ID != parent.ID {
		t.Fatalf("Parent = %v", p)
	}
	if p, _ := parent.Parent(ctx); p != nil {
		t.Fatalf("a top-level run has parent %v", p)
	}
	m, err := parent.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pd, _ := parent.Details(ctx)
	if m.ID() != pd.SnapshotID || len(m.Entries) != 1 || m.Entries[0].Path != "train.py" {
		t.Fatalf("snapshot %s entries %+v; run records %s", m.ID(), m.Entries, pd.SnapshotID)
	}
	changes, err := DiffSnapshots(ctx, parent, child)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 1 || changes[0].Path != "extra.py" || changes[0].Kind != snapshot.Added {
		t.Fatalf("DiffSnapshots = %v", changes)
	}
	// The run list of the experiment holds both; a filter on tags narrows it.
	child.SetTag(ctx, "role", "child")
	if rs, _ := ws.Experiment("exp").Runs(ctx, Filter{Tags: map[string]string{"role": "child"}}); len(rs) != 1 || rs[0].ID != child.ID {
		t.Fatalf("Runs by tag = %v", rs)
	}
	if _, err := recordRun(t, ws, "exp").Snapshot(ctx); err == nil || !strings.Contains(err.Error(), "snapshot") {
		t.Fatalf("Snapshot of a run without one: %v", err)
	}
}
