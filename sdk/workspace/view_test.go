package workspace

import (
	"math"
	"reflect"
	"testing"
	"time"
)

func TestChanges(t *testing.T) {
	ctx := t.Context()
	w := openTemp(t, options{})
	mustTarget(t, w, "local")
	last, err := w.LastChange(ctx)
	if err != nil || last != 0 {
		t.Fatalf("LastChange of an empty workspace = %d, %v; want 0", last, err)
	}
	a := mustRun(t, w, RunSpec{Experiment: "e", Target: "local"})
	b := mustRun(t, w, RunSpec{Experiment: "e", Target: "local"})
	mark, err := w.LastChange(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		id string
		to State
	}{{a.ID, StateQueued}, {b.ID, StateQueued}, {a.ID, StatePreparing}} {
		if err := w.Transition(ctx, step.id, step.to, "test"); err != nil {
			t.Fatal(err)
		}
	}
	all, err := w.Changes(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 5 || all[0].RunID != a.ID || all[0].To != StateNotStarted {
		t.Fatalf("Changes(0) = %+v; want 2 creations and 3 transitions, oldest first", all)
	}
	got, err := w.Changes(ctx, mark, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].RunID != a.ID || got[0].To != StateQueued || got[1].RunID != b.ID ||
		got[0].From != StateNotStarted || got[0].Seq <= mark || got[1].Seq <= got[0].Seq {
		t.Fatalf("Changes(mark, 2) = %+v; want a's and b's Queued, in order", got)
	}
	rest, err := w.Changes(ctx, got[1].Seq, 0)
	if err != nil || len(rest) != 1 || rest[0].To != StatePreparing {
		t.Fatalf("Changes after the second = %+v, %v; want a's Preparing only", rest, err)
	}
}

func TestMetricsAfter(t *testing.T) {
	ctx := t.Context()
	w := openTemp(t, options{})
	mustTarget(t, w, "local")
	a := mustRun(t, w, RunSpec{Experiment: "e", Target: "local"})
	b := mustRun(t, w, RunSpec{Experiment: "e", Target: "local"})
	log := func(id string, ms ...Metric) {
		t.Helper()
		if err := w.LogMetrics(ctx, id, ms); err != nil {
			t.Fatal(err)
		}
	}
	log(a.ID, Metric{Name: "loss", Step: 1, Value: 0.9}, Metric{Name: "acc", Step: 1, Value: 0.5})
	log(b.ID, Metric{Name: "loss", Step: 1, Value: 7})
	ps, err := w.MetricsAfter(ctx, a.ID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 || ps[0].Name != "loss" || ps[1].Name != "acc" || ps[1].Seq <= ps[0].Seq {
		t.Fatalf("MetricsAfter(a, 0) = %+v; want loss then acc", ps)
	}
	log(b.ID, Metric{Name: "loss", Step: 2, Value: 6})
	log(a.ID, Metric{Name: "loss", Step: 2, Value: math.NaN()})
	more, err := w.MetricsAfter(ctx, a.ID, ps[1].Seq, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(more) != 1 || more[0].Step != 2 || !math.IsNaN(more[0].Value) {
		t.Fatalf("MetricsAfter(a, last) = %+v; want only a's new NaN at step 2", more)
	}
	if _, err := w.MetricsAfter(ctx, "d0c1a8d2-0000-4000-8000-000000000000", 0, 0); err == nil {
		t.Error("MetricsAfter of a run that does not exist succeeded")
	}
}

func TestLastMetrics(t *testing.T) {
	ctx := t.Context()
	w := openTemp(t, options{})
	mustTarget(t, w, "local")
	a := mustRun(t, w, RunSpec{Experiment: "e", Target: "local"})
	b := mustRun(t, w, RunSpec{Experiment: "e", Target: "local"})
	c := mustRun(t, w, RunSpec{Experiment: "e", Target: "local"})
	if err := w.LogMetrics(ctx, a.ID, []Metric{{Name: "loss", Step: 2, Value: 0.5}, {Name: "loss", Step: 1, Value: 0.9},
		{Name: "acc", Step: 1, Value: 0.7}}); err != nil {
		t.Fatal(err)
	}
	if err := w.LogMetrics(ctx, b.ID, []Metric{{Name: "loss", Step: 1, Value: 3}, {Name: "loss", Step: 1, Value: 4}}); err != nil {
		t.Fatal(err)
	}
	got, err := w.LastMetrics(ctx, []string{a.ID, b.ID, c.ID})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]float64{a.ID: {"loss": 0.5, "acc": 0.7}, b.ID: {"loss": 4}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("LastMetrics = %v; want %v (greatest step, latest logged among equal steps)", got, want)
	}
	for _, id := range []string{a.ID, b.ID} {
		m, err := w.Metrics(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(m.Scalars, want[id]) {
			t.Errorf("Metrics(%s).Scalars = %v, LastMetrics says %v", id, m.Scalars, want[id])
		}
	}
	if _, err := w.LastMetrics(ctx, []string{"not-a-uuid"}); err == nil {
		t.Error("LastMetrics with a bad ID succeeded")
	}
}

func TestRunsPageAndTarget(t *testing.T) {
	ctx := t.Context()
	c := newClock()
	w := openTemp(t, options{now: c.now})
	mustTarget(t, w, "local")
	mustTarget(t, w, "gpu")
	var ids []string // oldest first
	for i := range 7 {
		target := "local"
		if i%2 == 1 {
			target = "gpu"
		}
		ids = append(ids, mustRun(t, w, RunSpec{Experiment: "e", Target: target}).ID)
		if i != 3 { // two runs created at the same instant: seq breaks the tie
			c.advance(time.Second)
		}
	}
	var pages [][]string
	before := ""
	for {
		rs, err := w.Runs(ctx, Filter{Limit: 3, Before: before})
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) == 0 {
			break
		}
		var page []string
		for _, r := range rs {
			page = append(page, r.ID)
		}
		pages = append(pages, page)
		before = rs[len(rs)-1].ID
	}
	want := [][]string{{ids[6], ids[5], ids[4]}, {ids[3], ids[2], ids[1]}, {ids[0]}}
	if !reflect.DeepEqual(pages, want) {
		t.Errorf("pages = %v; want %v", pages, want)
	}
	rs, err := w.Runs(ctx, Filter{Target: "GPU"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 3 || rs[0].ID != ids[5] || rs[2].ID != ids[1] {
		t.Errorf("Runs(Target: GPU) = %d runs; want the 3 on gpu, newest first", len(rs))
	}
	if _, err := w.Runs(ctx, Filter{Before: "nope"}); err == nil {
		t.Error("Runs with Before not a UUID succeeded")
	}
}

func TestElapsed(t *testing.T) {
	t0 := time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	now := at(100)
	for _, tc := range []struct {
		name           string
		r              Run
		total, prepare time.Duration
	}{
		{"queued", Run{Created: at(0)}, 0, 0},
		{"preparing", Run{Created: at(0), Prepared: at(10)}, 90 * time.Second, 90 * time.Second},
		{"running", Run{Created: at(0), Prepared: at(10), Started: at(40)}, 90 * time.Second, 30 * time.Second},
		{"ended", Run{Created: at(0), Prepared: at(10), Started: at(40), Ended: at(50)}, 40 * time.Second, 30 * time.Second},
		{"failed while preparing", Run{Created: at(0), Prepared: at(10), Ended: at(15)}, 5 * time.Second, 5 * time.Second},
		{"never prepared", Run{Created: at(0), Started: at(20), Ended: at(30)}, 10 * time.Second, 0},
	} {
		total, prep := tc.r.Elapsed(now)
		if total != tc.total || prep != tc.prepare {
			t.Errorf("%s: Elapsed = %v, %v; want %v, %v", tc.name, total, prep, tc.total, tc.prepare)
		}
	}
}

func TestRunPrepared(t *testing.T) {
	ctx := t.Context()
	c := newClock()
	w := openTemp(t, options{now: c.now})
	mustTarget(t, w, "local")
	r := mustRun(t, w, RunSpec{Experiment: "e", Target: "local"})
	for _, to := range []State{StateQueued, StatePreparing, StateStarting, StateRunning} {
		c.advance(time.Second)
		if err := w.Transition(ctx, r.ID, to, ""); err != nil {
			t.Fatal(err)
		}
	}
	got, err := w.Run(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Prepared.Equal(r.Created.Add(2*time.Second)) || !got.Started.Equal(r.Created.Add(4*time.Second)) {
		t.Errorf("Prepared, Started = %v, %v; want 2 s and 4 s after creation %v", got.Prepared, got.Started, r.Created)
	}
}

// mustTarget adds a local target called name, failing the test on error.
func mustTarget(t testing.TB, w *Workspace, name string) {
	t.Helper()
	if err := w.CreateTarget(t.Context(), Target{Name: name, Kind: KindLocal}); err != nil {
		t.Fatal(err)
	}
}

func TestActiveRuns(t *testing.T) {
	ctx := t.Context()
	w := openTemp(t, options{})
	mustTarget(t, w, "local")
	mustTarget(t, w, "gpu")
	q := mustRun(t, w, RunSpec{Experiment: "e", Target: "local"})
	done := mustRun(t, w, RunSpec{Experiment: "e", Target: "local"})
	g := mustRun(t, w, RunSpec{Experiment: "e", Target: "gpu"})
	for _, id := range []string{q.ID, done.ID, g.ID} {
		if err := w.Transition(ctx, id, StateQueued, ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Transition(ctx, done.ID, StateCanceled, ""); err != nil {
		t.Fatal(err)
	}
	if err := w.Transition(ctx, g.ID, StatePreparing, ""); err != nil {
		t.Fatal(err)
	}
	got, err := w.ActiveRuns(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[State]int{"local": {StateQueued: 1}, "gpu": {StatePreparing: 1}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ActiveRuns = %v; want %v", got, want)
	}
}
