// Package gantrytest helps the tests that need the real gantry binary:
// executors and run agents are processes of their own, started from it.
package gantrytest

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// builder builds cmd/gantry once per test process.
type builder struct {
	once sync.Once
	path string
	err  error
}

// one is the test process's builder: a test binary builds the gantry
// binary at most once, however many tests ask for it.
var one builder

// Binary returns the path of a gantry binary built from this checkout.
func Binary(t testing.TB) string {
	t.Helper()
	one.once.Do(func() {
		dir, err := os.MkdirTemp("", "gantry-test-bin")
		if err != nil {
			one.err = err
			return
		}
		one.path = filepath.Join(dir, "gantry")
		if out, err := exec.Command("go", "build", "-o", one.path, "gantry/cmd/gantry").CombinedOutput(); err != nil {
			one.err = errors.New(string(out))
		}
	})
	if one.err != nil {
		t.Fatalf("build gantry: %v", one.err)
	}
	return one.path
}
