package workspace

import (
	"errors"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// mustRun creates a run in experiment exp, failing the test on error.
func mustRun(t testing.TB, w *Workspace, spec RunSpec) Run {
	t.Helper()
	r, err := w.NewRun(t.Context(), spec)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestNewRun(t *testing.T) {
	ctx := t.Context()
	c := newClock()
	w := openTemp(t, options{now: c.now})
	if err := w.CreateTarget(ctx, Target{Name: "gpu", Kind: KindSSH}); err != nil {
		t.Fatal(err)
	}
	r := mustRun(t, w, RunSpec{Experiment: "mnist", Target: "GPU", SnapshotID: "snap1", EnvKey: "env1",
		Tags: map[string]string{"lr": "0.1"}, Properties: map[string]string{"git": "abc"}})
	if _, err := uuid.Parse(r.ID); err != nil {
		t.Errorf("run ID %q is not a UUID", r.ID)
	}
	want := Run{ID: r.ID, Experiment: "mnist", Target: "gpu", SnapshotID: "snap1", EnvKey: "env1",
		State: StateNotStarted, Created: c.now(),
		Tags: map[string]string{"lr": "0.1"}, Properties: map[string]string{"git": "abc"}}
	r.Created = r.Created.UTC()
	if !reflect.DeepEqual(r, want) {
		t.Errorf("NewRun = %+v\nwant %+v", r, want)
	}
	got, err := w.Run(ctx, strings.ToUpper(r.ID))
	if err != nil {
		t.Fatal(err)
	}
	got.Created = got.Created.UTC()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Run = %+v\nwant %+v", got, want)
	}
	dir, _ := w.RunDir(r.ID)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Errorf("run directory %s: %v", dir, err)
	}
	es, err := w.Events(ctx, r.ID)
	if err != nil || len(es) != 1 || es[0].To != StateNotStarted || es[0].From != "" {
		t.Errorf("Events of a new run = %+v, %v; want its creation", es, err)
	}

	// A child run joins its parent's experiment unless given one.
	child := mustRun(t, w, RunSpec{ParentID: r.ID})
	if child.ParentID != r.ID || child.Experiment != "mnist" || child.Target != "" {
		t.Errorf("child run = %+v", child)
	}
	other := mustRun(t, w, RunSpec{ParentID: r.ID, Experiment: "other"})
	if other.Experiment != "other" {
		t.Errorf("child run with its own experiment: %q", other.Experiment)
	}
}

func TestNewRunErrors(t *testing.T) {
	tests := []struct {
		name string
		spec RunSpec
		is   error
		want string
	}{
		{"no experiment", RunSpec{}, nil, "needs an experiment"},
		{"bad experiment", RunSpec{Experiment: "a b"}, ErrInvalidName, `experiment name "a b" is invalid: use 1 to 255`},
		{"unknown target", RunSpec{Experiment: "e", Target: "nope"}, ErrNotFound, `compute "nope"`},
		{"unknown parent", RunSpec{ParentID: uuid.NewString()}, ErrNotFound, "parent run"},
		{"bad parent", RunSpec{ParentID: "x"}, ErrInvalidID, `"x" is not a UUID`},
		{"empty tag", RunSpec{Experiment: "e", Tags: map[string]string{"": "v"}}, nil, "empty key"},
	}
	w := openTemp(t, options{})
	for _, tt := range tests {
		_, err := w.NewRun(t.Context(), tt.spec)
		if err == nil || (tt.is != nil && !errors.Is(err, tt.is)) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: NewRun = %v, want an error matching %v containing %q", tt.name, err, tt.is, tt.want)
		}
	}
	if rs, _ := w.Runs(t.Context(), Filter{}); len(rs) != 0 {
		t.Errorf("failed NewRun calls left %d runs", len(rs))
	}
	if dirs, _ := os.ReadDir(w.runsDir()); len(dirs) != 0 {
		t.Errorf("failed NewRun calls left %d run directories", len(dirs))
	}
}

func TestRunsFilter(t *testing.T) {
	ctx := t.Context()
	c := newClock()
	w := openTemp(t, options{now: c.now})
	mk := func(exp string, tags map[string]string) string {
		c.advance(time.Second)
		return mustRun(t, w, RunSpec{Experiment: exp, Tags: tags}).ID
	}
	a := mk("e1", map[string]string{"model": "cnn", "lr": "0.1"})
	b := mk("e1", map[string]string{"model": "mlp"})
	d := mk("e2", map[string]string{"model": "cnn"})
	child := mustRun(t, w, RunSpec{ParentID: a}).ID
	if err := w.Transition(ctx, b, StateQueued, ""); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		f    Filter
		want []string // newest first
	}{
		{"all", Filter{}, []string{child, d, b, a}},
		{"experiment", Filter{Experiment: "e1"}, []string{child, b, a}},
		{"unknown experiment", Filter{Experiment: "zz"}, nil},
		{"state", Filter{State: StateQueued}, []string{b}},
		{"tag", Filter{Tags: map[string]string{"model": "cnn"}}, []string{d, a}},
		{"two tags", Filter{Tags: map[string]string{"model": "cnn", "lr": "0.1"}}, []string{a}},
		{"tag and experiment", Filter{Experiment: "e2", Tags: map[string]string{"model": "cnn"}}, []string{d}},
		{"tag value differs", Filter{Tags: map[string]string{"model": "rnn"}}, nil},
		{"parent", Filter{ParentID: a}, []string{child}},
		{"limit", Filter{Limit: 2}, []string{child, d}},
	}
	for _, tt := range tests {
		rs, err := w.Runs(ctx, tt.f)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		var ids []string
		for _, r := range rs {
			ids = append(ids, r.ID)
		}
		if !slices.Equal(ids, tt.want) {
			t.Errorf("%s: Runs = %v, want %v", tt.name, ids, tt.want)
		}
	}
}

func TestTagsAndProperties(t *testing.T) {
	ctx := t.Context()
	w := openTemp(t, options{})
	id := mustRun(t, w, RunSpec{Experiment: "e", Properties: map[string]string{"seed": "1"}}).ID

	steps := []struct {
		name string
		op   func() error
		is   error // nil: must succeed
	}{
		{"set tag", func() error { return w.SetTag(ctx, id, "stage", "dev") }, nil},
		{"change tag", func() error { return w.SetTag(ctx, id, "stage", "prod") }, nil},
		{"set, delete tag", func() error {
			if err := w.SetTag(ctx, id, "tmp", "x"); err != nil {
				return err
			}
			return w.DeleteTag(ctx, id, "tmp")
		}, nil},
		{"set property", func() error { return w.SetProperty(ctx, id, "data", "v1") }, nil},
		{"same property again", func() error { return w.SetProperty(ctx, id, "data", "v1") }, nil},
		{"change property", func() error { return w.SetProperty(ctx, id, "data", "v2") }, ErrImmutable},
		{"change initial property", func() error { return w.SetProperty(ctx, id, "seed", "2") }, ErrImmutable},
		{"set exit code", func() error { return w.SetExitCode(ctx, id, 0) }, nil},
		{"same exit code", func() error { return w.SetExitCode(ctx, id, 0) }, nil},
		{"change exit code", func() error { return w.SetExitCode(ctx, id, 1) }, ErrImmutable},
	}
	for _, s := range steps {
		err := s.op()
		if s.is == nil && err != nil || s.is != nil && !errors.Is(err, s.is) {
			t.Errorf("%s: %v, want %v", s.name, err, s.is)
		}
	}
	r, err := w.Run(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"stage": "prod"}; !reflect.DeepEqual(r.Tags, want) {
		t.Errorf("Tags = %v, want %v", r.Tags, want)
	}
	if want := map[string]string{"seed": "1", "data": "v1"}; !reflect.DeepEqual(r.Properties, want) {
		t.Errorf("Properties = %v, want %v", r.Properties, want)
	}
	if r.ExitCode == nil || *r.ExitCode != 0 {
		t.Errorf("ExitCode = %v, want 0", r.ExitCode)
	}
}

// TestMissingRun calls each per-run method with an ID that names no run,
// and with one that is not a UUID.
func TestMissingRun(t *testing.T) {
	ctx := t.Context()
	w := openTemp(t, options{})
	ops := map[string]func(id string) error{
		"Run":         func(id string) error { _, err := w.Run(ctx, id); return err },
		"Events":      func(id string) error { _, err := w.Events(ctx, id); return err },
		"SetTag":      func(id string) error { return w.SetTag(ctx, id, "k", "v") },
		"DeleteTag":   func(id string) error { return w.DeleteTag(ctx, id, "k") },
		"SetProperty": func(id string) error { return w.SetProperty(ctx, id, "k", "v") },
		"SetExitCode": func(id string) error { return w.SetExitCode(ctx, id, 1) },
		"Transition":  func(id string) error { return w.Transition(ctx, id, StateQueued, "") },
		"Heartbeat":   func(id string) error { return w.Heartbeat(ctx, id) },
		"LogMetrics":  func(id string) error { return w.LogMetrics(ctx, id, []Metric{{Name: "m"}}) },
		"Metrics":     func(id string) error { _, err := w.Metrics(ctx, id); return err },
		"RegisterModel": func(id string) error {
			_, err := w.RegisterModel(ctx, Model{Name: "m", RunID: id, Path: "p"})
			return err
		},
	}
	missing := uuid.NewString()
	for name, op := range ops {
		if err := op(missing); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), missing) {
			t.Errorf("%s(missing run) = %v, want ErrNotFound naming the run", name, err)
		}
		if err := op("nope"); !errors.Is(err, ErrInvalidID) {
			t.Errorf("%s(\"nope\") = %v, want ErrInvalidID", name, err)
		}
	}
}
