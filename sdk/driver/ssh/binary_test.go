package ssh

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestAgentBinaryChoice(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "bin", "gantry")
	os.MkdirAll(filepath.Dir(exe), 0o755)
	os.WriteFile(exe, []byte("local"), 0o755)
	other := "arm64"
	if runtime.GOARCH == "arm64" {
		other = "amd64"
	}
	p := &Pool{Exe: exe}
	ctx := context.Background()

	if got, err := p.agentBinary(ctx, runtime.GOOS, runtime.GOARCH); err != nil || got != exe {
		t.Errorf("same platform: %q, %v; want the local binary", got, err)
	}
	_, err := p.agentBinary(ctx, "linux", other)
	if err == nil || !strings.Contains(err.Error(), "no source tree to cross-build from") || !strings.Contains(err.Error(), "GOARCH="+other) {
		t.Errorf("no source: %v; want an error that says how to build one", err)
	}
	beside := exe + "-linux-" + other
	os.WriteFile(beside, []byte("beside"), 0o755)
	if got, err := p.agentBinary(ctx, "linux", other); err != nil || got != beside {
		t.Errorf("beside: %q, %v", got, err)
	}
	named := filepath.Join(dir, "named")
	t.Setenv("GANTRY_AGENT_BINARY_LINUX_"+strings.ToUpper(other), named)
	if got, err := p.agentBinary(ctx, "linux", other); err != nil || got != named {
		t.Errorf("env: %q, %v", got, err)
	}
	if _, err := (&Pool{}).agentBinary(ctx, runtime.GOOS, runtime.GOARCH); err == nil {
		t.Error("no local binary: no error")
	}
}

// A real cross-build of this module, for a machine of another processor,
// without cgo (the remote agent needs no SQLite). It compiles the whole
// tree once more, so -short skips it.
func TestCrossBuildFromTheSourceTree(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: no cross-build")
	}
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(root, "bin", "gantry-crosstest")
	build := exec.Command("go", "build", "-o", bin, "./cmd/gantry")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	defer os.Remove(bin)
	other := "arm64"
	if runtime.GOARCH == "arm64" {
		other = "amd64"
	}
	out, err := crossBuild(context.Background(), bin, "linux", other)
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(out)
	file, _ := exec.Command("file", out).CombinedOutput()
	t.Logf("%s", file)
	if fi, err := os.Stat(out); err != nil || fi.Size() < 1<<20 {
		t.Fatalf("cross-built binary: %v", err)
	}
}
