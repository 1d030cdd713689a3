package ssh

import (
	"strings"
	"testing"
)

func TestSetJump(t *testing.T) {
	base := Config{Address: "gpu", User: "me", KeyFile: "/k", PasswordEnv: "PW", KnownHosts: "/kh", TrustOnFirstUse: true}
	tests := []struct {
		spec       string
		addr, user string
		port       int
		wantErr    string
	}{
		{spec: "ops@bastion", addr: "bastion", user: "ops"},
		{spec: "ops@bastion:2222", addr: "bastion", user: "ops", port: 2222},
		{spec: "ops@[::1]:22", addr: "::1", user: "ops", port: 22},
		{spec: "bastion", wantErr: "USER@HOST"},
		{spec: "@bastion", wantErr: "USER@HOST"},
		{spec: "ops@", wantErr: "USER@HOST"},
		{spec: "ops@bastion:ssh", wantErr: `port "ssh" is not a number`},
	}
	for _, tt := range tests {
		c := base
		err := c.SetJump(tt.spec)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("SetJump(%q) = %v, want an error with %q", tt.spec, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("SetJump(%q): %v", tt.spec, err)
			continue
		}
		j := c.Jump
		if j.Address != tt.addr || j.User != tt.user || j.Port != tt.port {
			t.Errorf("SetJump(%q) = %s@%s port %d, want %s@%s port %d", tt.spec, j.User, j.Address, j.Port, tt.user, tt.addr, tt.port)
		}
		if j.KeyFile != "/k" || j.PasswordEnv != "PW" || j.KnownHosts != "/kh" || !j.TrustOnFirstUse {
			t.Errorf("SetJump(%q) did not carry the login settings: %+v", tt.spec, *j)
		}
	}
}
