package papermill

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestWheelIsWhatPipInstalls(t *testing.T) {
	v := Version("v0.1.0")
	if !strings.HasPrefix(v, "0.1.0+") || len(v) != len("0.1.0+")+12 {
		t.Fatalf("Version = %q", v)
	}
	name, data, err := Wheel(v)
	if err != nil {
		t.Fatal(err)
	}
	if name != "gantry_papermill-"+v+"-py3-none-any.whl" {
		t.Errorf("name %q", name)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, f := range zr.File {
		r, _ := f.Open()
		b, _ := io.ReadAll(r)
		files[f.Name] = b
	}
	info := "gantry_papermill-" + v + ".dist-info/"
	if !bytes.Contains(files[info+"entry_points.txt"], []byte("[papermill.engine]\ngantry = gantry_papermill:GantryEngine")) {
		t.Errorf("entry points: %q", files[info+"entry_points.txt"])
	}
	if !bytes.Contains(files[info+"METADATA"], []byte("Name: gantry-papermill\nVersion: "+v+"\n")) {
		t.Errorf("METADATA: %q", files[info+"METADATA"])
	}
	// RECORD lists every other file with its hash and size, as pip checks.
	lines := strings.Split(strings.TrimSpace(string(files[info+"RECORD"])), "\n")
	if len(lines) != len(files) {
		t.Errorf("RECORD has %d lines for %d files", len(lines), len(files))
	}
	for _, l := range lines {
		parts := strings.Split(l, ",")
		if parts[0] == info+"RECORD" {
			continue
		}
		sum := sha256.Sum256(files[parts[0]])
		if want := "sha256=" + base64.RawURLEncoding.EncodeToString(sum[:]); parts[1] != want {
			t.Errorf("RECORD %s: %s, want %s", parts[0], parts[1], want)
		}
	}
}

func TestInstallNeedsPapermill(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is needed")
	}
	if exec.Command(py, "-c", "import papermill").Run() == nil {
		// A Python without papermill: a bare venv of this one's.
		venv := filepath.Join(t.TempDir(), "venv")
		if out, err := exec.Command(py, "-m", "venv", "--without-pip", venv).CombinedOutput(); err != nil {
			t.Skipf("cannot make a venv: %v %s", err, out)
		}
		py = filepath.Join(venv, "bin", "python")
	}
	_, err = Install(context.Background(), py, Version("0.1.0"), false)
	if !errors.Is(err, ErrNoPapermill) || !strings.Contains(err.Error(), py) {
		t.Errorf("err = %v", err)
	}
	if _, err := os.Stat(py); err != nil {
		t.Fatal(err)
	}
}
