package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gantry/sdk/agent"
	"gantry/sdk/snapshot"
	"gantry/sdk/workspace"
)

// SetTag sets the run's tag key to value, replacing any value it had. Tags
// label runs for filtering (see Filter) and may change at any time.
func (r *Run) SetTag(ctx context.Context, key, value string) error {
	return r.ws.w.SetTag(ctx, r.ID, key, value)
}

// Tags returns the run's tags (nil when it has none).
func (r *Run) Tags(ctx context.Context) (map[string]string, error) {
	d, err := r.ws.w.Run(ctx, r.ID)
	return d.Tags, err
}

// SetProperty sets the run's property key to value. A property is set once:
// setting it again to the same value does nothing, and to another value
// fails with an error matching workspace.ErrImmutable.
func (r *Run) SetProperty(ctx context.Context, key, value string) error {
	return r.ws.w.SetProperty(ctx, r.ID, key, value)
}

// Properties returns the run's properties (nil when it has none).
func (r *Run) Properties(ctx context.Context) (map[string]string, error) {
	d, err := r.ws.w.Run(ctx, r.ID)
	return d.Properties, err
}

// Files lists the files the run wrote under its outputs/ and logs/
// directories, as slash-separated paths relative to the run's directory
// ("outputs/model.pt", "logs/output.log"), sorted. Download takes these
// names.
func (r *Run) Files(ctx context.Context) ([]string, error) {
	dir, err := r.Dir()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, sub := range []string{"outputs", "logs"} {
		err := filepath.WalkDir(filepath.Join(dir, sub), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if d.Type().IsRegular() {
				rel, err := filepath.Rel(dir, p)
				if err != nil {
					return err
				}
				out = append(out, filepath.ToSlash(rel))
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("files of run %s: %w", r.ID, err)
		}
	}
	sort.Strings(out)
	return out, nil
}

// Download copies the run's file name (a path relative to the run's
// directory, as Files lists them) to dest. When dest is an existing
// directory the file lands in it under its own base name. A name that
// leaves the run's directory, directly or through a symlink, is refused.
func (r *Run) Download(ctx context.Context, name, dest string) error {
	dir, err := r.Dir()
	if err != nil {
		return err
	}
	local := filepath.FromSlash(name)
	if !filepath.IsLocal(local) {
		return fmt.Errorf("download %q from run %s: the name must be a path inside the run's directory, such as outputs/model.pt (see Run.Files)", name, r.ID)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	src, err := root.Open(local)
	if err != nil {
		return fmt.Errorf("download %q from run %s: %w", name, r.ID, err)
	}
	defer src.Close()
	fi, err := src.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("download %q from run %s: not a regular file", name, r.ID)
	}
	if st, err := os.Stat(dest); err == nil && st.IsDir() {
		dest = filepath.Join(dest, filepath.Base(local))
	}
	if err := writeFileFrom(ctx, dest, src, fi.Mode().Perm()); err != nil {
		return fmt.Errorf("download %q from run %s: %w", name, r.ID, err)
	}
	return nil
}

// writeFileFrom writes r to path through a temporary file renamed into
// place, so that path never holds a partial copy.
func writeFileFrom(ctx context.Context, path string, r io.Reader, perm fs.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".gantry-download-*")
	if err != nil {
		return err
	}
	_, err = io.Copy(tmp, ctxReader{ctx, r})
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), perm|0o600)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

// ctxReader stops a copy when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Snapshot returns the manifest of the code the run was submitted with: its
// files, sizes and digests. Its ID is the run's SnapshotID.
func (r *Run) Snapshot(ctx context.Context) (*snapshot.Manifest, error) {
	d, err := r.ws.w.Run(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	dir, err := r.Dir()
	if err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(dir, agent.ManifestFile))
	if err != nil {
		return nil, fmt.Errorf("snapshot of run %s: %w", r.ID, err)
	}
	defer f.Close()
	m := new(snapshot.Manifest)
	if err := m.Decode(f); err != nil {
		return nil, fmt.Errorf("snapshot of run %s: %w", r.ID, err)
	}
	if d.SnapshotID != "" && m.ID() != d.SnapshotID {
		return nil, fmt.Errorf("snapshot of run %s: the manifest in its directory has ID %s, but the run records %s", r.ID, m.ID(), d.SnapshotID)
	}
	return m, nil
}

// DiffSnapshots lists what changed in the code from run a to run b: the
// files added, removed or modified, sorted by path.
func DiffSnapshots(ctx context.Context, a, b *Run) ([]snapshot.Change, error) {
	ma, err := a.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	mb, err := b.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	return snapshot.Diff(ma, mb), nil
}

// Children returns the run's child runs (see SubmitChild), newest first.
func (r *Run) Children(ctx context.Context) ([]*Run, error) {
	rs, err := r.ws.w.Runs(ctx, workspace.Filter{ParentID: r.ID})
	if err != nil {
		return nil, err
	}
	return r.ws.wrapRuns(rs), nil
}

// SubmitChild submits src as a child of the run: a run of the same
// experiment whose record names this run as its parent, found again with
// Children. Use it for sweeps or pipeline steps grouped under one run.
func (r *Run) SubmitChild(ctx context.Context, src ScriptRunConfig) (*Run, error) {
	d, err := r.ws.w.Run(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	return r.ws.Experiment(d.Experiment).submit(ctx, src, r.ID)
}

// Parent returns the run's parent, or nil for a run that is not a child.
func (r *Run) Parent(ctx context.Context) (*Run, error) {
	d, err := r.ws.w.Run(ctx, r.ID)
	if err != nil || d.ParentID == "" {
		return nil, err
	}
	return &Run{ws: r.ws, ID: d.ParentID}, nil
}

// Filter selects an experiment's runs in Experiment.Runs. Its zero value
// selects them all.
type Filter struct {
	State workspace.State   // only runs in this state, if not ""
	Tags  map[string]string // only runs that have each of these tags with that value
	Limit int               // at most this many runs (the newest), if > 0
}

// Runs lists the experiment's runs, newest first; a Filter narrows them by
// state or tags:
//
//	done, err := exp.Runs(ctx, sdk.Filter{State: workspace.StateCompleted, Tags: map[string]string{"lr": "0.1"}})
func (e *Experiment) Runs(ctx context.Context, f ...Filter) ([]*Run, error) {
	wf := workspace.Filter{Experiment: e.Name}
	if len(f) > 1 {
		return nil, errors.New("runs: give at most one Filter")
	}
	if len(f) == 1 {
		wf.State, wf.Tags, wf.Limit = f[0].State, f[0].Tags, f[0].Limit
	}
	rs, err := e.ws.w.Runs(ctx, wf)
	if err != nil {
		return nil, err
	}
	return e.ws.wrapRuns(rs), nil
}

func (ws *Workspace) wrapRuns(rs []workspace.Run) []*Run {
	out := make([]*Run, len(rs))
	for i, r := range rs {
		out[i] = &Run{ws: ws, ID: r.ID}
	}
	return out
}

// shortID is the first 8 characters of a run ID, as tables show it.
func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return strings.TrimSpace(id)
}
