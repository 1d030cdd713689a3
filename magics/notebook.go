package magics

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gantry/notebook"
	"gantry/sdk"
)

// notebookParams turns the arguments of a notebook script (%submit
// nb.ipynb -p NAME VALUE ...) into its parameters, as papermill reads
// -p, -r, -y and -f.
func notebookParams(cfg *sdk.ScriptRunConfig) error {
	if !strings.EqualFold(filepath.Ext(cfg.Script), ".ipynb") {
		return nil
	}
	params, rest, err := notebook.ParseArgs(cfg.Arguments, os.ReadFile)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("a notebook takes parameters after it (-p NAME VALUE, -r NAME VALUE, -y YAML, -f FILE), not %q", rest)
	}
	cfg.Arguments = nil
	if len(params) > 0 {
		cfg.Parameters = map[string]any{}
		for _, p := range params {
			cfg.Parameters[p.Name] = p.Value
		}
	}
	return nil
}
