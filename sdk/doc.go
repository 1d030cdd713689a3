// Package sdk is Gantry's Go API for training on compute targets, the same
// from a notebook cell (import "gantry/sdk") and from a Go program: a
// workspace, compute targets, run configurations and environments,
// snapshots, experiments and runs, metrics and models.
//
//	ws, err := sdk.OpenWorkspace(ctx, "")             // .gantry beside the notebook
//	err = ws.CreateLocalCompute(ctx, "local", sdk.LocalCompute{})
//	run, err := ws.Experiment("mnist").Submit(ctx, sdk.ScriptRunConfig{
//		SourceDirectory: ".",
//		Script:          "train.py",
//		RunConfig:       sdk.RunConfiguration{Target: "local"},
//	})
//	state, _, err := run.WaitForCompletion(ctx, sdk.WaitOptions{Output: os.Stdout})
//
// Submit snapshots the source directory into the workspace and starts a
// `gantry agent` process that owns the run: it survives the kernel that
// submitted it. A Run value only watches; Workspace.Run finds a run again
// by ID. Moving the same script to another target changes only
// RunConfiguration.Target.
//
// The data layer is sdk/workspace; snapshots sdk/snapshot; environments
// sdk/environment; what scripts report, sdk/track; the agent, sdk/agent.
//
// Status: the local target runs jobs end to end; SSH and Slurm targets,
// magics, the model registry API and the notebook-side display of runs are
// the next steps.
package sdk
