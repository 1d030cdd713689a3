package sdk

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"gantry/sdk/agent"
	"gantry/sdk/snapshot"
	"gantry/sdk/workspace"
)

// Resubmit runs the run's code again, as a new run of the same experiment
// on the same target: the same snapshot (whose files the workspace keeps),
// script, arguments, environment and node count. It returns the new run,
// Queued, as Submit does; the run it came from is left as it is.
func (r *Run) Resubmit(ctx context.Context) (*Run, error) {
	nr, err := r.resubmit(ctx)
	if err != nil {
		return nil, fmt.Errorf("resubmit run %s: %w", r.ID, err)
	}
	return nr, nil
}

func (r *Run) resubmit(ctx context.Context) (*Run, error) {
	d, err := r.Details(ctx)
	if err != nil {
		return nil, err
	}
	dir, err := r.Dir()
	if err != nil {
		return nil, err
	}
	job, err := agent.ReadJob(dir)
	if err != nil {
		return nil, fmt.Errorf("its job description is unreadable (%w): submit the script again instead", err)
	}
	f, err := os.Open(filepath.Join(dir, agent.ManifestFile))
	if err != nil {
		return nil, fmt.Errorf("its snapshot manifest is unreadable (%w): submit the script again instead", err)
	}
	var m snapshot.Manifest
	err = m.Decode(f)
	f.Close()
	if err != nil {
		return nil, err
	}
	store, err := snapshot.NewBlobStore(r.ws.w.BlobsDir())
	if err != nil {
		return nil, err
	}
	for _, e := range m.Entries {
		if e.IsSymlink() {
			continue
		}
		if ok, err := store.Has(e.SHA256); err != nil || !ok {
			return nil, fmt.Errorf("the workspace no longer holds its snapshot's file %s: submit the script again instead", e.Path)
		}
	}
	t, err := r.ws.w.Target(ctx, d.Target)
	if err != nil {
		return nil, fmt.Errorf("%w: it ran there; submit it to another target instead", err)
	}
	drv, err := r.ws.driver(string(t.Kind))
	if err != nil {
		return nil, err
	}
	nodes, _ := strconv.Atoi(d.Properties[nodeCountProperty])
	job.RunID, job.Target, job.MaxConcurrentRuns = "", t.Name, 0
	var local LocalCompute
	if err := json.Unmarshal(t.Config, &local); err == nil {
		job.MaxConcurrentRuns = local.MaxConcurrentRuns
	}
	if err := r.ws.checkGPUs(ctx, t, job.GPUCount); err != nil {
		return nil, err
	}
	spec := workspace.RunSpec{Experiment: d.Experiment, ParentID: d.ParentID, Target: t.Name, SnapshotID: m.ID(), EnvKey: job.Environment.Key()}
	if nodes > 1 {
		spec.Properties = map[string]string{nodeCountProperty: strconv.Itoa(nodes)}
	}
	return r.ws.handOver(ctx, spec, job, drv, t, RunConfiguration{NodeCount: nodes, GPUCount: job.GPUCount}, &m)
}
