package sdk

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"gantry/sdk/workspace"
)

// smallDisk mounts a tmpfs of size bytes for the test and returns its
// path; it needs root (CI runs as root), and says so when it cannot.
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		if os.Geteuid() != 0 {
			t.Skipf("a small disk needs root to mount a tmpfs: %v: %s", err, out)
		}
		t.Fatalf("mount a %s tmpfs: %v: %s", size, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// TestDiskFull fills the disk that holds the workspace from a run, once
// through outputs/ and once through stdout, and frees space a while after
// the script has died: the run must end Failed, saying the disk was full,
// with the script's last words in its output log, and a wait that watched
// it all along must end with it, not before.
func TestDiskFull(t *testing.T) {
	for _, tc := range []struct {
		name, script, lastWords string
	}{
		{"outputs", `import os
print("writing the model", flush=True)
with open(os.path.join("outputs", "model.bin"), "wb") as f:
    for i in range(30):
        f.write(b"w" * (1 << 20))
print("not reached")
`, "No space left on device"},
		{"stdout", `import sys
print("flooding", flush=True)
line = "x" * 1023 + "\n"
for i in range(30 * 1024):
    sys.stdout.write(line)
sys.stdout.flush()
print("not reached")
`, "flooding"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			disk := smallDisk(t, "20m")
			bin := testWorkspace(t).exe // builds the binary, and skips without python3
			ctx, cancel := context.WithTimeout(context.Background(), 2*hang)
			defer cancel()
			ws, err := OpenWorkspace(ctx, filepath.Join(disk, "ws"))
			if err != nil {
				t.Fatal(err)
			}
			defer ws.Close()
			ws.exe = bin
			if err := ws.CreateLocalCompute(ctx, "local", LocalCompute{}); err != nil {
				t.Fatal(err)
			}
			// Ballast the test frees later, when the disk has been full a
			// while.
			ballast := filepath.Join(disk, "ballast")
			if err := os.WriteFile(ballast, bytes.Repeat([]byte("b"), 4<<20), 0o600); err != nil {
				t.Fatal(err)
			}
			run, err := ws.Experiment("disk").Submit(ctx, ScriptRunConfig{SourceDirectory: writeScript(t, tc.script),
				Script: "train.py", RunConfig: RunConfiguration{Target: "local"}})
			if err != nil {
				t.Fatal(err)
			}
			type result struct {
				st  workspace.State
				err error
				out string
			}
			waited := make(chan result, 1)
			go func() {
				var out bytes.Buffer
				st, _, err := run.WaitForCompletion(ctx, WaitOptions{Output: &out, RaiseOnError: true})
				waited <- result{st, err, out.String()}
			}()
			dir, _ := run.Dir()
			waitFile(t, filepath.Join(dir, "script.pid"))
			pid, _ := readInt(filepath.Join(dir, "script.pid"))
			waitGone(t, "the script", pid)
			// The agent now finds the disk full: it retries its records.
			time.Sleep(3 * time.Second)
			select {
			case r := <-waited:
				t.Fatalf("the wait ended while the disk was full: %s, %v", r.st, r.err)
			default:
			}
			var st syscall.Statfs_t
			_ = syscall.Statfs(disk, &st)
			t.Logf("free while full: %d bytes", int64(st.Bavail)*st.Bsize)
			if err := os.Remove(ballast); err != nil {
				t.Fatal(err)
			}
			r := <-waited
			if r.st != workspace.StateFailed || !errors.Is(r.err, ErrRunFailed) || !strings.Contains(r.err.Error(), "disk full") {
				agentLog, _ := os.ReadFile(filepath.Join(dir, "logs", "agent.log"))
				t.Fatalf("state %s, err %v; want Failed for a full disk\nagent log:\n%s", r.st, r.err, agentLog)
			}
			t.Logf("reason: %v", r.err)
			out, err := os.ReadFile(filepath.Join(dir, "logs", "output.log"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(out, []byte(tc.lastWords)) {
				t.Errorf("the output log (%d bytes) lacks %q; its end: %q", len(out), tc.lastWords, out[max(0, len(out)-300):])
			}
			if tc.name == "outputs" && !strings.Contains(r.out, "OSError") {
				t.Errorf("the wait's output lacks the traceback: %q", r.out)
			}
			// Nothing stays NotResponding once space is back.
			d, _ := run.Details(ctx)
			if d.State != workspace.StateFailed {
				t.Errorf("state %s after the wait", d.State)
			}
		})
	}
}
