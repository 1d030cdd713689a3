// Command gantry is the Gantry Jupyter kernel and its tools, in one binary:
//
//	gantry install [--user | --sys-prefix | --prefix DIR] [--name NAME] [--uninstall]
//	gantry kernel --connection-file FILE
//	gantry executor          (started by the kernel; not for people)
//	gantry agent --workspace DIR --run ID   (started by a submit; owns one run)
//	gantry remote serve --root DIR          (started on a remote machine by the SSH driver)
//	gantry compute list|create|attach|status|delete ...
//	gantry run submit|list|logs|wait|cancel ...
//	gantry serve [--addr 127.0.0.1:8765 | --socket PATH]   (the panel's HTTP API)
//	gantry ui                                (the same views in a browser, without Jupyter)
//	gantry pipeline submit|list|show|wait|resubmit|cancel ...
//	gantry controller --workspace DIR --run ID   (started by a pipeline submit; drives it)
//	gantry spark submit --master URL ... -- SCRIPT  (run by the agent of a run on a Spark target)
//	gantry nbrun NOTEBOOK [-p NAME VALUE]... [--out OUT.ipynb] [--html OUT.html]
//	gantry version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "gantry: %v\n", err)
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

const usage = `Gantry: a Go Jupyter kernel for training on compute targets.

Usage:
  gantry install [--user | --sys-prefix | --prefix DIR] [--name NAME] [--display-name TEXT] [--uninstall]
  gantry kernel --connection-file FILE
  gantry compute list | create local|cluster NAME ... | attach ssh NAME ... | status NAME | delete NAME
  gantry run submit --target T [--experiment E] SCRIPT [-- ARGS...]
  gantry run list [--experiment E] | logs ID [--follow] | wait ID | cancel ID
  gantry serve [--addr 127.0.0.1:8765 | --socket PATH] [--workspace DIR]
  gantry ui [--workspace DIR] [--no-browser]
  gantry pipeline submit FILE | list | show ID | wait ID | resubmit ID | cancel ID
  gantry nbrun NOTEBOOK [-p NAME VALUE]... [--out OUT.ipynb] [--html OUT.html]
  gantry version

The compute and run commands use the workspace in --workspace DIR, else
$GANTRY_WORKSPACE, else ./.gantry; "gantry run help" says more.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return flag.ErrHelp
	}
	switch args[0] {
	case "kernel":
		return runKernel(ctx, args[1:], stderr)
	case "executor":
		ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM)
		defer stop()
		return runExecutor(ctx)
	case "agent":
		return runAgent(ctx, args[1:], stderr)
	case "remote":
		return runRemote(ctx, args[1:], stderr)
	case "controller":
		return runController(ctx, args[1:], stderr)
	case "spark":
		return runSpark(ctx, args[1:], stdout)
	case "pipeline":
		return runPipeline(ctx, args[1:], stdout, stderr)
	case "compute":
		return runCompute(ctx, args[1:], stdout, stderr)
	case "run":
		return runRun(ctx, args[1:], stdout, stderr)
	case "nbrun":
		return runNbrun(ctx, args[1:], stdout, stderr)
	case "install":
		return runInstall(ctx, args[1:], stdout, stderr)
	case "serve", "ui":
		return runServe(ctx, args[1:], stderr, args[0] == "ui")
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "gantry", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		return unknownVerb("command", args[0], "gantry help", "install", "kernel", "compute", "run", "pipeline", "nbrun", "version", "help")
	}
}
