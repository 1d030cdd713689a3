package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"gantry/sdk/agent"
	"gantry/sdk/workspace"
)

// runJSON is a run as the API shows it. Elapsed counts the environment's
// preparation, of which Preparing says how much (see workspace.Run.Elapsed).
type runJSON struct {
	ID          string            `json:"id"`
	Experiment  string            `json:"experiment"`
	Parent      string            `json:"parent,omitempty"`
	Target      string            `json:"target"`
	State       string            `json:"state"`
	Final       bool              `json:"final"`
	ExitCode    *int              `json:"exit_code"`
	Created     millis            `json:"created"`
	Prepared    millis            `json:"prepared"`
	Started     millis            `json:"started"`
	Ended       millis            `json:"ended"`
	ElapsedMS   int64             `json:"elapsed_ms"`
	PreparingMS int64             `json:"preparing_ms"`
	Metrics     map[string]num    `json:"metrics"` // the last value of each
	Tags        map[string]string `json:"tags"`
}

func toRunJSON(r workspace.Run, last map[string]float64, now time.Time) runJSON {
	total, prep := r.Elapsed(now)
	j := runJSON{ID: r.ID, Experiment: r.Experiment, Parent: r.ParentID, Target: r.Target, State: string(r.State),
		Final: r.State.Final(), ExitCode: r.ExitCode, Created: millis(r.Created), Prepared: millis(r.Prepared),
		Started: millis(r.Started), Ended: millis(r.Ended), ElapsedMS: total.Milliseconds(), PreparingMS: prep.Milliseconds(),
		Metrics: map[string]num{}, Tags: r.Tags}
	for k, v := range last {
		j.Metrics[k] = num(v)
	}
	if j.Tags == nil {
		j.Tags = map[string]string{}
	}
	return j
}

// defaultPage and maxPage bound how many runs a page of the list holds.
const (
	defaultPage = 50
	maxPage     = 500
)

func (s *Server) listRuns(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, err := intParam(r, "limit", defaultPage, 1, maxPage)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	f := workspace.Filter{Experiment: q.Get("experiment"), Target: q.Get("target"),
		State: workspace.State(q.Get("state")), Before: q.Get("before"), Limit: int(limit) + 1}
	if f.State != "" && !knownState(f.State) {
		writeError(w, http.StatusBadRequest, fmt.Errorf("state %q is not a run state: give one of %s", f.State, strings.Join(stateNames(), ", ")))
		return
	}
	ctx := r.Context()
	rs, err := s.WS.Store().Runs(ctx, f)
	if err != nil {
		fail(w, err)
		return
	}
	next := ""
	if len(rs) > int(limit) {
		rs = rs[:limit]
		next = rs[len(rs)-1].ID
	}
	ids := make([]string, len(rs))
	for i, x := range rs {
		ids[i] = x.ID
	}
	last, err := s.WS.Store().LastMetrics(ctx, ids)
	if err != nil {
		fail(w, err)
		return
	}
	now := time.Now()
	out := make([]runJSON, len(rs))
	for i, x := range rs {
		out[i] = toRunJSON(x, last[x.ID], now)
	}
	writeJSON(w, http.StatusOK, map[string]any{"runs": out, "next": next})
}

// allStates are the run states, in the order of a run's life.
var allStates = []workspace.State{workspace.StateNotStarted, workspace.StateQueued, workspace.StatePreparing,
	workspace.StateStarting, workspace.StateRunning, workspace.StateFinalizing, workspace.StateCompleted,
	workspace.StateFailed, workspace.StateCanceled, workspace.StateCancelRequested, workspace.StateNotResponding}

func knownState(st workspace.State) bool {
	for _, s := range allStates {
		if s == st {
			return true
		}
	}
	return false
}

func stateNames() []string {
	out := make([]string, len(allStates))
	for i, s := range allStates {
		out[i] = string(s)
	}
	return out
}

// eventJSON is one change of a run's state.
type eventJSON struct {
	Time   millis `json:"time"`
	From   string `json:"from"`
	To     string `json:"to"`
	Reason string `json:"reason"`
}

func (s *Server) getRun(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.PathValue("id")
	d, err := s.WS.Store().Run(ctx, id)
	if err != nil {
		fail(w, err)
		return
	}
	evs, err := s.WS.Store().Events(ctx, d.ID)
	if err != nil {
		fail(w, err)
		return
	}
	last, err := s.WS.Store().LastMetrics(ctx, []string{d.ID})
	if err != nil {
		fail(w, err)
		return
	}
	run, err := s.WS.Run(ctx, d.ID)
	if err != nil {
		fail(w, err)
		return
	}
	files, err := run.Files(ctx)
	if err != nil {
		fail(w, err)
		return
	}
	events := make([]eventJSON, len(evs))
	for i, e := range evs {
		events[i] = eventJSON{Time: millis(e.Time), From: string(e.From), To: string(e.To), Reason: e.Reason}
	}
	if files == nil {
		files = []string{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"run": toRunJSON(d, last[d.ID], time.Now()), "events": events, "files": files})
}

// maxLogChunk bounds the log bytes one response or event carries.
const maxLogChunk = 1 << 20

// logFile returns the path of the run's log named by the query parameter
// file: "output" (the default) or "environment".
func (s *Server) logFile(r *http.Request, id string) (string, error) {
	dir, err := s.WS.Store().RunDir(id)
	if err != nil {
		return "", err
	}
	switch r.URL.Query().Get("file") {
	case "", "output":
		return filepath.Join(dir, agent.OutputLog), nil
	case "environment":
		return filepath.Join(dir, agent.PrepareLog), nil
	}
	return "", fmt.Errorf("log file %q is unknown: give file=output or file=environment", r.URL.Query().Get("file"))
}

// logs answers with the run's log (file=output or environment) from the
// byte offset given (offset=N),
// or its last bytes (tail=N, from the start of a line), at most 1 MiB.
// The headers Gantry-Log-Offset and Gantry-Log-Next say where the bytes
// begin and where to continue.
func (s *Server) logs(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	d, err := s.WS.Store().Run(ctx, r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	offset, err := intParam(r, "offset", 0, 0, 1<<62)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	tail, err := intParam(r, "tail", -1, 0, maxLogChunk)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	p, err := s.logFile(r, d.ID)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	data, start, size, err := readLog(p, offset, tail)
	if err != nil {
		fail(w, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Gantry-Log-Offset", fmt.Sprint(start))
	h.Set("Gantry-Log-Next", fmt.Sprint(start+int64(len(data))))
	h.Set("Gantry-Log-Size", fmt.Sprint(size))
	w.WriteHeader(http.StatusOK)
	w.Write(data)
}

// readLog reads the file at p from offset, or its last tail bytes from the
// start of a line when tail >= 0, at most maxLogChunk bytes. A missing
// file is empty. It returns the bytes, the offset they start at and the
// file's size.
func readLog(p string, offset, tail int64) ([]byte, int64, int64, error) {
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, 0, nil
	}
	if err != nil {
		return nil, 0, 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, 0, err
	}
	size := fi.Size()
	start := offset
	if tail >= 0 {
		start = max(size-tail, 0)
	}
	if start >= size {
		return nil, min(start, size), size, nil
	}
	buf := make([]byte, min(size-start, maxLogChunk))
	n, err := f.ReadAt(buf, start)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, 0, 0, err
	}
	buf = buf[:n]
	if tail >= 0 && start > 0 {
		if i := strings.IndexByte(string(buf), '\n'); i >= 0 {
			buf, start = buf[i+1:], start+int64(i+1)
		}
	}
	return buf, start, size, nil
}

// seriesJSON is one metric's values in columns, as charts take them.
type seriesJSON struct {
	Steps  []int64 `json:"steps"`
	Values []num   `json:"values"`
	Times  []int64 `json:"times"` // Unix milliseconds
}

// metrics answers with the run's metric series, each thinned to at most
// max_points values (default 2000; the last is always kept), and the seq
// of the last value, from which an event stream continues.
func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	maxPoints, err := intParam(r, "max_points", 2000, 2, 1_000_000)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	ps, err := s.WS.Store().MetricsAfter(ctx, r.PathValue("id"), 0, 0)
	if err != nil {
		fail(w, err)
		return
	}
	var seq int64
	byName := map[string][]workspace.Point{}
	for _, p := range ps {
		byName[p.Name] = append(byName[p.Name], p)
		seq = max(seq, p.Seq)
	}
	out := map[string]seriesJSON{}
	for name, pts := range byName {
		sort.SliceStable(pts, func(i, j int) bool { return pts[i].Step < pts[j].Step })
		stride := (len(pts) + int(maxPoints) - 1) / int(maxPoints)
		var sj seriesJSON
		for i, p := range pts {
			if i%stride != 0 && i != len(pts)-1 {
				continue
			}
			sj.Steps = append(sj.Steps, p.Step)
			sj.Values = append(sj.Values, num(p.Value))
			sj.Times = append(sj.Times, p.Time.UnixMilli())
		}
		out[name] = sj
	}
	writeJSON(w, http.StatusOK, map[string]any{"series": out, "seq": seq})
}

// download answers with one of the run's files under outputs/ or logs/,
// as Run.Files lists them.
func (s *Server) download(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	d, err := s.WS.Store().Run(ctx, r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	name := path.Clean(r.PathValue("path"))
	if !fs.ValidPath(name) || !(strings.HasPrefix(name, "outputs/") || strings.HasPrefix(name, "logs/")) {
		writeError(w, http.StatusBadRequest, fmt.Errorf("%q is not one of the run's files: give a path under outputs/ or logs/, as the run's files list shows", r.PathValue("path")))
		return
	}
	dir, err := s.WS.Store().RunDir(d.ID)
	if err != nil {
		fail(w, err)
		return
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		fail(w, err)
		return
	}
	defer root.Close()
	f, err := root.Open(filepath.FromSlash(name))
	if err != nil {
		writeError(w, http.StatusNotFound, fmt.Errorf("run %s has no file %s", d.ID, name))
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		writeError(w, http.StatusNotFound, fmt.Errorf("run %s has no file %s", d.ID, name))
		return
	}
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", path.Base(name)))
	w.Header().Set("Content-Type", "application/octet-stream")
	http.ServeContent(w, r, "", fi.ModTime(), f)
}

func (s *Server) cancel(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	run, err := s.WS.Run(ctx, r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	if err := run.Cancel(ctx); err != nil {
		if errors.Is(err, workspace.ErrIllegalTransition) {
			st, _ := run.Status(ctx)
			err = fmt.Errorf("run %s is %s: there is nothing to cancel: %w", run.ID, st, err)
		}
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"canceled": run.ID})
}

func (s *Server) resubmit(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	run, err := s.WS.Run(ctx, r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	nr, err := run.Resubmit(ctx)
	if err != nil {
		fail(w, err)
		return
	}
	d, err := nr.Details(ctx)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"run": toRunJSON(d, nil, time.Now())})
}

func (s *Server) experiments(w http.ResponseWriter, r *http.Request) {
	es, err := s.WS.Store().Experiments(r.Context())
	if err != nil {
		fail(w, err)
		return
	}
	names := make([]string, len(es))
	for i, e := range es {
		names[i] = e.Name
	}
	writeJSON(w, http.StatusOK, map[string]any{"experiments": names})
}

type modelJSON struct {
	Name    string            `json:"name"`
	Version int               `json:"version"`
	RunID   string            `json:"run_id"`
	Path    string            `json:"path"`
	Tags    map[string]string `json:"tags"`
	Created millis            `json:"created"`
}

func (s *Server) models(w http.ResponseWriter, r *http.Request) {
	ms, err := s.WS.Models(r.Context(), r.URL.Query().Get("name"))
	if err != nil {
		fail(w, err)
		return
	}
	out := make([]modelJSON, len(ms))
	for i, m := range ms {
		out[i] = modelJSON{Name: m.Name, Version: m.Version, RunID: m.RunID, Path: m.Path, Tags: m.Tags, Created: millis(m.Created)}
		if out[i].Tags == nil {
			out[i].Tags = map[string]string{}
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"models": out})
}

// checkActive looks at each unfinished run through the SDK (see watchRuns).
func (s *Server) checkActive(ctx context.Context) {
	for _, st := range allStates {
		if st.Final() || st == workspace.StateNotStarted {
			continue
		}
		rs, err := s.WS.Store().Runs(ctx, workspace.Filter{State: st, Limit: 500})
		if err != nil {
			return
		}
		for _, d := range rs {
			run, err := s.WS.Run(ctx, d.ID)
			if err != nil {
				continue
			}
			if _, err := run.Status(ctx); err != nil && ctx.Err() == nil {
				s.logf("run %s: %v", d.ID, err)
			}
		}
	}
}
