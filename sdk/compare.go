package sdk

import (
	"context"
	"fmt"
	"html"
	"math"
	"sort"
	"strconv"
	"strings"

	"gantry/display"
	"gantry/sdk/workspace"
)

// LowerIsBetter reports whether smaller values of the metric are better,
// which Compare assumes when the metric's name contains "loss" or "err"
// (any case: "val_loss", "error_rate", "RMSErr"); for any other metric,
// larger is better ("accuracy", "f1").
func LowerIsBetter(metric string) bool {
	m := strings.ToLower(metric)
	return strings.Contains(m, "loss") || strings.Contains(m, "err")
}

// runRow is what Compare and Plot know of one run.
type runRow struct {
	id      string
	state   workspace.State
	metrics workspace.Metrics
	err     error
}

func loadRows(ctx context.Context, runs []*Run) []runRow {
	rows := make([]runRow, 0, len(runs))
	for _, r := range runs {
		if r == nil {
			continue
		}
		row := runRow{id: r.ID}
		if d, err := r.Details(ctx); err != nil {
			row.err = err
		} else {
			row.state = d.State
			row.metrics, row.err = r.Metrics(ctx)
		}
		rows = append(rows, row)
	}
	return rows
}

// Compare returns a table of runs for a notebook: one row per run, with its
// short ID, its state and the last value of each metric any of the runs
// logged. The row with the best last value of metric is highlighted (and
// starred in the text version): the smallest when LowerIsBetter(metric),
// else the largest. Leave the result as a cell's last expression to show
// it:
//
//	runs, _ := ws.Experiment("mnist").Runs(ctx)
//	sdk.Compare(ctx, runs, "val_loss")
func Compare(ctx context.Context, runs []*Run, metric string) display.Bundle {
	rows := loadRows(ctx, runs)
	names := map[string]bool{}
	for _, r := range rows {
		for n := range r.metrics.Scalars {
			names[n] = true
		}
	}
	cols := make([]string, 0, len(names))
	for n := range names {
		if n != metric {
			cols = append(cols, n)
		}
	}
	sort.Strings(cols)
	if metric != "" {
		cols = append([]string{metric}, cols...)
	}
	best := bestRow(rows, metric)

	header := append([]string{"", "run", "state"}, cols...)
	table := [][]string{header}
	var h strings.Builder
	h.WriteString(`<table class="gantry-compare" style="border-collapse:collapse">`)
	h.WriteString("<thead><tr>")
	for _, c := range header[1:] {
		style := "padding:2px 8px;border-bottom:1px solid #999;text-align:left"
		if c == metric {
			style += ";text-decoration:underline"
		}
		fmt.Fprintf(&h, `<th style="%s">%s</th>`, style, html.EscapeString(c))
	}
	h.WriteString("</tr></thead><tbody>")
	for i, r := range rows {
		mark, style := "", ""
		if i == best {
			mark, style = "*", ` style="background:#d4f7d4;font-weight:bold"`
		}
		line := []string{mark, shortID(r.id), string(r.state)}
		fmt.Fprintf(&h, `<tr%s><td style="padding:2px 8px" title="%s"><code>%s</code></td><td style="padding:2px 8px">%s</td>`,
			style, html.EscapeString(r.id), html.EscapeString(shortID(r.id)), html.EscapeString(string(r.state)))
		if r.err != nil {
			line[2] = "error: " + r.err.Error()
			fmt.Fprintf(&h, `<td colspan="%d" style="padding:2px 8px;color:#b00">%s</td></tr>`, len(cols)+1, html.EscapeString(r.err.Error()))
			table = append(table, line)
			continue
		}
		for _, c := range cols {
			v, ok := r.metrics.Scalars[c]
			s := ""
			if ok {
				s = formatValue(v)
			}
			line = append(line, s)
			fmt.Fprintf(&h, `<td style="padding:2px 8px;text-align:right">%s</td>`, html.EscapeString(s))
		}
		h.WriteString("</tr>")
		table = append(table, line)
	}
	h.WriteString("</tbody></table>")
	note := compareNote(rows, metric, best)
	fmt.Fprintf(&h, `<div style="font-size:smaller;color:#666">%s</div>`, html.EscapeString(note))
	return display.Bundle{Data: map[string]any{
		display.MIMEHTML:  h.String(),
		display.MIMEPlain: textTable(table) + note,
	}}
}

// compareNote says which row is best, and why.
func compareNote(rows []runRow, metric string, best int) string {
	switch {
	case len(rows) == 0:
		return "no runs to compare"
	case metric == "":
		return fmt.Sprintf("%d runs", len(rows))
	case best < 0:
		return fmt.Sprintf("%d runs; none logged %q", len(rows), metric)
	}
	dir := "higher"
	if LowerIsBetter(metric) {
		dir = "lower"
	}
	return fmt.Sprintf("%d runs; best %s = %s: run %s (%s is better)", len(rows), metric,
		formatValue(rows[best].metrics.Scalars[metric]), shortID(rows[best].id), dir)
}

// bestRow returns the index of the row with the best finite last value of
// metric, or -1 if none has one.
func bestRow(rows []runRow, metric string) int {
	lower := LowerIsBetter(metric)
	best := -1
	for i, r := range rows {
		v, ok := r.metrics.Scalars[metric]
		if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		if best < 0 {
			best = i
			continue
		}
		b := rows[best].metrics.Scalars[metric]
		if (lower && v < b) || (!lower && v > b) {
			best = i
		}
	}
	return best
}

func formatValue(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }

// textTable lays out rows in columns separated by two spaces.
func textTable(rows [][]string) string {
	var widths []int
	for _, r := range rows {
		for i, c := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], len([]rune(c)))
		}
	}
	var b strings.Builder
	for _, r := range rows {
		var line strings.Builder
		for i, c := range r {
			if i > 0 {
				line.WriteString("  ")
			}
			line.WriteString(c)
			if i < len(r)-1 {
				line.WriteString(strings.Repeat(" ", widths[i]-len([]rune(c))))
			}
		}
		b.WriteString(strings.TrimRight(line.String(), " "))
		b.WriteByte('\n')
	}
	return b.String()
}

// plotColors are the lines' colours, in turn.
var plotColors = []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"}

// Plot returns an SVG line plot of metric against step, one line per run,
// with axes and a legend naming each run by its short ID; its text version
// summarises each run's series (points, first, last, min, max). It needs
// nothing but the browser. Leave it as a cell's last expression to show it:
//
//	sdk.Plot(ctx, runs, "loss")
func Plot(ctx context.Context, runs []*Run, metric string) display.Bundle {
	rows := loadRows(ctx, runs)
	type line struct {
		id  string
		pts []workspace.Metric
	}
	var lines []line
	var text strings.Builder
	fmt.Fprintf(&text, "%s by step\n", metric)
	xmin, xmax, ymin, ymax := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, r := range rows {
		if r.err != nil {
			fmt.Fprintf(&text, "  run %s: error: %v\n", shortID(r.id), r.err)
			continue
		}
		var pts []workspace.Metric
		for _, m := range r.metrics.Series[metric] {
			if math.IsNaN(m.Value) || math.IsInf(m.Value, 0) {
				continue
			}
			pts = append(pts, m)
		}
		sort.SliceStable(pts, func(i, j int) bool { return pts[i].Step < pts[j].Step })
		if len(pts) == 0 {
			fmt.Fprintf(&text, "  run %s: no values\n", shortID(r.id))
			continue
		}
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, p := range pts {
			lo, hi = math.Min(lo, p.Value), math.Max(hi, p.Value)
			xmin, xmax = math.Min(xmin, float64(p.Step)), math.Max(xmax, float64(p.Step))
		}
		ymin, ymax = math.Min(ymin, lo), math.Max(ymax, hi)
		fmt.Fprintf(&text, "  run %s: %d points, first %s, last %s, min %s, max %s\n", shortID(r.id), len(pts),
			formatValue(pts[0].Value), formatValue(pts[len(pts)-1].Value), formatValue(lo), formatValue(hi))
		lines = append(lines, line{r.id, pts})
	}
	if len(lines) == 0 {
		if len(rows) == 0 {
			return display.Text("no runs to plot")
		}
		return display.Text(text.String() + fmt.Sprintf("no run logged %q\n", metric))
	}
	if xmin == xmax {
		xmin, xmax = xmin-1, xmax+1
	}
	if ymin == ymax {
		d := math.Max(math.Abs(ymin)*0.1, 1)
		ymin, ymax = ymin-d, ymax+d
	}
	yt := niceTicks(ymin, ymax, 5)
	ymin, ymax = math.Min(ymin, yt[0]), math.Max(ymax, yt[len(yt)-1])
	xt := niceTicks(xmin, xmax, 6)

	const w, h, left, right, top, bottom = 640.0, 360.0, 64.0, 150.0, 24.0, 40.0
	pw, ph := w-left-right, h-top-bottom
	sx := func(x float64) float64 { return left + (x-xmin)/(xmax-xmin)*pw }
	sy := func(y float64) float64 { return top + ph - (y-ymin)/(ymax-ymin)*ph }
	var s strings.Builder
	fmt.Fprintf(&s, `<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" viewBox="0 0 %g %g" font-family="sans-serif" font-size="11">`, w, h, w, h)
	fmt.Fprintf(&s, `<rect x="0" y="0" width="%g" height="%g" fill="white"/>`, w, h)
	fmt.Fprintf(&s, `<text x="%g" y="15" text-anchor="middle" font-size="13">%s</text>`, left+pw/2, html.EscapeString(metric))
	for _, t := range yt {
		if t < ymin || t > ymax {
			continue
		}
		y := sy(t)
		fmt.Fprintf(&s, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#eee"/>`, left, y, left+pw, y)
		fmt.Fprintf(&s, `<text x="%.1f" y="%.1f" text-anchor="end" dominant-baseline="middle">%s</text>`, left-4, y, formatValue(t))
	}
	for _, t := range xt {
		if t < xmin || t > xmax {
			continue
		}
		x := sx(t)
		fmt.Fprintf(&s, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#333"/>`, x, top+ph, x, top+ph+4)
		fmt.Fprintf(&s, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`, x, top+ph+16, formatValue(t))
	}
	fmt.Fprintf(&s, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="#333"/>`, left, top+ph, left+pw, top+ph)
	fmt.Fprintf(&s, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="#333"/>`, left, top, left, top+ph)
	fmt.Fprintf(&s, `<text x="%g" y="%g" text-anchor="middle">step</text>`, left+pw/2, h-6)
	for i, l := range lines {
		c := plotColors[i%len(plotColors)]
		var pts strings.Builder
		for j, p := range l.pts {
			if j > 0 {
				pts.WriteByte(' ')
			}
			fmt.Fprintf(&pts, "%.1f,%.1f", sx(float64(p.Step)), sy(p.Value))
		}
		fmt.Fprintf(&s, `<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"><title>%s</title></polyline>`, c, pts.String(), html.EscapeString(l.id))
		if len(l.pts) == 1 {
			fmt.Fprintf(&s, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`, sx(float64(l.pts[0].Step)), sy(l.pts[0].Value), c)
		}
		ly := top + 8 + float64(i)*16
		fmt.Fprintf(&s, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="%s" stroke-width="2"/>`, left+pw+12, ly, left+pw+32, ly, c)
		fmt.Fprintf(&s, `<text x="%g" y="%g" dominant-baseline="middle">%s</text>`, left+pw+36, ly, html.EscapeString(shortID(l.id)))
	}
	s.WriteString("</svg>")
	return display.Bundle{Data: map[string]any{display.MIMESVG: s.String(), display.MIMEPlain: text.String()}}
}

// niceTicks returns about n round values spanning [lo, hi].
func niceTicks(lo, hi float64, n int) []float64 {
	span := hi - lo
	raw := span / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	start := math.Floor(lo/step) * step
	var ticks []float64
	for t := start; t <= hi+step*1e-9 || len(ticks) < 2; t += step {
		ticks = append(ticks, math.Round(t/step)*step)
		if len(ticks) > 4*n {
			break
		}
	}
	if ticks[len(ticks)-1] < hi {
		ticks = append(ticks, ticks[len(ticks)-1]+step)
	}
	return ticks
}
