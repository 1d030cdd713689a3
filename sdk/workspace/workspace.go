// Package workspace is Gantry's record of truth: compute targets,
// experiments, runs and their state changes, metrics and registered models,
// kept in one directory that a kernel, a CLI and any number of run agents
// may use at once, from separate processes.
//
// A workspace directory holds
//
//	workspace.db   SQLite database (write-ahead log), the record of truth
//	blobs/         content-addressed files, managed by package gantry/sdk/snapshot
//	runs/<id>/     each run's logs and outputs
//	envs/          prepared environments
//	secrets/<id>   secret values, one per file, readable only by the owner
//
// Every method that touches the database takes a context. Writes run in
// immediate transactions: a writer takes the database's write lock when it
// begins, and other writers, in this process or another, wait for it up to
// a busy timeout. A writer that waits longer fails with an error matching
// [ErrLocked] that names the workspace and says what to do.
//
// Secrets are never stored in the database: a [Secret] in a [Target] is
// written to its own file under secrets/ and the database keeps only a
// reference to it. A Secret never prints or marshals its value.
package workspace

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/google/uuid"
	_ "github.com/mattn/go-sqlite3" // registers the driver

	"gantry/internal/sqlitedsn"
)

// Errors reported by the workspace. Test for them with [errors.Is]: the
// errors returned wrap them with the operation and the name involved.
var (
	// ErrNotFound means that the named target, run, experiment or model
	// does not exist.
	ErrNotFound = errors.New("not found")
	// ErrExists means that a target of that name already exists.
	ErrExists = errors.New("already exists")
	// ErrInvalidName means that a name breaks the rule for its kind of
	// object; the error states the rule.
	ErrInvalidName = errors.New("invalid name")
	// ErrInvalidID means that a run ID is not a UUID.
	ErrInvalidID = errors.New("invalid id")
	// ErrIllegalTransition means that a run cannot go from its current
	// state to the one requested.
	ErrIllegalTransition = errors.New("illegal run state transition")
	// ErrImmutable means an attempt to change a value that may be set only
	// once: a run property or exit code.
	ErrImmutable = errors.New("immutable")
	// ErrLocked means that another process held the workspace database's
	// write lock for longer than the busy timeout.
	ErrLocked = errors.New("workspace locked")
	// ErrSchemaTooNew means that the database was written by a newer
	// version of Gantry than this one.
	ErrSchemaTooNew = errors.New("workspace schema too new")
	// ErrDiskFull means that a write failed because the disk that holds
	// the workspace is full; retrying once space is freed succeeds.
	ErrDiskFull = errors.New("disk full")
)

// defaultBusyTimeout is how long a writer waits for another one before
// failing with ErrLocked.
const defaultBusyTimeout = 10 * time.Second

// A Workspace is an open workspace directory. It is safe for concurrent use
// by multiple goroutines, and several Workspaces, in one process or many,
// may use the same directory.
type Workspace struct {
	dir  string
	db   *sql.DB
	busy time.Duration
	// wlock serializes this Workspace's write transactions, so that its own
	// goroutines queue in Go instead of polling SQLite's busy handler.
	wlock chan struct{}
	now   func() time.Time
}

// options are the settings Open leaves at their defaults; tests change them.
type options struct {
	busyTimeout time.Duration
	now         func() time.Time
}

// DefaultDir returns the workspace directory for a notebook in notebookDir:
// $GANTRY_WORKSPACE if set, else the directory .gantry inside notebookDir.
func DefaultDir(notebookDir string) string {
	if d := os.Getenv("GANTRY_WORKSPACE"); d != "" {
		return d
	}
	return filepath.Join(notebookDir, ".gantry")
}

// Open opens the workspace in dir, creating the directory, its layout
// (directories with mode 0700) and its database as needed, and brings the
// database schema up to date.
func Open(ctx context.Context, dir string) (*Workspace, error) {
	return open(ctx, dir, options{})
}

func open(ctx context.Context, dir string, o options) (*Workspace, error) {
	if o.busyTimeout <= 0 {
		o.busyTimeout = defaultBusyTimeout
	}
	if o.now == nil {
		o.now = time.Now
	}
	if dir == "" {
		return nil, errors.New("open workspace: empty directory name")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open workspace %q: %w", dir, err)
	}
	w := &Workspace{dir: abs, busy: o.busyTimeout, wlock: make(chan struct{}, 1), now: o.now}
	if err := w.makeLayout(); err != nil {
		return nil, fmt.Errorf("open workspace %s: %w", abs, err)
	}
	if err := w.openDB(ctx); err != nil {
		return nil, w.errorf(err, "open workspace %s", abs)
	}
	return w, nil
}

// makeLayout creates the workspace directory and its subdirectories.
func (w *Workspace) makeLayout() error {
	for i, d := range []string{w.dir, w.BlobsDir(), w.runsDir(), w.EnvsDir(), w.secretsDir()} {
		if fi, err := os.Stat(d); err == nil && !fi.IsDir() {
			if i == 0 {
				return errors.New("it is a file, not a directory; choose another workspace directory or remove the file")
			}
			return fmt.Errorf("%s is a file, not a directory; move it out of the workspace", d)
		}
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
	}
	return nil
}

func (w *Workspace) openDB(ctx context.Context) error {
	path := w.dbPath()
	// Create the file ourselves so that it is private to the user (SQLite
	// gives its -wal and -shm files the same mode), but only when it does
	// not exist: closing a descriptor of a file drops every POSIX lock this
	// process holds on it, so opening and closing a database that another
	// Workspace of this process has open would drop that one's SHARED lock.
	// The next process to close its last connection would then take the
	// database for unused and delete the -wal and -shm files under it.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case err == nil:
		if err := f.Close(); err != nil {
			return err
		}
	case !errors.Is(err, fs.ErrExist):
		return err
	}
	db, err := sql.Open("sqlite3", sqlitedsn.For(path, w.busy))
	if err != nil {
		return err
	}
	w.db = db
	err = sqlitedsn.RetryOpen(ctx, func() error {
		if err := db.PingContext(ctx); err != nil {
			return err
		}
		return w.migrate(ctx)
	})
	if err != nil {
		db.Close()
		return err
	}
	return nil
}

// Close closes the workspace database.
func (w *Workspace) Close() error {
	if err := w.db.Close(); err != nil {
		return fmt.Errorf("close workspace %s: %w", w.dir, err)
	}
	return nil
}

// Dir returns the absolute path of the workspace directory.
func (w *Workspace) Dir() string { return w.dir }

// BlobsDir returns the directory of the content-addressed blob store.
func (w *Workspace) BlobsDir() string { return filepath.Join(w.dir, "blobs") }

// EnvsDir returns the directory that holds prepared environments.
func (w *Workspace) EnvsDir() string { return filepath.Join(w.dir, "envs") }

// RunDir returns the directory of the run with the given ID, which holds
// its logs and outputs. NewRun creates it. The ID must be a UUID, so that
// the path stays inside the workspace.
func (w *Workspace) RunDir(id string) (string, error) {
	u, err := parseRunID(id)
	if err != nil {
		return "", err
	}
	return filepath.Join(w.runsDir(), u), nil
}

func (w *Workspace) runsDir() string    { return filepath.Join(w.dir, "runs") }
func (w *Workspace) secretsDir() string { return filepath.Join(w.dir, "secrets") }
func (w *Workspace) dbPath() string     { return filepath.Join(w.dir, "workspace.db") }

// parseRunID returns id in the canonical form of a UUID.
func parseRunID(id string) (string, error) {
	u, err := uuid.Parse(id)
	if err != nil {
		return "", fmt.Errorf("run id %q is not a UUID: %w", id, ErrInvalidID)
	}
	return u.String(), nil
}

// write runs fn in an immediate transaction and commits it if fn returns
// nil. It waits for the Workspace's other writers first.
func (w *Workspace) write(ctx context.Context, fn func(tx *sql.Tx) error) (err error) {
	select {
	case w.wlock <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-w.wlock }()
	tx, err := w.db.BeginTx(ctx, nil) // BEGIN IMMEDIATE, see dsn
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// A lockedError reports a write that waited too long for another one.
type lockedError struct {
	dir  string
	wait time.Duration
	err  error
}

func (e *lockedError) Error() string {
	return fmt.Sprintf("workspace %s is busy: another process (a kernel, a CLI or a run agent) "+
		"has held its database for more than %v; retry when it has finished, "+
		"or stop the process that holds it (lsof %s lists them)",
		e.dir, e.wait, filepath.Join(e.dir, "workspace.db"))
}

func (e *lockedError) Unwrap() error { return e.err }

func (e *lockedError) Is(target error) bool { return target == ErrLocked }

// A fullError reports a write refused because the disk is full.
type fullError struct {
	dir string
	err error
}

func (e *fullError) Error() string {
	return fmt.Sprintf("the disk holding workspace %s is full (%v): free space there; "+
		"run agents keep what they could not record and record it when space returns", e.dir, e.err)
}

func (e *fullError) Unwrap() error { return e.err }

func (e *fullError) Is(target error) bool { return target == ErrDiskFull }

// sqliteErrKind is what an SQLite error means to a caller.
type sqliteErrKind int

const (
	sqliteOther  sqliteErrKind = iota
	sqliteBusy                 // busy or locked: another writer held on
	sqliteNotADB               // the file is not an SQLite database
	sqliteFull                 // the disk is full
)

// errorf wraps err with the operation described by format and args. An
// SQLite busy error becomes one that matches ErrLocked and says what to do.
func (w *Workspace) errorf(err error, format string, args ...any) error {
	switch sqliteKind(err) {
	case sqliteBusy:
		err = &lockedError{dir: w.dir, wait: w.busy, err: err}
	case sqliteNotADB:
		err = fmt.Errorf("%s is not a Gantry workspace database: %w", w.dbPath(), err)
	case sqliteFull:
		err = &fullError{dir: w.dir, err: err}
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}

// Times are stored as Unix nanoseconds; the zero time as NULL.

func toNanos(t time.Time) int64 { return t.UnixNano() }

func fromNanos(n int64) time.Time { return time.Unix(0, n) }

func nullNanos(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixNano(), Valid: true}
}

func fromNullNanos(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64)
}
