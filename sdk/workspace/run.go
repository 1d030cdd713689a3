package workspace

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/google/uuid"
)

// A Run is one execution of a script on a compute target.
type Run struct {
	ID         string // a UUID
	Experiment string // the experiment's name
	ParentID   string // the parent run's ID, for a child run; else ""
	Target     string // the compute target's name
	SnapshotID string // the snapshot of the code it runs
	EnvKey     string // the key of its environment
	State      State
	ExitCode   *int // nil until set with SetExitCode

	Created   time.Time
	Started   time.Time // when it first entered Running; zero until then
	Ended     time.Time // when it entered a final state; zero until then
	Heartbeat time.Time // its agent's last heartbeat; zero if none

	// Tags may change; Properties, once set, may not. Both are nil when
	// empty.
	Tags       map[string]string
	Properties map[string]string
}

// A RunSpec describes a run to create with NewRun.
type RunSpec struct {
	// Experiment is the experiment's name; it is created if need be. It
	// may be empty for a child run, which then joins its parent's.
	Experiment string
	// ParentID makes the run a child of the run with that ID.
	ParentID   string
	Target     string // the name of an existing compute target
	SnapshotID string
	EnvKey     string
	Tags       map[string]string
	Properties map[string]string

	// ID, if not "", is the new run's ID (a UUID), chosen by the caller so
	// that it can prepare the run's directory (RunDir) before the run
	// exists; the directory may then exist already. Else NewRun picks one.
	ID string
	// SubmitKey, if not "", names the submit that makes the run, so that a
	// retried submit finds the run the first attempt made: if a run holds
	// the key, NewRun makes none and fails with a *KeyBoundError, unless
	// that run is Supersedes, whose key then passes to the new run.
	SubmitKey  string
	Supersedes string
	// Reused, if not "", records a run that does no work of its own since
	// it reuses the results of an earlier one (a pipeline step whose
	// inputs match a completed step's): the run is created Completed,
	// with one event from NotStarted whose reason is Reused.
	Reused string
}

// A KeyBoundError reports a submit key that a run holds already: NewRun
// made no run. It matches ErrExists.
type KeyBoundError struct {
	Key   string
	RunID string // the run that holds the key
}

func (e *KeyBoundError) Error() string {
	return fmt.Sprintf("submit key %q belongs to run %s", e.Key, e.RunID)
}

func (e *KeyBoundError) Is(target error) bool { return target == ErrExists }

// An Event is one change of a run's state.
type Event struct {
	Time     time.Time
	From, To State // From is "" for the run's creation
	Reason   string
}

// NewRun creates a run in state NotStarted, with its directory (see
// RunDir), and returns it.
func (w *Workspace) NewRun(ctx context.Context, spec RunSpec) (Run, error) {
	r, err := w.newRun(ctx, spec)
	if err != nil {
		return Run{}, w.errorf(err, "new run in experiment %q", spec.Experiment)
	}
	return r, nil
}

func (w *Workspace) newRun(ctx context.Context, spec RunSpec) (Run, error) {
	if spec.Experiment == "" && spec.ParentID == "" {
		return Run{}, errors.New("a run needs an experiment")
	}
	if spec.Experiment != "" {
		if err := checkName("experiment", spec.Experiment); err != nil {
			return Run{}, err
		}
	}
	for k := range spec.Tags {
		if k == "" {
			return Run{}, errors.New("tag with an empty key")
		}
	}
	for k := range spec.Properties {
		if k == "" {
			return Run{}, errors.New("property with an empty key")
		}
	}
	id := uuid.NewString()
	if spec.ID != "" {
		var err error
		if id, err = parseRunID(spec.ID); err != nil {
			return Run{}, err
		}
	}
	dir, _ := w.RunDir(id)
	if err := os.Mkdir(dir, 0o700); err != nil && (spec.ID == "" || !errors.Is(err, os.ErrExist)) {
		return Run{}, err
	}
	err := w.write(ctx, func(tx *sql.Tx) error {
		if spec.SubmitKey != "" {
			var holder string
			err := tx.QueryRowContext(ctx, `SELECT r.id FROM submit_keys k JOIN runs r ON r.seq = k.run
				WHERE k.key = ?`, spec.SubmitKey).Scan(&holder)
			switch {
			case errors.Is(err, sql.ErrNoRows):
			case err != nil:
				return err
			case holder != spec.Supersedes:
				return &KeyBoundError{Key: spec.SubmitKey, RunID: holder}
			}
		}
		var parent sql.NullInt64
		var parentExp int64
		if spec.ParentID != "" {
			pid, err := parseRunID(spec.ParentID)
			if err != nil {
				return err
			}
			err = tx.QueryRowContext(ctx, `SELECT seq, experiment FROM runs WHERE id = ?`, pid).Scan(&parent, &parentExp)
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("parent run %s: %w", pid, ErrNotFound)
			}
			if err != nil {
				return err
			}
		}
		var exp int64
		if spec.Experiment == "" {
			exp = parentExp
		} else {
			e, err := w.experiment(ctx, tx, spec.Experiment)
			if err != nil {
				return err
			}
			if err := tx.QueryRowContext(ctx, `SELECT seq FROM experiments WHERE id = ?`, e.ID).Scan(&exp); err != nil {
				return err
			}
		}
		target := spec.Target
		if target != "" {
			err := tx.QueryRowContext(ctx, `SELECT name FROM compute_targets WHERE name = ?`, target).Scan(&target)
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("compute %q: %w", spec.Target, ErrNotFound)
			}
			if err != nil {
				return err
			}
		}
		now := toNanos(w.now())
		res, err := tx.ExecContext(ctx, `INSERT INTO runs
			(id, experiment, parent, target, snapshot, env_key, state, created)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			id, exp, parent, target, spec.SnapshotID, spec.EnvKey, string(StateNotStarted), now)
		if err != nil {
			return err
		}
		seq, err := res.LastInsertId()
		if err != nil {
			return err
		}
		for k, v := range spec.Tags {
			if _, err := tx.ExecContext(ctx, `INSERT INTO run_tags (run, key, value) VALUES (?, ?, ?)`, seq, k, v); err != nil {
				return err
			}
		}
		for k, v := range spec.Properties {
			if _, err := tx.ExecContext(ctx, `INSERT INTO run_properties (run, key, value) VALUES (?, ?, ?)`, seq, k, v); err != nil {
				return err
			}
		}
		if spec.SubmitKey != "" {
			if _, err := tx.ExecContext(ctx, `INSERT INTO submit_keys (key, run) VALUES (?, ?)
				ON CONFLICT (key) DO UPDATE SET run = excluded.run`, spec.SubmitKey, seq); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO run_events (run, time, from_state, to_state, reason)
			VALUES (?, ?, '', ?, 'created')`, seq, now, string(StateNotStarted))
		if err != nil || spec.Reused == "" {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE runs SET state = ?, started = ?2, ended = ?2 WHERE seq = ?3`,
			string(StateCompleted), now, seq); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO run_events (run, time, from_state, to_state, reason)
			VALUES (?, ?, ?, ?, ?)`, seq, now, string(StateNotStarted), string(StateCompleted), spec.Reused)
		return err
	})
	if err != nil {
		if spec.ID == "" {
			os.Remove(dir)
		}
		return Run{}, err
	}
	rs, err := w.runs(ctx, `WHERE r.id = ?`, []any{id}, 0)
	if err != nil {
		return Run{}, err
	}
	return rs[0], nil
}

// Run returns the run with the given ID.
func (w *Workspace) Run(ctx context.Context, id string) (Run, error) {
	r, err := w.run(ctx, id)
	if err != nil {
		return Run{}, w.errorf(err, "run %s", id)
	}
	return r, nil
}

func (w *Workspace) run(ctx context.Context, id string) (Run, error) {
	id, err := parseRunID(id)
	if err != nil {
		return Run{}, err
	}
	rs, err := w.runs(ctx, `WHERE r.id = ?`, []any{id}, 0)
	if err != nil {
		return Run{}, err
	}
	if len(rs) == 0 {
		return Run{}, ErrNotFound
	}
	return rs[0], nil
}

// A Filter selects runs. Its zero value selects them all.
type Filter struct {
	Experiment string            // the experiment's name, if not ""
	State      State             // the state, if not ""
	ParentID   string            // the parent run's ID, if not ""
	Tags       map[string]string // tags the runs have, each with that value
	Properties map[string]string // properties the runs have, each with that value
	Limit      int               // the most runs to return, if > 0
}

// Runs returns the runs that f selects, newest first.
func (w *Workspace) Runs(ctx context.Context, f Filter) ([]Run, error) {
	var (
		conds []string
		args  []any
	)
	if f.Experiment != "" {
		conds = append(conds, `e.name = ?`)
		args = append(args, f.Experiment)
	}
	if f.State != "" {
		conds = append(conds, `r.state = ?`)
		args = append(args, string(f.State))
	}
	if f.ParentID != "" {
		pid, err := parseRunID(f.ParentID)
		if err != nil {
			return nil, w.errorf(err, "list runs")
		}
		conds = append(conds, `p.id = ?`)
		args = append(args, pid)
	}
	for k, v := range f.Tags {
		conds = append(conds, `EXISTS (SELECT 1 FROM run_tags t WHERE t.run = r.seq AND t.key = ? AND t.value = ?)`)
		args = append(args, k, v)
	}
	for k, v := range f.Properties {
		conds = append(conds, `r.seq IN (SELECT run FROM run_properties WHERE key = ? AND value = ?)`)
		args = append(args, k, v)
	}
	where := ""
	if len(conds) > 0 {
		where = "WHERE " + strings.Join(conds, " AND ")
	}
	rs, err := w.runs(ctx, where, args, f.Limit)
	if err != nil {
		return nil, w.errorf(err, "list runs")
	}
	return rs, nil
}

// runs returns the runs satisfying where, newest first, at most limit of
// them if limit > 0. One statement reads each run with its tags and
// properties, so the result is consistent without a transaction.
func (w *Workspace) runs(ctx context.Context, where string, args []any, limit int) ([]Run, error) {
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	rows, err := w.db.QueryContext(ctx, `SELECT r.id, e.name, coalesce(p.id, ''), r.target, r.snapshot,
			r.env_key, r.state, r.exit_code, r.created, r.started, r.ended, r.heartbeat,
			(SELECT json_group_object(key, value) FROM run_tags WHERE run = r.seq),
			(SELECT json_group_object(key, value) FROM run_properties WHERE run = r.seq)
		FROM runs r JOIN experiments e ON e.seq = r.experiment LEFT JOIN runs p ON p.seq = r.parent
		`+where+` ORDER BY r.created DESC, r.seq DESC LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var rs []Run
	for rows.Next() {
		var (
			r                         Run
			exit                      sql.NullInt64
			created                   int64
			started, ended, heartbeat sql.NullInt64
			tags, props               string
		)
		if err := rows.Scan(&r.ID, &r.Experiment, &r.ParentID, &r.Target, &r.SnapshotID,
			&r.EnvKey, &r.State, &exit, &created, &started, &ended, &heartbeat, &tags, &props); err != nil {
			return nil, err
		}
		if exit.Valid {
			c := int(exit.Int64)
			r.ExitCode = &c
		}
		r.Created = fromNanos(created)
		r.Started, r.Ended, r.Heartbeat = fromNullNanos(started), fromNullNanos(ended), fromNullNanos(heartbeat)
		if r.Tags, err = decodeMap(tags); err != nil {
			return nil, err
		}
		if r.Properties, err = decodeMap(props); err != nil {
			return nil, err
		}
		rs = append(rs, r)
	}
	return rs, rows.Err()
}

// decodeMap decodes a JSON object of strings, returning nil for {}.
func decodeMap(js string) (map[string]string, error) {
	var m map[string]string
	if err := json.Unmarshal([]byte(js), &m); err != nil {
		return nil, err
	}
	if len(m) == 0 {
		return nil, nil
	}
	return m, nil
}

// runSeq returns the seq and state of the run with the given ID, in tx.
func runSeq(ctx context.Context, tx *sql.Tx, id string) (int64, State, error) {
	var seq int64
	var st State
	err := tx.QueryRowContext(ctx, `SELECT seq, state FROM runs WHERE id = ?`, id).Scan(&seq, &st)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, "", ErrNotFound
	}
	return seq, st, err
}

// runWrite runs fn in a write transaction with the seq and state of the run
// with the given ID, and wraps any error with op.
func (w *Workspace) runWrite(ctx context.Context, id, op string, fn func(tx *sql.Tx, seq int64, st State) error) error {
	canon, err := parseRunID(id)
	if err == nil {
		err = w.write(ctx, func(tx *sql.Tx) error {
			seq, st, err := runSeq(ctx, tx, canon)
			if err != nil {
				return err
			}
			return fn(tx, seq, st)
		})
	}
	if err != nil {
		return w.errorf(err, "run %s: %s", id, op)
	}
	return nil
}

// SetTag sets the run's tag key to value, replacing any value it had.
func (w *Workspace) SetTag(ctx context.Context, runID, key, value string) error {
	return w.runWrite(ctx, runID, fmt.Sprintf("set tag %q", key), func(tx *sql.Tx, seq int64, _ State) error {
		if key == "" {
			return errors.New("empty key")
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO run_tags (run, key, value) VALUES (?, ?, ?)
			ON CONFLICT (run, key) DO UPDATE SET value = excluded.value`, seq, key, value)
		return err
	})
}

// DeleteTag removes the run's tag key, if it has one.
func (w *Workspace) DeleteTag(ctx context.Context, runID, key string) error {
	return w.runWrite(ctx, runID, fmt.Sprintf("delete tag %q", key), func(tx *sql.Tx, seq int64, _ State) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM run_tags WHERE run = ? AND key = ?`, seq, key)
		return err
	})
}

// SetProperty sets the run's property key to value. A property cannot
// change once set: setting it again to the same value does nothing, and to
// another value fails with an error matching ErrImmutable.
func (w *Workspace) SetProperty(ctx context.Context, runID, key, value string) error {
	return w.runWrite(ctx, runID, fmt.Sprintf("set property %q", key), func(tx *sql.Tx, seq int64, _ State) error {
		if key == "" {
			return errors.New("empty key")
		}
		var old string
		err := tx.QueryRowContext(ctx, `SELECT value FROM run_properties WHERE run = ? AND key = ?`, seq, key).Scan(&old)
		switch {
		case err == nil && old == value:
			return nil
		case err == nil:
			return fmt.Errorf("it is already %q and properties cannot change: %w", old, ErrImmutable)
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO run_properties (run, key, value) VALUES (?, ?, ?)`, seq, key, value)
		return err
	})
}

// SetExitCode records the exit code of the run's process. Like a property,
// it cannot change once set.
func (w *Workspace) SetExitCode(ctx context.Context, runID string, code int) error {
	return w.runWrite(ctx, runID, "set exit code", func(tx *sql.Tx, seq int64, _ State) error {
		var old sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT exit_code FROM runs WHERE seq = ?`, seq).Scan(&old); err != nil {
			return err
		}
		if old.Valid && old.Int64 != int64(code) {
			return fmt.Errorf("it is already %d: %w", old.Int64, ErrImmutable)
		}
		_, err := tx.ExecContext(ctx, `UPDATE runs SET exit_code = ? WHERE seq = ?`, code, seq)
		return err
	})
}

// Events returns the run's state changes, oldest first, starting with its
// creation.
func (w *Workspace) Events(ctx context.Context, runID string) ([]Event, error) {
	es, err := w.events(ctx, runID)
	if err != nil {
		return nil, w.errorf(err, "run %s: events", runID)
	}
	return es, nil
}

func (w *Workspace) events(ctx context.Context, runID string) ([]Event, error) {
	id, err := parseRunID(runID)
	if err != nil {
		return nil, err
	}
	// Read the run and its events in one statement, for consistency.
	rows, err := w.db.QueryContext(ctx, `SELECT e.time, e.from_state, e.to_state, e.reason
		FROM runs r LEFT JOIN run_events e ON e.run = r.seq WHERE r.id = ? ORDER BY e.seq`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	found := false
	var es []Event
	for rows.Next() {
		found = true
		var (
			t        sql.NullInt64
			from, to sql.NullString
			reason   sql.NullString
		)
		if err := rows.Scan(&t, &from, &to, &reason); err != nil {
			return nil, err
		}
		if t.Valid {
			es = append(es, Event{Time: fromNanos(t.Int64), From: State(from.String), To: State(to.String), Reason: reason.String})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if !found {
		return nil, ErrNotFound
	}
	return es, nil
}

// RunBySubmitKey returns the run that holds the submit key (see
// RunSpec.SubmitKey); an error matching ErrNotFound if none does.
func (w *Workspace) RunBySubmitKey(ctx context.Context, key string) (Run, error) {
	rs, err := w.runs(ctx, `WHERE r.seq = (SELECT run FROM submit_keys WHERE key = ?)`, []any{key}, 0)
	if err != nil {
		return Run{}, w.errorf(err, "run of submit key %q", key)
	}
	if len(rs) == 0 {
		return Run{}, w.errorf(ErrNotFound, "run of submit key %q", key)
	}
	return rs[0], nil
}
