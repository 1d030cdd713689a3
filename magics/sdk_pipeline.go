package magics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"gantry/kernel/frame"
	"gantry/sdk/pipeline"
	"gantry/sdk/workspace"
)

// pipelineMagic is %pipeline: submit, list, show, wait, resubmit and cancel
// pipeline runs (package sdk/pipeline).
func (s *sdkMagics) pipelineMagic(ctx context.Context, c *Call) error {
	p, err := parseArgs("pipeline", c.Args, flagSpec{"--experiment": true, "--no-wait": false}, false)
	if err != nil {
		return err
	}
	if len(p.pos) == 0 {
		return errors.New("%pipeline needs a subcommand: submit FILE, list, show ID, wait ID, resubmit ID or cancel ID")
	}
	sub := p.pos[0]
	want := 2
	switch sub {
	case "list":
		want = 1
	case "submit", "show", "wait", "resubmit", "cancel":
	default:
		return fmt.Errorf("%%pipeline: unknown subcommand %q: use submit, list, show, wait, resubmit or cancel", sub)
	}
	if len(p.pos) != want {
		return fmt.Errorf("%%pipeline %s: want %d argument(s) after it", sub, want-1)
	}
	ws, err := s.ws(ctx)
	if err != nil {
		return fmt.Errorf("%%pipeline %s: %w", sub, err)
	}
	_, noWait := p.opts["--no-wait"]
	follow := func(pr *pipeline.Run) error {
		fmt.Fprintf(c.Stdout, "pipeline run %s\n", pr.ID)
		if noWait {
			showGraph(ctx, c, pr)
			return nil
		}
		st, err := pr.WaitForCompletion(ctx, pipeline.WaitOptions{Output: c.Stdout})
		showGraph(ctx, c, pr)
		if err != nil {
			return err
		}
		if st != "Completed" {
			return fmt.Errorf("pipeline run %s %s", pr.ID, st)
		}
		return nil
	}
	switch sub {
	case "submit":
		exp := p.opts["--experiment"]
		if exp == "" {
			exp = "default"
		}
		pl, err := pipeline.Load(p.pos[1])
		if err != nil {
			return err
		}
		pr, err := pipeline.Submit(ctx, ws, exp, pl)
		if err != nil {
			return fmt.Errorf("%%pipeline submit: %w", err)
		}
		return follow(pr)
	case "list":
		if err := ws.Reconcile(ctx); err != nil {
			fmt.Fprintf(c.Stderr, "%%pipeline list: the states shown may be out of date: %v\n", err)
		}
		rs, err := ws.Store().Runs(ctx, workspace.Filter{Experiment: p.opts["--experiment"]})
		if err != nil {
			return err
		}
		t := &table{head: []string{"id", "pipeline", "experiment", "state", "created"}}
		for _, r := range rs {
			if name, ok := r.Properties[pipeline.PropPipeline]; ok {
				t.add(cell{text: shortID(r.ID), title: r.ID}, cell{text: name}, cell{text: r.Experiment}, cell{text: string(r.State)}, cell{text: when(r.Created)})
			}
		}
		if len(t.rows) == 0 {
			_, err := io.WriteString(c.Stdout, "No pipeline runs yet: %pipeline submit FILE starts one.\n")
			return err
		}
		c.S.Display(t.bundle())
		return nil
	}
	run, err := resolveRun(ctx, ws, p.pos[1])
	if err != nil {
		return fmt.Errorf("%%pipeline %s: %w", sub, err)
	}
	pr, err := pipeline.Open(ctx, ws, run.ID)
	if err != nil {
		return fmt.Errorf("%%pipeline %s: %w", sub, err)
	}
	switch sub {
	case "show":
		st, err := pr.Status(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.Stdout, "pipeline run %s: %s\n", pr.ID, st)
		showGraph(ctx, c, pr)
		return nil
	case "wait":
		noWait = false
		return follow(pr)
	case "resubmit":
		nr, err := pipeline.Resubmit(ctx, ws, pr.ID)
		if err != nil {
			return fmt.Errorf("%%pipeline resubmit: %w", err)
		}
		return follow(nr)
	default:
		if err := pr.Cancel(ctx); err != nil {
			return err
		}
		_, err := fmt.Fprintf(c.Stdout, "cancel requested for pipeline run %s\n", pr.ID)
		return err
	}
}

// showGraph displays the pipeline's graph (SVG, and text for consoles).
func showGraph(ctx context.Context, c *Call, pr *pipeline.Run) {
	g := pr.Graph(ctx)
	c.S.Display(&frame.Bundle{Data: map[string]any{"image/svg+xml": g.SVG(), "text/plain": strings.TrimRight(g.String(), "\n")}})
}
