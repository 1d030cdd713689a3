// Package install writes and removes Gantry's Jupyter kernelspec, as
// `python -m ipykernel install` does for IPython.
//
// A kernelspec is a directory named for the kernel, holding kernel.json and
// the kernel's logos, in one of the kernels directories Jupyter searches:
// the user's data directory, a Python environment's sys.prefix, or any
// prefix named on the command line. See [KernelsDir].
package install

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Defaults for the Options fields of the same names.
const (
	DefaultName        = "gantry"
	DefaultDisplayName = "Go (Gantry)"
)

// logos holds the image files copied into the kernelspec directory.
//
//go:embed logo/logo-32x32.png logo/logo-64x64.png logo/logo-svg.svg
var logos embed.FS

// Options says what kernelspec to write and where. The zero value installs
// the running program for the current user under the name "gantry".
type Options struct {
	// Name is the kernelspec directory name, DefaultName if empty. Jupyter
	// allows letters, digits, '.', '_' and '-', and ignores case; the
	// directory is named in lower case.
	Name string
	// DisplayName is the name shown in Jupyter's menus, DefaultDisplayName
	// if empty.
	DisplayName string

	// At most one of User, SysPrefix and Prefix may be set; if none is,
	// the kernelspec is installed for the user.

	// User installs into the user's Jupyter data directory.
	User bool
	// SysPrefix installs into the sys.prefix of the Python environment in
	// use: $VIRTUAL_ENV if set, else that of python3 (or python) on PATH.
	SysPrefix bool
	// Prefix installs into <Prefix>/share/jupyter/kernels.
	Prefix string

	// Executable is the gantry program for Jupyter to run. Empty means
	// the running program; a bare name such as "gantry" is looked up on
	// PATH when Jupyter starts the kernel; a relative path is made
	// absolute.
	Executable string
	// Env holds extra environment variables for the kernel, written to
	// kernel.json's "env".
	Env map[string]string
}

// validName matches the kernelspec names Jupyter accepts.
var validName = regexp.MustCompile(`^[a-zA-Z0-9._-]+$`)

// name returns the kernelspec directory name for o, checking it.
func (o Options) name() (string, error) {
	name := o.Name
	if name == "" {
		name = DefaultName
	}
	if !validName.MatchString(name) || name == "." || name == ".." {
		return "", fmt.Errorf("invalid kernelspec name %q: use only letters, digits, '.', '_' and '-'", name)
	}
	return strings.ToLower(name), nil
}

// Install writes the kernelspec described by o and returns its directory.
// It replaces any kernelspec of the same name in the same place. The new
// directory is assembled beside the old one and renamed into place, so
// Jupyter never sees a partial kernelspec.
func Install(ctx context.Context, o Options) (dir string, err error) {
	name, err := o.name()
	if err != nil {
		return "", fmt.Errorf("install kernelspec: %w", err)
	}
	dir, err = install(ctx, o, name)
	if err != nil {
		return "", fmt.Errorf("install kernelspec %q: %w", name, err)
	}
	return dir, nil
}

func install(ctx context.Context, o Options, name string) (string, error) {
	spec, err := spec(o)
	if err != nil {
		return "", err
	}
	kernels, err := kernelsDir(ctx, o)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(kernels, 0o755); err != nil {
		return "", err
	}
	// '~' is not allowed in kernel names, so Jupyter ignores the temporary
	// directories should they be left behind.
	tmp, err := os.MkdirTemp(kernels, "."+name+"~install-*")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", err
	}
	if err := writeFiles(tmp, spec); err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}

	dir := filepath.Join(kernels, name)
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.Rename(tmp, dir); err != nil {
			return "", err
		}
		return dir, nil
	} else if err != nil {
		return "", err
	}
	// Replace the existing kernelspec: set it aside, move the new one in,
	// and put the old one back if that fails.
	old := tmp + "~old"
	if err := os.Rename(dir, old); err != nil {
		return "", fmt.Errorf("replace existing kernelspec: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if rerr := os.Rename(old, dir); rerr != nil {
			return "", fmt.Errorf("replace existing kernelspec: %w (and restoring it from %s: %v)", err, old, rerr)
		}
		return "", fmt.Errorf("replace existing kernelspec: %w", err)
	}
	if err := os.RemoveAll(old); err != nil {
		return "", fmt.Errorf("remove replaced kernelspec: %w", err)
	}
	return dir, nil
}

// writeFiles writes kernel.json and the logos into dir.
func writeFiles(dir string, spec []byte) error {
	if err := os.WriteFile(filepath.Join(dir, "kernel.json"), spec, 0o644); err != nil {
		return err
	}
	files, err := fs.ReadDir(logos, "logo")
	if err != nil {
		return err
	}
	for _, f := range files {
		b, err := logos.ReadFile("logo/" + f.Name())
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, f.Name()), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Uninstall removes the kernelspec described by o and returns the
// directory it removed. It is an error, wrapping [fs.ErrNotExist] and
// naming the directory looked at, if there is no such kernelspec.
func Uninstall(ctx context.Context, o Options) (dir string, err error) {
	name, err := o.name()
	if err != nil {
		return "", fmt.Errorf("uninstall kernelspec: %w", err)
	}
	dir, err = uninstall(ctx, o, name)
	if err != nil {
		return dir, fmt.Errorf("uninstall kernelspec %q: %w", name, err)
	}
	return dir, nil
}

func uninstall(ctx context.Context, o Options, name string) (string, error) {
	kernels, err := kernelsDir(ctx, o)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(kernels, name)
	if _, err := os.Stat(filepath.Join(dir, "kernel.json")); errors.Is(err, fs.ErrNotExist) {
		return dir, fmt.Errorf("not installed: no %s: %w", filepath.Join(dir, "kernel.json"), fs.ErrNotExist)
	} else if err != nil {
		return dir, err
	}
	if err := ctx.Err(); err != nil {
		return dir, err
	}
	if err := os.RemoveAll(dir); err != nil {
		return dir, err
	}
	return dir, nil
}
