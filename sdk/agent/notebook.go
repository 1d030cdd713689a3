package agent

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gantry/nbrun"
)

// NotebookJob is a notebook that a run executes instead of a script. The
// agent runs `gantry nbrun` on it (this binary) as the run's script, so it
// is supervised, canceled, logged and tracked as any script is, whoever
// submitted it: a notebook step of a pipeline is a run with this job.
type NotebookJob struct {
	Path string `json:"path"` // relative to the source directory
	// Parameters are papermill's, as YAML (notebook.EncodeYAML), injected
	// after the notebook's parameters cell.
	Parameters string `json:"parameters,omitempty"`
	// Kernel is a kernelspec to run the notebook on instead of its own.
	Kernel string `json:"kernel,omitempty"`
	// Python says that the run's environment is prepared and that nbrun
	// runs with its interpreter: its kernels are found, a kernelspec that
	// starts with python runs with it. A Gantry notebook without an
	// environment of its own needs no Python at all.
	Python bool `json:"python,omitempty"`
}

// notebookArgv is the command that executes the run's notebook: nbrun,
// writing the executed notebook and its HTML export into outputs/ under
// the notebook's own name.
func (a *agent) notebookArgv(python string) ([]string, error) {
	nb := a.job.Notebook
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find the gantry binary to run the notebook: %w", err)
	}
	base := strings.TrimSuffix(filepath.Base(nb.Path), filepath.Ext(nb.Path))
	argv := []string{self, "nbrun", nb.Path,
		"--out", filepath.Join(OutputsDir, base+".ipynb"),
		"--html", filepath.Join(OutputsDir, base+".html"),
		"--report", filepath.Join(a.dir, NotebookReport)}
	if nb.Parameters != "" {
		params := filepath.Join(a.dir, ParametersFile)
		if err := os.WriteFile(params, []byte(nb.Parameters), 0o600); err != nil {
			return nil, fmt.Errorf("write the notebook's parameters: %w", err)
		}
		argv = append(argv, "-f", params)
	}
	if nb.Kernel != "" {
		argv = append(argv, "--kernel", nb.Kernel)
	}
	if python != "" {
		argv = append(argv, "--python", python)
	}
	return argv, nil
}

// notebookFailure is the reason a notebook run failed, from nbrun's
// report: the failing cell's number and error, or why the notebook did
// not run; "" when it does not say.
func (a *agent) notebookFailure() string {
	b, err := os.ReadFile(filepath.Join(a.dir, NotebookReport))
	if err != nil {
		return ""
	}
	var rep nbrun.Report
	if json.Unmarshal(b, &rep) != nil || rep.Reason() == "" {
		return ""
	}
	if rep.Failure != nil {
		return rep.Reason() + "; the executed notebook is in outputs/"
	}
	return rep.Reason()
}
