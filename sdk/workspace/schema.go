package workspace

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations returns the schema changes in order; migrations()[i] takes the
// database from version i to version i+1. The version is kept in
// PRAGMA user_version. Append to this list; never edit an entry that has
// shipped.
//
// Other parts of the SDK that need tables (snapshots, environments,
// artifacts) add them here, as new versions.
//
// Times are INTEGER Unix nanoseconds. Tables refer to runs and experiments
// by their integer seq, and expose the UUID in id.
func migrations() []string {
	return []string{
		// 1: targets, experiments, runs, metrics and models.
		`CREATE TABLE compute_targets (
		name               TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,
		kind               TEXT NOT NULL,
		config             TEXT NOT NULL, -- JSON
		secrets            TEXT NOT NULL, -- JSON object: key -> secret reference, never a value
		provisioning_state TEXT NOT NULL,
		created            INTEGER NOT NULL,
		updated            INTEGER NOT NULL
	);
	CREATE TABLE experiments (
		seq     INTEGER PRIMARY KEY,
		id      TEXT NOT NULL UNIQUE,
		name    TEXT NOT NULL UNIQUE,
		created INTEGER NOT NULL
	);
	CREATE TABLE runs (
		seq        INTEGER PRIMARY KEY,
		id         TEXT NOT NULL UNIQUE,
		experiment INTEGER NOT NULL REFERENCES experiments (seq),
		parent     INTEGER REFERENCES runs (seq),
		target     TEXT NOT NULL,
		snapshot   TEXT NOT NULL,
		env_key    TEXT NOT NULL,
		state      TEXT NOT NULL,
		exit_code  INTEGER,
		created    INTEGER NOT NULL,
		started    INTEGER,
		ended      INTEGER,
		heartbeat  INTEGER
	);
	CREATE INDEX runs_experiment ON runs (experiment, created);
	CREATE INDEX runs_state ON runs (state);
	CREATE INDEX runs_parent ON runs (parent);
	CREATE TABLE run_tags (
		run   INTEGER NOT NULL REFERENCES runs (seq),
		key   TEXT NOT NULL,
		value TEXT NOT NULL,
		PRIMARY KEY (run, key)
	) WITHOUT ROWID;
	CREATE INDEX run_tags_key ON run_tags (key, value);
	CREATE TABLE run_properties (
		run   INTEGER NOT NULL REFERENCES runs (seq),
		key   TEXT NOT NULL,
		value TEXT NOT NULL,
		PRIMARY KEY (run, key)
	) WITHOUT ROWID;
	CREATE TABLE run_events (
		seq        INTEGER PRIMARY KEY,
		run        INTEGER NOT NULL REFERENCES runs (seq),
		time       INTEGER NOT NULL,
		from_state TEXT NOT NULL,
		to_state   TEXT NOT NULL,
		reason     TEXT NOT NULL
	);
	CREATE INDEX run_events_run ON run_events (run, seq);
	CREATE TABLE metric_names (
		seq  INTEGER PRIMARY KEY,
		name TEXT NOT NULL UNIQUE
	);
	-- No foreign keys here: LogMetrics checks the run once per batch, and
	-- per-row checks would halve the ingestion rate.
	CREATE TABLE metrics (
		run   INTEGER NOT NULL, -- runs (seq)
		name  INTEGER NOT NULL, -- metric_names (seq)
		step  INTEGER NOT NULL,
		value REAL,             -- NULL stands for NaN, which SQLite cannot store
		time  INTEGER NOT NULL
	);
	CREATE INDEX metrics_run ON metrics (run, name, step);
	CREATE TABLE models (
		name    TEXT NOT NULL,
		version INTEGER NOT NULL,
		run     TEXT REFERENCES runs (id),
		path    TEXT NOT NULL,
		tags    TEXT NOT NULL, -- JSON object
		created INTEGER NOT NULL,
		PRIMARY KEY (name, version)
	);`,
		// 2: how far the entries of a run's remote journal and logs have been
		// applied here, so that each is applied exactly once.
		`CREATE TABLE run_cursors (
		run    INTEGER NOT NULL REFERENCES runs (seq),
		name   TEXT NOT NULL,
		offset INTEGER NOT NULL,
		PRIMARY KEY (run, name)
	);`,
		// 3: submit keys, which make a retried submit return the run the
		// first attempt made instead of a duplicate.
		`CREATE TABLE submit_keys (
		key TEXT NOT NULL PRIMARY KEY,
		run INTEGER NOT NULL REFERENCES runs (seq)
	);`,
		// 4: runs found by a property's value (a pipeline step's reuse key).
		`CREATE INDEX run_properties_value ON run_properties (key, value);`,
	}
}

// migrate brings the schema of the database up to the latest version. It
// runs in one immediate transaction, so processes opening a new workspace at
// the same moment apply each migration exactly once. A database already up
// to date is only read, so opening it does not wait for another writer.
func (w *Workspace) migrate(ctx context.Context) error {
	steps := migrations()
	var version int
	if err := w.db.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if version > len(steps) {
		return schemaTooNew(version, len(steps))
	}
	if version == len(steps) {
		return nil
	}
	return w.write(ctx, func(tx *sql.Tx) error {
		// Read the version again: another process may have migrated since.
		if err := tx.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version); err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		if version > len(steps) {
			return schemaTooNew(version, len(steps))
		}
		if version == len(steps) {
			return nil
		}
		for v := version; v < len(steps); v++ {
			if _, err := tx.ExecContext(ctx, steps[v]); err != nil {
				return fmt.Errorf("migrate to schema version %d: %w", v+1, err)
			}
		}
		// PRAGMA takes no bound parameters; the value is our own constant.
		if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, len(steps))); err != nil {
			return fmt.Errorf("set schema version: %w", err)
		}
		return nil
	})
}

func schemaTooNew(version, known int) error {
	return fmt.Errorf("database schema version %d is newer than this Gantry knows (%d): "+
		"upgrade Gantry, or use another workspace: %w", version, known, ErrSchemaTooNew)
}
