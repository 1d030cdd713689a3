package sdk

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"gantry/nbrun"
	"gantry/notebook"
	"gantry/sdk/agent"
	"gantry/sdk/driver"
	"gantry/sdk/environment"
	"gantry/sdk/snapshot"
	"gantry/sdk/workspace"
)

// A notebook run is a run whose script is a notebook (.ipynb): its agent
// executes it with `gantry nbrun` on the target, on the notebook's own
// kernel there (the Gantry kernel of the agent's binary for Go notebooks,
// which need nothing installed), streams each cell's output into the run's
// log, and keeps the executed notebook and its HTML export in outputs/.
// A failing cell fails the run with the cell's number and error.

// notebook reports whether the script is a notebook.
func (src *ScriptRunConfig) notebook() bool {
	return strings.EqualFold(filepath.Ext(src.Script), ".ipynb")
}

// notebookJob reads the notebook src runs and makes the agent's job for
// it, refusing what would fail on the target: parameters that do not
// translate into the notebook's language, a kernel the target lacks.
// explicitEnv says that the run names an environment of its own.
func (ws *Workspace) notebookJob(ctx context.Context, src ScriptRunConfig, m *snapshot.Manifest, store *snapshot.BlobStore,
	env *environment.Environment, explicitEnv bool, drv driver.Driver, t workspace.Target) (*agent.NotebookJob, error) {
	if t.Kind == workspace.KindSpark {
		// A notebook on Spark needs its cells to see the Spark session,
		// which gantry nbrun does not set up yet.
		return nil, fmt.Errorf("notebook %s: notebooks do not run on Spark targets yet: submit a .py script there, or run the notebook on another target", src.Script)
	}
	nb, err := snapshotNotebook(m, store, src.Script)
	if err != nil {
		return nil, err
	}
	name, language := nb.Kernel()
	if src.Kernel != "" {
		name, language = src.Kernel, ""
		if name == "gantry" {
			language = "go"
		}
	}
	gantry := name == "gantry" || language == "go"
	job := &agent.NotebookJob{Path: src.Script, Kernel: src.Kernel, Python: !gantry || explicitEnv}
	params, err := notebook.Params(src.Parameters)
	if err != nil {
		return nil, fmt.Errorf("notebook %s: %w", src.Script, err)
	}
	if len(params) > 0 {
		if gantry || language != "" { // else the kernelspec on the target says
			if _, err := notebook.Translate(name, language, params, "Parameters"); err != nil {
				return nil, fmt.Errorf("notebook %s: %w", src.Script, err)
			}
		}
		y, err := notebook.EncodeYAML(params)
		if err != nil {
			return nil, fmt.Errorf("notebook %s: %w", src.Script, err)
		}
		job.Parameters = string(y)
	}
	if env.Docker.Enabled {
		return nil, fmt.Errorf("notebook %s: notebook runs do not run in Docker containers: give an environment without Docker", src.Script)
	}
	if gantry {
		return job, nil
	}
	if name == "" {
		return nil, fmt.Errorf("notebook %s names no kernel (metadata.kernelspec): set Kernel", src.Script)
	}
	if !env.Python.UserManagedDependencies {
		// A conda environment is built on the target when the run starts:
		// whether it brings the kernel is known then.
		return job, nil
	}
	python := env.Python.InterpreterPath
	if python == "" {
		python = environment.DefaultInterpreterPath
	}
	k := driver.Kernel{Name: name, Language: language, Python: python}
	if f, ok := drv.(driver.KernelFinder); ok {
		err = f.FindKernel(ctx, t.Name, t.Config, k)
	} else {
		_, err = (&nbrun.Kernels{Python: python}).Find(ctx, name, language)
	}
	if err != nil {
		return nil, fmt.Errorf("notebook %s cannot run: %w", src.Script, err)
	}
	return job, nil
}

// snapshotNotebook reads the notebook at path in the run's snapshot: what
// the target will run, whether it came from a source directory or was
// prepared (a pipeline step).
func snapshotNotebook(m *snapshot.Manifest, store *snapshot.BlobStore, path string) (*notebook.Notebook, error) {
	want := filepath.ToSlash(filepath.Clean(path))
	for _, e := range m.Entries {
		if e.Path != want || e.IsSymlink() {
			continue
		}
		f, err := store.Open(e.SHA256)
		if err != nil {
			return nil, fmt.Errorf("notebook %s: %w", path, err)
		}
		defer f.Close()
		nb, err := notebook.Read(f)
		if err != nil {
			return nil, fmt.Errorf("notebook %s: %w", path, err)
		}
		return nb, nil
	}
	return nil, fmt.Errorf("notebook %s is not in the run's snapshot: is it a link, or excluded by an ignore file?", path)
}
