// Command uibench is the Go half of `make bench-ui` (ui/bench/bench.mjs is
// the browser half): it fills a workspace, times the runs API, and drives
// runs for the latency measurements, printing the wall-clock time of each
// change it makes so the browser side can subtract it from when the page
// showed it.
//
//	uibench fill  -ws DIR [-runs 10000] [-points 1000000]   make the workspace
//	uibench api   -ws DIR [-n 50]       time GET /api/runs (first page) against the store's own query
//	uibench run   -ws DIR               make a run and leave it Running; prints its ID
//	uibench state -ws DIR -run ID [-n 40] [-every 300ms]   toggle it Running <-> NotResponding
//	uibench log   -ws DIR -run ID [-n 40] [-every 200ms]   append lines to its output
//	uibench end   -ws DIR -run ID       end it (Failed)
//
// state and log print "K UNIX_MS" for each change, after it is recorded.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"gantry/bench/internal/durations"
	"gantry/sdk"
	"gantry/sdk/workspace"
	"gantry/serve"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: uibench fill|api|run|state|log -ws DIR ...")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	ws := fs.String("ws", "", "the workspace directory")
	runs := fs.Int("runs", 10000, "fill: runs")
	points := fs.Int("points", 1_000_000, "fill: metric points in all")
	n := fs.Int("n", 40, "api: requests; state, log: changes")
	every := fs.Duration("every", 300*time.Millisecond, "state, log: time between changes")
	run := fs.String("run", "", "state, log: the run")
	fs.Parse(os.Args[2:])
	if *ws == "" {
		fmt.Fprintln(os.Stderr, "uibench: -ws is required")
		os.Exit(2)
	}
	ctx := context.Background()
	w, err := sdk.OpenWorkspace(ctx, *ws)
	if err != nil {
		fail(err)
	}
	defer w.Close()
	switch os.Args[1] {
	case "fill":
		err = fill(ctx, w, *runs, *points)
	case "api":
		err = api(ctx, w, *n)
	case "run":
		err = newRun(ctx, w)
	case "state":
		err = toggle(ctx, w, *run, *n, *every)
	case "log":
		err = appendLog(w, *run, *n, *every)
	case "end":
		err = w.Store().Transition(ctx, *run, workspace.StateFailed, "the benchmark is over")
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "uibench:", err)
	os.Exit(1)
}

// fill makes a local target and runs completed runs, each with an equal
// share of points metric values (two metrics), as runs would leave them.
func fill(ctx context.Context, w *sdk.Workspace, runs, points int) error {
	began := time.Now()
	if _, err := w.ComputeTarget(ctx, "local"); err != nil {
		if err := w.CreateLocalCompute(ctx, "local", sdk.LocalCompute{MaxConcurrentRuns: 4}); err != nil {
			return err
		}
	}
	store := w.Store()
	per := points / runs
	for i := range runs {
		r, err := store.NewRun(ctx, workspace.RunSpec{Experiment: fmt.Sprintf("exp-%d", i%10), Target: "local"})
		if err != nil {
			return err
		}
		for _, st := range []workspace.State{workspace.StateQueued, workspace.StatePreparing, workspace.StateStarting,
			workspace.StateRunning, workspace.StateFinalizing, workspace.StateCompleted} {
			if err := store.Transition(ctx, r.ID, st, "bench"); err != nil {
				return err
			}
		}
		ms := make([]workspace.Metric, 0, per)
		for j := range per {
			name := "loss"
			if j%2 == 1 {
				name = "acc"
			}
			ms = append(ms, workspace.Metric{Name: name, Step: int64(j / 2), Value: 1 / float64(j+1)})
		}
		if err := store.LogMetrics(ctx, r.ID, ms); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "filled %d runs and %d metric points in %v\n", runs, per*runs, time.Since(began).Round(time.Second))
	return nil
}

// api times the first page of the runs list through gantry serve's
// handler on a loopback socket, against the store's own query for the
// same page (the floor the API adds to), and prints JSON.
func api(ctx context.Context, w *sdk.Workspace, n int) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	s := &serve.Server{WS: w, Token: "bench"}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go s.Serve(ctx, ln)
	url := "http://" + ln.Addr().String() + "/api/runs?limit=50"
	get := func() (time.Duration, error) {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", "Bearer bench")
		t := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return 0, fmt.Errorf("GET /api/runs: %s", resp.Status)
		}
		return time.Since(t), err
	}
	store := w.Store()
	page := func() (time.Duration, error) {
		t := time.Now()
		rs, err := store.Runs(ctx, workspace.Filter{Limit: 51})
		if err != nil {
			return 0, err
		}
		ids := make([]string, 0, len(rs))
		for _, r := range rs {
			ids = append(ids, r.ID)
		}
		_, err = store.LastMetrics(ctx, ids)
		return time.Since(t), err
	}
	var apiT, storeT []time.Duration
	for i := range n + 3 {
		a, err := get()
		if err != nil {
			return err
		}
		b, err := page()
		if err != nil {
			return err
		}
		if i >= 3 { // the first few warm the page cache and connection
			apiT, storeT = append(apiT, a), append(storeT, b)
		}
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return json.NewEncoder(os.Stdout).Encode(map[string]any{
		"api_p50": ms(durations.Median(apiT)), "api_p95": ms(durations.Pct(apiT, 95)),
		"store_p50": ms(durations.Median(storeT)), "store_p95": ms(durations.Pct(storeT, 95)), "n": n,
	})
}

// newRun makes a run of experiment "bench" and takes it to Running.
func newRun(ctx context.Context, w *sdk.Workspace) error {
	store := w.Store()
	r, err := store.NewRun(ctx, workspace.RunSpec{Experiment: "bench", Target: "local"})
	if err != nil {
		return err
	}
	for _, st := range []workspace.State{workspace.StateQueued, workspace.StatePreparing, workspace.StateStarting, workspace.StateRunning} {
		if err := store.Transition(ctx, r.ID, st, "bench"); err != nil {
			return err
		}
	}
	dir, _ := store.RunDir(r.ID)
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o700); err != nil {
		return err
	}
	fmt.Println(r.ID)
	return nil
}

// toggle moves the run between Running and NotResponding n times,
// starting from whichever it is in (a run left alone a while has been
// marked NotResponding by whoever looked at it).
func toggle(ctx context.Context, w *sdk.Workspace, id string, n int, every time.Duration) error {
	store := w.Store()
	for k := range n {
		time.Sleep(every)
		d, err := store.Run(ctx, id)
		if err != nil {
			return err
		}
		to := workspace.StateNotResponding
		if d.State == workspace.StateNotResponding {
			to = workspace.StateRunning
		}
		if err := store.Transition(ctx, id, to, "bench"); err != nil {
			return err
		}
		fmt.Printf("%d %d %s\n", k, time.Now().UnixMilli(), to)
	}
	return nil
}

// appendLog appends a line to the run's output n times.
func appendLog(w *sdk.Workspace, id string, n int, every time.Duration) error {
	dir, err := w.Store().RunDir(id)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(dir, "logs", "output.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	for k := range n {
		time.Sleep(every)
		if _, err := fmt.Fprintf(f, "bench tick %d\n", k); err != nil {
			return err
		}
		fmt.Printf("%d %d\n", k, time.Now().UnixMilli())
	}
	return nil
}
