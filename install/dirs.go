package install

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// KernelsDir returns the directory that holds kernelspecs for o; the
// kernelspec itself goes in a subdirectory named for the kernel.
//
//   - Prefix: <Prefix>/share/jupyter/kernels.
//   - SysPrefix: <sys.prefix>/share/jupyter/kernels, where sys.prefix is
//     $VIRTUAL_ENV if set, else what python3 (or python) on PATH reports.
//   - Otherwise, for the user: $JUPYTER_DATA_DIR/kernels if set, else
//     Jupyter's per-user data directory: ~/Library/Jupyter/kernels on macOS,
//     %APPDATA%\jupyter\kernels on Windows, and elsewhere
//     $XDG_DATA_HOME/jupyter/kernels, defaulting to
//     ~/.local/share/jupyter/kernels.
//
// The context bounds the run of Python that SysPrefix needs.
func KernelsDir(ctx context.Context, o Options) (string, error) {
	dir, err := kernelsDir(ctx, o)
	if err != nil {
		return "", fmt.Errorf("kernelspec directory: %w", err)
	}
	return dir, nil
}

func kernelsDir(ctx context.Context, o Options) (string, error) {
	n := 0
	for _, set := range []bool{o.User, o.SysPrefix, o.Prefix != ""} {
		if set {
			n++
		}
	}
	if n > 1 {
		return "", errors.New("choose only one of user, sys-prefix and prefix")
	}
	var dir string
	switch {
	case o.Prefix != "":
		dir = filepath.Join(o.Prefix, "share", "jupyter", "kernels")
	case o.SysPrefix:
		prefix, err := sysPrefix(ctx)
		if err != nil {
			return "", err
		}
		dir = filepath.Join(prefix, "share", "jupyter", "kernels")
	default:
		data, err := userDataDir()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(data, "kernels")
	}
	return filepath.Abs(dir)
}

// userDataDir returns Jupyter's per-user data directory, as
// jupyter_core.paths.jupyter_data_dir does.
func userDataDir() (string, error) {
	if d := os.Getenv("JUPYTER_DATA_DIR"); d != "" {
		return d, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	switch runtime.GOOS {
	case "darwin":
		return filepath.Join(home, "Library", "Jupyter"), nil
	case "windows":
		if appdata := os.Getenv("APPDATA"); appdata != "" {
			return filepath.Join(appdata, "jupyter"), nil
		}
		return filepath.Join(home, ".jupyter", "data"), nil
	default:
		if xdg := os.Getenv("XDG_DATA_HOME"); xdg != "" {
			return filepath.Join(xdg, "jupyter"), nil
		}
		return filepath.Join(home, ".local", "share", "jupyter"), nil
	}
}

// sysPrefix returns the sys.prefix of the Python environment in use:
// $VIRTUAL_ENV if set, else that reported by python3 or python on PATH.
func sysPrefix(ctx context.Context) (string, error) {
	if venv := os.Getenv("VIRTUAL_ENV"); venv != "" {
		return venv, nil
	}
	var tried []string
	for _, py := range []string{"python3", "python"} {
		path, err := exec.LookPath(py)
		if err != nil {
			tried = append(tried, py)
			continue
		}
		var stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, path, "-c", "import sys; print(sys.prefix)")
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return "", fmt.Errorf("find sys.prefix with %s: %w: %s", path, err, bytes.TrimSpace(stderr.Bytes()))
		}
		prefix := strings.TrimSpace(string(out))
		if prefix == "" {
			return "", fmt.Errorf("find sys.prefix with %s: empty output", path)
		}
		return prefix, nil
	}
	return "", fmt.Errorf("find sys.prefix: $VIRTUAL_ENV is not set and neither of %s is on PATH", strings.Join(tried, ", "))
}
