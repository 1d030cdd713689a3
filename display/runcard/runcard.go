// Package runcard is the live run card: a Jupyter widget that shows a
// run's state, its elapsed time with the environment's preparation, its
// last lines of output and a sparkline of a metric, and that keeps
// updating after the cell that showed it has finished.
//
// The card speaks the Jupyter widgets protocol with anywidget's front end
// (the Python package anywidget installs it into JupyterLab, Notebook 7
// and VS Code): the kernel opens a comm to target "jupyter.widget" with
// anywidget's model, whose state carries the card's ES module (card.js)
// and stylesheet, and sends the state that changed as the run goes on.
// A goroutine of the executor follows the run in the workspace until it
// ends. The display also carries text, which front ends without a widget
// manager show instead.
package runcard

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"html"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"gantry/kernel/frame"
	"gantry/sdk"
	"gantry/sdk/agent"
	"gantry/sdk/workspace"
)

// The card's front-end code, as anywidget's _esm and _css.
var (
	//go:embed card.js
	cardJS string
	//go:embed card.css
	cardCSS string
)

// Widget protocol and anywidget model, as anywidget 0.11 opens them.
const (
	protocolVersion = "2.1.0"
	anywidgetSemver = "~0.11.*"
	widgetMIME      = "application/vnd.jupyter.widget-view+json"
)

// A Comm is an open comm to the front end.
type Comm interface {
	ID() string
	Send(data map[string]any)
	OnMsg(f func(data map[string]any))
}

// A Frontend is where a card is shown: the kernel session.
type Frontend interface {
	Display(b *frame.Bundle)
	OpenComm(target string, data, metadata map[string]any) Comm
}

// How often a card looks at its run, and how often once the run has not
// changed for idleAfter.
const (
	pollEvery = 100 * time.Millisecond
	pollIdle  = time.Second
	idleAfter = 10 * time.Minute
	lastLines = 8   // lines of output the card shows
	sparkLen  = 120 // metric values the sparkline shows
)

// A Card is one card on the notebook, following one run.
type Card struct {
	comm Comm
	ws   *sdk.Workspace
	id   string

	mu    sync.Mutex
	state map[string]any // what the front end has been sent
	log   tail
	seq   int64 // the last metric point read
	done  chan struct{}
}

// Show displays a card for the run with the given ID and follows the run
// in the background until it ends (or ctx is done, or the workspace is
// closed). It returns at once.
func Show(ctx context.Context, f Frontend, ws *sdk.Workspace, runID string) *Card {
	c := &Card{ws: ws, id: runID, state: map[string]any{}, done: make(chan struct{})}
	st := c.read(ctx)
	st["_esm"] = cardJS
	st["_css"] = cardCSS
	st["_anywidget_id"] = "gantry.runcard"
	for k, v := range map[string]any{
		"_model_module": "anywidget", "_model_name": "AnyModel", "_model_module_version": anywidgetSemver,
		"_view_module": "anywidget", "_view_name": "AnyView", "_view_module_version": anywidgetSemver,
		"_view_count": nil, "_dom_classes": []any{}, "layout": nil, "tabbable": nil, "tooltip": nil,
	} {
		st[k] = v
	}
	for k, v := range st {
		c.state[k] = v
	}
	c.comm = f.OpenComm("jupyter.widget", map[string]any{"state": st, "buffer_paths": []any{}},
		map[string]any{"version": protocolVersion})
	c.comm.OnMsg(c.fromFrontend)
	short := runID
	if len(short) > 8 {
		short = short[:8]
	}
	text := fmt.Sprintf("Run %s (experiment %v, target %v): %%run show %s describes it.", short, st["experiment"], st["target"], short)
	f.Display(&frame.Bundle{Data: map[string]any{
		widgetMIME:   map[string]any{"version_major": 2, "version_minor": 1, "model_id": c.comm.ID()},
		"text/plain": text,
		"text/html":  `<div class="gantry-run-card-text">` + html.EscapeString(text) + `</div>`,
	}})
	go c.follow(ctx)
	return c
}

// StoppedWaiting tells the card that the cell stopped waiting for the run,
// which goes on: the card says so, and keeps following it.
func (c *Card) StoppedWaiting() { c.send(map[string]any{"note": "Stopped waiting: the run goes on."}) }

// Done is closed when the card has shown the run's final state (or given
// up following it).
func (c *Card) Done() <-chan struct{} { return c.done }

// fromFrontend answers a front end that asks for the whole state (a page
// reloaded while the kernel lives).
func (c *Card) fromFrontend(data map[string]any) {
	if data["method"] == "request_state" {
		c.mu.Lock()
		st := make(map[string]any, len(c.state))
		for k, v := range c.state {
			st[k] = v
		}
		c.mu.Unlock()
		c.comm.Send(map[string]any{"method": "update", "state": st, "buffer_paths": []any{}})
	}
}

// send sends the fields of st that differ from what was sent, and reports
// whether there were any.
func (c *Card) send(st map[string]any) bool {
	c.mu.Lock()
	diff := map[string]any{}
	for k, v := range st {
		if old, ok := c.state[k]; !ok || fmt.Sprint(old) != fmt.Sprint(v) {
			diff[k] = v
			c.state[k] = v
		}
	}
	c.mu.Unlock()
	if len(diff) > 0 && c.comm != nil {
		c.comm.Send(map[string]any{"method": "update", "state": diff, "buffer_paths": []any{}})
	}
	return len(diff) > 0
}

// follow polls the run and sends what changed, until it ends.
func (c *Card) follow(ctx context.Context) {
	defer close(c.done)
	last := time.Now()
	fails := 0
	for {
		st := c.read(ctx)
		if st == nil {
			if fails++; fails >= 20 || ctx.Err() != nil {
				return // the workspace is gone
			}
		} else {
			fails = 0
			if c.send(st) || st["final"] == true {
				last = time.Now()
			}
			if st["final"] == true {
				return
			}
		}
		every := pollEvery
		if time.Since(last) > idleAfter {
			every = pollIdle
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

// read returns the card's state from the workspace now, or nil if the
// run cannot be read.
func (c *Card) read(ctx context.Context) map[string]any {
	store := c.ws.Store()
	d, err := store.Run(ctx, c.id)
	if err != nil {
		return nil
	}
	total, prep := d.Elapsed(time.Now())
	st := map[string]any{
		"run_id": d.ID, "experiment": d.Experiment, "target": d.Target, "state": string(d.State),
		"final": d.State.Final(), "begun": !d.Prepared.IsZero() || !d.Started.IsZero(), "started": !d.Started.IsZero(),
		"elapsed_ms": total.Milliseconds(), "preparing_ms": prep.Milliseconds(), "exit_code": d.ExitCode,
	}
	if d.State.Final() && d.State != workspace.StateCompleted {
		if evs, err := store.Events(ctx, d.ID); err == nil && len(evs) > 0 {
			st["reason"] = evs[len(evs)-1].Reason
		}
	}
	if dir, err := store.RunDir(d.ID); err == nil {
		st["lines"] = c.log.read(filepath.Join(dir, agent.OutputLog))
	}
	c.readMetrics(ctx, store, st)
	return st
}

// readMetrics adds the metric the sparkline shows (the first one the run
// logged), its recent values and the last value of each metric.
func (c *Card) readMetrics(ctx context.Context, store *workspace.Workspace, st map[string]any) {
	c.mu.Lock()
	seq := c.seq
	name, _ := c.state["metric"].(string)
	points, _ := c.state["points"].([]any)
	lastVals, _ := c.state["last"].(map[string]any)
	c.mu.Unlock()
	ps, err := store.MetricsAfter(ctx, c.id, seq, 0)
	if err != nil || len(ps) == 0 {
		return
	}
	points = append([]any(nil), points...)
	next := map[string]any{}
	for k, v := range lastVals {
		next[k] = v
	}
	for _, p := range ps {
		if name == "" {
			name = p.Name
		}
		v := any(p.Value)
		if p.Value != p.Value { // NaN: JSON has none
			v = nil
		}
		next[p.Name] = v
		if p.Name == name {
			points = append(points, v)
		}
		seq = p.Seq
	}
	if len(points) > sparkLen {
		points = points[len(points)-sparkLen:]
	}
	c.mu.Lock()
	c.seq = seq
	c.mu.Unlock()
	st["metric"], st["points"], st["last"] = name, points, next
}

// tail keeps the last lines of a growing log file.
type tail struct {
	off   int64
	lines []string
	part  []byte // the last line while it is incomplete
}

// read reads what the file gained and returns its last lines.
func (t *tail) read(path string) []any {
	f, err := os.Open(path)
	if err == nil {
		defer f.Close()
		if fi, err := f.Stat(); err == nil && fi.Size() > t.off {
			start := t.off
			if fi.Size()-start > 64<<10 { // only the end matters
				start = fi.Size() - 64<<10
				t.part = nil
			}
			buf := make([]byte, fi.Size()-start)
			if n, err := f.ReadAt(buf, start); err == nil || errors.Is(err, io.EOF) {
				t.off = start + int64(n)
				t.add(buf[:n])
			}
		}
	}
	out := make([]any, 0, lastLines)
	for _, l := range t.lines {
		out = append(out, l)
	}
	if len(t.part) > 0 {
		out = append(out, string(bytes.ToValidUTF8(t.part, []byte("\uFFFD"))))
	}
	if len(out) > lastLines {
		out = out[len(out)-lastLines:]
	}
	return out
}

func (t *tail) add(b []byte) {
	data := append(t.part, b...)
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		t.lines = append(t.lines, strings.TrimRight(string(bytes.ToValidUTF8(data[:i], []byte("\uFFFD"))), "\r"))
		data = data[i+1:]
	}
	t.part = append([]byte(nil), data...)
	if len(t.lines) > lastLines {
		t.lines = t.lines[len(t.lines)-lastLines:]
	}
}
