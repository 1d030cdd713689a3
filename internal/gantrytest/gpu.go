package gantrytest

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
)

// FakeGPUs puts a stand-in nvidia-smi that reports n NVIDIA H100s first on
// PATH for the test (and the processes it starts), and returns the
// directory in which a file named after a device's index sets the
// utilization (percent) it reports.
func FakeGPUs(t testing.TB, n int) (utilDir string) {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	bin := filepath.Join(filepath.Dir(file), "testdata")
	utilDir = t.TempDir()
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("FAKE_GPUS", strconv.Itoa(n))
	t.Setenv("FAKE_GPU_UTIL_DIR", utilDir)
	return utilDir
}
