package agent

import (
	"context"
	"path/filepath"

	"gantry/sdk/workspace"
)

// A Recorder keeps the record of a run as its agent carries it out. The
// workspace is one, for agents that can reach its database (this machine,
// a cluster with a shared filesystem); a journal on the target's disk is
// another, for agents on a remote machine, whose entries the SDK applies to
// the workspace when it next reaches that machine.
type Recorder interface {
	// Transition records a change of state; it fails with an error
	// matching workspace.ErrIllegalTransition if the state machine
	// forbids it.
	Transition(ctx context.Context, runID string, to workspace.State, reason string) error
	// CancelRequested reports whether someone asked to cancel the run.
	CancelRequested(ctx context.Context, runID string) bool
	Heartbeat(ctx context.Context, runID string) error
	SetExitCode(ctx context.Context, runID string, code int) error
	SetTag(ctx context.Context, runID, key, value string) error
	LogMetrics(ctx context.Context, runID string, ms []workspace.Metric) error
}

// Paths say where an agent finds and keeps a run's files.
type Paths struct {
	RunDir   string // job.json, the manifest, logs/, wd/, outputs/
	BlobsDir string // the content-addressed store the manifest's blobs are in
	EnvsDir  string // system-managed environments, by spec hash
	SlotsDir string // per-target slot locks for MaxConcurrentRuns
}

// workspaceRecorder records straight into the workspace database.
type workspaceRecorder struct{ *workspace.Workspace }

func (w workspaceRecorder) CancelRequested(ctx context.Context, runID string) bool {
	r, err := w.Run(ctx, runID)
	return err == nil && r.State == workspace.StateCancelRequested
}

// WorkspacePaths returns where a run of ws keeps its files.
func WorkspacePaths(ws *workspace.Workspace, runID string) (Paths, error) {
	dir, err := ws.RunDir(runID)
	if err != nil {
		return Paths{}, err
	}
	return Paths{RunDir: dir, BlobsDir: ws.BlobsDir(), EnvsDir: ws.EnvsDir(), SlotsDir: filepath.Join(ws.Dir(), "targets")}, nil
}
