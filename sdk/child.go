package sdk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"sort"
	"strings"

	"gantry/sdk/environment"
	"gantry/sdk/snapshot"
	"gantry/sdk/workspace"
)

// prepared holds what a run made of parts already in the workspace has
// instead of a source directory to snapshot: a pipeline step's, submitted
// by its controller with SubmitPrepared.
type prepared struct {
	snapshotID string            // the code: a manifest in the blob store
	data       map[string]string // name -> manifest ID, restored under inputs/NAME
	properties map[string]string // recorded with the run when it is made
}

// PreparedRun is a child run whose code and data are snapshots already in
// the workspace's blob store (see PutManifest): a pipeline step, say.
type PreparedRun struct {
	SnapshotID  string            // the code, restored into the run's working directory
	Data        map[string]string // manifests restored under inputs/NAME beside the code
	Script      string            // relative to the snapshot's root
	Command     []string          // instead of Script
	Arguments   []string
	RunConfig   RunConfiguration
	SubmitKey   string            // as ScriptRunConfig's
	Properties  map[string]string // recorded with the run when it is made
	Environment *environment.Environment
}

// SubmitPrepared submits p as a child of the run r, as SubmitChild does
// for a source directory.
func (r *Run) SubmitPrepared(ctx context.Context, p PreparedRun) (*Run, error) {
	if p.SnapshotID == "" {
		return nil, errors.New("submit prepared run: no snapshot ID")
	}
	d, err := r.ws.w.Run(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	rc := p.RunConfig
	if p.Environment != nil {
		rc.Environment = p.Environment
	}
	src := ScriptRunConfig{Script: p.Script, Command: p.Command, Arguments: p.Arguments, RunConfig: rc,
		SubmitKey: p.SubmitKey, prepared: prepared{snapshotID: p.SnapshotID, data: p.Data, properties: p.Properties}}
	return r.ws.Experiment(d.Experiment).submit(ctx, src, r.ID)
}

// snapshot returns the manifest of what the run is to get: its source
// directory snapshotted now, or the prepared snapshot with its data under
// inputs/.
func (src *ScriptRunConfig) snapshot(ctx context.Context, store *snapshot.BlobStore, opts snapshot.Options) (*snapshot.Manifest, error) {
	if src.snapshotID == "" {
		m, _, err := snapshot.Take(ctx, src.SourceDirectory, store, opts)
		return m, err
	}
	m, err := ReadManifest(store, src.snapshotID)
	if err != nil {
		return nil, err
	}
	if len(src.data) == 0 {
		return m, nil
	}
	names := make([]string, 0, len(src.data))
	for n := range src.data {
		names = append(names, n)
	}
	sort.Strings(names)
	out := &snapshot.Manifest{}
	for _, e := range m.Entries {
		if e.Path == "inputs" || strings.HasPrefix(e.Path, "inputs/") {
			return nil, fmt.Errorf("the step's source holds %s, where its inputs go: rename it", e.Path)
		}
		out.Entries = append(out.Entries, e)
	}
	for _, n := range names {
		dm, err := ReadManifest(store, src.data[n])
		if err != nil {
			return nil, fmt.Errorf("input %q: %w", n, err)
		}
		for _, e := range dm.Entries {
			e.Path = path.Join("inputs", n, e.Path)
			out.Entries = append(out.Entries, e)
		}
	}
	sort.Slice(out.Entries, func(i, j int) bool { return out.Entries[i].Path < out.Entries[j].Path })
	return out, out.Validate()
}

// PutManifest keeps m in the blob store, where ReadManifest finds it by
// its ID (the digest of its encoding, so the blob's name is the ID).
func PutManifest(ctx context.Context, store *snapshot.BlobStore, m *snapshot.Manifest) (string, error) {
	var buf bytes.Buffer
	if err := m.Encode(&buf); err != nil {
		return "", err
	}
	sum, _, err := store.Put(ctx, &buf)
	return sum, err
}

// ReadManifest reads the manifest with ID id from the blob store.
func ReadManifest(store *snapshot.BlobStore, id string) (*snapshot.Manifest, error) {
	f, err := store.Open(id)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("snapshot %s is not in the workspace's blob store", id)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m := new(snapshot.Manifest)
	if err := m.Decode(f); err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", id, err)
	}
	return m, nil
}

// BlobStore opens the workspace's blob store, where snapshots of code and
// data are kept by content.
func (ws *Workspace) BlobStore() (*snapshot.BlobStore, error) {
	return snapshot.NewBlobStore(ws.w.BlobsDir())
}

// runsWithProperty returns the runs in state st with property key = value,
// newest first, at most limit.
func (ws *Workspace) runsWithProperty(ctx context.Context, st workspace.State, key, value string, limit int) ([]workspace.Run, error) {
	return ws.w.Runs(ctx, workspace.Filter{State: st, Properties: map[string]string{key: value}, Limit: limit})
}

// FindCompleted returns the newest Completed run whose property key is
// value, or nil if there is none: a pipeline step's earlier result.
func (ws *Workspace) FindCompleted(ctx context.Context, key, value string) (*workspace.Run, error) {
	rs, err := ws.runsWithProperty(ctx, workspace.StateCompleted, key, value, 1)
	if err != nil || len(rs) == 0 {
		return nil, err
	}
	return &rs[0], nil
}

// RecordReused records a child of r that did no work because it reuses
// an earlier run's results: it is made Completed at once, with reason and
// properties.
func (r *Run) RecordReused(ctx context.Context, target, snapshotID, envKey, reason string, props map[string]string) (*Run, error) {
	d, err := r.ws.w.NewRun(ctx, workspace.RunSpec{ParentID: r.ID, Target: target, SnapshotID: snapshotID,
		EnvKey: envKey, Properties: props, Reused: reason})
	if err != nil {
		return nil, err
	}
	return &Run{ws: r.ws, ID: d.ID}, nil
}
