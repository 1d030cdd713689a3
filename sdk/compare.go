package sdk

import (
	"context"
	"fmt"
	"html"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"gantry/display"
	"gantry/sdk/workspace"
)

// A Goal says which value of a metric is the best one.
type Goal int

// The goals. ByName, the zero value, leaves the choice to [GoalFor].
const (
	ByName   Goal = iota // Minimize or Maximize, by the metric's name: see GoalFor
	Minimize             // the smallest value is best (loss, error, mse...)
	Maximize             // the largest value is best (accuracy, auc, f1, r2...)
)

// String says what the goal means: "lower is better", "higher is better",
// or "by name".
func (g Goal) String() string {
	switch g {
	case Minimize:
		return "lower is better"
	case Maximize:
		return "higher is better"
	case ByName:
		return "by name"
	}
	return fmt.Sprintf("Goal(%d)", int(g))
}

// arrow is the mark a table's header gives the metric compared.
func (g Goal) arrow() string {
	if g == Minimize {
		return "↓"
	}
	return "↑"
}

// The words of metric names whose goal GoalFor knows.
var (
	minimizeWords = words("loss err error errors mse rmse mae mape smape msle rmsle rms nll logloss " +
		"perplexity ppl cost wer cer ter fid kl regret distance dist brier latency duration time seconds " +
		"fpr fnr miss bpd bpc")
	maximizeWords = words("accuracy acc auc roc auroc aupr auprc f1 f2 fbeta r2 precision recall iou miou " +
		"map ap bleu rouge meteor ndcg mrr dice score reward return psnr ssim sharpe throughput kappa mcc " +
		"sensitivity specificity tpr tnr spearman pearson top1 top5 hit hits explained")
)

func words(s string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(s) {
		m[w] = true
	}
	return m
}

// GoalFor returns the goal Compare and Best use for metric when they are
// given ByName. The name is cut into words at underscores, dots, hyphens,
// slashes, spaces and changes of case ("val_loss", "test/mse", "RMSErr",
// "top1Acc"), and the last word that means something decides:
//
//   - Minimize: loss, err, error, mse, rmse, mae, mape, msle, rmsle, nll,
//     logloss, perplexity, cost, wer, cer, fid, kl, regret, latency, time...
//   - Maximize: accuracy, acc, auc, f1, r2, precision, recall, iou, map,
//     bleu, rouge, ndcg, score, reward, psnr, ssim...
//
// A leading "neg" flips it, as in scikit-learn's "neg_mean_squared_error"
// (error negated, so higher is better). A name with none of these words
// gets Maximize; Compare's note then says it assumed so. Pass Minimize or
// Maximize to say the goal yourself.
func GoalFor(metric string) Goal {
	g, _ := goalFor(metric)
	return g
}

// goalFor is GoalFor, and whether a word of the name decided it.
func goalFor(metric string) (Goal, bool) {
	ws := splitName(metric)
	neg := len(ws) > 1 && ws[0] == "neg"
	for i := len(ws) - 1; i >= 0; i-- {
		var g Goal
		switch {
		case minimizeWords[ws[i]]:
			g = Minimize
		case maximizeWords[ws[i]]:
			g = Maximize
		default:
			continue
		}
		if neg {
			g = Minimize + Maximize - g
		}
		return g, true
	}
	return Maximize, false
}

// splitName cuts a metric name into lower-case words.
func splitName(s string) []string {
	var out []string
	r := []rune(s)
	start := 0
	flush := func(end int) {
		if end > start {
			out = append(out, strings.ToLower(string(r[start:end])))
		}
	}
	for i := 0; i < len(r); i++ {
		c := r[i]
		if !unicode.IsLetter(c) && !unicode.IsDigit(c) {
			flush(i)
			start = i + 1
			continue
		}
		if i > start && unicode.IsUpper(c) {
			prev := r[i-1]
			nextLower := i+1 < len(r) && unicode.IsLower(r[i+1])
			// "topAcc" -> top Acc; "RMSErr" -> RMS Err
			if unicode.IsLower(prev) || unicode.IsDigit(prev) || (unicode.IsUpper(prev) && nextLower) {
				flush(i)
				start = i
			}
		}
	}
	flush(len(r))
	return out
}

// resolve returns the goal to use for metric, and whether the name
// decided it without knowing (an assumed Maximize).
func (g Goal) resolve(metric string) (Goal, bool) {
	if g == Minimize || g == Maximize {
		return g, false
	}
	g, known := goalFor(metric)
	return g, !known
}

// runRow is what Compare and Plot know of one run.
type runRow struct {
	run     *Run
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
		row := runRow{run: r, id: r.ID}
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
// short ID, its state and each metric any of the runs logged, metric first.
// A metric with one value shows it; a series (a value per step, or a list
// logged with log_list) shows its last value and a summary: how many
// values, their mean, smallest and largest. Each column has one precision:
// five significant digits of its largest value.
//
// The row with the best last value of metric is highlighted (and starred
// in the text version): the smallest for Minimize, the largest for
// Maximize; ByName lets GoalFor pick from the name. The metric's column
// header carries the goal (↓ lower is better, ↑ higher is better) and the
// note under the table says it. Leave the result as a cell's last
// expression to show it:
//
//	runs, _ := ws.Experiment("mnist").Runs(ctx)
//	sdk.Compare(ctx, runs, "val_loss", sdk.Minimize)
func Compare(ctx context.Context, runs []*Run, metric string, goal Goal) display.Bundle {
	rows := loadRows(ctx, runs)
	goal, assumed := goal.resolve(metric)
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
	best := bestRow(rows, metric, goal)
	formats := make(map[string]numberFormat, len(cols))
	for _, c := range cols {
		formats[c] = columnFormat(rows, c)
	}

	header := []string{"", "run", "state"}
	for _, c := range cols {
		if c == metric {
			c += " " + goal.arrow()
		}
		header = append(header, c)
	}
	table := [][]string{header}
	var h strings.Builder
	h.WriteString(`<table class="gantry-compare" style="border-collapse:collapse">`)
	h.WriteString("<thead><tr>")
	for i, c := range header[1:] {
		style := "padding:2px 8px;border-bottom:1px solid #999;text-align:left"
		title := ""
		if i >= 2 && cols[i-2] == metric {
			style += ";text-decoration:underline"
			title = fmt.Sprintf(` title="%s"`, html.EscapeString(goal.String()))
		}
		fmt.Fprintf(&h, `<th style="%s"%s>%s</th>`, style, title, html.EscapeString(c))
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
			value, summary := formats[c].cell(r.metrics.Series[c], r.metrics.Scalars[c])
			text := value
			if summary != "" {
				text += " (" + summary + ")"
			}
			line = append(line, text)
			fmt.Fprintf(&h, `<td style="padding:2px 8px;text-align:right">%s`, html.EscapeString(value))
			if summary != "" {
				fmt.Fprintf(&h, `<div style="font-size:smaller;font-weight:normal;color:#666">%s</div>`, html.EscapeString(summary))
			}
			h.WriteString("</td>")
		}
		h.WriteString("</tr>")
		table = append(table, line)
	}
	h.WriteString("</tbody></table>")
	note := compareNote(rows, metric, goal, assumed, best, formats[metric])
	fmt.Fprintf(&h, `<div style="font-size:smaller;color:#666">%s</div>`, html.EscapeString(note))
	return display.Bundle{Data: map[string]any{
		display.MIMEHTML:  h.String(),
		display.MIMEPlain: textTable(table) + note,
	}}
}

// Best returns the run among runs with the best last value of metric,
// the one Compare highlights: the smallest for Minimize, the largest for
// Maximize, by the name for ByName (see GoalFor). NaN and infinite values
// do not count. It fails when a run's metrics cannot be read, or when no
// run logged a finite value of metric.
//
//	best, err := sdk.Best(ctx, runs, "mse", sdk.Minimize)
//	model, err := best.RegisterModel(ctx, "diabetes-ridge", "model.pkl", nil)
func Best(ctx context.Context, runs []*Run, metric string, goal Goal) (*Run, error) {
	rows := loadRows(ctx, runs)
	for _, r := range rows {
		if r.err != nil {
			return nil, fmt.Errorf("best run by %s: %w", metric, r.err)
		}
	}
	goal, _ = goal.resolve(metric)
	i := bestRow(rows, metric, goal)
	if i < 0 {
		return nil, fmt.Errorf("best run by %s: none of the %d runs logged a finite value of %q", metric, len(rows), metric)
	}
	return rows[i].run, nil
}

// compareNote says which row is best, and why.
func compareNote(rows []runRow, metric string, goal Goal, assumed bool, best int, f numberFormat) string {
	switch {
	case len(rows) == 0:
		return "no runs to compare"
	case metric == "":
		return fmt.Sprintf("%d runs", len(rows))
	case best < 0:
		return fmt.Sprintf("%d runs; none logged %q", len(rows), metric)
	}
	why := goal.String()
	if assumed {
		other := Minimize
		if goal == Minimize {
			other = Maximize
		}
		why += fmt.Sprintf(", assumed: the name %q does not say; pass sdk.%s if %s", metric, goalName(other), other)
	}
	return fmt.Sprintf("%d runs; best %s = %s (last value; %s): run %s", len(rows), metric,
		f.format(rows[best].metrics.Scalars[metric]), why, shortID(rows[best].id))
}

func goalName(g Goal) string {
	if g == Minimize {
		return "Minimize"
	}
	return "Maximize"
}

// bestRow returns the index of the row with the best finite last value of
// metric, or -1 if none has one.
func bestRow(rows []runRow, metric string, goal Goal) int {
	best := -1
	for i, r := range rows {
		if r.err != nil {
			continue
		}
		v, ok := r.metrics.Scalars[metric]
		if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		if best < 0 {
			best = i
			continue
		}
		b := rows[best].metrics.Scalars[metric]
		if (goal == Minimize && v < b) || (goal != Minimize && v > b) {
			best = i
		}
	}
	return best
}

// significant is how many significant digits a column shows of its
// largest value.
const significant = 5

// A numberFormat writes the numbers of one column alike: a fixed number of
// decimals, or exponent notation when the values are very large or small.
type numberFormat struct {
	decimals int
	exp      bool
}

// columnFormat picks the format of the metric's column from every value
// it shows: significant digits of the largest, and at least two of the
// smallest non-zero one, up to 6 decimals; exponent notation beyond that.
func columnFormat(rows []runRow, metric string) numberFormat {
	maxAbs, minAbs := 0.0, math.Inf(1)
	for _, r := range rows {
		for _, m := range r.metrics.Series[metric] {
			a := math.Abs(m.Value)
			if math.IsNaN(a) || math.IsInf(a, 0) {
				continue
			}
			maxAbs = math.Max(maxAbs, a)
			if a > 0 {
				minAbs = math.Min(minAbs, a)
			}
		}
	}
	if maxAbs == 0 {
		return numberFormat{}
	}
	digits := func(a float64) int { return int(math.Floor(math.Log10(a))) + 1 } // before the point
	if digits(maxAbs) > 9 || digits(maxAbs) < -3 {
		return numberFormat{decimals: significant - 1, exp: true}
	}
	d := max(significant-digits(maxAbs), 2-digits(minAbs), 0)
	if d > 6 {
		return numberFormat{decimals: significant - 1, exp: true}
	}
	return numberFormat{decimals: d}
}

func (f numberFormat) format(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case f.exp:
		return strconv.FormatFloat(v, 'e', f.decimals, 64)
	}
	return strconv.FormatFloat(v, 'f', f.decimals, 64)
}

// cell returns what a table shows of one run's metric: its last value,
// and for a series a summary of all its values.
func (f numberFormat) cell(series []workspace.Metric, last float64) (value, summary string) {
	if len(series) == 0 {
		return "", ""
	}
	value = f.format(last)
	if len(series) == 1 {
		return value, ""
	}
	sum, n := 0.0, 0
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, m := range series {
		if math.IsNaN(m.Value) {
			continue
		}
		sum += m.Value
		n++
		lo, hi = math.Min(lo, m.Value), math.Max(hi, m.Value)
	}
	if n == 0 {
		return value, fmt.Sprintf("%d values, all NaN", len(series))
	}
	return value, fmt.Sprintf("%d values: mean %s, min %s, max %s", len(series), f.format(sum/float64(n)), f.format(lo), f.format(hi))
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
