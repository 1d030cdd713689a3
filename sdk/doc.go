// Package sdk is Gantry's Go API for training on compute targets: a
// workspace, compute targets (local, SSH, Slurm), run configurations and
// environments, snapshots, experiments and runs, metrics and a model
// registry. The same API serves notebook cells (import "gantry/sdk") and
// ordinary Go programs.
//
// This package is a placeholder for the API that the SDK issue builds; it
// exports nothing yet.
package sdk
