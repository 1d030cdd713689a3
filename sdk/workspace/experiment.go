package workspace

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/google/uuid"
)

// An Experiment groups runs under a name.
type Experiment struct {
	ID      string // a UUID
	Name    string
	Created time.Time
}

// nameRule is the rule for experiment and model names.
const nameRule = "use 1 to 255 letters, digits, hyphens, underscores or dots, starting with a letter or digit"

// checkName returns an error matching ErrInvalidName unless name follows
// nameRule; what says what the name is of.
func checkName(what, name string) error {
	ok := len(name) >= 1 && len(name) <= 255 && (isLetter(name[0]) || isDigit(name[0]))
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		ok = isLetter(c) || isDigit(c) || c == '-' || c == '_' || c == '.'
	}
	if !ok {
		return &nameError{what, name, nameRule}
	}
	return nil
}

// Experiment returns the experiment called name, creating it if it does not
// exist. Names are 1 to 255 letters, digits, hyphens, underscores or dots,
// starting with a letter or digit, and are case-sensitive.
func (w *Workspace) Experiment(ctx context.Context, name string) (Experiment, error) {
	var e Experiment
	err := checkName("experiment", name)
	if err == nil {
		// Most calls find the experiment: look without taking the write lock.
		var created int64
		err = w.db.QueryRowContext(ctx, `SELECT id, created FROM experiments WHERE name = ?`,
			name).Scan(&e.ID, &created)
		if err == nil {
			return Experiment{ID: e.ID, Name: name, Created: fromNanos(created)}, nil
		}
	}
	if errors.Is(err, sql.ErrNoRows) {
		err = w.write(ctx, func(tx *sql.Tx) error {
			var err error
			e, err = w.experiment(ctx, tx, name)
			return err
		})
	}
	if err != nil {
		return Experiment{}, w.errorf(err, "experiment %q", name)
	}
	return e, nil
}

// experiment gets or creates the experiment called name within tx.
func (w *Workspace) experiment(ctx context.Context, tx *sql.Tx, name string) (Experiment, error) {
	e := Experiment{Name: name}
	var created int64
	err := tx.QueryRowContext(ctx, `SELECT id, created FROM experiments WHERE name = ?`, name).Scan(&e.ID, &created)
	if err == nil {
		e.Created = fromNanos(created)
		return e, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return Experiment{}, err
	}
	e.ID, e.Created = uuid.NewString(), w.now()
	_, err = tx.ExecContext(ctx, `INSERT INTO experiments (id, name, created) VALUES (?, ?, ?)`,
		e.ID, e.Name, toNanos(e.Created))
	if err != nil {
		return Experiment{}, err
	}
	return e, nil
}

// Experiments returns every experiment, ordered by name.
func (w *Workspace) Experiments(ctx context.Context) ([]Experiment, error) {
	es, err := w.experiments(ctx)
	if err != nil {
		return nil, w.errorf(err, "list experiments")
	}
	return es, nil
}

func (w *Workspace) experiments(ctx context.Context) ([]Experiment, error) {
	rows, err := w.db.QueryContext(ctx, `SELECT id, name, created FROM experiments ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var es []Experiment
	for rows.Next() {
		var e Experiment
		var created int64
		if err := rows.Scan(&e.ID, &e.Name, &created); err != nil {
			return nil, err
		}
		e.Created = fromNanos(created)
		es = append(es, e)
	}
	return es, rows.Err()
}
