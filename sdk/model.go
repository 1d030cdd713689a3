package sdk

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"gantry/sdk/workspace"
)

// Registered models keep their files in the workspace, under
//
//	models/<name>/<version>/
//
// a copy of what the run wrote, so that a model outlives its run's
// directory. A model registered from a file holds that file under its base
// name; one registered from a directory holds the directory's contents.

// RegisterModel registers the file or directory pathInOutputs, a path
// relative to the run's outputs/ directory ("model.pt", "checkpoints/best"),
// as the next version of the model name, with tags. It copies the files
// into the workspace (see ModelDir) and records the run they came from; the
// returned Model's Path is pathInOutputs as given.
func (r *Run) RegisterModel(ctx context.Context, name, pathInOutputs string, tags map[string]string) (workspace.Model, error) {
	fail := func(err error) (workspace.Model, error) {
		return workspace.Model{}, fmt.Errorf("register model %q from run %s: %w", name, r.ID, err)
	}
	if _, err := r.ws.w.Run(ctx, r.ID); err != nil {
		return fail(err)
	}
	rel := filepath.Clean(filepath.FromSlash(pathInOutputs))
	if pathInOutputs == "" || !filepath.IsLocal(rel) {
		return fail(fmt.Errorf("%q is not a path inside the run's outputs directory: give it relative to outputs/, such as model.pt", pathInOutputs))
	}
	dir, err := r.Dir()
	if err != nil {
		return fail(err)
	}
	outputs := filepath.Join(dir, "outputs")
	root, err := os.OpenRoot(outputs)
	if err != nil {
		return fail(fmt.Errorf("the run has no outputs directory (%w): has it started?", err))
	}
	defer root.Close()
	fi, err := root.Stat(rel)
	if err != nil {
		files, _ := r.Files(ctx)
		return fail(fmt.Errorf("outputs/%s not found in the run's directory; its files: %v", filepath.ToSlash(rel), files))
	}
	modelsDir := filepath.Join(r.ws.Dir(), "models")
	if err := os.MkdirAll(modelsDir, 0o700); err != nil {
		return fail(err)
	}
	staging, err := os.MkdirTemp(modelsDir, ".staging-")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(staging) // gone once renamed into place
	// A directory's contents, or a file under its base name.
	subdir, only := rel, []string(nil)
	if !fi.IsDir() {
		subdir, only = filepath.Dir(rel), []string{filepath.Base(rel)}
	}
	sub, err := root.OpenRoot(subdir)
	if err != nil {
		return fail(err)
	}
	err = copyTree(ctx, sub.FS(), staging, only...)
	sub.Close()
	if err != nil {
		return fail(err)
	}
	m, err := r.ws.w.RegisterModel(ctx, workspace.Model{Name: name, RunID: r.ID, Path: filepath.ToSlash(rel), Tags: tags})
	if err != nil {
		return workspace.Model{}, err
	}
	final := r.ws.ModelDir(m.Name, m.Version)
	if err := os.MkdirAll(filepath.Dir(final), 0o700); err != nil {
		_, err = fail(err)
		return m, err
	}
	if err := os.Rename(staging, final); err != nil {
		_, err = fail(fmt.Errorf("version %d is registered but its files could not be stored: %w", m.Version, err))
		return m, err
	}
	return m, nil
}

// Models returns every version of the model called name, oldest first;
// with name "", every version of every model.
func (ws *Workspace) Models(ctx context.Context, name string) ([]workspace.Model, error) {
	return ws.w.Models(ctx, name)
}

// Model returns version version of the model called name; 0 means the
// latest.
func (ws *Workspace) Model(ctx context.Context, name string, version int) (workspace.Model, error) {
	return ws.w.Model(ctx, name, version)
}

// ModelDir returns the directory that holds the files of a registered
// model version: models/<name>/<version> in the workspace.
func (ws *Workspace) ModelDir(name string, version int) string {
	return filepath.Join(ws.Dir(), "models", name, strconv.Itoa(version))
}

// DownloadModel copies the files of version version (0: the latest) of the
// model name into the directory dest, creating it if need be: a model
// registered from a file lands as dest/<file name>, one registered from a
// directory as that directory's contents. Existing files are replaced.
func (ws *Workspace) DownloadModel(ctx context.Context, name string, version int, dest string) error {
	m, err := ws.w.Model(ctx, name, version)
	if err != nil {
		return err
	}
	src := ws.ModelDir(m.Name, m.Version)
	if _, err := os.Stat(src); err != nil {
		return fmt.Errorf("download model %s version %d: its files are not in the workspace (%v): it was registered without them", m.Name, m.Version, err)
	}
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return err
	}
	root, err := os.OpenRoot(src)
	if err != nil {
		return err
	}
	defer root.Close()
	if err := copyTree(ctx, root.FS(), dest); err != nil {
		return fmt.Errorf("download model %s version %d: %w", m.Name, m.Version, err)
	}
	return nil
}

// copyTree copies the files of fsys (only those under the given roots, if
// any) into dir, keeping their relative paths. Symlinks and other special
// files are skipped.
func copyTree(ctx context.Context, fsys fs.FS, dir string, roots ...string) error {
	if len(roots) == 0 {
		roots = []string{"."}
	}
	for _, top := range roots {
		err := fs.WalkDir(fsys, top, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			target := filepath.Join(dir, filepath.FromSlash(p))
			switch {
			case d.IsDir():
				return os.MkdirAll(target, 0o755)
			case !d.Type().IsRegular():
				return nil
			}
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			f, err := fsys.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			return writeFileFrom(ctx, target, f, fi.Mode().Perm())
		})
		if err != nil {
			return err
		}
	}
	return nil
}
