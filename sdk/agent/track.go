package agent

import (
	"context"
	"log"
	"time"

	"gantry/sdk/track"
	"gantry/sdk/workspace"
)

// tracker moves what a script reports (metrics, tags) from its track file
// into the workspace, in batches, while the script runs and once more
// after it ends, so no record is lost.
type tracker struct {
	rec    Recorder
	runID  string
	tail   *track.Tailer
	steps  track.StepAssigner
	logger *log.Logger
}

// trackInterval is how often the track file is read while a script runs.
const trackInterval = 100 * time.Millisecond

func newTracker(rec Recorder, runID, path string, logger *log.Logger) *tracker {
	return &tracker{rec: rec, runID: runID, tail: track.NewTailer(path, 0), logger: logger}
}

// run ingests until ctx ends, then drains what is left.
func (t *tracker) run(ctx context.Context) {
	tick := time.NewTicker(trackInterval)
	defer tick.Stop()
	defer t.tail.Close()
	for {
		select {
		case <-ctx.Done():
			t.drain(context.WithoutCancel(ctx))
			return
		case <-tick.C:
			// Never a cancelable context for the store: a cancel landing
			// mid-store (the script just exited) would drop records already
			// read from the track file.
			t.drain(context.WithoutCancel(ctx))
		}
	}
}

// drain reads every complete record available and stores it.
func (t *tracker) drain(ctx context.Context) {
	for {
		recs, _, err := t.tail.Next(ctx)
		if err != nil {
			t.logger.Printf("read track file: %v", err)
			return
		}
		if len(recs) == 0 {
			return
		}
		t.store(ctx, recs)
	}
}

func (t *tracker) store(ctx context.Context, recs []track.Record) {
	t.steps.AssignSteps(recs)
	var ms []workspace.Metric
	for _, r := range recs {
		switch r.Kind {
		case track.KindMetric:
			ms = append(ms, workspace.Metric{Name: r.Name, Step: int64(r.Step), Value: r.Value, Time: r.Time})
		case track.KindList:
			for i, v := range r.Values {
				ms = append(ms, workspace.Metric{Name: r.Name, Step: int64(r.Step + i), Value: v, Time: r.Time})
			}
		case track.KindRow:
			for col, v := range r.Row {
				ms = append(ms, workspace.Metric{Name: r.Name + "." + col, Step: int64(r.Step), Value: v, Time: r.Time})
			}
		case track.KindTag:
			if err := t.rec.SetTag(ctx, t.runID, r.Key, r.Val); err != nil {
				t.logger.Printf("tag %s: %v", r.Key, err)
			}
		case track.KindImage:
			if err := t.rec.SetTag(ctx, t.runID, "image."+r.Name, r.Path); err != nil {
				t.logger.Printf("image %s: %v", r.Name, err)
			}
		default:
			t.logger.Printf("track file, offset %d: skipped a line that is not a record (%s): %q", r.Offset, r.Err, r.Raw)
		}
	}
	if len(ms) == 0 {
		return
	}
	if err := t.rec.LogMetrics(ctx, t.runID, ms); err != nil {
		t.logger.Printf("store %d metric points: %v", len(ms), err)
	}
}
