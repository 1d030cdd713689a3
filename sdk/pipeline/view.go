package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gantry/sdk"
	"gantry/sdk/agent"
	"gantry/sdk/workspace"
)

// plan reads the pipeline as submitted from the run's directory.
func (r *Run) plan() (*plan, error) {
	dir, err := r.Dir()
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(dir, PlanFile))
	if err != nil {
		return nil, fmt.Errorf("pipeline run %s: %w", r.ID, err)
	}
	var p plan
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("pipeline run %s: its %s is unreadable: %w", r.ID, PlanFile, err)
	}
	return &p, nil
}

// NotRun is the state shown for a step that never ran: a step it depends
// on failed, or the pipeline was canceled first. Waiting is that of a step
// that has not started yet.
const (
	NotRun  = "NotRun"
	Waiting = "Waiting"
)

// StepStatus is where one step of a pipeline run stands.
type StepStatus struct {
	Name   string
	Kind   StepKind
	Target string
	State  string   // a run's state, or NotRun or Waiting
	RunID  string   // the step's run; "" while it has none
	Reused string   // the run whose results a reused step took
	Reason string   // the reason of its run's last event
	Deps   []string // the steps it runs after
}

// Steps returns the status of each step, in the pipeline's order.
func (r *Run) Steps(ctx context.Context) ([]StepStatus, error) {
	pl, err := r.plan()
	if err != nil {
		return nil, err
	}
	d, err := r.Details(ctx)
	if err != nil {
		return nil, err
	}
	kids, err := r.ws.Store().Runs(ctx, workspace.Filter{ParentID: r.ID})
	if err != nil {
		return nil, err
	}
	byStep := map[string]workspace.Run{}
	for _, k := range kids { // newest first: keep the newest
		name := k.Properties[PropStep]
		if _, ok := byStep[name]; !ok {
			byStep[name] = k
		}
	}
	out := make([]StepStatus, 0, len(pl.Steps))
	for _, s := range pl.Steps {
		kind := s.Kind
		if kind == "" {
			kind = ScriptStep
		}
		st := StepStatus{Name: s.Name, Kind: kind, Target: s.Target, Deps: pl.Deps[s.Name], State: Waiting}
		if k, ok := byStep[s.Name]; ok {
			st.RunID, st.State, st.Reused = k.ID, string(k.State), k.Properties[PropReusedFrom]
			if evs, err := r.ws.Store().Events(ctx, k.ID); err == nil && len(evs) > 0 {
				st.Reason = evs[len(evs)-1].Reason
			}
		} else if d.State.Final() {
			st.State = NotRun
		}
		out = append(out, st)
	}
	// A step whose ancestor failed shows as not run already while the
	// pipeline goes on.
	bad := map[string]bool{}
	for i, s := range out {
		if s.State == string(workspace.StateFailed) || s.State == string(workspace.StateCanceled) || s.State == NotRun {
			bad[s.Name] = true
			continue
		}
		if s.State == Waiting {
			for _, dep := range s.Deps {
				if bad[dep] {
					out[i].State = NotRun
					bad[s.Name] = true
				}
			}
		}
	}
	return out, nil
}

// WaitOptions tune Run.WaitForCompletion.
type WaitOptions struct {
	Output       io.Writer // each step's output, line by line, labelled [STEP]; nil for none
	RaiseOnError bool      // return an error when the pipeline did not complete
	Poll         time.Duration
	// Drop holds strings whose lines are not shown: " INFO " and " WARN "
	// keep Spark's log out of the way.
	Drop []string
}

// WaitForCompletion waits until the pipeline run ends, writing each
// step's output to o.Output as it arrives, every line labelled with its
// step, and a line when a step starts, is reused or ends.
func (r *Run) WaitForCompletion(ctx context.Context, o WaitOptions) (workspace.State, error) {
	if o.Poll <= 0 {
		o.Poll = 100 * time.Millisecond
	}
	logs := map[string]*stepLog{}
	told := map[string]string{}
	for {
		st, err := r.Status(ctx)
		if err != nil && ctx.Err() != nil {
			return st, err
		}
		steps, serr := r.Steps(ctx)
		if serr == nil && o.Output != nil {
			for _, s := range steps {
				if s.RunID != "" {
					l := logs[s.RunID]
					if l == nil {
						l = &stepLog{label: s.Name, drop: o.Drop}
						logs[s.RunID] = l
					}
					l.copy(r.ws, s.RunID, o.Output, st.Final() || workspace.State(s.State).Final())
				}
				if told[s.Name] != s.State && s.State != Waiting {
					told[s.Name] = s.State
					fmt.Fprintf(o.Output, "[pipeline] step %s: %s\n", s.Name, describe(s))
				}
			}
		}
		if st.Final() {
			if o.Output != nil {
				d, _ := r.Details(ctx)
				fmt.Fprintf(o.Output, "[pipeline] %s %s: %s\n", shortID(r.ID), st, lastEvent(ctx, r.ws, d.ID))
			}
			if o.RaiseOnError && st != workspace.StateCompleted {
				return st, fmt.Errorf("pipeline run %s %s: %w: %s", r.ID, st, sdk.ErrRunFailed, lastEvent(ctx, r.ws, r.ID))
			}
			return st, nil
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(o.Poll):
		}
	}
}

func describe(s StepStatus) string {
	switch {
	case s.Reused != "":
		return "reused run " + shortID(s.Reused)
	case s.State == NotRun:
		return "not run"
	case workspace.State(s.State).Final() && s.State != string(workspace.StateCompleted):
		return s.State + ": " + s.Reason
	}
	return s.State + " (run " + shortID(s.RunID) + ")"
}

func lastEvent(ctx context.Context, ws *sdk.Workspace, id string) string {
	evs, err := ws.Store().Events(ctx, id)
	if err != nil || len(evs) == 0 {
		return ""
	}
	return evs[len(evs)-1].Reason
}

func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// stepLog copies one step's output log, whole lines labelled.
type stepLog struct {
	label  string
	drop   []string
	offset int64
	part   []byte
}

func (l *stepLog) copy(ws *sdk.Workspace, runID string, w io.Writer, last bool) {
	dir, err := ws.Store().RunDir(runID)
	if err != nil {
		return
	}
	f, err := os.Open(filepath.Join(dir, agent.OutputLog))
	if err != nil {
		return
	}
	defer f.Close()
	if _, err := f.Seek(l.offset, io.SeekStart); err != nil {
		return
	}
	var buf bytes.Buffer
	n, _ := io.Copy(&buf, f)
	l.offset += n
	data := append(l.part, buf.Bytes()...)
	end := bytes.LastIndexByte(data, '\n')
	complete := data[:end+1]
	l.part = append([]byte(nil), data[end+1:]...)
	for _, line := range strings.SplitAfter(string(complete), "\n") {
		if line != "" && !dropped(line, l.drop) {
			fmt.Fprintf(w, "[%s] %s", l.label, line)
		}
	}
	if last && len(l.part) > 0 {
		fmt.Fprintf(w, "[%s] %s\n", l.label, l.part)
		l.part = nil
	}
}

func dropped(line string, drop []string) bool {
	for _, d := range drop {
		if strings.Contains(line, d) {
			return true
		}
	}
	return false
}

// Graph is a picture of a pipeline run's steps, coloured by state: a
// notebook shows it as SVG (a cell's last expression pr.Graph(ctx)).
type Graph struct {
	Steps []StepStatus
	Err   error
}

// Graph returns the run's graph as it stands.
func (r *Run) Graph(ctx context.Context) Graph {
	s, err := r.Steps(ctx)
	return Graph{Steps: s, Err: err}
}

var stateColour = map[string]string{
	string(workspace.StateCompleted): "#c8e6c9", string(workspace.StateFailed): "#ffcdd2",
	string(workspace.StateCanceled): "#e0e0e0", string(workspace.StateRunning): "#bbdefb",
	NotRun: "#f5f5f5", Waiting: "#ffffff",
}

// SVG draws the graph: one box per step in columns by depth, arrows from
// the steps each depends on; reused steps dashed and marked.
func (g Graph) SVG() string {
	if g.Err != nil {
		return fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" width="600" height="30"><text x="4" y="20" font-family="sans-serif" font-size="13">%s</text></svg>`, html.EscapeString(g.Err.Error()))
	}
	depth := map[string]int{}
	cols := map[int][]int{}
	maxCol, maxRow := 0, 0
	for i, s := range g.Steps { // the plan's order puts dependencies first
		d := 0
		for _, dep := range s.Deps {
			d = max(d, depth[dep]+1)
		}
		depth[s.Name] = d
		cols[d] = append(cols[d], i)
		maxCol = max(maxCol, d)
		maxRow = max(maxRow, len(cols[d])-1)
	}
	const bw, bh, gx, gy, pad = 170, 54, 60, 22, 10
	pos := map[string][2]int{}
	for c, idx := range cols {
		for r, i := range idx {
			pos[g.Steps[i].Name] = [2]int{pad + c*(bw+gx), pad + r*(bh+gy)}
		}
	}
	w, h := pad*2+(maxCol+1)*bw+maxCol*gx, pad*2+(maxRow+1)*bh+maxRow*gy
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`, w, h)
	b.WriteString(`<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>`)
	for _, s := range g.Steps {
		to := pos[s.Name]
		for _, dep := range s.Deps {
			from := pos[dep]
			fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#555" marker-end="url(#arrow)"/>`,
				from[0]+bw, from[1]+bh/2, to[0], to[1]+bh/2)
		}
	}
	for _, s := range g.Steps {
		p := pos[s.Name]
		fill := stateColour[s.State]
		if fill == "" {
			fill = "#fff9c4" // queued, preparing, starting...
		}
		dash, label := "", s.State
		if s.Reused != "" {
			dash, label = ` stroke-dasharray="5,3"`, "reused "+shortID(s.Reused)
		}
		fmt.Fprintf(&b, `<g class="step" data-step="%s" data-state="%s"><title>%s</title>`,
			html.EscapeString(s.Name), html.EscapeString(s.State), html.EscapeString(s.Name+" ("+string(s.Kind)+" on "+s.Target+"): "+s.State+" "+s.Reason))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" rx="8" fill="%s" stroke="#333"%s/>`, p[0], p[1], bw, bh, fill, dash)
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-weight="bold">%s</text>`, p[0]+8, p[1]+18, html.EscapeString(s.Name))
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#444">%s · %s</text>`, p[0]+8, p[1]+33, html.EscapeString(string(s.Kind)), html.EscapeString(s.Target))
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text></g>`, p[0]+8, p[1]+47, html.EscapeString(label))
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// String lists the steps, one a line.
func (g Graph) String() string {
	if g.Err != nil {
		return g.Err.Error()
	}
	var b strings.Builder
	for _, s := range g.Steps {
		fmt.Fprintf(&b, "%-16s %-10s %s\n", s.Name, s.State, describe(s))
	}
	return b.String()
}

// ErrNotPipeline is returned for a run that is not a pipeline run.
var ErrNotPipeline = errors.New("not a pipeline run")
