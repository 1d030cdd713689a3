package sdk

import (
	"context"
	"encoding/xml"
	"io"
	"math"
	"strings"
	"testing"

	"gantry/display"
	"gantry/sdk/workspace"
)

func logSeries(t *testing.T, ws *Workspace, r *Run, name string, vals ...float64) {
	t.Helper()
	var ms []workspace.Metric
	for i, v := range vals {
		ms = append(ms, workspace.Metric{Name: name, Step: int64(i), Value: v})
	}
	if err := ws.w.LogMetrics(context.Background(), r.ID, ms); err != nil {
		t.Fatal(err)
	}
}

// wellFormed checks that s is well-formed XML.
func wellFormed(s string) error {
	d := xml.NewDecoder(strings.NewReader(s))
	for {
		_, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func TestGoalFor(t *testing.T) {
	for _, tt := range []struct {
		metric string
		want   Goal
		known  bool
	}{
		{"loss", Minimize, true},
		{"val_loss", Minimize, true},
		{"error_rate", Minimize, true},
		{"RMSErr", Minimize, true},
		{"mse", Minimize, true},
		{"test/rmse", Minimize, true},
		{"mae", Minimize, true},
		{"trainMSE", Minimize, true},
		{"perplexity", Minimize, true},
		{"accuracy", Maximize, true},
		{"val_acc", Maximize, true},
		{"top1Acc", Maximize, true},
		{"f1", Maximize, true},
		{"r2", Maximize, true},
		{"cv_r2", Maximize, true},
		{"roc-auc", Maximize, true},
		{"neg_mean_squared_error", Maximize, true},
		{"neg_log_loss", Maximize, true},
		{"loss_accuracy", Maximize, true}, // the last word decides
		{"alpha", Maximize, false},
		{"", Maximize, false},
	} {
		g, known := goalFor(tt.metric)
		if g != tt.want || known != tt.known {
			t.Errorf("goalFor(%q) = %v, %v; want %v, %v", tt.metric, g, known, tt.want, tt.known)
		}
		if GoalFor(tt.metric) != tt.want {
			t.Errorf("GoalFor(%q) = %v", tt.metric, GoalFor(tt.metric))
		}
	}
}

// highlighted returns the HTML table rows that are highlighted.
func highlighted(h string) []string {
	var hl []string
	for _, row := range strings.Split(h, "<tr") {
		if strings.Contains(row, "background") {
			hl = append(hl, row)
		}
	}
	return hl
}

// starred returns the text table's starred lines.
func starred(plain string) []string {
	var out []string
	for _, l := range strings.Split(plain, "\n")[1:] {
		if strings.HasPrefix(l, "*") {
			out = append(out, l)
		}
	}
	return out
}

func TestCompare(t *testing.T) {
	ws := testWorkspace(t)
	ctx := context.Background()
	a, b, c := recordRun(t, ws, "exp"), recordRun(t, ws, "exp"), recordRun(t, ws, "exp")
	logSeries(t, ws, a, "loss", 1, 0.5, 0.3)
	logSeries(t, ws, b, "loss", 1, 0.2)
	logSeries(t, ws, c, "loss", math.NaN())
	logSeries(t, ws, a, "acc", 0.7)
	logSeries(t, ws, b, "acc", 0.6)

	bundle := Compare(ctx, []*Run{a, b, c}, "loss", ByName)
	h, _ := bundle.Data[display.MIMEHTML].(string)
	plain := bundle.Plain()
	if h == "" || plain == "" {
		t.Fatalf("bundle %v", bundle.Data)
	}
	// b has the lowest last loss: its row is highlighted and starred.
	if hl := highlighted(h); len(hl) != 1 || !strings.Contains(hl[0], shortID(b.ID)) {
		t.Fatalf("highlighted rows %q, want only run %s's", hl, shortID(b.ID))
	}
	if err := wellFormed("<div>" + h + "</div>"); err != nil {
		t.Errorf("HTML is not well formed: %v\n%s", err, h)
	}
	lines := strings.Split(plain, "\n")
	if !strings.HasPrefix(lines[0], "   run ") || !strings.Contains(lines[0], "loss ↓") || !strings.Contains(lines[0], "acc") {
		t.Errorf("header %q", lines[0])
	}
	if strings.Index(lines[0], "loss") > strings.Index(lines[0], "acc") {
		t.Errorf("the compared metric should come first: %q", lines[0])
	}
	if s := starred(plain); len(s) != 1 || !strings.Contains(s[0], shortID(b.ID)) || !strings.Contains(s[0], "0.2") {
		t.Errorf("starred %q in\n%s", s, plain)
	}
	if !strings.Contains(plain, "lower is better") {
		t.Errorf("plain lacks the direction:\n%s", plain)
	}
	// Higher is better for acc: a wins; the explicit goal overrides the name.
	if p := Compare(ctx, []*Run{a, b, c}, "acc", ByName).Plain(); !strings.Contains(p, "*  "+shortID(a.ID)) {
		t.Errorf("acc: want %s starred:\n%s", shortID(a.ID), p)
	}
	if p := Compare(ctx, []*Run{a, b, c}, "acc", Minimize).Plain(); !strings.Contains(p, "*  "+shortID(b.ID)) || !strings.Contains(p, "acc ↓") {
		t.Errorf("acc minimized: want %s starred:\n%s", shortID(b.ID), p)
	}
	if p := Compare(ctx, []*Run{a, b, c}, "loss", Maximize).Plain(); !strings.Contains(p, "*  "+shortID(a.ID)) || !strings.Contains(p, "higher is better") {
		t.Errorf("loss maximized: want %s starred:\n%s", shortID(a.ID), p)
	}
	if p := Compare(ctx, nil, "loss", ByName).Plain(); !strings.Contains(p, "no runs") {
		t.Errorf("no runs: %q", p)
	}
}

// TestCompareRegression is the case of notebook 01: mse, whose name has
// neither "loss" nor "err", is lower-is-better; series and lists are
// summarised; each column has one precision.
func TestCompareRegression(t *testing.T) {
	ws := testWorkspace(t)
	ctx := context.Background()
	good, bad := recordRun(t, ws, "exp"), recordRun(t, ws, "exp")
	logSeries(t, ws, good, "mse", 3435.8012)
	logSeries(t, ws, bad, "mse", 4404.7301)
	logSeries(t, ws, good, "r2", 0.32998321)
	logSeries(t, ws, bad, "r2", 0.1387)
	logSeries(t, ws, good, "cv_r2", 0.5, 0.4, 0.3, 0.45, 0.35)
	logSeries(t, ws, bad, "cv_r2", 0.1, 0.2, 0.3, 0.2, 0.2)
	logSeries(t, ws, good, "alpha", 0.01)
	logSeries(t, ws, bad, "alpha", 10)

	bundle := Compare(ctx, []*Run{bad, good}, "mse", ByName)
	plain := bundle.Plain()
	if s := starred(plain); len(s) != 1 || !strings.Contains(s[0], shortID(good.ID)) {
		t.Fatalf("want run %s (mse 3435.8) starred:\n%s", shortID(good.ID), plain)
	}
	if hl := highlighted(bundle.Data[display.MIMEHTML].(string)); len(hl) != 1 || !strings.Contains(hl[0], shortID(good.ID)) {
		t.Errorf("highlighted %q", hl)
	}
	for _, want := range []string{
		"mse ↓",
		"3435.8", "4404.7", // 5 significant digits of the largest
		"0.32998", "0.13870", // r2: one precision for the column
		"0.010", "10.000", // alpha: 10 has 5 digits, 0.01 at least 2
		"0.35000 (5 values: mean 0.40000, min 0.30000, max 0.50000)", // the series: its last value and a summary
		"best mse = 3435.8 (last value; lower is better)",
	} {
		if !strings.Contains(plain, want) {
			t.Errorf("plain lacks %q:\n%s", want, plain)
		}
	}
	if strings.Contains(plain, "3435.8012") || strings.Contains(plain, "0.329983") {
		t.Errorf("mixed precision:\n%s", plain)
	}
	h := bundle.Data[display.MIMEHTML].(string)
	if !strings.Contains(h, "5 values: mean 0.40000") || !strings.Contains(h, `title="lower is better"`) {
		t.Errorf("HTML lacks the summary or the goal:\n%s", h)
	}
	// A name that says nothing: assumed higher is better, and said so.
	if p := Compare(ctx, []*Run{bad, good}, "alpha", ByName).Plain(); !strings.Contains(p, "assumed") || !strings.Contains(p, "sdk.Minimize") {
		t.Errorf("alpha: the assumption is not said:\n%s", p)
	}
	if p := Compare(ctx, []*Run{bad, good}, "alpha", Maximize).Plain(); strings.Contains(p, "assumed") {
		t.Errorf("alpha, Maximize given: nothing is assumed:\n%s", p)
	}

	best, err := Best(ctx, []*Run{bad, good}, "mse", ByName)
	if err != nil || best.ID != good.ID {
		t.Errorf("Best by mse = %v, %v; want run %s", best, err, good.ID)
	}
	if best, err := Best(ctx, []*Run{bad, good}, "mse", Maximize); err != nil || best.ID != bad.ID {
		t.Errorf("Best by mse, maximized = %v, %v; want run %s", best, err, bad.ID)
	}
	if _, err := Best(ctx, []*Run{bad, good}, "nope", ByName); err == nil || !strings.Contains(err.Error(), `logged a finite value of "nope"`) {
		t.Errorf("Best by a metric no run logged: %v", err)
	}
}

func TestNumberFormat(t *testing.T) {
	for _, tt := range []struct {
		vals []float64
		want []string
	}{
		{[]float64{3435.8012, 4404.7301}, []string{"3435.8", "4404.7"}},
		{[]float64{0.1, 0.25}, []string{"0.10000", "0.25000"}},
		{[]float64{12, 7}, []string{"12.000", "7.000"}},
		{[]float64{123456, 7}, []string{"123456.0", "7.0"}},
		{[]float64{123456, 70}, []string{"123456", "70"}},
		{[]float64{0, 0}, []string{"0", "0"}},
		{[]float64{1e-7, 2e-7}, []string{"1.0000e-07", "2.0000e-07"}},
		{[]float64{3e12, 1}, []string{"3.0000e+12", "1.0000e+00"}},
		{[]float64{-5, 1}, []string{"-5.0000", "1.0000"}},
	} {
		var rows []runRow
		for _, v := range tt.vals {
			rows = append(rows, runRow{metrics: workspace.Metrics{Series: map[string][]workspace.Metric{"m": {{Value: v}}}}})
		}
		f := columnFormat(rows, "m")
		for i, v := range tt.vals {
			if got := f.format(v); got != tt.want[i] {
				t.Errorf("%v: format(%v) = %q, want %q", tt.vals, v, got, tt.want[i])
			}
		}
	}
}

func TestPlot(t *testing.T) {
	ws := testWorkspace(t)
	ctx := context.Background()
	a, b, c := recordRun(t, ws, "exp"), recordRun(t, ws, "exp"), recordRun(t, ws, "exp")
	logSeries(t, ws, a, "loss", 1, 0.5, 0.25, math.Inf(1))
	logSeries(t, ws, b, "loss", 2)
	logSeries(t, ws, c, "acc", 0.5)

	bundle := Plot(ctx, []*Run{a, b, c}, "loss")
	svg, _ := bundle.Data[display.MIMESVG].(string)
	if !strings.HasPrefix(svg, "<svg") {
		t.Fatalf("no SVG: %v", bundle.Data)
	}
	if err := wellFormed(svg); err != nil {
		t.Errorf("SVG is not well formed: %v", err)
	}
	if n := strings.Count(svg, "<polyline"); n != 2 {
		t.Errorf("%d lines, want 2", n)
	}
	for _, id := range []string{shortID(a.ID), shortID(b.ID)} {
		if !strings.Contains(svg, ">"+id+"</text>") {
			t.Errorf("legend lacks %s", id)
		}
	}
	if strings.Contains(svg, "NaN") || strings.Contains(svg, "Inf") {
		t.Errorf("SVG has non-finite coordinates")
	}
	plain := bundle.Plain()
	for _, want := range []string{shortID(a.ID) + ": 3 points, first 1, last 0.25", shortID(b.ID) + ": 1 points", shortID(c.ID) + ": no values"} {
		if !strings.Contains(plain, want) {
			t.Errorf("plain lacks %q:\n%s", want, plain)
		}
	}
	if p := Plot(ctx, []*Run{c}, "loss"); p.Data[display.MIMESVG] != nil || !strings.Contains(p.Plain(), `no run logged "loss"`) {
		t.Errorf("nothing to plot: %v", p.Data)
	}
}

func TestNiceTicks(t *testing.T) {
	for _, tt := range [][2]float64{{0, 1}, {0.2, 0.9}, {-3, 1e6}, {5, 5.0001}, {1e-9, 3e-9}} {
		ts := niceTicks(tt[0], tt[1], 5)
		if len(ts) < 2 || ts[0] > tt[0] || ts[len(ts)-1] < tt[1] || len(ts) > 21 {
			t.Errorf("niceTicks(%g, %g) = %v", tt[0], tt[1], ts)
		}
	}
}
