package workspace

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"
)

// A State is where a run is in its life.
type State string

// The states of a run. A run normally goes
//
//	NotStarted -> Queued -> Preparing -> Starting -> Running -> Finalizing -> Completed
//
// From any state that is not final it may go to CancelRequested, Failed or
// Canceled; from CancelRequested to Finalizing (to collect its outputs) or
// Canceled. A Running run whose heartbeat stops becomes NotResponding, and
// Running again when a heartbeat arrives, or Finalizing when its agent,
// back, records the script's end. A cluster may preempt a run that
// is Preparing, Starting, Running or NotResponding and queue it again
// (Queued).
const (
	StateNotStarted      State = "NotStarted"
	StateQueued          State = "Queued"
	StatePreparing       State = "Preparing"
	StateStarting        State = "Starting"
	StateRunning         State = "Running"
	StateFinalizing      State = "Finalizing"
	StateCompleted       State = "Completed"
	StateFailed          State = "Failed"
	StateCanceled        State = "Canceled"
	StateCancelRequested State = "CancelRequested"
	StateNotResponding   State = "NotResponding"
)

// nextStates returns the states a run in state from may go to besides
// CancelRequested, Failed and Canceled, and whether from is a state that is
// not final.
func nextStates(from State) ([]State, bool) {
	switch from {
	case StateNotStarted:
		return []State{StateQueued}, true
	case StateQueued:
		return []State{StatePreparing}, true
	case StatePreparing:
		return []State{StateStarting, StateQueued}, true
	case StateStarting:
		return []State{StateRunning, StateQueued}, true
	case StateRunning:
		return []State{StateFinalizing, StateNotResponding, StateQueued}, true
	case StateNotResponding:
		return []State{StateRunning, StateFinalizing, StateQueued}, true
	case StateFinalizing:
		return []State{StateCompleted}, true
	case StateCancelRequested:
		return []State{StateFinalizing}, true
	}
	return nil, false
}

// Final reports whether s is a state a run never leaves: Completed, Failed
// or Canceled.
func (s State) Final() bool {
	return s == StateCompleted || s == StateFailed || s == StateCanceled
}

// CanTransition reports whether a run may go from state from to state to.
func CanTransition(from, to State) bool {
	nexts, ok := nextStates(from)
	if !ok { // final or unknown
		return false
	}
	switch to {
	case StateFailed, StateCanceled:
		return true
	case StateCancelRequested:
		return from != StateCancelRequested
	}
	return slices.Contains(nexts, to)
}

// A transitionError reports a transition the state machine forbids.
type transitionError struct {
	from, to State
}

func (e *transitionError) Error() string {
	if e.from.Final() {
		return fmt.Sprintf("cannot go from %s to %s: %s is final", e.from, e.to, e.from)
	}
	return fmt.Sprintf("cannot go from %s to %s", e.from, e.to)
}

func (e *transitionError) Is(target error) bool { return target == ErrIllegalTransition }

// Transition moves the run to state to, recording the change and reason as
// an Event in the same transaction. It fails with an error matching
// ErrIllegalTransition if CanTransition forbids the change. Entering
// Running sets the run's heartbeat, and its Started time the first time;
// entering a final state sets its Ended time.
func (w *Workspace) Transition(ctx context.Context, runID string, to State, reason string) error {
	return w.runWrite(ctx, runID, "transition to "+string(to), func(tx *sql.Tx, seq int64, from State) error {
		return w.transition(ctx, tx, seq, from, to, reason)
	})
}

// transition moves the run with the given seq from state from to state to,
// within tx.
func (w *Workspace) transition(ctx context.Context, tx *sql.Tx, seq int64, from, to State, reason string) error {
	if !CanTransition(from, to) {
		return &transitionError{from, to}
	}
	now := toNanos(w.now())
	q := `UPDATE runs SET state = ? WHERE seq = ?`
	switch {
	case to == StateRunning:
		q = `UPDATE runs SET state = ?1, started = coalesce(started, ?3), heartbeat = ?3 WHERE seq = ?2`
	case to.Final():
		q = `UPDATE runs SET state = ?1, ended = ?3 WHERE seq = ?2`
	}
	if _, err := tx.ExecContext(ctx, q, string(to), seq, now); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO run_events (run, time, from_state, to_state, reason)
		VALUES (?, ?, ?, ?, ?)`, seq, now, string(from), string(to), reason)
	return err
}

// Heartbeat records that the run's agent is alive. A NotResponding run
// becomes Running again. A run in a final state takes no heartbeats.
func (w *Workspace) Heartbeat(ctx context.Context, runID string) error {
	return w.runWrite(ctx, runID, "heartbeat", func(tx *sql.Tx, seq int64, st State) error {
		if st.Final() {
			return fmt.Errorf("run is %s: %w", st, ErrIllegalTransition)
		}
		if st == StateNotResponding {
			// Sets the heartbeat too.
			return w.transition(ctx, tx, seq, st, StateRunning, "heartbeat resumed")
		}
		_, err := tx.ExecContext(ctx, `UPDATE runs SET heartbeat = ? WHERE seq = ?`, toNanos(w.now()), seq)
		return err
	})
}

// MarkStale moves every Running run whose last heartbeat is older than
// olderThan to NotResponding, and returns their IDs.
func (w *Workspace) MarkStale(ctx context.Context, olderThan time.Duration) ([]string, error) {
	var ids []string
	err := w.write(ctx, func(tx *sql.Tx) error {
		ids = nil
		cutoff := w.now().Add(-olderThan)
		rows, err := tx.QueryContext(ctx, `SELECT seq, id, heartbeat FROM runs
			WHERE state = ? AND coalesce(heartbeat, 0) < ? ORDER BY seq`,
			string(StateRunning), toNanos(cutoff))
		if err != nil {
			return err
		}
		type stale struct {
			seq  int64
			id   string
			beat sql.NullInt64
		}
		var ss []stale
		for rows.Next() {
			var s stale
			if err := rows.Scan(&s.seq, &s.id, &s.beat); err != nil {
				rows.Close()
				return err
			}
			ss = append(ss, s)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, s := range ss {
			reason := "no heartbeat"
			if s.beat.Valid {
				reason = "no heartbeat since " + fromNanos(s.beat.Int64).UTC().Format(time.RFC3339)
			}
			if err := w.transition(ctx, tx, s.seq, StateRunning, StateNotResponding, reason); err != nil {
				return err
			}
			ids = append(ids, s.id)
		}
		return nil
	})
	if err != nil {
		return nil, w.errorf(err, "mark stale runs")
	}
	return ids, nil
}
