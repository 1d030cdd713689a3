package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
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
	// Get-or-create: the same settings again are fine; others are refused,
	// saying what differs.
	if err := ws.CreateLocalCompute(ctx, "cpu-box", LocalCompute{MaxConcurrentRuns: 4}); err != nil {
		t.Errorf("create again with the same settings: %v, want nil", err)
	}
	if err := ws.CreateLocalCompute(ctx, "CPU-BOX", LocalCompute{MaxConcurrentRuns: 4}); err != nil {
		t.Errorf("create again, name in other case: %v, want nil", err)
	}
	err = ws.CreateLocalCompute(ctx, "cpu-box", LocalCompute{})
	if !errors.Is(err, ErrExists) || !errors.Is(err, workspace.ErrExists) ||
		!strings.Contains(err.Error(), "max_concurrent_runs: 4 there, unset here") || !strings.Contains(err.Error(), "UpdateLocalCompute") {
		t.Errorf("other settings: %v, want ErrExists saying max_concurrent_runs differs", err)
	}
	if err := ws.DetachCompute(ctx, "cpu-box"); err != nil {
		t.Fatal(err)
	}
	if _, err := ws.ComputeTarget(ctx, "cpu-box"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "no compute targets") {
		t.Fatalf("after detach: %v, want ErrNotFound saying there are no targets", err)
	}
	if err := ws.DeleteCompute(ctx, "cpu-box"); !errors.Is(err, workspace.ErrNotFound) {
		t.Fatalf("delete of a detached target: %v, want ErrNotFound", err)
	}
}

// TestGetOrCreate is the notebook's pattern: look the target up by name,
// create it when it is not found; and a create of another kind under a
// taken name is refused.
func TestGetOrCreate(t *testing.T) {
	ctx := context.Background()
	ws, err := OpenWorkspace(ctx, filepath.Join(t.TempDir(), "ws"))
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if err := ws.CreateLocalCompute(ctx, "other", LocalCompute{}); err != nil {
		t.Fatal(err)
	}
	_, err = ws.ComputeTarget(ctx, "local")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "the workspace has other") {
		t.Fatalf("lookup of a missing target: %v", err)
	}
	for i := 0; i < 2; i++ { // a notebook run twice
		if err := ws.CreateLocalCompute(ctx, "local", LocalCompute{}); err != nil {
			t.Fatalf("run %d: %v", i+1, err)
		}
	}
	if tg, err := ws.ComputeTarget(ctx, "local"); err != nil || tg.Kind != workspace.KindLocal {
		t.Fatalf("lookup: %+v, %v", tg, err)
	}
	// An SSH attach under a local target's name names the clash; nothing
	// is dialled.
	key := filepath.Join(t.TempDir(), "id_ed25519")
	if err := os.WriteFile(key, []byte("not read"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = ws.AttachSSHCompute(ctx, "local", SSHCompute{Address: "127.0.0.1", User: "nobody", KeyFile: key})
	if !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), "a local target of that name") {
		t.Errorf("attach under a local target's name: %v", err)
	}
	err = ws.CreateCompute(ctx, "local", ManagedCluster{VMSize: "STANDARD_D1_V2", MaxNodes: 1, SlurmDir: t.TempDir()})
	if !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), "a local target of that name") {
		t.Errorf("cluster under a local target's name: %v", err)
	}
}

func TestConfigDiff(t *testing.T) {
	for _, tt := range []struct {
		have, want string
		diffs      []string
	}{
		{`{}`, `{}`, nil},
		{``, `{}`, nil},
		{`{"a":1,"b":"x"}`, `{"b": "x", "a": 1}`, nil},
		{`{"a":1}`, `{}`, []string{"a: 1 there, unset here"}},
		{`{"a":1,"j":{"p":2}}`, `{"a":2,"j":{"p":3}}`, []string{"a: 1 there, 2 here", `j: {"p":2} there, {"p":3} here`}},
	} {
		d, err := configDiff([]byte(tt.have), []byte(tt.want))
		if err != nil || strings.Join(d, "|") != strings.Join(tt.diffs, "|") {
			t.Errorf("configDiff(%s, %s) = %q, %v; want %q", tt.have, tt.want, d, err, tt.diffs)
		}
	}
}

func TestTransferString(t *testing.T) {
	for _, tt := range []struct {
		t    Transfer
		want string
	}{
		{Transfer{FilesSent: 1, Files: 1, BytesSent: 742, WireBytes: 2100}, "Sent the snapshot's 1 file (742 bytes), 2100 bytes in all."},
		{Transfer{FilesSent: 3, Files: 3, BytesSent: 1, WireBytes: 900}, "Sent the snapshot's 3 files (1 byte), 900 bytes in all."},
		{Transfer{FilesSent: 1, Files: 5, BytesSent: 742, WireBytes: 1000}, "Sent 1 of the snapshot's 5 files (742 bytes; the machine had the other 4), 1000 bytes in all."},
		{Transfer{FilesSent: 0, Files: 5, WireBytes: 300}, "Sent none of the snapshot's 5 files (the machine had them all), 300 bytes in all."},
	} {
		if got := tt.t.String(); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.t, got, tt.want)
		}
	}
}
