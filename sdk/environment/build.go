package environment

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// completeMarker is the file written last into a finished build: the
// resolved package list, one package per line. A build directory without
// it is unfinished and is never reused.
const completeMarker = ".complete"

// maxErrorLog caps the log a BuildError carries; the file keeps all of it.
const maxErrorLog = 1 << 20

// buildLogName is the log of a finished build, kept in its directory.
const buildLogName = ".build.log"

// Built is an environment ready to run scripts with.
type Built struct {
	// Key is the environment's Key.
	Key string
	// Dir is the environment's directory: <root>/<Key> for a built one,
	// the interpreter's sys.prefix for a user-managed one.
	Dir string
	// Python is the interpreter to run scripts with.
	Python string
	// Packages is the resolved package list of a built environment, as
	// pip freeze ("name==version") or conda list ("name=version=build")
	// writes it; nil for a user-managed one.
	Packages []string
	// Reused is true when nothing was built: an earlier build was found
	// complete, or the environment is user-managed.
	Reused bool
}

// BuildError reports a failed build. Nothing of the build is left under
// the root but its log.
type BuildError struct {
	Key     string
	LogPath string // <root>/<key>.failed.log
	Log     string // the build log (its last MiB, if longer)
	// Hint says what the log's failure most likely means and where to
	// look, when Gantry recognises it (pip's "No matching distribution").
	Hint string
	Err  error
}

func (e *BuildError) Error() string {
	hint := ""
	if e.Hint != "" {
		hint = "\nhint: " + e.Hint
	}
	return fmt.Sprintf("build of environment %s failed: %v%s\nfix the spec (or the build tool) and build again; the full log is %s; its last lines:\n%s",
		e.Key, e.Err, hint, e.LogPath, tail(e.Log, tailLines))
}

func (e *BuildError) Unwrap() error { return e.Err }

// Builder builds system-managed environments. The zero value is ready to
// use. A Builder has no state of its own: any number of goroutines and
// processes may build at once; builds of one spec under one root are
// serialised by a lock file and all but the first reuse its result.
type Builder struct {
	// Python is the interpreter that creates venvs for specs without
	// conda packages: a name looked up on PATH, or a path. Empty means
	// "python3". A spec that pins python=X.Y uses pythonX.Y from PATH
	// when Python is not of that version.
	Python string
	// CondaTools are the conda front ends tried, in order, for specs with
	// conda packages. Nil means micromamba, mamba, conda.
	CondaTools []string
}

func (b *Builder) python() string {
	if b.Python == "" {
		return "python3"
	}
	return b.Python
}

func (b *Builder) condaTools() []string {
	if b.CondaTools == nil {
		return []string{"micromamba", "mamba", "conda"}
	}
	return b.CondaTools
}

// Build returns the environment e describes, building it under root if no
// complete build of the same Key is there yet. The build log is written to
// log line by line as the build runs (log may be nil); a reuse writes one
// line saying so.
//
// A system-managed environment lives in <root>/<key>/. A spec with conda
// packages is built with the first of Builder.CondaTools on PATH (conda
// create, then pip install for the pip packages); a spec whose only conda
// packages are python and pip is built with python -m venv and pip when
// no conda tool is found; other specs fail, saying what to install. A venv
// is built in <root>/.tmp-<key>-<random> and renamed into place; a conda
// prefix cannot be moved, so conda builds in <root>/<key> directly. Either
// way the .complete marker is written last, and a failed build removes
// what it made and keeps its log at <root>/<key>.failed.log (the error is
// a *BuildError).
//
// A user-managed environment is not built: Build returns [Resolve]'s
// result. Docker environments are built by the targets that run their
// containers, not on this host: Build refuses them.
func (b *Builder) Build(ctx context.Context, e *Environment, root string, log io.Writer) (*Built, error) {
	if e == nil {
		return nil, errors.New("build environment: the environment is nil: pass one made with environment.New")
	}
	if e.Python.UserManagedDependencies {
		return Resolve(ctx, e)
	}
	if e.Docker.Enabled {
		return nil, fmt.Errorf("build environment %q: Docker.Enabled is set, so the environment is built inside the container by the target that runs it; set Docker.Enabled=false to build it on this host", e.Name)
	}
	if err := e.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = io.Discard
	}
	if root == "" {
		return nil, fmt.Errorf("build environment %q: the root directory is empty: pass the directory that holds built environments", e.Name)
	}
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("build environment %q: %w", e.Name, err)
	}
	key := e.Key()
	dir := filepath.Join(root, key)
	if built := reuse(key, dir); built != nil {
		fmt.Fprintf(log, "gantry: environment %s is already built in %s; reusing it\n", key, dir)
		return built, nil
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("build environment %q: create the root directory: %w", e.Name, err)
	}
	lock, err := lockFile(ctx, filepath.Join(root, key+".lock"), func() {
		fmt.Fprintf(log, "gantry: another build of environment %s is running; waiting for it\n", key)
	})
	if err != nil {
		return nil, fmt.Errorf("build environment %q: %w", e.Name, err)
	}
	defer func() {
		if err := lock.unlock(); err != nil {
			fmt.Fprintf(log, "gantry: %v\n", err)
		}
	}()
	if built := reuse(key, dir); built != nil {
		fmt.Fprintf(log, "gantry: environment %s was built meanwhile in %s; reusing it\n", key, dir)
		return built, nil
	}
	deps := e.Python.CondaDependencies
	if deps == nil {
		deps = &CondaDependencies{}
	}
	p, err := b.plan(ctx, deps)
	if err != nil {
		return nil, fmt.Errorf("build environment %q: %w", e.Name, err)
	}
	if err := removeStale(root, key, dir, log); err != nil {
		return nil, fmt.Errorf("build environment %q: %w", e.Name, err)
	}
	return b.build(ctx, p, deps, root, key, log)
}

// reuse returns the complete build in dir, or nil if there is none.
func reuse(key, dir string) *Built {
	data, err := os.ReadFile(filepath.Join(dir, completeMarker))
	if err != nil {
		return nil
	}
	py := filepath.Join(dir, "bin", "python")
	if _, err := os.Stat(py); err != nil {
		return nil
	}
	return &Built{Key: key, Dir: dir, Python: py, Packages: lines(data), Reused: true}
}

// removeStale removes what crashed builds of key left: an unfinished
// <root>/<key> and <root>/.tmp-<key>-* files. The caller holds the key's
// lock, so no live build owns them.
func removeStale(root, key, dir string, log io.Writer) error {
	ents, err := os.ReadDir(root)
	if err != nil {
		return fmt.Errorf("list the root directory: %w", err)
	}
	var stale []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".tmp-"+key+"-") {
			stale = append(stale, filepath.Join(root, e.Name()))
		}
	}
	if _, err := os.Lstat(dir); err == nil {
		stale = append(stale, dir)
	}
	for _, s := range stale {
		fmt.Fprintf(log, "gantry: removing %s, left by an unfinished build\n", s)
		if err := os.RemoveAll(s); err != nil {
			return fmt.Errorf("remove what an unfinished build left: %w", err)
		}
	}
	return nil
}

// build runs a planned build of key; the caller holds the key's lock.
func (b *Builder) build(ctx context.Context, p plan, c *CondaDependencies, root, key string, log io.Writer) (_ *Built, err error) {
	dir := filepath.Join(root, key)
	logf, err := os.CreateTemp(root, ".tmp-"+key+"-*.log")
	if err != nil {
		return nil, fmt.Errorf("build environment %s: create its log: %w", key, err)
	}
	logPath := logf.Name()
	tmp := strings.TrimSuffix(logPath, ".log")
	w := &lineWriter{out: log, file: logf}
	defer func() {
		if err == nil {
			return
		}
		w.Flush()
		logf.Close()
		os.RemoveAll(tmp)
		os.RemoveAll(dir)
		failed := filepath.Join(root, key+".failed.log")
		if rerr := os.Rename(logPath, failed); rerr != nil {
			failed = logPath
		}
		text, _ := os.ReadFile(failed)
		if len(text) > maxErrorLog {
			text = text[len(text)-maxErrorLog:]
		}
		err = &BuildError{Key: key, LogPath: failed, Log: string(text), Hint: pipHint(c, string(text)), Err: err}
	}()

	w.Printf("gantry: building environment %s in %s", key, dir)
	var pkgs []string
	if p.conda != "" {
		pkgs, err = buildConda(ctx, w, p, c, dir)
	} else {
		pkgs, err = buildVenv(ctx, w, p, c, tmp, dir)
	}
	if err != nil {
		return nil, err
	}
	w.Printf("gantry: environment %s is built: %d packages", key, len(pkgs))
	w.Flush()
	if w.fileErr != nil {
		return nil, fmt.Errorf("write the build log: %w", w.fileErr)
	}
	if err := logf.Close(); err != nil {
		return nil, fmt.Errorf("write the build log: %w", err)
	}
	kept := filepath.Join(dir, buildLogName)
	if err := os.Rename(logPath, kept); err != nil {
		return nil, fmt.Errorf("keep the build log: %w", err)
	}
	logPath = kept
	if err := writeMarker(dir, pkgs); err != nil {
		return nil, err
	}
	os.Remove(filepath.Join(root, key+".failed.log"))
	return &Built{Key: key, Dir: dir, Python: filepath.Join(dir, "bin", "python"), Packages: pkgs}, nil
}

// buildVenv builds a venv in tmp and renames it to dir.
func buildVenv(ctx context.Context, w *lineWriter, p plan, c *CondaDependencies, tmp, dir string) ([]string, error) {
	if len(c.Channels) > 0 {
		w.Printf("gantry: no conda tool builds this spec, so its channels are not used")
	}
	w.Printf("gantry: creating a venv with %s (Python %s)", p.python, p.pyVersion)
	if err := run(ctx, w, "python -m venv", p.python, "-m", "venv", tmp); err != nil {
		return nil, err
	}
	py := filepath.Join(tmp, "bin", "python")
	if len(c.PipPackages) > 0 {
		if err := run(ctx, w, "pip install", py, pipInstallArgs(c)...); err != nil {
			return nil, err
		}
	}
	out, err := output(ctx, w, "pip freeze", py, "-m", "pip", "freeze", "--all")
	if err != nil {
		return nil, err
	}
	pkgs := lines(out)
	for _, p := range pkgs {
		w.Printf("  %s", p)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return nil, fmt.Errorf("move the finished venv into place: %w", err)
	}
	if err := relocateVenv(dir, tmp); err != nil {
		return nil, err
	}
	return pkgs, nil
}

// buildConda builds a conda prefix in dir, then pip-installs into it.
func buildConda(ctx context.Context, w *lineWriter, p plan, c *CondaDependencies, dir string) ([]string, error) {
	args := []string{"create", "--yes", "--prefix", dir}
	if len(c.Channels) > 0 {
		args = append(args, "--override-channels")
		for _, ch := range c.Channels {
			args = append(args, "--channel", strings.TrimSpace(ch))
		}
	}
	var hasPython, hasPip bool
	for _, s := range c.CondaPackages {
		cs, _ := parseCondaSpec(s)
		hasPython = hasPython || cs.name == "python"
		hasPip = hasPip || cs.name == "pip"
		args = append(args, strings.TrimSpace(s))
	}
	if !hasPython {
		w.Printf("gantry: adding python: the spec does not list it and scripts need it")
		args = append(args, "python")
	}
	if len(c.PipPackages) > 0 && !hasPip {
		w.Printf("gantry: adding pip: the spec has pip packages")
		args = append(args, "pip")
	}
	if err := run(ctx, w, filepath.Base(p.conda)+" create", p.conda, args...); err != nil {
		return nil, err
	}
	if len(c.PipPackages) > 0 {
		if err := run(ctx, w, "pip install", filepath.Join(dir, "bin", "python"), pipInstallArgs(c)...); err != nil {
			return nil, err
		}
	}
	out, err := output(ctx, w, filepath.Base(p.conda)+" list", p.conda, "list", "--prefix", dir, "--json")
	if err != nil {
		return nil, err
	}
	var list []struct {
		Name    string `json:"name"`
		Version string `json:"version"`
		Build   string `json:"build_string"`
	}
	if err := json.Unmarshal(out, &list); err != nil {
		return nil, fmt.Errorf("read the package list of %s list --json: %w", p.conda, err)
	}
	pkgs := make([]string, 0, len(list))
	for _, p := range list {
		pkgs = append(pkgs, p.Name+"="+p.Version+"="+p.Build)
		w.Printf("  %s", pkgs[len(pkgs)-1])
	}
	return pkgs, nil
}

func pipInstallArgs(c *CondaDependencies) []string {
	a := []string{"-m", "pip", "install", "--progress-bar", "off"}
	a = append(a, c.PipOptions.args()...)
	for _, p := range c.PipPackages {
		a = append(a, strings.TrimSpace(p))
	}
	return a
}

// relocateVenv rewrites the venv paths baked into text files of a venv
// moved from old to dir: script shebangs and activate scripts in bin/, and
// pyvenv.cfg. The interpreter itself finds its prefix from its own path.
func relocateVenv(dir, old string) error {
	files, err := os.ReadDir(filepath.Join(dir, "bin"))
	if err != nil {
		return fmt.Errorf("relocate the venv: %w", err)
	}
	paths := []string{filepath.Join(dir, "pyvenv.cfg")}
	for _, f := range files {
		if f.Type().IsRegular() {
			paths = append(paths, filepath.Join(dir, "bin", f.Name()))
		}
	}
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("relocate the venv: %w", err)
		}
		if !bytes.Contains(data, []byte(old)) || bytes.IndexByte(data, 0) >= 0 {
			continue // nothing to fix, or a binary
		}
		data = bytes.ReplaceAll(data, []byte(old), []byte(dir))
		if err := os.WriteFile(path, data, 0); err != nil {
			return fmt.Errorf("relocate the venv: %w", err)
		}
	}
	return nil
}

// writeMarker writes the .complete marker atomically.
func writeMarker(dir string, pkgs []string) error {
	tmp := filepath.Join(dir, completeMarker+".tmp")
	f, err := os.Create(tmp)
	if err == nil {
		_, err = io.WriteString(f, strings.Join(pkgs, "\n")+"\n")
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, completeMarker))
	}
	if err != nil {
		return fmt.Errorf("write the %s marker: %w", completeMarker, err)
	}
	return nil
}

// lines returns the non-empty lines of data, trimmed.
func lines(data []byte) []string {
	var out []string
	for l := range strings.SplitSeq(string(data), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	ls := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	return strings.Join(ls, "\n")
}
