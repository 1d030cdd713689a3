package workspace

import (
	"context"
	"math"
	"testing"
	"time"
)

func TestLogMetrics(t *testing.T) {
	ctx := t.Context()
	c := newClock()
	w := openTemp(t, options{now: c.now})
	id := mustRun(t, w, RunSpec{Experiment: "e"}).ID
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

	// Enough points of "loss" to need several full INSERT statements and a
	// partial one, logged out of step order.
	const n = 2*rowsPerInsert + 17
	var ms []Metric
	for i := n - 1; i >= 0; i-- {
		ms = append(ms, Metric{Name: "loss", Step: int64(i), Value: float64(i) / 2, Time: t0.Add(time.Duration(i) * time.Second)})
	}
	ms = append(ms,
		Metric{Name: "acc", Step: 2, Value: 0.9},        // zero Time: stamped now
		Metric{Name: "acc", Step: 1, Value: 0.5},        // lower step, logged later
		Metric{Name: "nan", Step: 0, Value: math.NaN()}, // NaN survives
		Metric{Name: "inf", Step: 0, Value: math.Inf(-1)},
		Metric{Name: "dup", Step: 3, Value: 1, Time: t0},
		Metric{Name: "dup", Step: 3, Value: 2, Time: t0}, // same step and time: the later one is last
	)
	if err := w.LogMetrics(ctx, id, ms); err != nil {
		t.Fatal(err)
	}
	if err := w.LogMetrics(ctx, id, []Metric{{Name: "acc", Step: 3, Value: 0.95}}); err != nil {
		t.Fatal(err)
	}
	got, err := w.Metrics(ctx, id)
	if err != nil {
		t.Fatal(err)
	}

	loss := got.Series["loss"]
	if len(loss) != n {
		t.Fatalf("%d loss points, want %d", len(loss), n)
	}
	for i, m := range loss {
		if m.Step != int64(i) || m.Value != float64(i)/2 || !m.Time.Equal(t0.Add(time.Duration(i)*time.Second)) || m.Name != "loss" {
			t.Fatalf("loss[%d] = %+v", i, m)
		}
	}
	wantScalars := map[string]float64{"loss": float64(n-1) / 2, "acc": 0.95, "inf": math.Inf(-1), "dup": 2}
	for name, want := range wantScalars {
		if v, ok := got.Scalars[name]; !ok || v != want {
			t.Errorf("Scalars[%q] = %v, %v; want %v", name, v, ok, want)
		}
	}
	if v := got.Scalars["nan"]; !math.IsNaN(v) {
		t.Errorf("Scalars[nan] = %v, want NaN", v)
	}
	if len(got.Scalars) != 5 || len(got.Series) != 5 {
		t.Errorf("%d scalars and %d series, want 5", len(got.Scalars), len(got.Series))
	}
	acc := got.Series["acc"]
	if len(acc) != 3 || acc[0].Step != 1 || acc[1].Step != 2 || !acc[1].Time.Equal(c.now()) {
		t.Errorf("acc series = %+v", acc)
	}

	// Another run's metrics are its own.
	other := mustRun(t, w, RunSpec{Experiment: "e"}).ID
	if err := w.LogMetrics(ctx, other, []Metric{{Name: "loss", Step: 0, Value: 7}}); err != nil {
		t.Fatal(err)
	}
	if m, err := w.Metrics(ctx, other); err != nil || len(m.Series["loss"]) != 1 || m.Scalars["loss"] != 7 {
		t.Errorf("other run's metrics = %+v, %v", m, err)
	}
	empty := mustRun(t, w, RunSpec{Experiment: "e"}).ID
	if m, err := w.Metrics(ctx, empty); err != nil || len(m.Scalars) != 0 || len(m.Series) != 0 {
		t.Errorf("metrics of a run with none = %+v, %v", m, err)
	}
}

func TestLogMetricsAtomic(t *testing.T) {
	ctx := t.Context()
	w := openTemp(t, options{})
	id := mustRun(t, w, RunSpec{Experiment: "e"}).ID
	if err := w.LogMetrics(ctx, id, []Metric{{Name: "a", Value: 1}, {Name: "", Value: 2}}); err == nil {
		t.Error("LogMetrics with an empty name succeeded")
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if err := w.LogMetrics(canceled, id, make([]Metric, 10)); err == nil {
		t.Error("LogMetrics with a canceled context succeeded")
	}
	m, err := w.Metrics(ctx, id)
	if err != nil || len(m.Series) != 0 {
		t.Errorf("failed batches left metrics: %+v, %v", m, err)
	}
}

// BenchmarkLogMetrics logs 1,000,000 points in batches of 10,000 per
// iteration and reports the rate.
func BenchmarkLogMetrics(b *testing.B) {
	const (
		total = 1_000_000
		batch = 10_000
	)
	ctx := b.Context()
	w := openTemp(b, options{})
	id := mustRun(b, w, RunSpec{Experiment: "bench"}).ID
	names := []string{"loss", "accuracy", "lr", "grad_norm"}
	ms := make([]Metric, batch)
	now := time.Now()
	var points int
	for i := 0; b.Loop(); i++ {
		for off := 0; off < total; off += batch {
			for j := range ms {
				step := int64(i*total + off + j)
				ms[j] = Metric{Name: names[j%len(names)], Step: step, Value: float64(step) * 1e-3, Time: now}
			}
			if err := w.LogMetrics(ctx, id, ms); err != nil {
				b.Fatal(err)
			}
			points += batch
		}
	}
	b.ReportMetric(float64(points)/b.Elapsed().Seconds(), "points/s")
}
