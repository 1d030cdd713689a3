package workspace

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// A Metric is one value of a named metric, at a step of a run.
type Metric struct {
	Name  string
	Step  int64
	Value float64 // may be NaN or ±Inf
	Time  time.Time
}

// Metrics are a run's metrics.
type Metrics struct {
	// Scalars holds the last value of each metric: its value at the
	// greatest step, the latest logged among equal steps.
	Scalars map[string]float64
	// Series holds each metric's values in the order Scalars defines, the
	// last one last.
	Series map[string][]Metric
}

// rowsPerInsert is how many metrics one INSERT statement writes: fewer
// statements mean fewer calls into SQLite. Each row takes 5 parameters, well
// under SQLite's limit of 32766.
const rowsPerInsert = 500

// LogMetrics records ms for the run with the given ID, all in one
// transaction. A metric with a zero Time is stamped with the current time.
func (w *Workspace) LogMetrics(ctx context.Context, runID string, ms []Metric) error {
	for _, m := range ms {
		if m.Name == "" {
			return fmt.Errorf("run %s: log metrics: metric with an empty name", runID)
		}
	}
	return w.runWrite(ctx, runID, fmt.Sprintf("log %d metrics", len(ms)), func(tx *sql.Tx, seq int64, _ State) error {
		return w.logMetrics(ctx, tx, seq, ms)
	})
}

func (w *Workspace) logMetrics(ctx context.Context, tx *sql.Tx, seq int64, ms []Metric) error {
	names, err := metricNames(ctx, tx, ms)
	if err != nil {
		return err
	}
	now := toNanos(w.now())
	full := insertMetricsSQL(rowsPerInsert)
	stmt, err := tx.PrepareContext(ctx, full)
	if err != nil {
		return err
	}
	defer stmt.Close()
	args := make([]any, 0, 5*rowsPerInsert)
	for len(ms) > 0 {
		n := min(len(ms), rowsPerInsert)
		args = args[:0]
		for _, m := range ms[:n] {
			var v any = m.Value
			if math.IsNaN(m.Value) {
				v = nil
			}
			t := now
			if !m.Time.IsZero() {
				t = toNanos(m.Time)
			}
			args = append(args, seq, names[m.Name], m.Step, v, t)
		}
		if n == rowsPerInsert {
			_, err = stmt.ExecContext(ctx, args...)
		} else {
			_, err = tx.ExecContext(ctx, insertMetricsSQL(n), args...)
		}
		if err != nil {
			return err
		}
		ms = ms[n:]
	}
	return nil
}

// insertMetricsSQL returns an INSERT of n metrics.
func insertMetricsSQL(n int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO metrics (run, name, step, value, time) VALUES `)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`(?,?,?,?,?)`)
	}
	return b.String()
}

// metricNames returns the seq of each name in ms, adding new names.
func metricNames(ctx context.Context, tx *sql.Tx, ms []Metric) (map[string]int64, error) {
	names := make(map[string]int64)
	for _, m := range ms {
		if _, ok := names[m.Name]; ok {
			continue
		}
		var seq int64
		err := tx.QueryRowContext(ctx, `SELECT seq FROM metric_names WHERE name = ?`, m.Name).Scan(&seq)
		if errors.Is(err, sql.ErrNoRows) {
			var res sql.Result
			res, err = tx.ExecContext(ctx, `INSERT INTO metric_names (name) VALUES (?)`, m.Name)
			if err == nil {
				seq, err = res.LastInsertId()
			}
		}
		if err != nil {
			return nil, fmt.Errorf("metric %q: %w", m.Name, err)
		}
		names[m.Name] = seq
	}
	return names, nil
}

// Metrics returns the metrics of the run with the given ID.
func (w *Workspace) Metrics(ctx context.Context, runID string) (Metrics, error) {
	m, err := w.metrics(ctx, runID)
	if err != nil {
		return Metrics{}, w.errorf(err, "run %s: metrics", runID)
	}
	return m, nil
}

func (w *Workspace) metrics(ctx context.Context, runID string) (Metrics, error) {
	id, err := parseRunID(runID)
	if err != nil {
		return Metrics{}, err
	}
	// One statement, for a consistent read; the LEFT JOIN yields one row of
	// NULLs for a run without metrics, and none for a missing run.
	rows, err := w.db.QueryContext(ctx, `SELECT n.name, m.step, m.value, m.time
		FROM runs r LEFT JOIN metrics m ON m.run = r.seq LEFT JOIN metric_names n ON n.seq = m.name
		WHERE r.id = ? ORDER BY m.name, m.step, m.time, m.rowid`, id)
	if err != nil {
		return Metrics{}, err
	}
	defer rows.Close()
	found := false
	out := Metrics{Scalars: map[string]float64{}, Series: map[string][]Metric{}}
	for rows.Next() {
		found = true
		var (
			name  sql.NullString
			step  sql.NullInt64
			value sql.NullFloat64
			t     sql.NullInt64
		)
		if err := rows.Scan(&name, &step, &value, &t); err != nil {
			return Metrics{}, err
		}
		if !name.Valid {
			continue
		}
		v := math.NaN()
		if value.Valid {
			v = value.Float64
		}
		out.Series[name.String] = append(out.Series[name.String],
			Metric{Name: name.String, Step: step.Int64, Value: v, Time: fromNanos(t.Int64)})
		out.Scalars[name.String] = v
	}
	if err := rows.Err(); err != nil {
		return Metrics{}, err
	}
	if !found {
		return Metrics{}, ErrNotFound
	}
	return out, nil
}
