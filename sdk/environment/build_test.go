package environment

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// streamCheck is a build log writer that records whether each write was
// whole lines, and whether the pip install line arrived while the build
// was still running (before <root>/<key> existed).
type streamCheck struct {
	syncBuffer
	dir            string
	partial        bool
	pipWhileBuilds bool
}

func (s *streamCheck) Write(p []byte) (int, error) {
	if !bytes.HasSuffix(p, []byte("\n")) {
		s.partial = true
	}
	if bytes.Contains(p, []byte("-m pip install")) {
		if _, err := os.Stat(s.dir); errors.Is(err, os.ErrNotExist) {
			s.pipWhileBuilds = true
		}
	}
	return s.syncBuffer.Write(p)
}

// TestBuildVenvAndReuse builds a real venv offline, from a local wheel,
// then builds the same spec again and expects the first build back.
func TestBuildVenvAndReuse(t *testing.T) {
	pyMinor := needVenv(t)
	t.Parallel()
	ctx := context.Background()
	root := t.TempDir()
	e := tinyEnv(writeWheel(t), pyMinor)
	key := e.Key()
	dir := filepath.Join(root, key)

	// What a crashed build would leave: both must be cleared away.
	if err := os.MkdirAll(filepath.Join(root, ".tmp-"+key+"-crashed"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "half"), 0o755); err != nil {
		t.Fatal(err)
	}

	b := &Builder{CondaTools: noConda}
	log := &streamCheck{dir: dir}
	built, err := b.Build(ctx, e, root, log)
	if err != nil {
		t.Fatalf("Build: %v\nlog:\n%s", err, log.String())
	}
	if built.Reused || built.Key != key || built.Dir != dir || built.Python != filepath.Join(dir, "bin", "python") {
		t.Errorf("Build = %+v, want a new build of %s in %s", built, key, dir)
	}
	if !slices.Contains(built.Packages, "gantry-tiny==0.1.0") {
		t.Errorf("Packages = %v, want gantry-tiny==0.1.0 among them", built.Packages)
	}
	text := log.String()
	if !strings.Contains(text, "-m venv") || !strings.Contains(text, "--no-index") || !strings.Contains(text, "left by an unfinished build") {
		t.Errorf("build log lacks the venv, the pip install or the stale cleanup:\n%s", text)
	}
	if log.partial {
		t.Error("the log writer got a write that was not whole lines")
	}
	if !log.pipWhileBuilds {
		t.Error("the pip install line was not streamed while the build ran")
	}
	if got := dirNames(t, root); !slices.Equal(got, []string{key}) {
		t.Errorf("root holds %v, want only %s (no lock, temporary or stale files)", got, key)
	}
	if _, err := os.Stat(filepath.Join(dir, "half")); err == nil {
		t.Error("the stale half-made directory survived the build")
	}
	marker, err := os.ReadFile(filepath.Join(dir, completeMarker))
	if err != nil || !slices.Equal(lines(marker), built.Packages) {
		t.Errorf(".complete = %q, %v; want the package list %v", marker, err, built.Packages)
	}

	// The venv works from its final place: the module imports, and the
	// console script, whose shebang was written in the temporary directory,
	// runs.
	out, err := exec.Command(built.Python, "-c", "import gantry_tiny, sys; print(gantry_tiny.VERSION, sys.prefix)").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "0.1.0 "+dir {
		t.Errorf("import gantry_tiny: %v: %s", err, out)
	}
	out, err = exec.Command(filepath.Join(dir, "bin", "gantry-tiny")).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "gantry-tiny ok" {
		t.Errorf("console script after the move: %v: %s", err, out)
	}

	var again syncBuffer
	start := time.Now()
	re, err := b.Build(ctx, e, root, &again)
	if err != nil {
		t.Fatalf("second Build: %v", err)
	}
	if !re.Reused || re.Dir != dir || !slices.Equal(re.Packages, built.Packages) {
		t.Errorf("second Build = %+v, want a reuse of %+v", re, built)
	}
	if cmds := commandLines(again.String()); len(cmds) > 0 || !strings.Contains(again.String(), "reusing it") {
		t.Errorf("second Build ran %v; want no command and a line saying it reuses the build:\n%s", cmds, again.String())
	}
	t.Logf("reuse took %v", time.Since(start))
}

// TestHelperBuild is the other process of TestBuildConcurrent.
func TestHelperBuild(t *testing.T) {
	root := os.Getenv("GANTRY_ENV_TEST_ROOT")
	if root == "" {
		t.Skip("helper process of TestBuildConcurrent")
	}
	e := tinyEnv(os.Getenv("GANTRY_ENV_TEST_WHEELHOUSE"), os.Getenv("GANTRY_ENV_TEST_PYTHON"))
	b := &Builder{CondaTools: noConda}
	built, err := b.Build(context.Background(), e, root, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(built)
	fmt.Printf("RESULT %s\n", data)
}

// TestBuildConcurrent builds one spec from three goroutines and another
// process at once: one builds, the others wait and reuse its build.
func TestBuildConcurrent(t *testing.T) {
	pyMinor := needVenv(t)
	t.Parallel()
	root := t.TempDir()
	wheelhouse := writeWheel(t)
	e := tinyEnv(wheelhouse, pyMinor)

	type result struct {
		built *Built
		err   error
		log   string
	}
	results := make([]result, 4)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			var log syncBuffer
			b := &Builder{CondaTools: noConda}
			built, err := b.Build(context.Background(), e, root, &log)
			results[i] = result{built, err, log.String()}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperBuild$", "-test.v")
		cmd.Env = append(os.Environ(), "GANTRY_ENV_TEST_ROOT="+root,
			"GANTRY_ENV_TEST_WHEELHOUSE="+wheelhouse, "GANTRY_ENV_TEST_PYTHON="+pyMinor)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		<-start
		err := cmd.Run()
		r := result{err: err, log: stderr.String()}
		for _, l := range strings.Split(stdout.String(), "\n") {
			if s, ok := strings.CutPrefix(l, "RESULT "); ok {
				r.built = &Built{}
				if err := json.Unmarshal([]byte(s), r.built); err != nil {
					r.err = err
				}
			}
		}
		if r.built == nil && r.err == nil {
			r.err = fmt.Errorf("helper printed no result: %s", stdout.String())
		}
		results[3] = r
	}()
	close(start)
	wg.Wait()

	builds, waited := 0, 0
	for i, r := range results {
		if r.err != nil {
			t.Fatalf("build %d: %v\nlog:\n%s", i, r.err, r.log)
		}
		if !r.built.Reused {
			builds++
		}
		if len(commandLines(r.log)) > 0 {
			if r.built.Reused {
				t.Errorf("build %d ran commands but says it reused a build:\n%s", i, r.log)
			}
		}
		if strings.Contains(r.log, "waiting for it") {
			waited++
		}
		if r.built.Dir != filepath.Join(root, e.Key()) || !slices.Contains(r.built.Packages, "gantry-tiny==0.1.0") {
			t.Errorf("build %d = %+v", i, r.built)
		}
	}
	if builds != 1 {
		t.Errorf("%d of 4 concurrent Builds built; want exactly 1", builds)
	}
	if waited == 0 {
		t.Error("no concurrent Build waited for the lock")
	}
	if got := dirNames(t, root); !slices.Equal(got, []string{e.Key()}) {
		t.Errorf("root holds %v, want only the built environment", got)
	}
}

// TestBuildFailure builds a spec whose package does not exist: the build
// fails, only its log stays, and a good spec still builds in the same root.
func TestBuildFailure(t *testing.T) {
	pyMinor := needVenv(t)
	t.Parallel()
	ctx := context.Background()
	root := t.TempDir()
	wheelhouse := writeWheel(t)
	bad := tinyEnv(wheelhouse, pyMinor, "Gantry-Tiny==9.9") // the wheelhouse has 0.1.0
	b := &Builder{CondaTools: noConda}

	var log syncBuffer
	_, err := b.Build(ctx, bad, root, &log)
	var be *BuildError
	if !errors.As(err, &be) {
		t.Fatalf("Build of a missing package: error %v (%T), want a *BuildError", err, err)
	}
	failedLog := filepath.Join(root, bad.Key()+".failed.log")
	if be.LogPath != failedLog || be.Key != bad.Key() {
		t.Errorf("BuildError = {Key %s, LogPath %s}, want {%s, %s}", be.Key, be.LogPath, bad.Key(), failedLog)
	}
	for _, want := range []string{"Gantry-Tiny==9.9", failedLog, "build again",
		"hint: pip found no distribution of Gantry-Tiny==9.9", "--find-links " + wheelhouse + ", which holds gantry_tiny-0.1.0-py3-none-any.whl"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
	saved, _ := os.ReadFile(failedLog)
	if len(commandLines(string(saved))) == 0 || string(saved) != be.Log || string(saved) != log.String() {
		t.Errorf("the failed log, the error's log and the streamed log differ:\nfile:\n%s\nerror:\n%s\nstreamed:\n%s", saved, be.Log, log.String())
	}
	if got := dirNames(t, root); !slices.Equal(got, []string{bad.Key() + ".failed.log"}) {
		t.Errorf("after the failed build root holds %v, want only its log", got)
	}

	good := tinyEnv(wheelhouse, pyMinor)
	built, err := b.Build(ctx, good, root, nil)
	if err != nil {
		t.Fatalf("Build of a good spec after a failed one: %v", err)
	}
	if built.Reused {
		t.Error("the good spec reused something")
	}
	want := []string{bad.Key() + ".failed.log", good.Key()}
	slices.Sort(want)
	if got := dirNames(t, root); !slices.Equal(got, want) {
		t.Errorf("root holds %v, want %v", got, want)
	}
}

func TestBuildWithoutConda(t *testing.T) {
	root := t.TempDir()
	e := New("needs-conda")
	e.Python.CondaDependencies.CondaPackages = []string{"python=3.11", "numpy=1.26", "pip"}
	b := &Builder{CondaTools: noConda}
	_, err := b.Build(context.Background(), e, root, nil)
	for _, want := range []string{"numpy=1.26", noConda[0], "install micromamba"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Build error = %v, want it to contain %q", err, want)
		}
	}
	if err != nil && strings.Contains(err.Error(), "pip,") {
		t.Errorf("error lists pip as needing conda: %v", err)
	}
	if got := dirNames(t, root); len(got) != 0 {
		t.Errorf("root holds %v after a refused build, want nothing", got)
	}
}

func TestBuildPythonPinNotInstalled(t *testing.T) {
	needVenv(t)
	root := t.TempDir()
	e := New("old-python")
	e.Python.CondaDependencies.CondaPackages = []string{"python=1.5"}
	_, err := (&Builder{CondaTools: noConda}).Build(context.Background(), e, root, nil)
	for _, want := range []string{"pins python=1.5", "python1.5", "micromamba"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Build error = %v, want it to contain %q", err, want)
		}
	}
	if got := dirNames(t, root); len(got) != 0 {
		t.Errorf("root holds %v after a refused build, want nothing", got)
	}
}

func TestBuildRefusals(t *testing.T) {
	docker := New("in-docker")
	docker.Docker.Enabled = true
	user := New("user")
	user.Python.UserManagedDependencies = true
	user.Python.InterpreterPath = "/nonexistent/gantry/python"
	invalid := New("invalid")
	invalid.Python.CondaDependencies.PipPackages = []string{"numpy=1.26"}
	tests := []struct {
		name string
		e    *Environment
		root string
		want string
	}{
		{"nil", nil, t.TempDir(), "nil"},
		{"docker", docker, t.TempDir(), "Docker.Enabled=false"},
		{"user-managed", user, t.TempDir(), "does not exist"},
		{"invalid spec", invalid, t.TempDir(), "numpy==1.26"},
		{"empty root", New("x"), "", "root directory is empty"},
	}
	for _, tt := range tests {
		_, err := (&Builder{}).Build(context.Background(), tt.e, tt.root, nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Build error = %v, want it to contain %q", tt.name, err, tt.want)
		}
	}
}

// TestBuildWaitHonoursContext holds a spec's lock and expects a Build of
// that spec to wait, then give up when its context ends.
func TestBuildWaitHonoursContext(t *testing.T) {
	root := t.TempDir()
	e := New("locked")
	l, err := lockFile(context.Background(), filepath.Join(root, e.Key()+".lock"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	var log syncBuffer
	_, err = (&Builder{}).Build(ctx, e, root, &log)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Build while the lock is held: %v, want a context deadline error", err)
	}
	if !strings.Contains(log.String(), "waiting for it") {
		t.Errorf("log does not say the build waits: %q", log.String())
	}
}

// An environment that names a build of a package for CUDA (the local
// version +cu121, as PyTorch's wheels carry) gets that build, and its log
// says so: what was resolved, not just what was asked for.
func TestBuildLogShowsTheCUDABuildResolved(t *testing.T) {
	pyMinor := needVenv(t)
	t.Parallel()
	e := tinyEnv(writeWheelVersion(t, "0.1.0+cu121"), pyMinor, "gantry-tiny==0.1.0+cu121")
	var log syncBuffer
	built, err := (&Builder{CondaTools: noConda}).Build(context.Background(), e, t.TempDir(), &log)
	if err != nil {
		t.Fatalf("Build: %v\nlog:\n%s", err, log.String())
	}
	if !slices.Contains(built.Packages, "gantry-tiny==0.1.0+cu121") || !strings.Contains(log.String(), "  gantry-tiny==0.1.0+cu121") {
		t.Errorf("packages %v; log:\n%s", built.Packages, log.String())
	}
}
