package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"
	"time"

	"gantry/sdk"
	"gantry/sdk/controller"
	"gantry/sdk/driver/spark"
	"gantry/sdk/pipeline"
	"gantry/sdk/workspace"
)

const pipelineUsage = `Usage:
  gantry pipeline submit FILE [--experiment E] [--no-wait] [--workspace DIR]
  gantry pipeline list [--experiment E] [--workspace DIR]
  gantry pipeline show ID [--workspace DIR]
  gantry pipeline wait ID [--workspace DIR]
  gantry pipeline resubmit ID [--no-wait] [--workspace DIR]
  gantry pipeline cancel ID [--workspace DIR]

FILE is a pipeline in YAML or JSON (see the README's Pipelines). submit and
resubmit print the pipeline run's ID, then, without --no-wait, every step's
output labelled [STEP] until it ends. resubmit runs the pipeline again as it
was submitted: completed steps are reused, the others run. ID may be a
unique prefix of a run's ID.
`

// runPipeline is `gantry pipeline ...`.
func runPipeline(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError(stderr, pipelineUsage, "pipeline: missing subcommand (submit, list, show, wait, resubmit or cancel)")
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	sub := args[0]
	fs, dir := newFlags("pipeline "+sub, pipelineUsage, stderr)
	exp := fs.String("experiment", "default", "the experiment of the pipeline run")
	noWait := fs.Bool("no-wait", false, "print the run's ID and return")
	switch sub {
	case "help", "-h", "--help":
		fmt.Fprint(stdout, pipelineUsage)
		return nil
	case "submit", "list", "show", "wait", "resubmit", "cancel":
	default:
		return unknownVerb("pipeline: subcommand", sub, "gantry pipeline help", "submit", "list", "show", "wait", "resubmit", "cancel", "help")
	}
	pos, _, err := parseArgs(fs, args[1:])
	if err != nil {
		return err
	}
	want := 1
	if sub == "list" {
		want = 0
	}
	if len(pos) != want {
		return usageError(stderr, pipelineUsage, "pipeline %s: want %d argument(s), got %d", sub, want, len(pos))
	}
	ws, err := openWorkspace(ctx, *dir)
	if err != nil {
		return err
	}
	defer ws.Close()
	wait := func(pr *pipeline.Run) error {
		fmt.Fprintln(stdout, pr.ID)
		if *noWait {
			return nil
		}
		_, err := pr.WaitForCompletion(ctx, pipeline.WaitOptions{Output: stdout, RaiseOnError: true})
		return err
	}
	switch sub {
	case "submit":
		p, err := pipeline.Load(pos[0])
		if err != nil {
			return err
		}
		pr, err := pipeline.Submit(ctx, ws, *exp, p)
		if err != nil {
			return err
		}
		return wait(pr)
	case "list":
		if err := ws.Reconcile(ctx); err != nil {
			fmt.Fprintf(stderr, "gantry: runs may show an old state: %v\n", err)
		}
		rs, err := ws.Store().Runs(ctx, workspace.Filter{Experiment: experimentFilter(fs, *exp)})
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tPIPELINE\tEXPERIMENT\tSTATE\tCREATED")
		for _, r := range rs {
			if name, ok := r.Properties[pipeline.PropPipeline]; ok {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.ID[:8], name, r.Experiment, r.State, r.Created.Local().Format(time.DateTime))
			}
		}
		return tw.Flush()
	}
	r, err := findRun(ctx, ws, pos[0])
	if err != nil {
		return err
	}
	pr, err := pipeline.Open(ctx, ws, r.ID)
	if err != nil {
		return err
	}
	switch sub {
	case "show":
		st, err := pr.Status(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "pipeline run %s: %s\n", pr.ID, st)
		fmt.Fprint(stdout, pr.Graph(ctx).String())
		return nil
	case "wait":
		_, err := pr.WaitForCompletion(ctx, pipeline.WaitOptions{Output: stdout, RaiseOnError: true})
		return err
	case "resubmit":
		nr, err := pipeline.Resubmit(ctx, ws, pr.ID)
		if err != nil {
			return err
		}
		return wait(nr)
	default: // cancel
		if err := pr.Cancel(ctx); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "cancel requested for pipeline run %s\n", pr.ID)
		return nil
	}
}

// experimentFilter is the experiment to list: "" (all) unless --experiment
// was given.
func experimentFilter(fs *flag.FlagSet, exp string) string {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == "experiment" })
	if given {
		return exp
	}
	return ""
}

// runController is `gantry controller --workspace DIR --run ID`, started
// detached by a pipeline's submit: it drives the pipeline run.
func runController(ctx context.Context, args []string, stderr io.Writer) error {
	fs, dir := newFlags("controller", "gantry controller --workspace DIR --run ID (started by a pipeline submit)\n", stderr)
	id := fs.String("run", "", "the parent run's ID")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" || *id == "" {
		return fmt.Errorf("controller: --workspace and --run are required (the controller is started by a pipeline submit)")
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	ws, err := sdk.OpenWorkspace(ctx, *dir)
	if err != nil {
		return fmt.Errorf("controller: %w", err)
	}
	defer ws.Close()
	runDir, err := ws.Store().RunDir(*id)
	if err != nil {
		return err
	}
	spec, err := controller.ReadSpec(runDir)
	if err != nil {
		return err
	}
	var loop controller.Loop
	switch spec.Loop {
	case "pipeline":
		pipeline.LoadSecrets(ws)
		loop = func(ctx context.Context, l *log.Logger) controller.Outcome { return pipeline.Drive(ctx, ws, *id, l) }
	default:
		return fmt.Errorf("controller: run %s asks for loop %q, which this Gantry does not have", *id, spec.Loop)
	}
	return controller.Run(ctx, ws.Store(), *id, loop, controller.Settings{})
}

// runSpark is `gantry spark submit ...`, which the agent of a run on a
// Spark target runs (package spark).
func runSpark(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "submit" {
		return fmt.Errorf("spark: usage: gantry spark submit --master URL [--conf K=V ...] -- SCRIPT [ARGS...] (run by the agent of a run on a Spark target)")
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	code, err := spark.RunSubmit(ctx, args[1:], stdout)
	if err != nil && code == 0 {
		code = 1
	}
	if code != 0 {
		if err != nil {
			fmt.Fprintf(os.Stderr, "gantry: %v\n", err)
		}
		os.Exit(code)
	}
	return nil
}
