package workspace

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gantry/internal/sqlitedsn"
)

// openTemp opens a workspace in a fresh directory with options o and closes
// it when the test ends.
func openTemp(t testing.TB, o options) *Workspace {
	t.Helper()
	return openDir(t, filepath.Join(t.TempDir(), "ws"), o)
}

// openDir opens the workspace in dir and closes it when the test ends.
func openDir(t testing.TB, dir string, o options) *Workspace {
	t.Helper()
	w, err := open(context.Background(), dir, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := w.Close(); err != nil {
			t.Error(err)
		}
	})
	return w
}

// A clock is a settable time source for tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// rawDB opens the workspace database directly, bypassing the package.
func rawDB(t *testing.T, dir string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", sqlitedsn.For(filepath.Join(dir, "workspace.db"), time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestOpenLayout(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b", ".gantry")
	w := openDir(t, dir, options{})
	if w.Dir() != dir {
		t.Errorf("Dir() = %q, want %q", w.Dir(), dir)
	}
	for _, d := range []string{dir, w.BlobsDir(), filepath.Join(dir, "runs"), w.EnvsDir(), filepath.Join(dir, "secrets")} {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if !fi.IsDir() || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: mode %v, want a directory with mode 0700", d, fi.Mode())
		}
	}
	fi, err := os.Stat(filepath.Join(dir, "workspace.db"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("workspace.db mode %v, want 0600", fi.Mode().Perm())
	}
	var mode string
	if err := w.db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}

	// Reopening keeps the data and the schema version.
	ctx := t.Context()
	if _, err := w.Experiment(ctx, "exp"); err != nil {
		t.Fatal(err)
	}
	w2 := openDir(t, dir, options{})
	es, err := w2.Experiments(ctx)
	if err != nil || len(es) != 1 || es[0].Name != "exp" {
		t.Errorf("Experiments after reopen = %v, %v; want [exp]", es, err)
	}
	var v int
	if err := w2.db.QueryRow(`PRAGMA user_version`).Scan(&v); err != nil || v != len(migrations()) {
		t.Errorf("user_version = %d, %v; want %d", v, err, len(migrations()))
	}
}

func TestRunDir(t *testing.T) {
	w := openTemp(t, options{})
	id := "6F1C2A3B-0000-4000-8000-00000000000A"
	got, err := w.RunDir(id)
	if want := filepath.Join(w.Dir(), "runs", strings.ToLower(id)); err != nil || got != want {
		t.Errorf("RunDir(%q) = %q, %v; want %q", id, got, err, want)
	}
	for _, bad := range []string{"", "..", "../../etc", "run-1"} {
		if got, err := w.RunDir(bad); !errors.Is(err, ErrInvalidID) {
			t.Errorf("RunDir(%q) = %q, %v; want ErrInvalidID", bad, got, err)
		}
	}
}

func TestDefaultDir(t *testing.T) {
	t.Setenv("GANTRY_WORKSPACE", "")
	if got, want := DefaultDir("/nb"), filepath.Join("/nb", ".gantry"); got != want {
		t.Errorf("DefaultDir = %q, want %q", got, want)
	}
	t.Setenv("GANTRY_WORKSPACE", "/srv/ws")
	if got := DefaultDir("/nb"); got != "/srv/ws" {
		t.Errorf("DefaultDir with $GANTRY_WORKSPACE = %q, want /srv/ws", got)
	}
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string) // prepares dir, which does not exist
		is    error                          // the error must match this, if not nil
		want  string                         // and contain this
	}{
		{
			name: "dir is a file",
			setup: func(t *testing.T, dir string) {
				writeFile(t, dir, "x")
			},
			want: "is a file, not a directory",
		},
		{
			name: "blobs is a file",
			setup: func(t *testing.T, dir string) {
				mkdir(t, dir)
				writeFile(t, filepath.Join(dir, "blobs"), "x")
			},
			want: "blobs is a file, not a directory",
		},
		{
			name: "not a database",
			setup: func(t *testing.T, dir string) {
				mkdir(t, dir)
				writeFile(t, filepath.Join(dir, "workspace.db"), strings.Repeat("not sqlite ", 100))
			},
			want: "is not a Gantry workspace database",
		},
		{
			name: "newer schema",
			setup: func(t *testing.T, dir string) {
				w, err := Open(t.Context(), dir)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := w.db.Exec(`PRAGMA user_version = 999`); err != nil {
					t.Fatal(err)
				}
				w.Close()
			},
			is:   ErrSchemaTooNew,
			want: "schema version 999 is newer than this Gantry knows",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "ws")
			tt.setup(t, dir)
			w, err := Open(t.Context(), dir)
			if err == nil {
				w.Close()
				t.Fatal("Open succeeded, want an error")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("Open error %q does not match %v", err, tt.is)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), dir) {
				t.Errorf("Open error %q, want it to name %s and contain %q", err, dir, tt.want)
			}
		})
	}
	if _, err := Open(t.Context(), ""); err == nil {
		t.Error(`Open("") succeeded`)
	}
}

func TestOpenCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if w, err := Open(ctx, t.TempDir()); !errors.Is(err, context.Canceled) {
		if err == nil {
			w.Close()
		}
		t.Errorf("Open with canceled context: %v, want context.Canceled", err)
	}
}

// TestLocked holds the write lock from another connection, as another
// process would, past the busy timeout.
func TestLocked(t *testing.T) {
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "ws")
	w := openDir(t, dir, options{busyTimeout: 100 * time.Millisecond})
	db := rawDB(t, dir)
	tx, err := db.BeginTx(ctx, nil) // BEGIN IMMEDIATE: holds the write lock
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()

	checks := []struct {
		name string
		op   func() error
	}{
		{"CreateTarget", func() error {
			return w.CreateTarget(ctx, Target{Name: "box", Kind: KindLocal})
		}},
		{"Experiment", func() error { _, err := w.Experiment(ctx, "new"); return err }},
	}
	for _, c := range checks {
		start := time.Now()
		err := c.op()
		if !errors.Is(err, ErrLocked) {
			t.Errorf("%s while locked: %v, want ErrLocked", c.name, err)
			continue
		}
		if el := time.Since(start); el < 100*time.Millisecond {
			t.Errorf("%s failed after %v, before the busy timeout", c.name, el)
		}
		for _, s := range []string{dir, "another process", "retry"} {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%s error %q does not contain %q", c.name, err, s)
			}
		}
	}
	// Opening an up-to-date workspace, and reading, go on while another
	// process writes.
	w2 := openDir(t, dir, options{busyTimeout: 100 * time.Millisecond})
	if _, err := w2.Targets(ctx); err != nil {
		t.Errorf("Targets while locked: %v", err)
	}
	tx.Rollback()
	if err := w.CreateTarget(ctx, Target{Name: "box", Kind: KindLocal}); err != nil {
		t.Errorf("CreateTarget after unlock: %v", err)
	}
}

// TestLockedMigration holds the write lock on a database that needs its
// schema created: Open must wait, then fail with ErrLocked.
func TestLockedMigration(t *testing.T) {
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "ws")
	mkdir(t, dir)
	db := rawDB(t, dir)
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	w, err := open(ctx, dir, options{busyTimeout: 100 * time.Millisecond})
	if err == nil {
		w.Close()
	}
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "another process") {
		t.Fatalf("Open while locked = %v, want ErrLocked", err)
	}
	tx.Rollback()
	openDir(t, dir, options{})
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

func mkdir(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(path, 0o700); err != nil {
		t.Fatal(err)
	}
}
