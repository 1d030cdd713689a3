package history

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations returns the schema changes in order; migrations()[i] takes the
// database from version i to version i+1. The version is kept in
// PRAGMA user_version. Append to this list; never edit an entry that has
// shipped.
func migrations() []string {
	return []string{
		// 1: sessions and their cells.
		`CREATE TABLE sessions (
		session INTEGER PRIMARY KEY AUTOINCREMENT,
		start   TEXT NOT NULL
	);
	CREATE TABLE history (
		session INTEGER NOT NULL REFERENCES sessions (session),
		line    INTEGER NOT NULL,
		source  TEXT NOT NULL,
		output  TEXT,
		PRIMARY KEY (session, line)
	);
	CREATE INDEX history_source ON history (source);`,
	}
}

// migrate brings the schema of db up to the latest version. It runs in one
// immediate transaction, so kernels opening a new file at the same moment
// apply each migration exactly once.
func migrate(ctx context.Context, db *sql.DB) (err error) {
	tx, err := db.BeginTx(ctx, nil) // BEGIN IMMEDIATE, see dsn
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	steps := migrations()
	var version int
	if err := tx.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version); err != nil {
		return fmt.Errorf("migrate: read schema version: %w", err)
	}
	if version > len(steps) {
		return fmt.Errorf("migrate: schema version %d is newer than this program knows (%d)", version, len(steps))
	}
	if version == len(steps) {
		return tx.Commit()
	}
	for v := version; v < len(steps); v++ {
		if _, err := tx.ExecContext(ctx, steps[v]); err != nil {
			return fmt.Errorf("migrate to schema version %d: %w", v+1, err)
		}
	}
	// PRAGMA takes no bound parameters; the value is our own constant.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, len(steps))); err != nil {
		return fmt.Errorf("migrate: set schema version: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}
