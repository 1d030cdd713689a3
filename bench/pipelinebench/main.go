// Command pipelinebench measures pipelines on the local target beside
// their peer, in the same run: a chain of 10 trivial steps against 10
// submits in sequence by hand, and a fully reused 10-step pipeline (the
// reuse decision per step). It writes a markdown table.
//
//	go run ./bench/pipelinebench -out bench/results/pipeline.md
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"gantry/sdk"
	"gantry/sdk/pipeline"
)

func main() {
	out := flag.String("out", "bench/results/pipeline.md", "where the table goes")
	reps := flag.Int("reps", 3, "repetitions of each measurement")
	flag.Parse()
	if err := run(*out, *reps); err != nil {
		fmt.Fprintln(os.Stderr, "pipelinebench:", err)
		os.Exit(1)
	}
}

func median(d []time.Duration) time.Duration {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[len(d)/2]
}

func run(outPath string, reps int) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "pipelinebench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ws, err := sdk.OpenWorkspace(ctx, filepath.Join(dir, "ws"))
	if err != nil {
		return err
	}
	defer ws.Close()
	if err := ws.CreateLocalCompute(ctx, "local", sdk.LocalCompute{}); err != nil {
		return err
	}
	src := filepath.Join(dir, "src")
	os.MkdirAll(src, 0o755)
	if err := os.WriteFile(filepath.Join(src, "step.py"), []byte("import os, sys\nos.makedirs('outputs/o', exist_ok=True)\nopen('outputs/o/x', 'w').write(sys.argv[1])\n"), 0o644); err != nil {
		return err
	}
	chain := func(salt string) *pipeline.Pipeline {
		p := &pipeline.Pipeline{Name: "chain"}
		for i := 0; i < 10; i++ {
			s := pipeline.Step{Name: fmt.Sprintf("s%d", i), Target: "local", SourceDirectory: src, Script: "step.py",
				Arguments: []string{salt + fmt.Sprint(i)}, Outputs: []string{"o"}}
			if i > 0 {
				s.Inputs = map[string]string{"prev": fmt.Sprintf("s%d.o", i-1)}
			}
			p.Steps = append(p.Steps, s)
		}
		return p
	}
	var byHand, piped, reused []time.Duration
	for r := 0; r < reps; r++ {
		t0 := time.Now()
		for i := 0; i < 10; i++ {
			run, err := ws.Experiment("bench").Submit(ctx, sdk.ScriptRunConfig{SourceDirectory: src, Script: "step.py",
				Arguments: []string{fmt.Sprint(r, i)}, RunConfig: sdk.RunConfiguration{Target: "local"}})
			if err != nil {
				return err
			}
			if st, _, err := run.WaitForCompletion(ctx, sdk.WaitOptions{}); err != nil || st != "Completed" {
				return fmt.Errorf("by hand: %s %v", st, err)
			}
		}
		byHand = append(byHand, time.Since(t0))
		p := chain(fmt.Sprint("r", r, "-"))
		t0 = time.Now()
		pr, err := pipeline.Submit(ctx, ws, "bench", p)
		if err != nil {
			return err
		}
		if st, err := pr.WaitForCompletion(ctx, pipeline.WaitOptions{Poll: 20 * time.Millisecond}); err != nil || st != "Completed" {
			return fmt.Errorf("pipeline: %s %v", st, err)
		}
		piped = append(piped, time.Since(t0))
		t0 = time.Now()
		pr, err = pipeline.Submit(ctx, ws, "bench", p)
		if err != nil {
			return err
		}
		if st, err := pr.WaitForCompletion(ctx, pipeline.WaitOptions{Poll: 5 * time.Millisecond}); err != nil || st != "Completed" {
			return fmt.Errorf("reused pipeline: %s %v", st, err)
		}
		reused = append(reused, time.Since(t0))
	}
	h, p, u := median(byHand), median(piped), median(reused)
	table := fmt.Sprintf(`# Pipelines on the local target (median of %d, same run, same machine)

| what | gantry pipeline | peer | ratio / bound |
|---|---|---|---|
| 10 trivial steps in a chain | %.2f s | 10 submits in sequence by hand: %.2f s | %.2fx (bound 1.1x) |
| fully reused 10-step pipeline, submit to Completed | %.0f ms | | bound 300 ms |
| reuse decision per step (the above / 10, upper bound) | %.1f ms | | bound 20 ms |
`, reps, p.Seconds(), h.Seconds(), p.Seconds()/h.Seconds(), float64(u.Milliseconds()), float64(u.Microseconds())/10000)
	fmt.Print(table)
	os.MkdirAll(filepath.Dir(outPath), 0o755)
	return os.WriteFile(outPath, []byte(table), 0o644)
}
