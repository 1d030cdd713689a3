// Package driver is the contract between the SDK and the drivers of compute
// target kinds (local, ssh, slurm, ...). It imports nothing of the SDK, so
// a driver depends on this package alone.
//
// By the time a driver sees a run, the SDK has recorded it in the
// workspace and written everything the run needs into its directory
// (job.json, the snapshot manifest, the Python helper); the blobs the
// manifest names are in the workspace's blob store. A driver's job is to
// get a `gantry agent` running for it where the target computes: the agent
// owns the run from then on and records its states in the workspace.
//
// The required interface is small: Submit and Cancel. Optional
// capabilities are separate interfaces, checked with a type assertion:
// Validator (check a target's configuration before it is saved), Recoverer
// (tell whether a run's agent is still alive after a restart, from the
// handle Submit returned), Committer (agents on other machines), Scaler
// (clusters), KernelFinder (notebook jobs on other machines).
package driver

import (
	"context"
	"encoding/json"
)

// Job names a prepared run.
type Job struct {
	RunID        string
	WorkspaceDir string // the workspace the run is recorded in
	RunDir       string // the run's directory inside it
	Target       string // the target's name
	Config       json.RawMessage
	NodeCount    int // nodes the run asks for (clusters); 0 or 1: one
	GPUCount     int // GPUs the run asks for, per node; 0: none
}

// Handle is what a driver needs to find a run again: opaque state of the
// driver's (a process ID, a Slurm job ID), kept with the run.
type Handle struct {
	Kind  string          `json:"kind"`
	State json.RawMessage `json:"state,omitempty"`
}

// Driver runs jobs on targets of one kind.
type Driver interface {
	// Submit starts the run's agent on the target and returns at once.
	Submit(ctx context.Context, job Job) (Handle, error)
	// Cancel asks the target to stop the run. The SDK has already recorded
	// the request, which the agent watches for; a driver whose agent
	// cannot see the workspace stops it another way.
	Cancel(ctx context.Context, job Job, h Handle) error
}

// Validator is implemented by drivers that can check a target's
// configuration before it is saved; without it any configuration is
// accepted.
type Validator interface {
	Validate(ctx context.Context, config json.RawMessage) error
}

// Recoverer is implemented by drivers that can tell, from a handle, whether
// a run's agent is still alive (after a kernel restart, say); without it,
// the SDK judges by the agent's heartbeats alone.
type Recoverer interface {
	Alive(ctx context.Context, job Job, h Handle) (bool, error)
}

// Committer is implemented by drivers whose agents run on another machine
// than the submitter and so cannot see its submit lock: Commit tells the
// run's agent that the SDK has recorded the hand-over (the handle), and
// that it may start the script. Until then the agent waits; an agent told
// nothing for long fails its run, whose submitter died part way. Commit
// is idempotent: a follower may send it again.
type Committer interface {
	Commit(ctx context.Context, job Job, h Handle) error
}

// Scaler is implemented by drivers of targets that grow and shrink: it
// sets the bounds on the target's nodes.
type Scaler interface {
	Scale(ctx context.Context, config json.RawMessage, minNodes, maxNodes int) error
}

// Kernel is the Jupyter kernel a notebook job runs on: a kernelspec name
// and the notebook's language, looked for as jupyter_client does, with
// the kernels of the Python environment of interpreter Python (if any).
type Kernel struct {
	Name, Language, Python string
}

// KernelFinder is implemented by drivers whose targets run jobs on another
// machine than the submitter's: FindKernel tells whether a notebook job's
// kernel is installed there, and if not returns an error that says so
// and what is installed. Without it, the SDK looks on this machine, where
// a local target runs its jobs and a managed cluster's nodes share the
// filesystem.
type KernelFinder interface {
	FindKernel(ctx context.Context, target string, config json.RawMessage, k Kernel) error
}

// Factory returns the driver for a kind of target.
type Factory func() Driver
