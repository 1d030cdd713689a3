package magics

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"gantry/sdk/workspace"
)

func TestLooksSecret(t *testing.T) {
	for name, want := range map[string]bool{
		"GPU_BOX_PASSPHRASE": true, "DB_PW": true, "DB_PWD": true, "MYSQL_PASS": true, "ADMIN_PASSWORD": true,
		"GITHUB_TOKEN": true, "AWS_SECRET_ACCESS_KEY": true, "SSH_KEY": true, "AuthCookie": true, "HF_AUTH": true,
		"GOOGLE_APPLICATION_CREDENTIALS": true, "NPM_CREDS": true, "PRIVATE_DATA": true, "apiKey": true,
		"MY_PIN": true, "PWD": false, "OLDPWD": false, "KEYBOARD_LAYOUT": false, "GIT_AUTHOR_NAME": false,
		"PATH": false, "HOME": false, "PASSAGE": false, "COMPASS_DIR": false, "JPY_PARENT_PID": false,
	} {
		if got := looksSecret(name); got != want {
			t.Errorf("looksSecret(%q) = %v, want %v", name, got, want)
		}
	}
}

// A variable that a compute target names as holding its passphrase is
// hidden, whatever it is called.
func TestEnvHidesTargetSecrets(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	t.Chdir(dir)
	w, err := workspace.Open(ctx, filepath.Join(dir, ".gantry"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := json.Marshal(map[string]any{"address": "gpu-box", "user": "me", "key_file": "/k",
		"passphrase_env": "BOX_UNLOCK", "jump": map[string]any{"password_env": "HOP_WORD"}})
	if err := w.CreateTarget(ctx, workspace.Target{Name: "gpu-box", Kind: workspace.KindSSH, Config: cfg,
		ProvisioningState: workspace.ProvisioningSucceeded}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	t.Setenv("BOX_UNLOCK", "open-sesame")
	t.Setenv("HOP_WORD", "hop-hop")
	t.Setenv("GANTRY_PLAIN", "plain")
	h := newHarness(t)
	if err := h.line("env", ""); err != nil {
		t.Fatal(err)
	}
	list := h.out.String()
	for _, leak := range []string{"open-sesame", "hop-hop"} {
		if strings.Contains(list, leak) {
			t.Errorf("%%env shows %q", leak)
		}
	}
	for _, want := range []string{"BOX_UNLOCK=<hidden>\n", "HOP_WORD=<hidden>\n", "GANTRY_PLAIN=plain\n"} {
		if !strings.Contains(list, want) {
			t.Errorf("%%env lists no %q", want)
		}
	}
	// Asked for by name, it is shown.
	if err := h.line("env", "BOX_UNLOCK"); err != nil || h.out.String() != "open-sesame\n" {
		t.Errorf("%%env BOX_UNLOCK = %q, %v", h.out.String(), err)
	}
}
