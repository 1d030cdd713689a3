// Command sshbench measures the SSH target against a real sshd on
// 127.0.0.1 (started with scripts/sshd.sh) and prints a markdown table
// (also written to -out):
//
//   - submit -> script started, warm connection and cached environment:
//     from the Experiment.Submit call to the time.time_ns() the script
//     takes on its first line (same host clock), median and p95 over -runs
//     submits, one at a time; beside it the peer, OpenSSH's own client over
//     a multiplexed master connection (ssh -S) running the same
//     interpreter with the same one-liner;
//   - bytes sent on a resubmit after one file of a -files-file snapshot
//     changed;
//   - log line latency: the script prints time.time_ns() every 10 ms; the
//     delay until the line comes out of WaitForCompletion's Output here,
//     p50/p95.
//
// The gantry binary must be on PATH (it is copied to the "remote"):
//
//	PATH=$PWD/bin:$PATH go run ./bench/sshbench
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"gantry/bench/internal/durations"
	"gantry/sdk"
	"gantry/sdk/environment"
)

func main() {
	runs := flag.Int("runs", 20, "submits to time")
	files := flag.Int("files", 2000, "files in the snapshot")
	python := flag.String("python", "python3", "interpreter the scripts run with")
	out := flag.String("out", "", "also write the table here")
	flag.Parse()
	if err := bench(*runs, *files, *python, *out); err != nil {
		fmt.Fprintln(os.Stderr, "sshbench:", err)
		os.Exit(1)
	}
}

func bench(runs, nfiles int, python, outPath string) error {
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "sshbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	sshdDir := filepath.Join(tmp, "sshd")
	if out, err := exec.Command("scripts/sshd.sh", "start", sshdDir, strconv.Itoa(port)).CombinedOutput(); err != nil {
		return fmt.Errorf("start sshd: %v\n%s", err, out)
	}
	defer exec.Command("scripts/sshd.sh", "stop", sshdDir).Run()
	user := strings.TrimSpace(run("id", "-un"))

	ws, err := sdk.OpenWorkspace(ctx, filepath.Join(tmp, "ws"))
	if err != nil {
		return err
	}
	defer ws.Close()
	if _, err := ws.AttachSSHCompute(ctx, "box", sdk.SSHCompute{Address: "127.0.0.1", Port: port, User: user,
		KeyFile: filepath.Join(sshdDir, "id_ed25519"), KnownHosts: filepath.Join(sshdDir, "known_hosts"),
		RemoteRoot: filepath.Join(tmp, "remote")}); err != nil {
		return err
	}
	env := &environment.Environment{Name: "py"}
	env.Python.UserManagedDependencies = true
	env.Python.InterpreterPath = python

	// A source tree of nfiles small files and the timing script.
	src := filepath.Join(tmp, "src")
	for i := 0; i < nfiles-2; i++ {
		d := filepath.Join(src, fmt.Sprintf("pkg%02d", i%40))
		os.MkdirAll(d, 0o755)
		if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("f%04d.py", i)), bytes.Repeat([]byte(fmt.Sprintf("# file %d\n", i)), 20), 0o644); err != nil {
			return err
		}
	}
	os.WriteFile(filepath.Join(src, "start.py"), []byte("import time\nprint('T', time.time_ns(), flush=True)\n"), 0o644)
	os.WriteFile(filepath.Join(src, "lines.py"), []byte("import time\nfor i in range(300):\n    print('L', time.time_ns(), flush=True)\n    time.sleep(0.01)\n"), 0o644)
	exp := ws.Experiment("bench")
	submit := func(script string) (*sdk.Run, time.Time, error) {
		t0 := time.Now()
		r, err := exp.Submit(ctx, sdk.ScriptRunConfig{SourceDirectory: src, Script: script,
			RunConfig: sdk.RunConfiguration{Target: "box", Environment: env}})
		return r, t0, err
	}
	// Warm up: the first submit sends the binary's tree of blobs.
	first, _, err := submit("start.py")
	if err != nil {
		return err
	}
	if _, err := waitOut(ctx, first, nil); err != nil {
		return err
	}
	firstSent := sent(ctx, first)

	var starts, calls []time.Duration
	for i := 0; i < runs; i++ {
		r, t0, err := submit("start.py")
		if err != nil {
			return err
		}
		calls = append(calls, time.Since(t0))
		out, err := waitOut(ctx, r, nil)
		if err != nil {
			return err
		}
		ns, err := stamp(out, "T")
		if err != nil {
			return err
		}
		starts = append(starts, time.Unix(0, ns).Sub(t0))
	}

	// The peer: OpenSSH's client over a master connection, same interpreter.
	ctl := filepath.Join(tmp, "ctl")
	sshArgs := []string{"-S", ctl, "-o", "ControlMaster=auto", "-o", "ControlPersist=60", "-o", "BatchMode=yes",
		"-o", "UserKnownHostsFile=" + filepath.Join(sshdDir, "known_hosts"), "-i", filepath.Join(sshdDir, "id_ed25519"),
		"-p", strconv.Itoa(port), user + "@127.0.0.1"}
	run("ssh", append(sshArgs, "true")...) // open the master
	defer exec.Command("ssh", append([]string{"-O", "exit"}, sshArgs...)...).Run()
	var peer []time.Duration
	for i := 0; i < runs; i++ {
		t0 := time.Now()
		out := run("ssh", append(sshArgs, python, "-c", shq("import time; print('T', time.time_ns(), flush=True)"))...)
		ns, err := stamp(out, "T")
		if err != nil {
			return fmt.Errorf("ssh peer: %w", err)
		}
		peer = append(peer, time.Unix(0, ns).Sub(t0))
	}

	// One file changed: what a resubmit sends.
	changed := filepath.Join(src, "pkg07", "f0007.py")
	os.WriteFile(changed, []byte("# changed\n"), 0o644)
	r, _, err := submit("start.py")
	if err != nil {
		return err
	}
	if _, err := waitOut(ctx, r, nil); err != nil {
		return err
	}
	resent := sent(ctx, r)

	// Log line latency.
	var mu sync.Mutex
	var lat []time.Duration
	r, _, err = submit("lines.py")
	if err != nil {
		return err
	}
	w := &lineWriter{fn: func(line string) {
		if ns, err := stamp(line, "L"); err == nil {
			mu.Lock()
			lat = append(lat, time.Since(time.Unix(0, ns)))
			mu.Unlock()
		}
	}}
	if _, err := waitOut(ctx, r, w); err != nil {
		return err
	}

	var b strings.Builder
	fmt.Fprintf(&b, "## SSH target (sshd on 127.0.0.1, %s)\n\n", time.Now().Format("2006-01-02"))
	fmt.Fprintf(&b, "| metric | Gantry | peer | ratio |\n|---|---|---|---|\n")
	fmt.Fprintf(&b, "| submit -> script started, warm connection, %d-file snapshot (median / p95 of %d) | %s / %s | ssh -S (master connection) + same python: %s / %s | %.2f |\n",
		nfiles, runs, ms(durations.Median(starts)), ms(durations.Pct(starts, 95)), ms(durations.Median(peer)), ms(durations.Pct(peer, 95)), float64(durations.Median(starts))/float64(durations.Median(peer)))
	fmt.Fprintf(&b, "| of which the Submit call (snapshot, transfer, agent started; median) | %s | | |\n", ms(durations.Median(calls)))
	fmt.Fprintf(&b, "| first submit to a new machine | %s | | |\n", firstSent)
	fmt.Fprintf(&b, "| resubmit after one file of %d changed | %s | | |\n", nfiles, resent)
	fmt.Fprintf(&b, "| log line latency, remote print -> notebook (p50 / p95 of %d) | %s / %s | | |\n", len(lat), ms(durations.Median(lat)), ms(durations.Pct(lat, 95)))
	fmt.Print(b.String())
	if outPath != "" {
		os.MkdirAll(filepath.Dir(outPath), 0o755)
		return os.WriteFile(outPath, []byte(b.String()), 0o644)
	}
	return nil
}

func waitOut(ctx context.Context, r *sdk.Run, w *lineWriter) (string, error) {
	var buf bytes.Buffer
	var out interface{ Write([]byte) (int, error) } = &buf
	if w != nil {
		w.also = &buf
		out = w
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	st, _, err := r.WaitForCompletion(ctx, sdk.WaitOptions{Output: out, RaiseOnError: true, Poll: 5 * time.Millisecond})
	if err != nil {
		return buf.String(), fmt.Errorf("run %s %s: %w\n%s", r.ID, st, err, buf.String())
	}
	return buf.String(), nil
}

// lineWriter calls fn with each complete line written.
type lineWriter struct {
	fn   func(string)
	also *bytes.Buffer
	part []byte
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.also.Write(p)
	l.part = append(l.part, p...)
	for {
		i := bytes.IndexByte(l.part, '\n')
		if i < 0 {
			return len(p), nil
		}
		l.fn(string(l.part[:i]))
		l.part = l.part[i+1:]
	}
}

func sent(ctx context.Context, r *sdk.Run) string {
	d, err := r.Details(ctx)
	if err != nil {
		return err.Error()
	}
	var h struct {
		State struct {
			BytesSent  int64 `json:"bytes_sent"`
			BlobsSent  int   `json:"blobs_sent"`
			BlobsTotal int   `json:"blobs_total"`
			WireBytes  int64 `json:"wire_bytes"`
		} `json:"state"`
	}
	json.Unmarshal([]byte(d.Properties["gantry.driver.handle"]), &h)
	return fmt.Sprintf("%d bytes in all (snapshot: %d bytes, %d of %d files)", h.State.WireBytes, h.State.BytesSent, h.State.BlobsSent, h.State.BlobsTotal)
}

func stamp(out, tag string) (int64, error) {
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) == 2 && f[0] == tag {
			return strconv.ParseInt(f[1], 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s line in %q", tag, out)
}

func run(name string, args ...string) string {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return string(out) + err.Error()
	}
	return string(out)
}

func shq(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
