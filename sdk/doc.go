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
// After a run: Run.Files and Run.Download fetch what it wrote,
// Run.RegisterModel copies an output into the workspace's model registry
// (Workspace.Models, Workspace.DownloadModel), Run.SetTag and
// Experiment.Runs with a Filter select runs, Run.Snapshot and DiffSnapshots
// show the code each ran, and Run.SubmitChild groups runs under a parent.
// In a notebook, Compare and Plot show runs side by side:
//
//	runs, _ := ws.Experiment("mnist").Runs(ctx)
//	sdk.Compare(ctx, runs, "val_loss") // a table, the best run highlighted
//	sdk.Plot(ctx, runs, "val_loss")    // an SVG line plot
//
// The same operations are on the command line: gantry compute ... and
// gantry run submit|list|logs|wait|cancel.
//
// Status: the local target runs jobs end to end, from cells, from magics
// (%compute, %submit, %runs, %run, %metrics, %model) and from the gantry
// CLI; SSH and Slurm targets are the next steps.
package sdk
