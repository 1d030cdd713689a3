package serve

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"gantry/sdk/driver/slurm"
)

// TestClusterTarget creates, shows, resizes and deletes a managed cluster
// through the API, on a real Slurm started by scripts/slurm.sh.
func TestClusterTarget(t *testing.T) {
	if err := slurm.Installed(); err != nil {
		t.Skip(err)
	}
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "scripts", "slurm.sh")
	dir, err := os.MkdirTemp("", "gantry-serve-slurm-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	start := exec.Command(script, "start", dir)
	start.Env = append(os.Environ(), "GANTRY_BOOT_DELAY=1")
	if out, err := start.CombinedOutput(); err != nil {
		t.Fatalf("slurm.sh start: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command(script, "stop", dir).Run() })
	ts := newTestServer(t)

	code, body := ts.do(t, "POST", "/api/targets", map[string]any{"kind": "cluster", "name": "cpu", "vm_size": "STANDARD_D1_V2",
		"min_nodes": 1, "max_nodes": 2, "vm_priority": "lowpriority", "idle_seconds": 30, "slurm_dir": dir})
	if code != 201 {
		t.Fatalf("create cluster = %d %v", code, body)
	}
	// The kept node boots; the list shows the nodes by state.
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, body = ts.do(t, "GET", "/api/targets", nil)
		c, _ := body["targets"].([]any)[0].(map[string]any)["cluster"].(map[string]any)
		if c != nil && len(c["nodes"].([]any)) == 2 && c["counts"].(map[string]any)["idle"] == 1.0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cluster never showed 2 nodes, 1 idle: %v", body)
		}
		time.Sleep(500 * time.Millisecond)
	}
	code, body = ts.do(t, "PATCH", "/api/targets/cpu", map[string]any{"min_nodes": 0, "max_nodes": 3})
	cfg, _ := body["target"].(map[string]any)["config"].(map[string]any)
	if code != 200 || cfg["max_nodes"] != 3.0 || cfg["min_nodes"] != 0.0 || cfg["vm_priority"] != "lowpriority" {
		t.Errorf("update cluster = %d %v", code, body)
	}
	code, body = ts.do(t, "PATCH", "/api/targets/cpu", map[string]any{"min_nodes": 5, "max_nodes": 3})
	if code != 400 || body["error"] == "" {
		t.Errorf("min over max = %d %v; want 400 with the SDK's message", code, body)
	}
	if code, body := ts.do(t, "DELETE", "/api/targets/cpu", nil); code != 200 {
		t.Errorf("delete cluster = %d %v", code, body)
	}
}
