package ssh

import (
	"context"
	"crypto/ed25519"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

func TestConfigCheck(t *testing.T) {
	key := filepath.Join(t.TempDir(), "id_ed25519")
	if err := os.WriteFile(key, []byte("key"), 0o600); err != nil {
		t.Fatal(err)
	}
	good := func() Config { return Config{Address: "gpu.example.org", User: "ana", KeyFile: key} }
	with := func(f func(c *Config)) Config { c := good(); f(&c); return c }
	tests := []struct {
		name string
		cfg  Config
		want string // "" for no error
	}{
		{"key file", good(), ""},
		{"password env", Config{Address: "10.0.0.1", Port: 2222, User: "ana", PasswordEnv: "GPU_PASSWORD"}, ""},
		{"prompted password", Config{Address: "::1", User: "ana", PromptPassword: true}, ""},
		{"port 65535", with(func(c *Config) { c.Port = 65535 }), ""},
		{"good jump", with(func(c *Config) { c.Jump = &Config{Address: "bastion", User: "j", PromptPassword: true} }), ""},
		{"no address", with(func(c *Config) { c.Address = "" }), "no address"},
		{"user in address", with(func(c *Config) { c.Address = "ana@gpu" }), "not a host name"},
		{"port in address", with(func(c *Config) { c.Address = "gpu:22/x" }), "not a host name"},
		{"negative port", with(func(c *Config) { c.Port = -1 }), "port -1 is out of range"},
		{"port too big", with(func(c *Config) { c.Port = 65536 }), "port 65536 is out of range"},
		{"no user", with(func(c *Config) { c.User = "" }), "no user"},
		{"no auth", Config{Address: "gpu", User: "ana"}, "no way to log in"},
		{"passphrase env alone is no auth", Config{Address: "gpu", User: "ana", PassphraseEnv: "P"}, "no way to log in"},
		{"missing key file", with(func(c *Config) { c.KeyFile = key + ".missing" }), "private key file"},
		{"password as env name", Config{Address: "gpu", User: "ana", PasswordEnv: "hunter2!"}, `"hunter2!" is not an environment variable name`},
		{"env name starting with a digit", Config{Address: "gpu", User: "ana", PasswordEnv: "1PASS"}, "not an environment variable name"},
		{"passphrase as env name", with(func(c *Config) { c.PassphraseEnv = "my secret" }), "not an environment variable name"},
		{"negative timeout", with(func(c *Config) { c.ConnectTimeoutSeconds = -1 }), "cannot be negative"},
		{"negative max runs", with(func(c *Config) { c.MaxConcurrentRuns = -1 }), "cannot be negative"},
		{"bad jump", with(func(c *Config) { c.Jump = &Config{Address: "bastion"} }), "jump host: SSH target: no user"},
		{"nested jump", with(func(c *Config) {
			c.Jump = &Config{Address: "b1", User: "j", PromptPassword: true,
				Jump: &Config{Address: "b2", User: "j", PromptPassword: true}}
		}), "one jump host is supported"},
	}
	for _, tt := range tests {
		err := tt.cfg.Check()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: Check = %v, want nil", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: Check = %v, want an error containing %q", tt.name, err, tt.want)
		}
	}
}

func TestValidEnvName(t *testing.T) {
	for s, want := range map[string]bool{
		"A": true, "_": true, "GPU_PASSWORD_2": true, "lower_ok": true,
		"": false, "2A": false, "A-B": false, "A B": false, "hunter2!": false, "P=1": false, "É": false,
	} {
		if got := validEnvName(s); got != want {
			t.Errorf("validEnvName(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig([]byte(`{"address":"gpu","user":"ana","prompt_password":true,"port":2200,"jump":{"address":"b","user":"j","password_env":"JP"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.addr() != "gpu:2200" || c.Jump == nil || c.Jump.addr() != "b:22" || c.Jump.PasswordEnv != "JP" {
		t.Errorf("ParseConfig = %+v", c)
	}
	if _, err := ParseConfig([]byte(`{"address":`)); err == nil || !strings.Contains(err.Error(), "SSH target configuration") {
		t.Errorf("ParseConfig of bad JSON = %v", err)
	}
	if _, err := ParseConfig(nil); err == nil || !strings.Contains(err.Error(), "no address") {
		t.Errorf("ParseConfig of nothing = %v", err)
	}
	if got := (&Config{Address: "::1", Port: 2222}).addr(); got != "[::1]:2222" {
		t.Errorf("addr of IPv6 = %q", got)
	}
}

func TestPlatform(t *testing.T) {
	tests := []struct {
		uname        string
		goos, goarch string
		want         string // error substring
	}{
		{"Linux x86_64", "linux", "amd64", ""},
		{"Linux aarch64\n", "linux", "arm64", ""},
		{"Darwin arm64", "darwin", "arm64", ""},
		{"Darwin x86_64", "darwin", "amd64", ""},
		{"FreeBSD amd64", "freebsd", "amd64", ""},
		{"Linux ppc64le", "linux", "ppc64le", ""},
		{"Linux s390x", "linux", "s390x", ""},
		{"Linux riscv64", "linux", "riscv64", ""},
		{"Linux armv7l", "", "", "processor is armv7l"},
		{"Linux i686", "", "", "processor is i686"},
		{"CYGWIN_NT-10.0 x86_64", "", "", "runs CYGWIN_NT-10.0, which Gantry's agent does not support"},
		{"SunOS i86pc", "", "", "runs SunOS"},
		{"", "", "", "unexpected uname -sm output"},
		{"Linux", "", "", "unexpected uname -sm output"},
		{"Linux x86_64 extra", "", "", "unexpected uname -sm output"},
	}
	for _, tt := range tests {
		goos, goarch, err := platform(tt.uname)
		if tt.want == "" {
			if err != nil || goos != tt.goos || goarch != tt.goarch {
				t.Errorf("platform(%q) = %s/%s, %v; want %s/%s", tt.uname, goos, goarch, err, tt.goos, tt.goarch)
			}
		} else if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("platform(%q) = %s/%s, %v; want an error containing %q", tt.uname, goos, goarch, err, tt.want)
		}
	}
}

func TestShellQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "''"},
		{"plain", "'plain'"},
		{"it's", `'it'\''s'`},
		{"''", `''\'''\'''`},
		{"$HOME `x` \"q\" \\ ;|&", "'$HOME `x` \"q\" \\ ;|&'"},
	}
	for _, tt := range tests {
		if got := shellQuote(tt.in); got != tt.want {
			t.Errorf("shellQuote(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
	// A shell reads each back as it was.
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	for _, tt := range tests {
		out, err := exec.Command(sh, "-c", "printf '%s' "+shellQuote(tt.in)).Output()
		if err != nil || string(out) != tt.in {
			t.Errorf("sh read shellQuote(%q) as %q, %v", tt.in, out, err)
		}
	}
}

func newHostKey(t *testing.T) ssh.PublicKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestHostKeyCallback(t *testing.T) {
	const host = "127.0.0.1:2222"
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 2222}
	key, other := newHostKey(t), newHostKey(t)
	fp, otherFP := ssh.FingerprintSHA256(key), ssh.FingerprintSHA256(other)

	t.Run("unknown host, no file", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "ssh", "known_hosts")
		err := hostKeyCallback(file, false)(host, addr, key)
		if !errors.Is(err, ErrHostKey) || !strings.Contains(err.Error(), fp) || !strings.Contains(err.Error(), "is not in") {
			t.Errorf("unknown host = %v, want ErrHostKey naming %s", err, fp)
		}
		if _, err := os.Stat(file); err == nil {
			t.Error("an unknown host was recorded without trust on first use")
		}
	})

	t.Run("trust on first use", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "ssh", "known_hosts")
		if err := hostKeyCallback(file, true)(host, addr, key); err != nil {
			t.Fatalf("first use = %v", err)
		}
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) != 1 || !strings.HasPrefix(lines[0], "[127.0.0.1]:2222 ssh-ed25519 ") {
			t.Errorf("known_hosts = %q, want one line for [127.0.0.1]:2222", b)
		}
		// Known now, even without trust on first use; and not recorded twice.
		for _, tofu := range []bool{false, true} {
			if err := hostKeyCallback(file, tofu)(host, addr, key); err != nil {
				t.Errorf("second use (tofu %v) = %v", tofu, err)
			}
		}
		if b2, _ := os.ReadFile(file); string(b2) != string(b) {
			t.Errorf("known_hosts changed on a known key: %q", b2)
		}
		// Another host is still unknown without trust on first use.
		other := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2), Port: 22}
		if err := hostKeyCallback(file, false)("127.0.0.2:22", other, key); !errors.Is(err, ErrHostKey) {
			t.Errorf("another host = %v, want ErrHostKey", err)
		}
	})

	t.Run("changed key", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "known_hosts")
		if err := recordHostKey(file, host, key); err != nil {
			t.Fatal(err)
		}
		for _, tofu := range []bool{false, true} {
			err := hostKeyCallback(file, tofu)(host, addr, other)
			if !errors.Is(err, ErrHostKey) || !strings.Contains(err.Error(), "HAS CHANGED") ||
				!strings.Contains(err.Error(), fp) || !strings.Contains(err.Error(), otherFP) {
				t.Errorf("changed key (tofu %v) = %v, want ErrHostKey naming %s and %s", tofu, err, fp, otherFP)
			}
		}
		b, _ := os.ReadFile(file)
		if strings.Count(string(b), "\n") != 1 {
			t.Errorf("a changed key was recorded: %q", b)
		}
	})

	t.Run("revoked key", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "known_hosts")
		line := "@revoked * " + string(ssh.MarshalAuthorizedKey(key))
		if err := os.WriteFile(file, []byte(line), 0o600); err != nil {
			t.Fatal(err)
		}
		err := hostKeyCallback(file, true)(host, addr, key)
		if !errors.Is(err, ErrHostKey) || !strings.Contains(err.Error(), "revoked") {
			t.Errorf("revoked key = %v, want ErrHostKey saying revoked", err)
		}
	})

	t.Run("unreadable file", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "known_hosts")
		if err := os.WriteFile(file, []byte("garbage line with no key\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		err := hostKeyCallback(file, true)(host, addr, key)
		if err == nil || !strings.Contains(err.Error(), "read known_hosts") {
			t.Errorf("bad known_hosts = %v", err)
		}
	})
}

func TestSecretsEnv(t *testing.T) {
	ctx := context.Background()
	prompted := 0
	s := &Secrets{Prompt: func(context.Context, string) (string, error) { prompted++; return "typed", nil }}

	t.Setenv("GANTRY_TEST_PW", "from-env")
	if v, err := s.get(ctx, "gpu/password", "GANTRY_TEST_PW", true, "Password: "); err != nil || v != "from-env" {
		t.Errorf("get with the variable set = %q, %v", v, err)
	}
	t.Setenv("GANTRY_TEST_EMPTY", "")
	if v, err := s.get(ctx, "gpu/password", "GANTRY_TEST_EMPTY", true, "Password: "); err != nil || v != "" {
		t.Errorf("get with the variable set empty = %q, %v", v, err)
	}
	os.Unsetenv("GANTRY_TEST_UNSET_PW")
	_, err := s.get(ctx, "gpu/passphrase", "GANTRY_TEST_UNSET_PW", true, "Passphrase: ")
	if err == nil || !strings.Contains(err.Error(), "GANTRY_TEST_UNSET_PW") || !strings.Contains(err.Error(), "is not set") ||
		!strings.Contains(err.Error(), "passphrase") {
		t.Errorf("get with the variable unset = %v", err)
	}
	if prompted != 0 {
		t.Errorf("prompted %d times with an environment variable configured", prompted)
	}
}

func TestSecretsPrompt(t *testing.T) {
	ctx := context.Background()
	var questions []string
	answer := "first"
	s := &Secrets{Prompt: func(_ context.Context, q string) (string, error) {
		questions = append(questions, q)
		return answer, nil
	}}
	for i := range 3 {
		v, err := s.get(ctx, "gpu/password", "", true, "Password for ana@gpu: ")
		if err != nil || v != "first" {
			t.Fatalf("get #%d = %q, %v", i+1, v, err)
		}
	}
	if len(questions) != 1 || questions[0] != "Password for ana@gpu: " {
		t.Errorf("questions = %q, want one", questions)
	}
	// Another key is asked for separately.
	if v, err := s.get(ctx, "other/password", "", true, "Other: "); err != nil || v != "first" || len(questions) != 2 {
		t.Errorf("get of another key = %q, %v after %d questions", v, err, len(questions))
	}
	// Forgotten, it is asked for again.
	s.Forget("gpu/password")
	answer = "second"
	if v, err := s.get(ctx, "gpu/password", "", true, "Password for ana@gpu: "); err != nil || v != "second" || len(questions) != 3 {
		t.Errorf("get after Forget = %q, %v after %d questions", v, err, len(questions))
	}
	// A remembered secret is used even where no prompt is allowed.
	if v, err := s.get(ctx, "gpu/password", "", false, ""); err != nil || v != "second" {
		t.Errorf("get of a remembered secret without prompt = %q, %v", v, err)
	}
	s.Set("set/password", "given")
	if v, err := s.get(ctx, "set/password", "", true, ""); err != nil || v != "given" || len(questions) != 3 {
		t.Errorf("get after Set = %q, %v after %d questions", v, err, len(questions))
	}
}

func TestSecretsErrors(t *testing.T) {
	ctx := context.Background()
	var zero Secrets
	zero.Forget("nothing/password") // on a zero Secrets: no panic
	if _, err := zero.get(ctx, "gpu/password", "", false, ""); err == nil || !strings.Contains(err.Error(), "no password is configured") {
		t.Errorf("no prompt allowed = %v", err)
	}
	if _, err := zero.get(ctx, "gpu/passphrase", "", true, "Q"); err == nil || !strings.Contains(err.Error(), "no one can be asked") ||
		!strings.Contains(err.Error(), "passphrase") {
		t.Errorf("no Prompt = %v", err)
	}
	boom := errors.New("boom")
	calls := 0
	s := &Secrets{Prompt: func(context.Context, string) (string, error) { calls++; return "", boom }}
	for range 2 {
		if _, err := s.get(ctx, "gpu/password", "", true, "Q"); !errors.Is(err, boom) {
			t.Errorf("failed prompt = %v, want boom", err)
		}
	}
	if calls != 2 {
		t.Errorf("a failed prompt was remembered: %d calls, want 2", calls)
	}
}

func TestExpandHome(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	tests := []struct{ in, want string }{
		{"~/.ssh/id", filepath.Join(home, ".ssh/id")},
		{"/abs/id", "/abs/id"},
		{"rel/id", "rel/id"},
		{"~user/id", "~user/id"},
	}
	for _, tt := range tests {
		if got, err := expandHome(tt.in); err != nil || got != tt.want {
			t.Errorf("expandHome(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	c := Config{}
	if got, err := c.knownHosts(); err != nil || got != filepath.Join(home, ".ssh", "known_hosts") {
		t.Errorf("default knownHosts = %q, %v", got, err)
	}
	c.KnownHosts = "~/kh"
	if got, err := c.knownHosts(); err != nil || got != filepath.Join(home, "kh") {
		t.Errorf("knownHosts ~/kh = %q, %v", got, err)
	}
}
