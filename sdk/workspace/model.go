package workspace

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// A Model is one registered version of a named model.
type Model struct {
	Name    string // see Experiment for the rule names follow
	Version int    // 1, 2, ... per name; assigned by RegisterModel
	RunID   string // the run that produced it, or ""
	Path    string // where its files are, as the registrant names them
	Tags    map[string]string
	Created time.Time // set by RegisterModel
}

// RegisterModel registers m as the next version of the model m.Name, one
// more than the latest, and returns it with its Version and Created time.
// Registrations from any number of processes get distinct versions.
func (w *Workspace) RegisterModel(ctx context.Context, m Model) (Model, error) {
	m, err := w.registerModel(ctx, m)
	if err != nil {
		return Model{}, w.errorf(err, "register model %q", m.Name)
	}
	return m, nil
}

func (w *Workspace) registerModel(ctx context.Context, m Model) (Model, error) {
	if err := checkName("model", m.Name); err != nil {
		return m, err
	}
	if m.Path == "" {
		return m, errors.New("empty path")
	}
	var run any // NULL unless there is a run
	if m.RunID != "" {
		id, err := parseRunID(m.RunID)
		if err != nil {
			return m, err
		}
		m.RunID, run = id, id
	}
	tags, err := json.Marshal(m.Tags)
	if err != nil {
		return m, err
	}
	if m.Tags == nil {
		tags = []byte("{}")
	}
	err = w.write(ctx, func(tx *sql.Tx) error {
		if m.RunID != "" {
			if _, _, err := runSeq(ctx, tx, m.RunID); err != nil {
				return fmt.Errorf("run %s: %w", m.RunID, err)
			}
		}
		// The write lock, held since BEGIN IMMEDIATE, makes the read and
		// the insert one step for every process.
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) + 1 FROM models WHERE name = ?`,
			m.Name).Scan(&m.Version); err != nil {
			return err
		}
		m.Created = w.now()
		_, err := tx.ExecContext(ctx, `INSERT INTO models (name, version, run, path, tags, created)
			VALUES (?, ?, ?, ?, ?, ?)`, m.Name, m.Version, run, m.Path, string(tags), toNanos(m.Created))
		return err
	})
	if err != nil {
		return m, err
	}
	return m, nil
}

// Model returns version version of the model called name; version 0 means
// the latest.
func (w *Workspace) Model(ctx context.Context, name string, version int) (Model, error) {
	var (
		ms  []Model
		err error
	)
	if version == 0 {
		ms, err = w.models(ctx, `WHERE name = ? ORDER BY version DESC LIMIT 1`, name)
	} else {
		ms, err = w.models(ctx, `WHERE name = ? AND version = ?`, name, version)
	}
	if err == nil && len(ms) == 0 {
		err = ErrNotFound
	}
	if err != nil {
		if version == 0 {
			return Model{}, w.errorf(err, "model %q", name)
		}
		return Model{}, w.errorf(err, "model %q version %d", name, version)
	}
	return ms[0], nil
}

// Models returns every version of the model called name, oldest first; with
// name "", every version of every model, ordered by name and version.
func (w *Workspace) Models(ctx context.Context, name string) ([]Model, error) {
	var (
		ms  []Model
		err error
	)
	if name == "" {
		ms, err = w.models(ctx, `ORDER BY name, version`)
	} else {
		ms, err = w.models(ctx, `WHERE name = ? ORDER BY version`, name)
	}
	if err != nil {
		return nil, w.errorf(err, "list models %q", name)
	}
	return ms, nil
}

func (w *Workspace) models(ctx context.Context, rest string, args ...any) ([]Model, error) {
	rows, err := w.db.QueryContext(ctx, `SELECT name, version, coalesce(run, ''), path, tags, created
		FROM models `+rest, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ms []Model
	for rows.Next() {
		var (
			m       Model
			tags    string
			created int64
		)
		if err := rows.Scan(&m.Name, &m.Version, &m.RunID, &m.Path, &tags, &created); err != nil {
			return nil, err
		}
		if m.Tags, err = decodeMap(tags); err != nil {
			return nil, fmt.Errorf("model %q version %d: tags: %w", m.Name, m.Version, err)
		}
		m.Created = fromNanos(created)
		ms = append(ms, m)
	}
	return ms, rows.Err()
}
