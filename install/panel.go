package install

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	texttemplate "text/template"
)

// The Gantry panel for JupyterLab comes in two parts, installed together
// into the Python environment that runs Jupyter, as one wheel built here
// and installed with that environment's pip:
//
//   - the prebuilt JupyterLab extension (the wheel's data files put it in
//     <prefix>/share/jupyter/labextensions/gantry-jupyterlab; no `jupyter
//     lab build` is needed), which make ui builds from ui/ with npm into
//     labextension/ before go build embeds it;
//   - a jupyter-server-proxy entry point, gantry_jupyter.setup_gantry,
//     which tells jupyter-server-proxy to start `gantry serve` on a unix
//     socket when the panel first asks for it, and to reach it at
//     <base url>/gantry/. It makes the server's token when Jupyter starts,
//     gives it to `gantry serve` in its environment and adds it to every
//     request it forwards, so the token is never written down.

// labextension holds the built extension, or only README.md when make ui
// has not run.
//
//go:embed all:labextension
var labextension embed.FS

// panelName is the extension's and the wheel's name.
const (
	extensionName = "gantry-jupyterlab"
	wheelName     = "gantry_jupyter"
	wheelVersion  = "0.1.0"
)

// ErrNoPanel means that this gantry was built without the JupyterLab
// extension (make ui was not run before go build).
var ErrNoPanel = errors.New("this gantry was built without the JupyterLab panel: run make ui (npm) in the Gantry checkout, then build gantry again")

// proxyModule is gantry_jupyter/__init__.py.
var proxyModule = texttemplate.Must(texttemplate.New("proxy").Parse(`"""Starts ` + "`gantry serve`" + ` for the Gantry panel, behind jupyter-server-proxy.

Written by ` + "`gantry install`" + `. The token that ` + "`gantry serve`" + ` requires is made
when Jupyter starts and kept in memory: jupyter-server-proxy passes it to
the server in its environment and adds it to every request it forwards.
"""

import os
import secrets
import shutil

GANTRY = {{.Exe}}  # the gantry that installed this
_TOKEN = secrets.token_urlsafe(32)


def _gantry():
    exe = os.environ.get("GANTRY_BINARY")
    if exe:
        return exe
    if os.path.exists(GANTRY):
        return GANTRY
    return shutil.which("gantry") or "gantry"


def setup_gantry():
    return {
        "command": [_gantry(), "serve", "--socket", "{unix_socket}"],
        "unix_socket": True,
        "environment": {"GANTRY_SERVE_TOKEN": _TOKEN},
        "request_headers_override": {"Authorization": "Bearer " + _TOKEN},
        "timeout": 30,
        "launcher_entry": {"enabled": False},
    }
`))

// HasPanel reports whether this gantry carries the JupyterLab extension.
func HasPanel() bool {
	_, err := fs.Stat(labextension, path.Join("labextension", extensionName, "package.json"))
	return err == nil
}

// Wheel returns the wheel InstallPanel installs, for the gantry at exe.
func Wheel(exe string) (name string, data []byte, err error) {
	if !HasPanel() {
		return "", nil, ErrNoPanel
	}
	var module bytes.Buffer
	if err := proxyModule.Execute(&module, map[string]string{"Exe": strconv.Quote(exe)}); err != nil {
		return "", nil, err
	}
	info := wheelName + "-" + wheelVersion + ".dist-info"
	files := []struct {
		name string
		data []byte
	}{
		{wheelName + "/__init__.py", module.Bytes()},
		{info + "/METADATA", []byte("Metadata-Version: 2.1\nName: gantry-jupyter\nVersion: " + wheelVersion +
			"\nSummary: The Gantry panel for JupyterLab and the jupyter-server-proxy entry that starts gantry serve\n")},
		{info + "/WHEEL", []byte("Wheel-Version: 1.0\nGenerator: gantry install\nRoot-Is-Purelib: true\nTag: py3-none-any\n")},
		{info + "/entry_points.txt", []byte("[jupyter_serverproxy_servers]\ngantry = " + wheelName + ":setup_gantry\n")},
	}
	root := path.Join("labextension", extensionName)
	err = fs.WalkDir(labextension, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := labextension.ReadFile(p)
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(p, root+"/")
		files = append(files, struct {
			name string
			data []byte
		}{wheelName + "-" + wheelVersion + ".data/data/share/jupyter/labextensions/" + extensionName + "/" + rel, b})
		return nil
	})
	if err != nil {
		return "", nil, err
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	var record strings.Builder
	for _, f := range files {
		w, err := zw.Create(f.name)
		if err != nil {
			return "", nil, err
		}
		if _, err := w.Write(f.data); err != nil {
			return "", nil, err
		}
		sum := sha256.Sum256(f.data)
		fmt.Fprintf(&record, "%s,sha256=%s,%d\n", f.name, base64.RawURLEncoding.EncodeToString(sum[:]), len(f.data))
	}
	record.WriteString(info + "/RECORD,,\n")
	w, err := zw.Create(info + "/RECORD")
	if err != nil {
		return "", nil, err
	}
	if _, err := w.Write([]byte(record.String())); err != nil {
		return "", nil, err
	}
	if err := zw.Close(); err != nil {
		return "", nil, err
	}
	return wheelName + "-" + wheelVersion + "-py3-none-any.whl", buf.Bytes(), nil
}

// pip returns the command that runs pip for the Python environment o
// names, with the options that place an install there.
func pip(ctx context.Context, o Options) (python string, place []string, err error) {
	switch {
	case o.Prefix != "":
		python, err = exec.LookPath("python3")
		return python, []string{"--prefix", o.Prefix}, err
	case o.SysPrefix:
		prefix, err := sysPrefix(ctx)
		if err != nil {
			return "", nil, err
		}
		for _, name := range []string{"python3", "python"} {
			p := filepath.Join(prefix, "bin", name)
			if _, err := os.Stat(p); err == nil {
				return p, nil, nil
			}
		}
		return "", nil, fmt.Errorf("no python in %s/bin: is it a Python environment?", prefix)
	}
	python, err = exec.LookPath("python3")
	return python, []string{"--user"}, err
}

// InstallPanel installs the JupyterLab panel and the jupyter-server-proxy
// entry that starts `gantry serve` (run from the gantry at o.Executable,
// else this program) into the Python environment o names, with its pip.
// It returns a note when that environment lacks jupyter-server-proxy,
// without which the panel cannot reach its server.
func InstallPanel(ctx context.Context, o Options) (note string, err error) {
	exe, err := executable(o.Executable)
	if err != nil {
		return "", err
	}
	name, whl, err := Wheel(exe)
	if err != nil {
		return "", err
	}
	python, place, err := pip(ctx, o)
	if err != nil {
		return "", fmt.Errorf("install the JupyterLab panel: %w", err)
	}
	dir, err := os.MkdirTemp("", "gantry-wheel-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, whl, 0o644); err != nil {
		return "", err
	}
	args := append([]string{"-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps", "--no-index", "--force-reinstall"}, place...)
	out, err := exec.CommandContext(ctx, python, append(args, p)...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("install the JupyterLab panel with %s -m pip: %w\n%s", python, err, bytes.TrimSpace(out))
	}
	if exec.CommandContext(ctx, python, "-c", "import jupyter_server_proxy").Run() != nil {
		note = fmt.Sprintf("%s lacks jupyter-server-proxy, through which the panel reaches gantry serve: %s -m pip install jupyter-server-proxy==4.6.0", python, python)
	}
	return note, nil
}

// UninstallPanel removes what InstallPanel installed.
func UninstallPanel(ctx context.Context, o Options) error {
	python, _, err := pip(ctx, o)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, python, "-m", "pip", "uninstall", "--yes", "--quiet", "--disable-pip-version-check", "gantry-jupyter")
	if o.Prefix != "" {
		// pip finds what it installed under a prefix only on the path.
		site, _ := filepath.Glob(filepath.Join(o.Prefix, "lib", "python3*", "site-packages"))
		cmd.Env = append(os.Environ(), "PYTHONPATH="+strings.Join(site, string(os.PathListSeparator)))
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("uninstall the JupyterLab panel with %s -m pip: %w\n%s", python, err, bytes.TrimSpace(out))
	}
	return nil
}
