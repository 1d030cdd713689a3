package environment

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// DockerTimeout bounds how long DockerAvailable waits for an engine.
const DockerTimeout = 10 * time.Second

// Resolve checks a user-managed environment: that its interpreter exists,
// is executable and runs Python. It returns the interpreter as
// Built.Python (a name given without a slash is looked up on PATH and
// returned as a path) and its sys.prefix as Built.Dir. Errors say what to
// fix in the environment.
func Resolve(ctx context.Context, e *Environment) (*Built, error) {
	if e == nil {
		return nil, errors.New("resolve environment: the environment is nil: pass one made with environment.New")
	}
	if !e.Python.UserManagedDependencies {
		return nil, fmt.Errorf("resolve environment %q: it is system-managed (Python.UserManagedDependencies is false): build it with Builder.Build, or set UserManagedDependencies and InterpreterPath to use an existing Python", e.Name)
	}
	path := e.Python.InterpreterPath
	if path == "" {
		path = DefaultInterpreterPath
	}
	fail := func(format string, args ...any) (*Built, error) {
		return nil, fmt.Errorf("environment %q: interpreter %q %s", e.Name, path, fmt.Sprintf(format, args...))
	}
	if !strings.Contains(path, "/") {
		found, err := exec.LookPath(path)
		if err != nil {
			return fail("is not on PATH: set Python.InterpreterPath to the full path of a Python interpreter (for example the output of `command -v python3`)")
		}
		path = found
	} else {
		fi, err := os.Stat(path)
		switch {
		case errors.Is(err, os.ErrNotExist):
			return fail("does not exist: set Python.InterpreterPath to an existing interpreter, such as /usr/bin/python3 or <venv>/bin/python")
		case err != nil:
			return fail("cannot be read (%v): fix its permissions or choose another interpreter", err)
		case fi.IsDir():
			return fail("is a directory: point Python.InterpreterPath at the interpreter inside it, such as %s/bin/python", strings.TrimRight(path, "/"))
		case fi.Mode()&0o111 == 0:
			return fail("is not executable: make it executable (chmod +x) or point Python.InterpreterPath at a Python interpreter")
		}
	}
	ctx, cancel := context.WithTimeout(ctx, versionTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := command(ctx, path, "-c", "import sys; print(sys.prefix); print(sys.version.splitlines()[0])")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return fail("does not run Python (%s): point Python.InterpreterPath at a Python interpreter", firstLines(msg, 3))
	}
	out := lines(stdout.Bytes())
	if len(out) < 2 {
		return fail("ran but printed %q instead of its prefix and version: point Python.InterpreterPath at a Python interpreter", stdout.String())
	}
	return &Built{Key: e.Key(), Dir: out[0], Python: path, Reused: true}, nil
}

// DockerAvailable reports whether a Docker engine answers, asking with
// docker version for at most DockerTimeout. It returns nil only when the
// engine reports its version; otherwise the error quotes the docker CLI
// and says what to do.
func DockerAvailable(ctx context.Context) error {
	const todo = "start the Docker engine (for example sudo systemctl start docker, or dockerd) or set Docker.Enabled=false to run without a container"
	docker, err := exec.LookPath("docker")
	if err != nil {
		return fmt.Errorf("no Docker engine answers: the docker CLI is not on PATH; install Docker, or set Docker.Enabled=false to run without a container")
	}
	ctx, cancel := context.WithTimeout(ctx, DockerTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, docker, "version", "--format", "{{.Server.Version}}")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = time.Second
	err = cmd.Run()
	version := strings.TrimSpace(stdout.String())
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("no Docker engine answers: docker version got no answer (%v); %s", ctx.Err(), todo)
	case err != nil:
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return fmt.Errorf("no Docker engine answers: docker version says: %s; %s", firstLines(msg, 3), todo)
	case version == "":
		return fmt.Errorf("no Docker engine answers: docker version printed no server version; %s", todo)
	}
	return nil
}

// firstLines returns at most n lines of s, joined with " / ".
func firstLines(s string, n int) string {
	ls := lines([]byte(s))
	if len(ls) > n {
		ls = append(ls[:n], "...")
	}
	return strings.Join(ls, " / ")
}
