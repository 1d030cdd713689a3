package magics

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// requireDir is the directory under GOPATH holding the module whose
// requirements %require accumulates, so that modules fetched by different
// %require lines agree on the versions of what they share.
const requireDir = ".gantry-require"

// Require fetches the modules named by specs ("path@version") with the go
// command and links each of them, and each module their packages import,
// as gopath/src/<module path> to its directory in the module cache, which
// is where the interpreter loads source packages from. It writes the go
// command's output and one "path@version ready" line per module to out.
//
// The requirements of earlier calls with the same gopath are kept in
// gopath/.gantry-require/go.mod, so later calls choose versions that also
// satisfy earlier ones; a link whose version changes is reported.
func Require(ctx context.Context, gopath string, specs []string, out io.Writer) error {
	return require(ctx, gopath, specs, out, out)
}

func requireMagic(ctx context.Context, c *Call) error {
	return require(ctx, c.S.GoPath(), strings.Fields(c.Args), c.Stdout, c.Stderr)
}

// modInfo is one module as the go command reports it.
type modInfo struct {
	Path, Version, Dir string
}

func require(ctx context.Context, gopath string, specs []string, stdout, stderr io.Writer) error {
	if len(specs) == 0 {
		return errors.New("%require needs a module: %require github.com/google/uuid@v1.6.0")
	}
	paths := make([]string, len(specs))
	for i, spec := range specs {
		path, version, ok := strings.Cut(spec, "@")
		if path == "" || strings.ContainsAny(path, " \t\"'") {
			return fmt.Errorf("%%require: %q is not a module path: use %%require github.com/x/y@v1.2.3", spec)
		}
		if !ok || version == "" {
			return fmt.Errorf("%%require: %s has no version: pin a version: %%require %s@v1.2.3", path, path)
		}
		paths[i] = path
	}
	if gopath == "" {
		return errors.New("%require: the session has no GOPATH to link modules into: start the executor with one")
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		return errors.New("%require needs the go command to fetch modules, and it is not on PATH: " +
			"install Go (https://go.dev/dl) or add its bin directory to PATH, then restart the kernel")
	}

	dir := filepath.Join(gopath, requireDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("%%require: make module directory: %w", err)
	}
	// run runs the go command in dir. Its standard output goes to out and
	// its standard error ends the error message if it fails; with out nil,
	// both are shown on stderr.
	run := func(out io.Writer, args ...string) error {
		var tail tailBuffer
		cmd := exec.CommandContext(ctx, goCmd, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOWORK=off", "GO111MODULE=on")
		cmd.Stdout, cmd.Stderr = out, &tail
		if out == nil {
			// One writer for both, so that exec copies them with a
			// single goroutine and never writes stderr concurrently.
			w := io.MultiWriter(stderr, &tail)
			cmd.Stdout, cmd.Stderr = w, w
		}
		if err := cmd.Run(); err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("go %s interrupted: %w", args[0], ctx.Err())
			}
			msg := strings.TrimSpace(tail.String())
			if msg == "" {
				msg = err.Error()
			}
			return fmt.Errorf("go %s failed: %s", strings.Join(args, " "), msg)
		}
		return nil
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); errors.Is(err, fs.ErrNotExist) {
		if err := run(io.Discard, "mod", "init", "gantryrequire"); err != nil {
			return fmt.Errorf("%%require: %w", err)
		}
	}
	if err := run(nil, append([]string{"get"}, specs...)...); err != nil {
		return fmt.Errorf("%%require: %w: %s", err, getHint(err.Error()))
	}

	// The requested modules themselves, then every module their packages
	// import from.
	const format = `{{with .Module}}{{if not .Main}}{{.Path}}{{"\t"}}{{.Version}}{{"\t"}}{{.Dir}}{{"\n"}}{{end}}{{end}}`
	var listed bytes.Buffer
	if err := run(&listed, append([]string{"list", "-mod=mod", "-m", "-f", `{{.Path}}{{"\t"}}{{.Version}}{{"\t"}}{{.Dir}}`}, paths...)...); err != nil {
		return fmt.Errorf("%%require: %w", err)
	}
	var patterns []string
	for _, p := range paths {
		patterns = append(patterns, p+"/...")
	}
	if err := run(&listed, append([]string{"list", "-mod=mod", "-e", "-deps", "-f", format}, patterns...)...); err != nil {
		return fmt.Errorf("%%require: %w", err)
	}
	mods := parseModules(listed.String())

	src := filepath.Join(gopath, "src")
	names := make([]string, 0, len(mods))
	for p := range mods {
		names = append(names, p)
	}
	sort.Strings(names)
	for _, p := range names {
		if err := link(src, mods[p], stdout); err != nil {
			return fmt.Errorf("%%require: %w", err)
		}
	}
	for _, p := range paths {
		m, ok := mods[p]
		if !ok {
			return fmt.Errorf("%%require: go did not download %s: run %%require again, or check that it is a module", p)
		}
		fmt.Fprintf(stdout, "%s@%s ready: import %q\n", m.Path, m.Version, m.Path)
	}
	return nil
}

// parseModules reads "path\tversion\tdir" lines, keeping modules that have
// a directory in the module cache.
func parseModules(s string) map[string]modInfo {
	mods := make(map[string]modInfo)
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 3 || f[0] == "" || f[2] == "" {
			continue
		}
		mods[f[0]] = modInfo{Path: f[0], Version: f[1], Dir: f[2]}
	}
	return mods
}

// link makes src/<m.Path> a symbolic link to m.Dir, replacing a link to
// another version and saying so.
func link(src string, m modInfo, out io.Writer) error {
	at := filepath.Join(src, filepath.FromSlash(m.Path))
	st, err := os.Lstat(at)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(filepath.Dir(at), 0o755); err != nil {
			return fmt.Errorf("link %s: %w", m.Path, err)
		}
		if err := os.Symlink(m.Dir, at); err != nil {
			return fmt.Errorf("link %s: %w", m.Path, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("link %s: %w", m.Path, err)
	case st.Mode()&fs.ModeSymlink == 0:
		return fmt.Errorf("link %s: %s exists and is not a link made by %%require: remove it to use the fetched module", m.Path, at)
	}
	old, err := os.Readlink(at)
	if err != nil {
		return fmt.Errorf("link %s: %w", m.Path, err)
	}
	if old == m.Dir {
		return nil
	}
	tmp := at + ".gantry-new"
	_ = os.Remove(tmp)
	if err := os.Symlink(m.Dir, tmp); err != nil {
		return fmt.Errorf("link %s: %w", m.Path, err)
	}
	if err := os.Rename(tmp, at); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("link %s: %w", m.Path, err)
	}
	fmt.Fprintf(out, "%s: %s -> %s (restart the kernel if a cell already imported it)\n", m.Path, versionOf(old), m.Version)
	return nil
}

// versionOf returns the version in a module cache directory name
// (".../uuid@v1.6.0"), or the whole path when it has none.
func versionOf(dir string) string {
	if i := strings.LastIndex(dir, "@"); i >= 0 {
		return dir[i+1:]
	}
	return dir
}

// tailBuffer keeps the last 4 KiB written to it.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	const max = 4 << 10
	t.b = append(t.b, p...)
	if len(t.b) > max {
		t.b = append(t.b[:0], t.b[len(t.b)-max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.b) }

// getHint says what to do about a failed go get, from what go printed.
func getHint(msg string) string {
	switch {
	case strings.Contains(msg, "verifying module") && (strings.Contains(msg, "dial tcp") || strings.Contains(msg, "no such host") ||
		strings.Contains(msg, "connection refused") || strings.Contains(msg, "timeout")):
		return "the checksum database (GOSUMDB) could not be reached to verify the module: " +
			"reach it, or, offline, trust the module cache for it by starting the kernel with GONOSUMDB=<module path> (or GOSUMDB=off)"
	case strings.Contains(msg, "disabled by GOPROXY=off"):
		return "the module is not in the module cache and GOPROXY=off forbids downloading it: " +
			"download it once with network access (go mod download MODULE@VERSION), or unset GOPROXY=off"
	}
	return "check the module path and version"
}
