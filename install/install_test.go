package install

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image/png"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

const testExe = "/opt/gantry/bin/gantry"

// readSpec reads back and decodes the kernel.json in dir.
func readSpec(t *testing.T, dir string) kernelSpec {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "kernel.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ks kernelSpec
	if err := json.Unmarshal(b, &ks); err != nil {
		t.Fatalf("kernel.json: %v\n%s", err, b)
	}
	return ks
}

func TestInstallPrefix(t *testing.T) {
	prefix := t.TempDir()
	o := Options{Prefix: prefix, Executable: testExe, Env: map[string]string{"GOFLAGS": "-mod=mod"}}
	dir, err := Install(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(prefix, "share", "jupyter", "kernels", "gantry"); dir != want {
		t.Errorf("Install dir = %q, want %q", dir, want)
	}
	want := kernelSpec{
		Argv:          []string{testExe, "kernel", "--connection-file", "{connection_file}"},
		DisplayName:   "Go (Gantry)",
		Language:      "go",
		InterruptMode: "message",
		Env:           map[string]string{"GOFLAGS": "-mod=mod"},
	}
	if got := readSpec(t, dir); !reflect.DeepEqual(got, want) {
		t.Errorf("kernel.json = %+v\nwant %+v", got, want)
	}

	for _, tt := range []struct {
		file string
		size int
	}{{"logo-32x32.png", 32}, {"logo-64x64.png", 64}} {
		f, err := os.Open(filepath.Join(dir, tt.file))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Errorf("%s: %v", tt.file, err)
			continue
		}
		if b := img.Bounds(); b.Dx() != tt.size || b.Dy() != tt.size {
			t.Errorf("%s is %dx%d, want %dx%[4]d", tt.file, b.Dx(), b.Dy(), tt.size)
		}
	}
	svg, err := os.ReadFile(filepath.Join(dir, "logo-svg.svg"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(svg, []byte("<svg")) {
		t.Errorf("logo-svg.svg is not an SVG:\n%s", svg)
	}

	entries, err := os.ReadDir(filepath.Dir(dir))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("kernels directory holds %v, want only the kernelspec", entries)
	}
}

func TestReinstallReplaces(t *testing.T) {
	ctx := t.Context()
	prefix := t.TempDir()
	o := Options{Prefix: prefix, Name: "go-test", Executable: testExe, DisplayName: "First"}
	dir, err := Install(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, "stale.txt")
	if err := os.WriteFile(stale, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	o.DisplayName = "Second"
	o.Name = "Go-Test" // the same kernelspec: names ignore case
	dir2, err := Install(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if dir2 != dir {
		t.Errorf("reinstall went to %q, want %q", dir2, dir)
	}
	if got := readSpec(t, dir).DisplayName; got != "Second" {
		t.Errorf("display_name after reinstall = %q, want Second", got)
	}
	if _, err := os.Stat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("file from the old install survived the reinstall: %v", err)
	}
	entries, err := os.ReadDir(filepath.Dir(dir))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("kernels directory holds %v after reinstall, want only the kernelspec", entries)
	}
}

func TestUninstall(t *testing.T) {
	ctx := t.Context()
	o := Options{Prefix: t.TempDir(), Executable: testExe}
	dir, err := Install(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Uninstall(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if got != dir {
		t.Errorf("Uninstall removed %q, want %q", got, dir)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("kernelspec still there after Uninstall: %v", err)
	}
	_, err = Uninstall(ctx, o)
	if err == nil {
		t.Fatal("second Uninstall succeeded")
	}
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "not installed") {
		t.Errorf("second Uninstall error = %v, want not installed, naming %s", err, dir)
	}
}

func TestUninstallNotKernelspec(t *testing.T) {
	o := Options{Prefix: t.TempDir(), Name: "plain"}
	dir := filepath.Join(o.Prefix, "share", "jupyter", "kernels", "plain")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Uninstall(t.Context(), o); err == nil {
		t.Error("Uninstall removed a directory without kernel.json")
	}
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("directory without kernel.json was removed: %v", err)
	}
}

func TestBadOptions(t *testing.T) {
	prefix := t.TempDir()
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"slash", Options{Name: "a/b"}, "invalid kernelspec name"},
		{"space", Options{Name: "go kernel"}, "invalid kernelspec name"},
		{"dot dot", Options{Name: ".."}, "invalid kernelspec name"},
		{"unicode", Options{Name: "gö"}, "invalid kernelspec name"},
		{"user and prefix", Options{User: true, Prefix: "/x"}, "only one of"},
		{"sys-prefix and prefix", Options{SysPrefix: true, Prefix: "/x"}, "only one of"},
		{"bad env", Options{Env: map[string]string{"A=B": "c"}}, "invalid env name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.o.Executable = testExe
			if tt.o.Prefix == "" && !tt.o.User {
				tt.o.Prefix = prefix
			}
			dir, err := Install(t.Context(), tt.o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Install(%+v) = %q, %v; want error containing %q", tt.o, dir, err, tt.want)
			}
		})
	}
	entries, _ := os.ReadDir(filepath.Join(prefix, "share", "jupyter", "kernels"))
	if len(entries) != 0 {
		t.Errorf("rejected installs left %v behind", entries)
	}
}

func TestKernelsDir(t *testing.T) {
	home := t.TempDir()
	type dirTest struct {
		name string
		o    Options
		env  map[string]string
		want string
	}
	tests := []dirTest{
		{"jupyter data dir", Options{}, map[string]string{"JUPYTER_DATA_DIR": "/jd"}, "/jd/kernels"},
		{"explicit user", Options{User: true}, map[string]string{"JUPYTER_DATA_DIR": "/jd"}, "/jd/kernels"},
		{"prefix", Options{Prefix: "/p"}, map[string]string{"JUPYTER_DATA_DIR": "/jd"}, "/p/share/jupyter/kernels"},
		{"virtualenv", Options{SysPrefix: true}, map[string]string{"VIRTUAL_ENV": "/venv"}, "/venv/share/jupyter/kernels"},
	}
	switch runtime.GOOS {
	case "linux":
		tests = append(tests,
			dirTest{"xdg", Options{}, map[string]string{"XDG_DATA_HOME": "/xdg"}, "/xdg/jupyter/kernels"},
			dirTest{"home", Options{}, nil, filepath.Join(home, ".local/share/jupyter/kernels")},
		)
	case "darwin":
		tests = append(tests, dirTest{"home", Options{}, nil, filepath.Join(home, "Library/Jupyter/kernels")})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{"JUPYTER_DATA_DIR", "XDG_DATA_HOME", "VIRTUAL_ENV"} {
				t.Setenv(k, tt.env[k])
			}
			t.Setenv("HOME", home)
			got, err := KernelsDir(t.Context(), tt.o)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("KernelsDir(%+v) = %q, want %q", tt.o, got, tt.want)
			}
		})
	}
}

func TestSysPrefixPython(t *testing.T) {
	t.Setenv("VIRTUAL_ENV", "")
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not on PATH")
	}
	got, err := KernelsDir(t.Context(), Options{SysPrefix: true})
	if err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(got) || !strings.HasSuffix(got, filepath.Join("share", "jupyter", "kernels")) {
		t.Errorf("KernelsDir(SysPrefix) = %q, want <abs sys.prefix>/share/jupyter/kernels", got)
	}
}

func TestInstallUser(t *testing.T) {
	data := t.TempDir()
	t.Setenv("JUPYTER_DATA_DIR", data)
	dir, err := Install(t.Context(), Options{Executable: testExe})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(data, "kernels", "gantry"); dir != want {
		t.Errorf("user install went to %q, want %q", dir, want)
	}
}

func TestSpec(t *testing.T) {
	tests := []struct {
		name, exe, want string
	}{
		{"absolute", "/usr/bin/gantry", "/usr/bin/gantry"},
		{"bare name", "gantry", "gantry"},
		{"relative", "bin/gantry", ""}, // made absolute: checked below
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	tests[2].want = filepath.Join(wd, "bin", "gantry")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Spec(Options{Executable: tt.exe})
			if err != nil {
				t.Fatal(err)
			}
			var ks kernelSpec
			if err := json.Unmarshal(b, &ks); err != nil {
				t.Fatal(err)
			}
			if ks.Argv[0] != tt.want {
				t.Errorf("argv[0] = %q, want %q", ks.Argv[0], tt.want)
			}
			if bytes.Contains(b, []byte(`"env"`)) {
				t.Errorf("spec without Env has an env key:\n%s", b)
			}
		})
	}
}

func TestSpecTestBinary(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if !isGoRunBinary(exe) {
		t.Skipf("test binary %s is not in a go-build directory", exe)
	}
	_, err = Spec(Options{})
	if err == nil || !strings.Contains(err.Error(), "temporary build") {
		t.Errorf("Spec for a go test binary: err = %v, want one about a temporary build", err)
	}
}

// TestTemplate checks that the embedded template, and the repository's
// kernel.json if present, say what Spec generates.
func TestTemplate(t *testing.T) {
	got, err := Spec(Options{Executable: "gantry"})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, Template()) {
		t.Errorf("Spec differs from the embedded template kernel.json:\n%s\nwant\n%s", got, Template())
	}
	root, err := os.ReadFile(filepath.Join("..", "kernel.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	var a, b any
	if err := json.Unmarshal(got, &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(root, &b); err != nil {
		t.Fatalf("../kernel.json: %v", err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Errorf("../kernel.json differs from Spec:\n%s\nwant the same as\n%s", root, got)
	}
}

// TestJupyterSeesKernel asks a real Jupyter to list the installed spec.
func TestJupyterSeesKernel(t *testing.T) {
	jupyter, err := exec.LookPath("jupyter")
	if err != nil {
		venv, _ := filepath.Abs(filepath.Join("..", ".venv", "bin", "jupyter"))
		if _, serr := os.Stat(venv); serr != nil {
			t.Skip("jupyter is neither on PATH nor in ../.venv/bin, so the kernelspec cannot be checked against it")
		}
		jupyter = venv
	}
	prefix := t.TempDir()
	data := t.TempDir()
	dir, err := Install(t.Context(), Options{Prefix: prefix, Name: "gantry-jtest", Executable: testExe})
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, jupyter, "kernelspec", "list", "--json")
	cmd.Env = append(os.Environ(),
		"JUPYTER_PATH="+filepath.Join(prefix, "share", "jupyter"),
		"JUPYTER_DATA_DIR="+data,
		"JUPYTER_PLATFORM_DIRS=0",
	)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s kernelspec list: %v\n%s", jupyter, err, stderr.Bytes())
	}
	var list struct {
		Kernelspecs map[string]struct {
			ResourceDir string     `json:"resource_dir"`
			Spec        kernelSpec `json:"spec"`
		} `json:"kernelspecs"`
	}
	if err := json.Unmarshal(out, &list); err != nil {
		t.Fatalf("kernelspec list output: %v\n%s", err, out)
	}
	ks, ok := list.Kernelspecs["gantry-jtest"]
	if !ok {
		t.Fatalf("jupyter does not list gantry-jtest:\n%s", out)
	}
	if ks.ResourceDir != dir {
		t.Errorf("resource_dir = %q, want %q", ks.ResourceDir, dir)
	}
	if ks.Spec.Language != "go" || ks.Spec.InterruptMode != "message" || ks.Spec.Argv[0] != testExe {
		t.Errorf("jupyter read spec %+v", ks.Spec)
	}
}
