package workspace

import (
	"context"
	"database/sql"
	"math"
	"strings"
	"time"
)

// This file holds what views of a workspace (gantry serve, the run card)
// read to follow it as it changes: the feed of state changes, new metric
// values, and the last value of each metric for many runs at once.

// A Change is one state change of a run, as the workspace's change feed
// returns it.
type Change struct {
	Seq   int64  // its place in the feed: greater for every later change
	RunID string // the run that changed
	Event
}

// Changes returns the state changes of all runs recorded after the change
// numbered after (0: from the first), oldest first, at most limit of them
// (all if limit <= 0). A caller that remembers the last Seq it saw reads
// each change once.
func (w *Workspace) Changes(ctx context.Context, after int64, limit int) ([]Change, error) {
	if limit <= 0 {
		limit = -1
	}
	rows, err := w.db.QueryContext(ctx, `SELECT e.seq, r.id, e.time, e.from_state, e.to_state, e.reason
		FROM run_events e JOIN runs r ON r.seq = e.run WHERE e.seq > ? ORDER BY e.seq LIMIT ?`, after, limit)
	if err != nil {
		return nil, w.errorf(err, "read changes")
	}
	defer rows.Close()
	var cs []Change
	for rows.Next() {
		var c Change
		var t int64
		if err := rows.Scan(&c.Seq, &c.RunID, &t, &c.From, &c.To, &c.Reason); err != nil {
			return nil, w.errorf(err, "read changes")
		}
		c.Time = fromNanos(t)
		cs = append(cs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, w.errorf(err, "read changes")
	}
	return cs, nil
}

// LastChange returns the Seq of the latest state change in the workspace,
// 0 if there is none: where a feed that wants only new changes starts.
func (w *Workspace) LastChange(ctx context.Context) (int64, error) {
	var seq int64
	if err := w.db.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM run_events`).Scan(&seq); err != nil {
		return 0, w.errorf(err, "read changes")
	}
	return seq, nil
}

// A Point is a metric value with its place in the workspace's metric log.
type Point struct {
	Seq int64 // greater for every value logged later, in any run
	Metric
}

// MetricsAfter returns the values of the run's metrics logged after the
// point numbered after (0: from the first), in the order they were
// logged, at most limit of them (all if limit <= 0).
func (w *Workspace) MetricsAfter(ctx context.Context, runID string, after int64, limit int) ([]Point, error) {
	ps, err := w.metricsAfter(ctx, runID, after, limit)
	if err != nil {
		return nil, w.errorf(err, "run %s: metrics", runID)
	}
	return ps, nil
}

func (w *Workspace) metricsAfter(ctx context.Context, runID string, after int64, limit int) ([]Point, error) {
	id, err := parseRunID(runID)
	if err != nil {
		return nil, err
	}
	var seq int64
	if err := w.db.QueryRowContext(ctx, `SELECT seq FROM runs WHERE id = ?`, id).Scan(&seq); err == sql.ErrNoRows {
		return nil, ErrNotFound
	} else if err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = -1
	}
	// From the start, the run's index finds its values; later, the values
	// logged since a recent point are few, and found by rowid (the unary +
	// keeps SQLite from scanning the whole run through its index instead).
	q := `SELECT m.rowid, n.name, m.step, m.value, m.time FROM metrics m JOIN metric_names n ON n.seq = m.name
		WHERE m.run = ? AND m.rowid > ? ORDER BY m.rowid LIMIT ?`
	if after > 0 {
		q = strings.Replace(q, "WHERE m.run = ?", "WHERE +m.run = ?", 1)
	}
	rows, err := w.db.QueryContext(ctx, q, seq, after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ps []Point
	for rows.Next() {
		var (
			p     Point
			value sql.NullFloat64
			t     int64
		)
		if err := rows.Scan(&p.Seq, &p.Name, &p.Step, &value, &t); err != nil {
			return nil, err
		}
		p.Value = math.NaN()
		if value.Valid {
			p.Value = value.Float64
		}
		p.Time = fromNanos(t)
		ps = append(ps, p)
	}
	return ps, rows.Err()
}

// LastMetrics returns, for each of the runs with the given IDs that logged
// metrics, the last value of each metric, as Metrics.Scalars defines it.
// Runs that do not exist are left out.
func (w *Workspace) LastMetrics(ctx context.Context, runIDs []string) (map[string]map[string]float64, error) {
	out := map[string]map[string]float64{}
	if len(runIDs) == 0 {
		return out, nil
	}
	args := make([]any, len(runIDs))
	for i, id := range runIDs {
		canon, err := parseRunID(id)
		if err != nil {
			return nil, w.errorf(err, "last metrics")
		}
		args[i] = canon
	}
	marks := strings.TrimSuffix(strings.Repeat("?,", len(args)), ",")
	rows, err := w.db.QueryContext(ctx, `SELECT r.id, n.name,
			(SELECT value FROM metrics m WHERE m.run = x.run AND m.name = x.name
				ORDER BY m.step DESC, m.time DESC, m.rowid DESC LIMIT 1)
		FROM (SELECT DISTINCT run, name FROM metrics WHERE run IN (SELECT seq FROM runs WHERE id IN (`+marks+`))) x
		JOIN runs r ON r.seq = x.run JOIN metric_names n ON n.seq = x.name`, args...)
	if err != nil {
		return nil, w.errorf(err, "last metrics")
	}
	defer rows.Close()
	for rows.Next() {
		var id, name string
		var value sql.NullFloat64
		if err := rows.Scan(&id, &name, &value); err != nil {
			return nil, w.errorf(err, "last metrics")
		}
		v := math.NaN()
		if value.Valid {
			v = value.Float64
		}
		if out[id] == nil {
			out[id] = map[string]float64{}
		}
		out[id][name] = v
	}
	if err := rows.Err(); err != nil {
		return nil, w.errorf(err, "last metrics")
	}
	return out, nil
}

// Elapsed returns how long the run has taken, up to now if it has not
// ended: from the moment its environment began to be prepared (or, for a
// run that was never prepared, from when it started running), so that
// time spent preparing counts; and how much of that was preparation. Both
// are zero for a run that has not begun either.
func (r Run) Elapsed(now time.Time) (total, preparing time.Duration) {
	begin := r.Prepared
	if begin.IsZero() || (!r.Started.IsZero() && r.Started.Before(begin)) {
		begin = r.Started
	}
	if begin.IsZero() {
		return 0, 0
	}
	end := r.Ended
	if end.IsZero() {
		end = now
	}
	total = max(end.Sub(begin), 0)
	if !r.Prepared.IsZero() {
		prepEnd := r.Started
		if prepEnd.IsZero() || prepEnd.Before(r.Prepared) {
			prepEnd = end
		}
		preparing = max(prepEnd.Sub(r.Prepared), 0)
	}
	return total, preparing
}

// ActiveRuns returns how many runs each compute target has in each state
// that is not final, by target name (as the runs record it) and state.
func (w *Workspace) ActiveRuns(ctx context.Context) (map[string]map[State]int, error) {
	rows, err := w.db.QueryContext(ctx, `SELECT target, state, count(*) FROM runs
		WHERE state NOT IN (?, ?, ?) GROUP BY target, state`,
		string(StateCompleted), string(StateFailed), string(StateCanceled))
	if err != nil {
		return nil, w.errorf(err, "count active runs")
	}
	defer rows.Close()
	out := map[string]map[State]int{}
	for rows.Next() {
		var target string
		var st State
		var n int
		if err := rows.Scan(&target, &st, &n); err != nil {
			return nil, w.errorf(err, "count active runs")
		}
		if out[target] == nil {
			out[target] = map[State]int{}
		}
		out[target][st] = n
	}
	if err := rows.Err(); err != nil {
		return nil, w.errorf(err, "count active runs")
	}
	return out, nil
}
