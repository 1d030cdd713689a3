package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"gantry/sdk/workspace"
)

func TestComputeLifecycle(t *testing.T) {
	ctx := context.Background()
	ws, err := OpenWorkspace(ctx, filepath.Join(t.TempDir(), "ws"))
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if err := ws.CreateLocalCompute(ctx, "cpu-box", LocalCompute{MaxConcurrentRuns: 2}); err != nil {
		t.Fatal(err)
	}
	var shown bytes.Buffer
	if st, err := ws.WaitForCompute(ctx, "cpu-box", &shown); err != nil || st != workspace.ProvisioningSucceeded {
		t.Fatalf("WaitForCompute: %s %v", st, err)
	}
	if !strings.Contains(shown.String(), "cpu-box: Succeeded") {
		t.Fatalf("WaitForCompute showed %q", shown.String())
	}
	if err := ws.UpdateLocalCompute(ctx, "cpu-box", LocalCompute{MaxConcurrentRuns: 4}); err != nil {
		t.Fatal(err)
	}
	tg, err := ws.ComputeTarget(ctx, "cpu-box")
	if err != nil {
		t.Fatal(err)
	}
	var c LocalCompute
	if err := json.Unmarshal(tg.Config, &c); err != nil || c.MaxConcurrentRuns != 4 {
		t.Fatalf("config after update: %s (%v)", tg.Config, err)
	}
	for _, bad := range []string{"x", "has space", "-lead", "way-too-long-a-name"} {
		if err := ws.CreateLocalCompute(ctx, bad, LocalCompute{}); !errors.Is(err, workspace.ErrInvalidName) {
			t.Errorf("CreateLocalCompute(%q) = %v, want ErrInvalidName", bad, err)
		}
	}
	if err := ws.CreateLocalCompute(ctx, "cpu-box", LocalCompute{}); !errors.Is(err, workspace.ErrExists) {
		t.Errorf("duplicate name: %v, want ErrExists", err)
	}
	if err := ws.DetachCompute(ctx, "cpu-box"); err != nil {
		t.Fatal(err)
	}
	if _, err := ws.ComputeTarget(ctx, "cpu-box"); !errors.Is(err, workspace.ErrNotFound) {
		t.Fatalf("after detach: %v, want ErrNotFound", err)
	}
	if err := ws.DeleteCompute(ctx, "cpu-box"); !errors.Is(err, workspace.ErrNotFound) {
		t.Fatalf("delete of a detached target: %v, want ErrNotFound", err)
	}
}
