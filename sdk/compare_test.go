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

func TestLowerIsBetter(t *testing.T) {
	for m, want := range map[string]bool{"loss": true, "val_loss": true, "error_rate": true, "RMSErr": true, "accuracy": false, "f1": false} {
		if LowerIsBetter(m) != want {
			t.Errorf("LowerIsBetter(%q) = %v", m, !want)
		}
	}
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

	bundle := Compare(ctx, []*Run{a, b, c}, "loss")
	h, _ := bundle.Data[display.MIMEHTML].(string)
	plain := bundle.Plain()
	if h == "" || plain == "" {
		t.Fatalf("bundle %v", bundle.Data)
	}
	// b has the lowest last loss: its row is highlighted and starred.
	rows := strings.Split(h, "<tr")
	var hl []string
	for _, row := range rows {
		if strings.Contains(row, "background") {
			hl = append(hl, row)
		}
	}
	if len(hl) != 1 || !strings.Contains(hl[0], shortID(b.ID)) {
		t.Fatalf("highlighted rows %q, want only run %s's", hl, shortID(b.ID))
	}
	if err := wellFormed("<div>" + h + "</div>"); err != nil {
		t.Errorf("HTML is not well formed: %v\n%s", err, h)
	}
	lines := strings.Split(plain, "\n")
	if !strings.HasPrefix(lines[0], "   run ") || !strings.Contains(lines[0], "loss") || !strings.Contains(lines[0], "acc") {
		t.Errorf("header %q", lines[0])
	}
	if strings.Index(lines[0], "loss") > strings.Index(lines[0], "acc") {
		t.Errorf("the compared metric should come first: %q", lines[0])
	}
	var starred []string
	for _, l := range lines[1:] {
		if strings.HasPrefix(l, "*") {
			starred = append(starred, l)
		}
	}
	if len(starred) != 1 || !strings.Contains(starred[0], shortID(b.ID)) || !strings.Contains(starred[0], "0.2") {
		t.Errorf("starred %q in\n%s", starred, plain)
	}
	if !strings.Contains(plain, "lower is better") {
		t.Errorf("plain lacks the direction:\n%s", plain)
	}
	// Higher is better for acc: a wins.
	if p := Compare(ctx, []*Run{a, b, c}, "acc").Plain(); !strings.Contains(p, "*  "+shortID(a.ID)) {
		t.Errorf("acc: want %s starred:\n%s", shortID(a.ID), p)
	}
	if p := Compare(ctx, nil, "loss").Plain(); !strings.Contains(p, "no runs") {
		t.Errorf("no runs: %q", p)
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
