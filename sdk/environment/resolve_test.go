package environment

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestResolveErrors(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain")
	os.WriteFile(plain, []byte("not a program"), 0o644)
	notPython := filepath.Join(dir, "not-python")
	os.WriteFile(notPython, []byte("#!/bin/sh\necho 'this is not python' >&2\nexit 3\n"), 0o755)
	silent := filepath.Join(dir, "silent")
	os.WriteFile(silent, []byte("#!/bin/sh\nexit 0\n"), 0o755)

	tests := []struct {
		name, path string
		want       []string
	}{
		{"missing", filepath.Join(dir, "nope", "python"), []string{"does not exist", "InterpreterPath"}},
		{"directory", dir, []string{"is a directory", dir + "/bin/python"}},
		{"not executable", plain, []string{"not executable", "chmod +x"}},
		{"not python", notPython, []string{"does not run Python", "this is not python"}},
		{"prints nothing", silent, []string{"printed"}},
		{"not on PATH", "gantry-no-such-python", []string{"not on PATH", "full path"}},
	}
	for _, tt := range tests {
		e := New("user")
		e.Python.UserManagedDependencies = true
		e.Python.InterpreterPath = tt.path
		_, err := Resolve(context.Background(), e)
		for _, w := range tt.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%s: Resolve error = %v, want it to contain %q", tt.name, err, w)
			}
		}
	}
	if _, err := Resolve(context.Background(), New("system")); err == nil || !strings.Contains(err.Error(), "Builder.Build") {
		t.Errorf("Resolve of a system-managed environment = %v, want an error pointing to Builder.Build", err)
	}
}

func TestResolvePython(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not on PATH")
	}
	for _, path := range []string{py, "python3"} {
		e := New("user")
		e.Python.UserManagedDependencies = true
		e.Python.InterpreterPath = path
		built, err := Resolve(context.Background(), e)
		if err != nil {
			t.Fatalf("Resolve(%s): %v", path, err)
		}
		if built.Python != py || built.Dir == "" || !built.Reused || built.Key != e.Key() {
			t.Errorf("Resolve(%s) = %+v, want Python %s and its prefix", path, built, py)
		}
		// Build of a user-managed environment is Resolve.
		viaBuild, err := (&Builder{}).Build(context.Background(), e, t.TempDir(), nil)
		if err != nil || !reflect.DeepEqual(viaBuild, built) {
			t.Errorf("Build of a user-managed environment = %+v, %v; want %+v", viaBuild, err, built)
		}
	}
}

// fakeDocker puts a docker script with the given body first on PATH.
func fakeDocker(t *testing.T, body string) {
	dir := t.TempDir()
	if body != "" {
		if err := os.WriteFile(filepath.Join(dir, "docker"), []byte("#!/bin/sh\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", dir)
}

func TestDockerAvailable(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, script string
		want         []string // in the error; none: no error
	}{
		{"engine answers", "echo 27.3.1\n", nil},
		{"no CLI", "", []string{"not on PATH", "Docker.Enabled=false"}},
		{"no engine", "echo 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?' >&2\nexit 1\n",
			[]string{"no Docker engine answers", "Cannot connect to the Docker daemon", "start the Docker engine", "Docker.Enabled=false"}},
		{"empty answer", "exit 0\n", []string{"no server version"}},
		{"hangs", "exec " + sleep + " 30\n", []string{"no answer", "Docker.Enabled=false"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fakeDocker(t, tt.script)
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			start := time.Now()
			err := DockerAvailable(ctx)
			if time.Since(start) > 5*time.Second {
				t.Errorf("DockerAvailable took %v", time.Since(start))
			}
			if len(tt.want) == 0 {
				if err != nil {
					t.Errorf("DockerAvailable = %v, want nil", err)
				}
				return
			}
			for _, w := range tt.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("DockerAvailable = %v, want it to contain %q", err, w)
				}
			}
		})
	}
}
