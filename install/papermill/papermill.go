// Package papermill installs Gantry's papermill translator: the Python
// package gantry_papermill (kept next to this file), which makes papermill
// -p inject Go declarations into Gantry notebooks. It is built here into a
// wheel and installed with the environment's own pip, so pip can list,
// upgrade and uninstall it like any package.
package papermill

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

//go:embed gantry_papermill/__init__.py
var source embed.FS

// Distribution is the package's name for pip.
const Distribution = "gantry-papermill"

// Version is the wheel's version: base, and a local label naming its
// content, so that a changed translator is a new version pip installs.
func Version(base string) string {
	h := sha256.New()
	_ = fs.WalkDir(source, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := source.ReadFile(p)
			h.Write([]byte(p))
			h.Write(b)
		}
		return nil
	})
	base = strings.TrimPrefix(base, "v")
	if base == "" || strings.ContainsAny(base, "-+ ") {
		base = "0"
	}
	return base + "+" + hex.EncodeToString(h.Sum(nil))[:12]
}

// Wheel returns the wheel of version (its file name and bytes): the
// package, its metadata, and the papermill.engine entry point that
// papermill loads at start, which registers the translator.
func Wheel(version string) (name string, data []byte, err error) {
	dist := strings.ReplaceAll(Distribution, "-", "_")
	info := dist + "-" + version + ".dist-info"
	files := map[string][]byte{}
	order := []string{}
	add := func(p string, b []byte) {
		files[p] = b
		order = append(order, p)
	}
	err = fs.WalkDir(source, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := source.ReadFile(p)
		add(p, b)
		return err
	})
	if err != nil {
		return "", nil, err
	}
	add(info+"/METADATA", []byte("Metadata-Version: 2.1\nName: "+Distribution+"\nVersion: "+version+
		"\nSummary: papermill parameters for Gantry (Go) notebooks\nRequires-Dist: papermill>=2.4\n"))
	add(info+"/WHEEL", []byte("Wheel-Version: 1.0\nGenerator: gantry\nRoot-Is-Purelib: true\nTag: py3-none-any\n"))
	add(info+"/entry_points.txt", []byte("[papermill.engine]\ngantry = gantry_papermill:GantryEngine\n"))
	var record strings.Builder
	for _, p := range order {
		sum := sha256.Sum256(files[p])
		fmt.Fprintf(&record, "%s,sha256=%s,%d\n", p, base64.RawURLEncoding.EncodeToString(sum[:]), len(files[p]))
	}
	fmt.Fprintf(&record, "%s/RECORD,,\n", info)
	add(info+"/RECORD", []byte(record.String()))
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, p := range order {
		w, err := zw.Create(p)
		if err != nil {
			return "", nil, err
		}
		if _, err := w.Write(files[p]); err != nil {
			return "", nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return "", nil, err
	}
	return dist + "-" + version + "-py3-none-any.whl", buf.Bytes(), nil
}

// ErrNoPapermill is returned by Install when python has no papermill.
var ErrNoPapermill = errors.New("papermill is not installed there")

// Install puts the translator of version into python's environment with
// its pip (with --user when user is set and python is not a virtual
// environment's). It does nothing when that version is installed already,
// and returns ErrNoPapermill, wrapped, when python lacks papermill.
func Install(ctx context.Context, python, version string, user bool) (installed bool, err error) {
	probe := "import importlib.metadata as m, sys\n" +
		"try:\n import papermill\nexcept ImportError:\n print('no-papermill'); sys.exit()\n" +
		"try:\n print(m.version('" + Distribution + "'))\nexcept m.PackageNotFoundError:\n print('none')\n" +
		"print(sys.prefix != sys.base_prefix)\n"
	out, err := exec.CommandContext(ctx, python, "-c", probe).Output()
	if err != nil {
		return false, fmt.Errorf("ask %s about papermill: %w", python, err)
	}
	lines := strings.Fields(string(out))
	if len(lines) == 0 || lines[0] == "no-papermill" {
		return false, fmt.Errorf("%s: %w", python, ErrNoPapermill)
	}
	if lines[0] == version {
		return false, nil
	}
	venv := len(lines) > 1 && lines[1] == "True"
	name, data, err := Wheel(version)
	if err != nil {
		return false, err
	}
	dir, err := os.MkdirTemp("", "gantry-wheel-")
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(dir)
	whl := filepath.Join(dir, name)
	if err := os.WriteFile(whl, data, 0o644); err != nil {
		return false, err
	}
	args := []string{"-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps", "--no-index"}
	if user && !venv {
		args = append(args, "--user")
	}
	cmd := exec.CommandContext(ctx, python, append(args, whl)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return false, fmt.Errorf("pip install %s with %s: %w: %s", name, python, err, strings.TrimSpace(string(out)))
	}
	return true, nil
}

// Uninstall removes the translator from python's environment, if it is
// there.
func Uninstall(ctx context.Context, python string) error {
	cmd := exec.CommandContext(ctx, python, "-m", "pip", "uninstall", "--yes", "--quiet", "--disable-pip-version-check", Distribution)
	out, err := cmd.CombinedOutput()
	if err != nil && !strings.Contains(string(out), "not installed") {
		return fmt.Errorf("pip uninstall %s with %s: %w: %s", Distribution, python, err, strings.TrimSpace(string(out)))
	}
	return nil
}
