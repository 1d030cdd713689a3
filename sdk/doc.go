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
// # Compute targets
//
// Three kinds, all created the same way and all get-or-create: a create or
// attach of a name that exists with the same settings does nothing, so a
// notebook can run it every time; other settings are refused with an error
// matching ErrExists that names each one that differs.
//
//   - this machine: CreateLocalCompute(ctx, "local", LocalCompute{});
//   - a machine over SSH: AttachSSHCompute(ctx, "gpu-box", SSHCompute{...}),
//     which checks the host key, installs the agent there and describes the
//     machine; with SSHCompute.Slurm, the login node of an existing Slurm
//     cluster, whose runs become batch jobs;
//   - a managed cluster on Slurm that boots nodes for runs and stops them
//     when idle: CreateCompute(ctx, "cpu-cluster", ManagedCluster{...}),
//     UpdateManagedCluster, ClusterStatus, WaitForCluster.
//
// ComputeTarget looks one up by name; its error matches ErrNotFound when
// there is none. DescribeCompute says how a target is now.
//
// # After a run
//
// Run.Metrics returns what the script logged (gantry_run.log in Python,
// gantry/sdk/track in Go). In a notebook, Compare and Plot show runs side
// by side, and Best picks the run to keep, each with the metric's goal:
//
//	runs, _ := ws.Experiment("mnist").Runs(ctx)
//	sdk.Compare(ctx, runs, "val_loss", sdk.Minimize) // a table, the best run highlighted
//	sdk.Plot(ctx, runs, "val_loss")                  // an SVG line plot
//	best, err := sdk.Best(ctx, runs, "val_loss", sdk.Minimize)
//	model, err := best.RegisterModel(ctx, "mnist", "model.pt", nil)
//
// ByName lets GoalFor pick the goal from the metric's name (loss, err, mse,
// rmse, mae... lower is better; accuracy, auc, f1, r2... higher).
// Run.Files and Run.Download fetch what a run wrote, Run.RegisterModel
// copies an output into the workspace's model registry (Workspace.Models,
// Workspace.DownloadModel), Run.SetTag and Experiment.Runs with a Filter
// select runs, Run.Snapshot and DiffSnapshots show the code each ran, and
// Run.SubmitChild groups runs under a parent.
//
// The same operations are magics in a notebook (%compute, %submit, %runs,
// %run, %metrics, %model; %help NAME) and commands in a terminal
// (gantry compute ..., gantry run submit|list|logs|wait|cancel).
//
// The data layer is sdk/workspace; snapshots sdk/snapshot; environments
// sdk/environment; what scripts report, sdk/track; the agent, sdk/agent;
// the target drivers, sdk/driver and its local, ssh and slurm packages.
package sdk
