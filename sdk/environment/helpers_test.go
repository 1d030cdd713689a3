package environment

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// noConda makes a Builder use venv builds even where conda is installed.
var noConda = []string{"gantry-test-no-such-conda-tool"}

// needVenv skips the test unless python3 can create venvs with pip, and
// returns python3's major.minor version.
func needVenv(t *testing.T) string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("skipping a real venv build: python3 is not on PATH")
	}
	if out, err := exec.Command(py, "-c", "import venv, ensurepip").CombinedOutput(); err != nil {
		t.Skipf("skipping a real venv build: python3 -m venv is unavailable (no venv or ensurepip module: %v: %s)", err, out)
	}
	v, err := pythonVersion(context.Background(), py)
	if err != nil {
		t.Skipf("skipping a real venv build: python3 does not run: %v", err)
	}
	parts := strings.Split(v, ".")
	return parts[0] + "." + parts[1]
}

// writeWheel writes a tiny pure-Python wheel, gantry-tiny 0.1.0, with a
// module gantry_tiny and a console script gantry-tiny, into a new
// directory (an offline wheelhouse) and returns the directory.
func writeWheel(t testing.TB) string { return writeWheelVersion(t, "0.1.0") }

// writeWheelVersion is writeWheel with another version of gantry-tiny,
// such as a local version of a build for CUDA ("0.1.0+cu121").
func writeWheelVersion(t testing.TB, version string) string {
	t.Helper()
	info := "gantry_tiny-" + version + ".dist-info/"
	files := []struct{ name, body string }{
		{"gantry_tiny/__init__.py", "VERSION = \"" + version + "\"\n\n\ndef main():\n    print(\"gantry-tiny ok\")\n"},
		{info + "METADATA", "Metadata-Version: 2.1\nName: gantry-tiny\nVersion: " + version + "\nSummary: test package\n"},
		{info + "WHEEL", "Wheel-Version: 1.0\nGenerator: gantry-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"},
		{info + "entry_points.txt", "[console_scripts]\ngantry-tiny = gantry_tiny:main\n"},
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	var record strings.Builder
	for _, f := range files {
		w, err := zw.Create(f.name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(f.body))
		sum := sha256.Sum256([]byte(f.body))
		fmt.Fprintf(&record, "%s,sha256=%s,%d\n", f.name, base64.RawURLEncoding.EncodeToString(sum[:]), len(f.body))
	}
	record.WriteString(info + "RECORD,,\n")
	w, err := zw.Create(info + "RECORD")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(record.String()))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "gantry_tiny-"+version+"-py3-none-any.whl"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// tinyEnv is a system-managed environment of the tiny wheel, installed
// offline from wheelhouse, with python pinned to pyMinor ("3.11") and pip
// listed as conda packages (which a venv build satisfies without conda).
func tinyEnv(wheelhouse, pyMinor string, pip ...string) *Environment {
	e := New("tiny")
	if len(pip) == 0 {
		pip = []string{"Gantry_Tiny==0.1.0"}
	}
	e.Python.CondaDependencies = &CondaDependencies{
		Name:          "tiny",
		CondaPackages: []string{"python=" + pyMinor, "pip"},
		PipPackages:   pip,
		PipOptions:    PipOptions{FindLinks: []string{wheelhouse}, NoIndex: true},
	}
	return e
}

// syncBuffer is a log writer safe for the goroutines of one test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// commandLines returns the "$ command" lines of a build log.
func commandLines(log string) []string {
	var cmds []string
	for _, l := range strings.Split(log, "\n") {
		if strings.HasPrefix(l, "$ ") {
			cmds = append(cmds, l)
		}
	}
	return cmds
}

// dirNames lists the names in dir.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}
