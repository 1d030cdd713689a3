package install

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestInstallPanel installs the panel's wheel into a fresh prefix with
// python3's pip, then asks Python what jupyter-server-proxy would get from
// it. (setup.sh installs it into the project's venv, and checks it.)
func TestInstallPanel(t *testing.T) {
	if !HasPanel() {
		t.Skip("this test binary was built without the JupyterLab panel: run make ui first")
	}
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("needs python3")
	}
	if err := exec.Command(python, "-m", "pip", "--version").Run(); err != nil {
		t.Skip("needs pip for python3")
	}
	prefix := t.TempDir()
	exe := filepath.Join(t.TempDir(), "gantry")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	o := Options{Prefix: prefix, Executable: exe}
	note, err := InstallPanel(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	_ = note // whether python3 has jupyter-server-proxy depends on the machine
	ext := filepath.Join(prefix, "share", "jupyter", "labextensions", extensionName)
	b, err := os.ReadFile(filepath.Join(ext, "package.json"))
	if err != nil {
		t.Fatalf("the prebuilt extension is not where JupyterLab looks: %v", err)
	}
	var pkg struct {
		Name       string `json:"name"`
		Jupyterlab struct {
			Build struct {
				Load string `json:"load"`
			} `json:"_build"`
		} `json:"jupyterlab"`
	}
	if err := json.Unmarshal(b, &pkg); err != nil || pkg.Name != extensionName || pkg.Jupyterlab.Build.Load == "" {
		t.Errorf("package.json = %s; want a built extension named %s", b, extensionName)
	}
	if _, err := os.Stat(filepath.Join(ext, pkg.Jupyterlab.Build.Load)); err != nil {
		t.Errorf("its remote entry %s: %v", pkg.Jupyterlab.Build.Load, err)
	}

	// What jupyter-server-proxy's entry point gives: gantry serve on a unix
	// socket, with the same token in its environment and on every request.
	probe := `import json
from importlib.metadata import entry_points
ep = [e for e in entry_points(group="jupyter_serverproxy_servers") if e.name == "gantry"][0]
print(json.dumps(ep.load()()))`
	site, _ := filepath.Glob(filepath.Join(prefix, "lib", "python3*", "site-packages"))
	if len(site) != 1 {
		t.Fatalf("no site-packages under %s: %v", prefix, site)
	}
	cmd := exec.Command(python, "-c", probe)
	cmd.Env = append(os.Environ(), "PYTHONPATH="+site[0])
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("entry point: %v\n%s", err, out)
	}
	var cfg struct {
		Command     []string          `json:"command"`
		UnixSocket  bool              `json:"unix_socket"`
		Environment map[string]string `json:"environment"`
		Headers     map[string]string `json:"request_headers_override"`
	}
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatalf("entry point printed %s: %v", out, err)
	}
	token := cfg.Environment["GANTRY_SERVE_TOKEN"]
	if strings.Join(cfg.Command, " ") != exe+" serve --socket {unix_socket}" || !cfg.UnixSocket ||
		len(token) < 32 || cfg.Headers["Authorization"] != "Bearer "+token {
		t.Errorf("entry point config = %+v", cfg)
	}

	if err := UninstallPanel(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(ext); !os.IsNotExist(err) {
		t.Errorf("after uninstall, %s: %v", ext, err)
	}
}
