package gantrytest

import (
	"bufio"
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// SSHD is a real OpenSSH server started by scripts/sshd.sh for one test,
// on a free loopback port, with generated host and user keys.
type SSHD struct {
	Dir  string            // its directory: id_ed25519 (the user key), known_hosts, env
	Port int               // its port on 127.0.0.1
	Env  map[string]string // from Dir/env: SSHD_USER, SSHD_USERS, ...
}

// sshdScript is scripts/sshd.sh of this checkout.
func sshdScript() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "scripts", "sshd.sh")
}

// Script runs scripts/sshd.sh with args (start, stop, drop ...), failing
// the test if it fails.
func (s *SSHD) Script(t testing.TB, args ...string) {
	t.Helper()
	out, err := exec.Command(sshdScript(), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("sshd.sh %v: %v\n%s", args, err, out)
	}
}

// StartSSHD starts an sshd, stopped at cleanup; it skips the test where
// Debian's openssh-server is not installed.
func StartSSHD(t testing.TB) *SSHD {
	t.Helper()
	if _, err := os.Stat("/usr/sbin/sshd"); err != nil {
		t.Skip("needs Debian's openssh-server (scripts/setup.sh installs it)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	// Not t.TempDir: the other test users must be able to read the
	// authorized keys, and a test's temp dir is private to root.
	dir, err := os.MkdirTemp("", "gantry-sshd-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s := &SSHD{Dir: dir, Port: port, Env: map[string]string{}}
	s.Script(t, "start", s.Dir, strconv.Itoa(port))
	t.Cleanup(func() { exec.Command(sshdScript(), "stop", dir).Run() })
	b, _ := os.ReadFile(filepath.Join(s.Dir, "env"))
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), "=")
		s.Env[k] = strings.Trim(v, `"`)
	}
	return s
}
