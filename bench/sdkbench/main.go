// Command sdkbench measures the training SDK on the local target and
// prints a markdown table (also written to -out):
//
//   - submit -> script started: from the Experiment.Submit call to the
//     time.time() the script takes on its first line (same host clock),
//     user-managed -python (nothing built), one run at a time, median
//     and p95 over -runs runs; bare interpreter start-up for reference;
//   - snapshot: a generated tree (default 10,000 files, 200 MB, made by
//     bench/snapshotbench -gen) snapshotted into an empty store, against
//     sha256sum over the same files (page cache warm for both), and an
//     unchanged re-snapshot (stat cache warm);
//   - metric ingestion: a script logs -points points with gantry_run.log;
//     points/s from the script's first log call until the run is
//     Completed with every point in the database;
//   - output latency: a script prints time.time() every 10 ms; the delay
//     until the line comes out of WaitForCompletion's Output, p50/p95,
//     with the default poll (50 ms) and with Poll 10 ms.
//
// The gantry binary must be on PATH (it runs the agents):
//
//	PATH=$PWD/bin:$PATH go run ./bench/sdkbench -snapshotbench build/snapshotbench
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"gantry/sdk"
	"gantry/sdk/environment"
	"gantry/sdk/snapshot"
)

var (
	runs      = flag.Int("runs", 50, "submits for the submit -> started latency")
	files     = flag.Int("files", 10000, "files in the snapshot tree")
	totalSize = flag.Int64("bytes", 200_000_000, "bytes in the snapshot tree")
	points    = flag.Int("points", 1_000_000, "metric points the ingestion script logs")
	lines     = flag.Int("lines", 200, "lines the output-latency script prints")
	snapBench = flag.String("snapshotbench", "", "path of a built bench/snapshotbench (for -gen)")
	out       = flag.String("out", "bench/results/sdk.md", "markdown file to write")
	python    = flag.String("python", "python3", "interpreter of the user-managed environment")
)

type row struct{ what, value, note string }

var table []row

func add(what, value, note string) {
	table = append(table, row{what, value, note})
	fmt.Fprintf(os.Stderr, "  %s: %s (%s)\n", what, value, note)
}

func main() {
	flag.Parse()
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "gantry-sdkbench")
	check(err)
	defer os.RemoveAll(tmp)
	ws, err := sdk.OpenWorkspace(ctx, filepath.Join(tmp, "ws"))
	check(err)
	defer ws.Close()
	check(ws.CreateLocalCompute(ctx, "local", sdk.LocalCompute{}))

	benchSubmit(ctx, ws, tmp)
	benchOutput(ctx, ws, tmp)
	benchMetrics(ctx, ws, tmp)
	benchSnapshot(ctx, tmp)

	var b strings.Builder
	fmt.Fprintf(&b, "# SDK benchmark (local target)\n\n%s, %s/%s, %d CPUs, Python %s\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), pyVersion())
	b.WriteString("| measure | result | how |\n|---|---|---|\n")
	for _, r := range table {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", r.what, r.value, r.note)
	}
	fmt.Print(b.String())
	if *out != "" {
		check(os.MkdirAll(filepath.Dir(*out), 0o755))
		check(os.WriteFile(*out, []byte(b.String()), 0o644))
		fmt.Fprintln(os.Stderr, "wrote", *out)
	}
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "sdkbench:", err)
		os.Exit(1)
	}
}

func pyVersion() string {
	b, _ := exec.Command(*python, "-c", "import platform; print(platform.python_version())").Output()
	return strings.TrimSpace(string(b))
}

// env runs scripts with -python as it is: a user-managed environment,
// nothing built.
func env() *sdk.RunConfiguration {
	e := &environment.Environment{Name: "bench"}
	e.Python.UserManagedDependencies = true
	e.Python.InterpreterPath = *python
	return &sdk.RunConfiguration{Target: "local", Environment: e}
}

func writeSrc(dir, name, body string) string {
	check(os.MkdirAll(dir, 0o755))
	check(os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
	return dir
}

func submit(ctx context.Context, ws *sdk.Workspace, exp, src, script string) *sdk.Run {
	r, err := ws.Experiment(exp).Submit(ctx, sdk.ScriptRunConfig{SourceDirectory: src, Script: script, RunConfig: *env()})
	check(err)
	return r
}

func mustComplete(ctx context.Context, r *sdk.Run, o sdk.WaitOptions) {
	o.RaiseOnError = true
	_, _, err := r.WaitForCompletion(ctx, o)
	check(err)
}

func pct(xs []float64, p float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	i := int(p*float64(len(s)-1) + 0.5)
	return s[i]
}

func readFloat(path string) float64 {
	b, err := os.ReadFile(path)
	check(err)
	f, err := strconv.ParseFloat(strings.TrimSpace(string(b)), 64)
	check(err)
	return f
}

func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// benchSubmit: Submit call -> the script's first line.
func benchSubmit(ctx context.Context, ws *sdk.Workspace, tmp string) {
	fmt.Fprintln(os.Stderr, "submit -> script started ...")
	src := writeSrc(filepath.Join(tmp, "src-start"), "start.py", `import time; t = time.time()
import os
with open(os.path.join(os.environ["GANTRY_RUN_DIR"], "outputs", "started"), "w") as f:
    f.write(repr(t))
`)
	var lat, call []float64
	for i := 0; i < *runs; i++ {
		t0 := time.Now()
		r := submit(ctx, ws, "start", src, "start.py")
		call = append(call, time.Since(t0).Seconds()*1000)
		mustComplete(ctx, r, sdk.WaitOptions{Poll: 10 * time.Millisecond})
		dir, _ := r.Dir()
		lat = append(lat, (readFloat(filepath.Join(dir, "outputs", "started"))-unix(t0))*1000)
	}
	// Reference: the interpreter alone, from exec to its first line.
	var bare []float64
	for i := 0; i < 20; i++ {
		t0 := time.Now()
		b, err := exec.Command(*python, "-c", "import time; print(repr(time.time()))").Output()
		check(err)
		f, _ := strconv.ParseFloat(strings.TrimSpace(string(b)), 64)
		bare = append(bare, (f-unix(t0))*1000)
	}
	add("submit -> script's first line", fmt.Sprintf("median %.0f ms, p95 %.0f ms", pct(lat, .5), pct(lat, .95)),
		fmt.Sprintf("%d runs one after another; Submit call to time.time() on the script's first line; user-managed -python, snapshot unchanged", *runs))
	add("  of which: Submit call returns", fmt.Sprintf("median %.1f ms, p95 %.1f ms", pct(call, .5), pct(call, .95)), "snapshot + run record + agent started")
	add("  reference: bare interpreter start", fmt.Sprintf("median %.0f ms", pct(bare, .5)), "exec -python -c to its first line, 20 times")
}

// lineTimer timestamps each line written to it.
type lineTimer struct {
	mu   sync.Mutex
	buf  []byte
	lags []float64
}

func (w *lineTimer) Write(p []byte) (int, error) {
	now := unix(time.Now())
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		line := string(w.buf[:i])
		w.buf = w.buf[i+1:]
		if strings.HasPrefix(line, "T ") {
			if t, err := strconv.ParseFloat(line[2:], 64); err == nil {
				w.lags = append(w.lags, (now-t)*1000)
			}
		}
	}
	return len(p), nil
}

func benchOutput(ctx context.Context, ws *sdk.Workspace, tmp string) {
	fmt.Fprintln(os.Stderr, "output latency ...")
	src := writeSrc(filepath.Join(tmp, "src-out"), "out.py", fmt.Sprintf(`import time
time.sleep(0.5)
for i in range(%d):
    print("T", repr(time.time()), flush=True)
    time.sleep(0.01)
`, *lines))
	for _, poll := range []time.Duration{0, 10 * time.Millisecond} {
		r := submit(ctx, ws, "output", src, "out.py")
		w := &lineTimer{}
		mustComplete(ctx, r, sdk.WaitOptions{Output: w, Poll: poll})
		if len(w.lags) != *lines {
			check(fmt.Errorf("output latency: %d of %d lines arrived", len(w.lags), *lines))
		}
		name := "default poll (50 ms)"
		if poll > 0 {
			name = "Poll 10 ms"
		}
		add("output latency, "+name, fmt.Sprintf("p50 %.0f ms, p95 %.0f ms, max %.0f ms", pct(w.lags, .5), pct(w.lags, .95), pct(w.lags, 1)),
			fmt.Sprintf("script prints time.time() (flush) every 10 ms, %d lines; until the line reaches WaitForCompletion's Output", *lines))
	}
}

func benchMetrics(ctx context.Context, ws *sdk.Workspace, tmp string) {
	fmt.Fprintf(os.Stderr, "metric ingestion (%d points) ...\n", *points)
	src := writeSrc(filepath.Join(tmp, "src-metrics"), "metrics.py", fmt.Sprintf(`import os, time
import gantry_run as run
out = os.path.join(os.environ["GANTRY_RUN_DIR"], "outputs")
t0 = time.time()
for i in range(%d):
    run.log("loss", i * 1e-6)
run.flush()
t1 = time.time()
with open(os.path.join(out, "t0"), "w") as f:
    f.write(repr(t0))
with open(os.path.join(out, "t1"), "w") as f:
    f.write(repr(t1))
`, *points))
	r := submit(ctx, ws, "metrics", src, "metrics.py")
	mustComplete(ctx, r, sdk.WaitOptions{Poll: 20 * time.Millisecond})
	end := unix(time.Now())
	dir, _ := r.Dir()
	t0 := readFloat(filepath.Join(dir, "outputs", "t0"))
	t1 := readFloat(filepath.Join(dir, "outputs", "t1"))
	m, err := r.Metrics(ctx)
	check(err)
	if n := len(m.Series["loss"]); n != *points {
		check(fmt.Errorf("metric ingestion: %d of %d points in the database", n, *points))
	}
	add("metric ingestion", fmt.Sprintf("%.0f points/s", float64(*points)/(end-t0)),
		fmt.Sprintf("%d gantry_run.log calls; first call to run Completed with all points in the db (%.1f s)", *points, end-t0))
	add("  of which: the script's log calls", fmt.Sprintf("%.0f points/s", float64(*points)/(t1-t0)), fmt.Sprintf("Python side only (%.1f s)", t1-t0))
}

func benchSnapshot(ctx context.Context, tmp string) {
	fmt.Fprintf(os.Stderr, "snapshot of %d files, %d bytes ...\n", *files, *totalSize)
	tree := filepath.Join(tmp, "tree")
	if *snapBench == "" {
		*snapBench = filepath.Join(tmp, "snapshotbench")
		b, err := exec.Command("go", "build", "-o", *snapBench, "./bench/snapshotbench").CombinedOutput()
		if err != nil {
			check(fmt.Errorf("build snapshotbench: %v\n%s", err, b))
		}
	}
	if b, err := exec.Command(*snapBench, "-gen", tree, "-files", strconv.Itoa(*files), "-bytes", strconv.FormatInt(*totalSize, 10)).CombinedOutput(); err != nil {
		check(fmt.Errorf("generate the tree: %v\n%s", err, b))
	}
	genEnd := time.Now()
	var list []string
	check(filepath.Walk(tree, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			list = append(list, p)
		}
		return err
	}))
	sha := func() float64 { // sha256sum over every file, as xargs batches them
		t0 := time.Now()
		cmd := exec.Command("xargs", "-0", "sha256sum")
		cmd.Stdin = strings.NewReader(strings.Join(list, "\x00"))
		cmd.Stdout = bufio.NewWriter(&bytes.Buffer{})
		check(cmd.Run())
		return time.Since(t0).Seconds()
	}
	sha() // warms the page cache
	shaT := sha()
	// Files modified in the 2 s before a snapshot are not trusted to the
	// stat cache; wait that out so the re-snapshots can use it.
	time.Sleep(time.Until(genEnd.Add(2100 * time.Millisecond)))
	store, err := snapshot.NewBlobStore(filepath.Join(tmp, "store"))
	check(err)
	opts := snapshot.Options{MaxFiles: -1, MaxBytes: -1}
	t0 := time.Now()
	_, st, err := snapshot.Take(ctx, tree, store, opts)
	check(err)
	first := time.Since(t0).Seconds()
	var again []float64
	for i := 0; i < 5; i++ {
		t0 := time.Now()
		_, st2, err := snapshot.Take(ctx, tree, store, opts)
		check(err)
		if st2.Cached != st.Files {
			check(fmt.Errorf("re-snapshot: %d of %d files from the stat cache", st2.Cached, st.Files))
		}
		again = append(again, time.Since(t0).Seconds()*1000)
	}
	mb := float64(st.Bytes) / 1e6
	add("snapshot, first pass", fmt.Sprintf("%.2f s, %.0f MB/s", first, mb/first),
		fmt.Sprintf("%d files, %.0f MB into an empty store (hash + store every file); page cache warm", st.Files, mb))
	add("  sha256sum over the same files", fmt.Sprintf("%.2f s, %.0f MB/s", shaT, mb/shaT), "xargs -0 sha256sum, one process at a time")
	add("  ratio snapshot / sha256sum throughput", fmt.Sprintf("%.2f", (mb/first)/(mb/shaT)), fmt.Sprintf("GOMAXPROCS %d", runtime.GOMAXPROCS(0)))
	add("snapshot, unchanged re-snapshot", fmt.Sprintf("median %.0f ms", pct(again, .5)), "5 passes, every digest from the stat cache")
}
