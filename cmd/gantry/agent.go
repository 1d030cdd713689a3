package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os/signal"
	"syscall"

	"gantry/sdk/agent"
	"gantry/sdk/workspace"
)

// runAgent carries out one run: `gantry agent --workspace DIR --run ID`,
// started detached by a submit.
func runAgent(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("workspace", "", "the workspace directory")
	id := fs.String("run", "", "the run's ID")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" || *id == "" {
		return fmt.Errorf("agent: --workspace and --run are required (the agent is started by a submit)")
	}
	// SIGTERM or SIGINT to the agent stop the run, recorded as Failed.
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	ws, err := workspace.Open(ctx, *dir)
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	defer ws.Close()
	return agent.Run(ctx, ws, *id, agent.Settings{})
}
