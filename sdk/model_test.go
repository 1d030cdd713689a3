package sdk

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRegisterModel(t *testing.T) {
	ws := testWorkspace(t)
	ctx := context.Background()
	r := recordRun(t, ws, "exp")
	writeRunFile(t, r, "outputs/model.pt", "v1")
	writeRunFile(t, r, "outputs/ckpt/weights.bin", "w")
	writeRunFile(t, r, "outputs/ckpt/sub/meta.json", "{}")

	m1, err := r.RegisterModel(ctx, "mnist", "model.pt", map[string]string{"acc": "0.9"})
	if err != nil {
		t.Fatal(err)
	}
	if m1.Version != 1 || m1.RunID != r.ID || m1.Path != "model.pt" || m1.Tags["acc"] != "0.9" {
		t.Fatalf("registered %+v", m1)
	}
	m2, err := r.RegisterModel(ctx, "mnist", "ckpt", nil)
	if err != nil || m2.Version != 2 {
		t.Fatalf("second version %+v, %v", m2, err)
	}

	// The copies outlive the run's directory.
	dir, _ := r.Dir()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	dest := t.TempDir()
	if err := ws.DownloadModel(ctx, "mnist", 1, dest); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dest, "model.pt")); string(b) != "v1" {
		t.Fatalf("version 1 downloaded %q", b)
	}
	dest2 := filepath.Join(t.TempDir(), "new")
	if err := ws.DownloadModel(ctx, "mnist", 0, dest2); err != nil { // 0: the latest
		t.Fatal(err)
	}
	for name, want := range map[string]string{"weights.bin": "w", "sub/meta.json": "{}"} {
		if b, _ := os.ReadFile(filepath.Join(dest2, name)); string(b) != want {
			t.Errorf("latest version's %s = %q, want %q", name, b, want)
		}
	}
	ms, err := ws.Models(ctx, "mnist")
	if err != nil || len(ms) != 2 {
		t.Fatalf("Models = %+v, %v", ms, err)
	}
	if m, err := ws.Model(ctx, "mnist", 0); err != nil || m.Version != 2 {
		t.Fatalf("Model latest = %+v, %v", m, err)
	}
	if err := ws.DownloadModel(ctx, "nope", 0, dest); err == nil {
		t.Fatal("downloaded a model that does not exist")
	}
}

func TestRegisterModelBadPath(t *testing.T) {
	ws := testWorkspace(t)
	ctx := context.Background()
	r := recordRun(t, ws, "exp")
	writeRunFile(t, r, "outputs/model.pt", "v1")
	writeRunFile(t, r, "job.json", "{}")
	for _, tt := range []struct{ path, want string }{
		{"missing.pt", "outputs/missing.pt not found"},
		{"../job.json", "not a path inside the run's outputs"},
		{"/etc/passwd", "not a path inside the run's outputs"},
		{"", "not a path inside"},
	} {
		_, err := r.RegisterModel(ctx, "mnist", tt.path, nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("RegisterModel(%q): %v, want it to mention %q", tt.path, err, tt.want)
		}
	}
	if _, err := r.RegisterModel(ctx, "bad name!", "model.pt", nil); err == nil {
		t.Error("registered a model with a bad name")
	}
	if ms, _ := ws.Models(ctx, ""); len(ms) != 0 {
		t.Fatalf("failed registrations left %+v", ms)
	}
	entries, _ := os.ReadDir(filepath.Join(ws.Dir(), "models"))
	for _, e := range entries {
		t.Errorf("failed registrations left models/%s", e.Name())
	}
}
