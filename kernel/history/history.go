// Package history keeps the kernel's input history in an SQLite database, so
// that it survives kernel restarts, in the manner of IPython's
// history.sqlite.
//
// Each kernel start opens a new session with [Store.NewSession]; every
// executed cell is recorded with [Store.Add] under that session and its
// execution count. The query methods [Store.Tail], [Store.Range] and
// [Store.Search] implement the three kinds of the Jupyter history_request
// message (hist_access_type "tail", "range" and "search").
//
// The database uses write-ahead logging and a busy timeout, so several
// kernels may share one file at once.
package history

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	_ "github.com/mattn/go-sqlite3" // registers the "sqlite3" driver

	"gantry/internal/sqlitedsn"
)

// busyTimeout is how long a connection waits for another writer to finish
// before failing with "database is locked".
const busyTimeout = 5 * time.Second

// A Store is an open history database. It is safe for concurrent use by
// multiple goroutines, and several Stores, in one process or many, may use
// the same file.
type Store struct {
	db   *sql.DB
	path string
}

// An Entry is one recorded cell.
type Entry struct {
	Session   int64  // session number, as returned by NewSession
	Line      int    // the cell's execution count within the session
	Source    string // the cell's source
	Output    string // the cell's output, when HasOutput
	HasOutput bool   // whether an output was stored with the cell
}

// DefaultPath returns where the history database lives by default:
// $GANTRY_HISTORY if set, else $XDG_DATA_HOME/gantry/history.db, else
// ~/.local/share/gantry/history.db. A relative $XDG_DATA_HOME is ignored, as
// the XDG base directory specification requires.
func DefaultPath() (string, error) {
	if p := os.Getenv("GANTRY_HISTORY"); p != "" {
		return p, nil
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "gantry", "history.db"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("history path: %w", err)
	}
	return filepath.Join(home, ".local", "share", "gantry", "history.db"), nil
}

// Open opens the history database at path, creating it and any missing
// parent directories (mode 0700) as needed, and brings its schema up to
// date.
func Open(ctx context.Context, path string) (*Store, error) {
	s, err := open(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("open history %q: %w", path, err)
	}
	return s, nil
}

func open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("empty path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, err
	}
	// Create the file ourselves so that it is private to the user: history
	// may hold secrets. SQLite gives its -wal and -shm files the same mode.
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}

	db, err := sql.Open("sqlite3", sqlitedsn.For(abs, busyTimeout))
	if err != nil {
		return nil, err
	}
	err = sqlitedsn.RetryOpen(ctx, func() error {
		if err := db.PingContext(ctx); err != nil {
			return err
		}
		return migrate(ctx, db)
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	return &Store{db: db, path: abs}, nil
}

// Path returns the absolute path of the database file.
func (s *Store) Path() string { return s.path }

// Close closes the database.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close history %q: %w", s.path, err)
	}
	return nil
}

// NewSession records the start of a kernel session and returns its number.
// Session numbers are positive and increase with each call, across every
// Store sharing the file.
func (s *Store) NewSession(ctx context.Context) (int64, error) {
	start := time.Now().UTC().Format(time.RFC3339Nano)
	res, err := s.db.ExecContext(ctx, `INSERT INTO sessions (start) VALUES (?)`, start)
	if err != nil {
		return 0, fmt.Errorf("new history session: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("new history session: %w", err)
	}
	return id, nil
}

// Add records the cell numbered line in session. An empty output is not
// stored: the entry then reads back with HasOutput false, so callers that do
// not keep outputs pass "". Adding a line that is already recorded replaces
// its source, and its output if output is not empty.
func (s *Store) Add(ctx context.Context, session int64, line int, source, output string) error {
	var out any // NULL unless there is an output to keep
	if output != "" {
		out = output
	}
	_, err := s.db.ExecContext(ctx, `
		INSERT INTO history (session, line, source, output) VALUES (?, ?, ?, ?)
		ON CONFLICT (session, line) DO UPDATE SET
			source = excluded.source,
			output = coalesce(excluded.output, history.output)`,
		session, line, source, out)
	if err != nil {
		return fmt.Errorf("add history session %d line %d: %w", session, line, err)
	}
	return nil
}
