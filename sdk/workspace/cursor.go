package workspace

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// ErrCursorMoved means that Advance found the cursor somewhere other than
// where the caller read from: another process applied those entries first.
var ErrCursorMoved = errors.New("cursor moved")

// Cursor returns how far the run's stream name (a remote journal, say) has
// been applied: the offset Advance last stored, or 0.
func (w *Workspace) Cursor(ctx context.Context, runID, name string) (int64, error) {
	id, err := parseRunID(runID)
	if err != nil {
		return 0, w.errorf(err, "run %s: cursor %q", runID, name)
	}
	var off int64
	err = w.db.QueryRowContext(ctx, `SELECT c.offset FROM run_cursors c JOIN runs r ON r.seq = c.run
		WHERE r.id = ? AND c.name = ?`, id, name).Scan(&off)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, w.errorf(err, "run %s: cursor %q", runID, name)
	}
	return off, nil
}

// Advance applies fn to the run and moves its cursor name from offset from
// to offset to, all in one transaction: what fn records is recorded exactly
// once however often the same entries are read. If the cursor is not at
// from, nothing is applied and the error matches ErrCursorMoved.
func (w *Workspace) Advance(ctx context.Context, runID, name string, from, to int64, fn func(u *RunUpdate) error) error {
	return w.runWrite(ctx, runID, fmt.Sprintf("advance %s to %d", name, to), func(tx *sql.Tx, seq int64, st State) error {
		var at int64
		err := tx.QueryRowContext(ctx, `SELECT offset FROM run_cursors WHERE run = ? AND name = ?`, seq, name).Scan(&at)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if at != from {
			return fmt.Errorf("%s is at %d, not %d: %w", name, at, from, ErrCursorMoved)
		}
		if fn != nil {
			if err := fn(&RunUpdate{w: w, ctx: ctx, tx: tx, seq: seq, state: st}); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO run_cursors (run, name, offset) VALUES (?, ?, ?)
			ON CONFLICT (run, name) DO UPDATE SET offset = excluded.offset`, seq, name, to)
		return err
	})
}

// A RunUpdate changes one run within the transaction of an Advance.
type RunUpdate struct {
	w     *Workspace
	ctx   context.Context
	tx    *sql.Tx
	seq   int64
	state State
}

// State returns the run's state as of the updates made so far.
func (u *RunUpdate) State() State { return u.state }

// Transition moves the run to state to, like Workspace.Transition.
func (u *RunUpdate) Transition(to State, reason string) error {
	if err := u.w.transition(u.ctx, u.tx, u.seq, u.state, to, reason); err != nil {
		return err
	}
	u.state = to
	return nil
}

// Heartbeat records that the run's agent is alive, like Workspace.Heartbeat.
func (u *RunUpdate) Heartbeat() error {
	if u.state.Final() {
		return nil
	}
	if u.state == StateNotResponding {
		return u.Transition(StateRunning, "heartbeat resumed")
	}
	_, err := u.tx.ExecContext(u.ctx, `UPDATE runs SET heartbeat = ? WHERE seq = ?`, toNanos(u.w.now()), u.seq)
	return err
}

// SetExitCode records the exit code of the run's process, once.
func (u *RunUpdate) SetExitCode(code int) error {
	_, err := u.tx.ExecContext(u.ctx, `UPDATE runs SET exit_code = ? WHERE seq = ? AND exit_code IS NULL`, code, u.seq)
	return err
}

// SetTag sets a tag of the run.
func (u *RunUpdate) SetTag(key, value string) error {
	if key == "" {
		return errors.New("empty tag key")
	}
	_, err := u.tx.ExecContext(u.ctx, `INSERT INTO run_tags (run, key, value) VALUES (?, ?, ?)
		ON CONFLICT (run, key) DO UPDATE SET value = excluded.value`, u.seq, key, value)
	return err
}

// LogMetrics records metrics of the run.
func (u *RunUpdate) LogMetrics(ms []Metric) error {
	for _, m := range ms {
		if m.Name == "" {
			return errors.New("metric with an empty name")
		}
	}
	return u.w.logMetrics(u.ctx, u.tx, u.seq, ms)
}
