package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"gantry/sdk/agent"
	"gantry/sdk/journal"
	"gantry/sdk/remote"
	"gantry/sdk/workspace"
)

// runAgent carries out one run: `gantry agent --workspace DIR --run ID`,
// started detached by a submit; or, on a remote machine, `gantry agent
// --journal --root DIR --run ID`, started by `gantry remote serve`, which
// records into the run's journal instead of the workspace.
func runAgent(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("workspace", "", "the workspace directory")
	useJournal := fs.Bool("journal", false, "record into the run's journal (on a remote machine)")
	root := fs.String("root", "", "with --journal: the remote root that `gantry remote serve` keeps")
	id := fs.String("run", "", "the run's ID")
	awaitCommit := fs.Bool("await-commit", false, "with --journal: start the script only once the submitter has marked the hand-over")
	if err := fs.Parse(args); err != nil {
		return err
	}
	// SIGTERM or SIGINT to the agent stop the run, recorded as Failed.
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if *useJournal {
		if *root == "" || *id == "" {
			return fmt.Errorf("agent: --journal needs --root and --run (the agent is started by gantry remote serve)")
		}
		runDir, err := remote.RunDir(*root, *id)
		if err != nil {
			return fmt.Errorf("agent: %w", err)
		}
		rec, err := journal.Create(runDir)
		if err != nil {
			return fmt.Errorf("agent: %w", err)
		}
		defer rec.Close()
		paths := agent.Paths{RunDir: runDir, BlobsDir: filepath.Join(*root, "blobs"),
			EnvsDir: filepath.Join(*root, "envs"), SlotsDir: filepath.Join(*root, "targets")}
		return agent.RunWith(ctx, rec, paths, *id, agent.Settings{AwaitCommit: *awaitCommit})
	}
	if *dir == "" || *id == "" {
		return fmt.Errorf("agent: --workspace and --run are required (the agent is started by a submit)")
	}
	ws, err := workspace.Open(ctx, *dir)
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	defer ws.Close()
	return agent.Run(ctx, ws, *id, agent.Settings{})
}

// runRemote is `gantry remote serve --root DIR`: the SSH driver starts it
// on the remote machine and speaks the remote protocol over its stdin and
// stdout.
func runRemote(ctx context.Context, args []string, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "serve" {
		return fmt.Errorf("remote: usage: gantry remote serve --root DIR (started by the SSH driver, not by people)")
	}
	fs := flag.NewFlagSet("remote serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	root := fs.String("root", "", "where runs, blobs and environments are kept")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *root == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return fmt.Errorf("remote serve: no --root and no home directory: %w", err)
		}
		*root = filepath.Join(home, ".gantry-remote")
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("remote serve: %w", err)
	}
	s := &remote.Server{Root: *root, Exe: exe, Version: version}
	return s.Serve(ctx, os.Stdin, os.Stdout)
}
