package environment

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// Bodies of the fake conda's create, which has $prefix set.
const (
	createVenv  = `exec "$PYTHON3" -m venv "$prefix"`
	createFails = `mkdir -p "$prefix/lib" && echo 'PackagesNotFoundError: numpy=99 is not in conda-forge' >&2 && exit 1`
	createHangs = `mkdir -p "$prefix/lib" && sleep 30`
)

// fakeConda writes a stand-in for micromamba that records its arguments
// in <dir>/args. Its create runs the given body: createVenv makes a real
// venv at --prefix (so pip install into it works). Its list prints one
// package as JSON.
func fakeConda(t *testing.T, create string) (tool, argsFile string) {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not on PATH")
	}
	dir := t.TempDir()
	argsFile = filepath.Join(dir, "args")
	script := `#!/bin/sh
PYTHON3="` + py + `"
echo "$@" >> "` + argsFile + `"
case "$1" in
create)
	prefix=""
	while [ $# -gt 0 ]; do [ "$1" = "--prefix" ] && prefix="$2"; shift; done
	echo "fake micromamba: creating $prefix"
	` + create + `
	;;
list)
	echo '[{"name":"python","version":"3.11.7","build_string":"h955ad1f_0","channel":"conda-forge"}]'
	;;
*)
	echo "fake micromamba: unexpected $1" >&2; exit 2
	;;
esac
`
	tool = filepath.Join(dir, "micromamba")
	if err := os.WriteFile(tool, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return tool, argsFile
}

// TestBuildConda builds through the conda path with a stand-in conda tool
// (no conda is needed): the create arguments, the in-place prefix, the pip
// install into it and the package list from conda list are checked.
func TestBuildConda(t *testing.T) {
	needVenv(t)
	t.Parallel()
	tool, argsFile := fakeConda(t, createVenv)
	root := t.TempDir()
	e := New("conda")
	e.Python.CondaDependencies = &CondaDependencies{
		Channels:      []string{"conda-forge", "bioconda"},
		CondaPackages: []string{"numpy=1.26"},
		PipPackages:   []string{"gantry-tiny"},
		PipOptions:    PipOptions{FindLinks: []string{writeWheel(t)}, NoIndex: true},
	}
	dir := filepath.Join(root, e.Key())
	var log syncBuffer
	built, err := (&Builder{CondaTools: []string{"gantry-test-missing", tool}}).Build(context.Background(), e, root, &log)
	if err != nil {
		t.Fatalf("Build: %v\nlog:\n%s", err, log.String())
	}
	args, _ := os.ReadFile(argsFile)
	wantArgs := "create --yes --prefix " + dir + " --override-channels --channel conda-forge --channel bioconda numpy=1.26 python pip\n" +
		"list --prefix " + dir + " --json\n"
	if string(args) != wantArgs {
		t.Errorf("conda tool ran with\n%s\nwant\n%s", args, wantArgs)
	}
	if built.Reused || built.Dir != dir || !slices.Equal(built.Packages, []string{"python=3.11.7=h955ad1f_0"}) {
		t.Errorf("Build = %+v", built)
	}
	text := log.String()
	for _, want := range []string{"fake micromamba: creating " + dir, "-m pip install", "adding pip", "adding python"} {
		if !strings.Contains(text, want) {
			t.Errorf("build log lacks %q:\n%s", want, text)
		}
	}
	if out, err := exec.Command(built.Python, "-c", "import gantry_tiny").CombinedOutput(); err != nil {
		t.Errorf("the pip package is not in the conda prefix: %v: %s", err, out)
	}
	if got := dirNames(t, root); !slices.Equal(got, []string{e.Key()}) {
		t.Errorf("root holds %v, want only the environment", got)
	}
}

// TestBuildCondaFailure expects a failed conda create to leave only its
// log, although conda builds in <root>/<key> itself.
func TestBuildCondaFailure(t *testing.T) {
	tool, _ := fakeConda(t, createFails)
	root := t.TempDir()
	e := New("conda-fails")
	e.Python.CondaDependencies.CondaPackages = []string{"numpy=99"}
	_, err := (&Builder{CondaTools: []string{tool}}).Build(context.Background(), e, root, nil)
	var be *BuildError
	if !errors.As(err, &be) || !strings.Contains(err.Error(), "PackagesNotFoundError") || !strings.Contains(err.Error(), "micromamba create failed") {
		t.Fatalf("Build error = %v, want a BuildError quoting the conda tool", err)
	}
	if got := dirNames(t, root); !slices.Equal(got, []string{e.Key() + ".failed.log"}) {
		t.Errorf("root holds %v, want only the failed log", got)
	}
}

// TestBuildCancel cancels a build whose conda tool hangs: Build returns
// soon with the context's error, and the half-made prefix is removed.
func TestBuildCancel(t *testing.T) {
	tool, _ := fakeConda(t, createHangs)
	root := t.TempDir()
	e := New("hangs")
	e.Python.CondaDependencies.CondaPackages = []string{"numpy"}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := (&Builder{CondaTools: []string{tool}}).Build(ctx, e, root, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Build with an expired context = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("Build took %v to stop; the tool's process group was not killed", d)
	}
	if got := dirNames(t, root); !slices.Equal(got, []string{e.Key() + ".failed.log"}) {
		t.Errorf("root holds %v, want only the failed log", got)
	}
}
