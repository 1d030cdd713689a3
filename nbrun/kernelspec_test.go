package nbrun

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func writeSpec(t *testing.T, dir, name, body string) {
	t.Helper()
	d := filepath.Join(dir, "kernels", name)
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d, "kernel.json"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestFindAsJupyterClient(t *testing.T) {
	root := t.TempDir()
	jp1, jp2, data := filepath.Join(root, "jp1"), filepath.Join(root, "jp2"), filepath.Join(root, "data")
	venv := filepath.Join(root, "venv")
	os.MkdirAll(filepath.Join(venv, "bin"), 0o755)
	py := filepath.Join(venv, "bin", "python")
	os.WriteFile(py, []byte("#!/bin/sh\n"), 0o755)
	t.Setenv("JUPYTER_PATH", jp1+string(os.PathListSeparator)+jp2)
	t.Setenv("JUPYTER_DATA_DIR", data)
	writeSpec(t, jp2, "r", `{"argv": ["R", "--slave", "-f", "{connection_file}"], "language": "R", "display_name": "R"}`)
	writeSpec(t, data, "r", `{"argv": ["shadowed"], "language": "R"}`)
	writeSpec(t, filepath.Join(venv, "share", "jupyter"), "python3",
		`{"argv": ["python", "-m", "ipykernel_launcher", "-f", "{connection_file}"], "language": "python", "env": {"A": "1"}}`)
	writeSpec(t, jp1, "broken", `{"language": "x"}`)

	k := &Kernels{Python: py, Self: "/opt/gantry"}
	want := []string{filepath.Join(jp1, "kernels"), filepath.Join(jp2, "kernels"), filepath.Join(venv, "share", "jupyter", "kernels"),
		filepath.Join(data, "kernels"), "/usr/local/share/jupyter/kernels", "/usr/share/jupyter/kernels"}
	if got := k.Dirs(); !reflect.DeepEqual(got, want) {
		t.Errorf("Dirs() = %q\nwant %q", got, want)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		name, lang string
		argv0      string
		err        string
	}{
		{"r", "R", "R", ""}, // the first directory that has it wins
		{"python3", "python", py, ""},
		{"gantry", "go", "/opt/gantry", ""},
		{"some-go-kernel", "go", "/opt/gantry", ""},
		{"broken", "x", "", "has no argv"},
		{"julia-1.10", "julia", "", `kernel "julia-1.10" (language julia) is not installed on this machine`},
		{"", "", "", "names no kernel"},
	} {
		s, err := k.Find(ctx, tc.name, tc.lang)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Find(%q): err %v, want %q", tc.name, err, tc.err)
			}
		case err != nil:
			t.Errorf("Find(%q): %v", tc.name, err)
		case s.Argv[0] != tc.argv0:
			t.Errorf("Find(%q): argv %q, want it to start with %q", tc.name, s.Argv, tc.argv0)
		}
	}
	_, err := k.Find(ctx, "julia-1.10", "julia")
	if !errors.Is(err, ErrNoKernel) || !strings.Contains(err.Error(), "python3 (python), r (R)") {
		t.Errorf("the error lists what is installed: %v", err)
	}
}

func TestStartReportsAKernelThatDies(t *testing.T) {
	spec := &Spec{Name: "dies", Argv: []string{"sh", "-c", "echo no module named ipykernel >&2; exit 3"}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // hang guard
	defer cancel()
	_, err := Start(ctx, spec, t.TempDir(), nil)
	if err == nil || !strings.Contains(err.Error(), "kernel dies exited while starting (exit status 3)") ||
		!strings.Contains(err.Error(), "no module named ipykernel") {
		t.Errorf("err = %v", err)
	}
	// One that never answers ends with the start timeout.
	spec = &Spec{Name: "silent", Argv: []string{"sleep", "600"}}
	ctx, cancel = context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	_, err = Start(ctx, spec, t.TempDir(), nil)
	if err == nil || !strings.Contains(err.Error(), "silent") || time.Since(start) > 30*time.Second {
		t.Errorf("err = %v after %s", err, time.Since(start))
	}
}
