package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"gantry/internal/gantrytest"
)

// cli runs the gantry command line in-process and returns its output.
func cli(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var o, e bytes.Buffer
	err = run(context.Background(), args, &o, &e)
	return o.String(), e.String(), err
}

func TestComputeCommands(t *testing.T) {
	ws := filepath.Join(t.TempDir(), "ws")
	if _, _, err := cli(t, "compute", "create", "local", "cpu", "--workspace", ws); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GANTRY_WORKSPACE", ws) // the default workspace
	if _, _, err := cli(t, "compute", "create", "--max-concurrent", "2", "local", "cpu2"); err != nil {
		t.Fatal(err)
	}
	out, _, err := cli(t, "compute", "list")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^cpu\s+local\s+Succeeded`).MatchString(out) || !strings.Contains(out, "cpu2") {
		t.Fatalf("compute list:\n%s", out)
	}
	// Get-or-create: the same settings again are fine; others are refused.
	if out, _, err := cli(t, "compute", "create", "local", "cpu"); err != nil || !strings.Contains(out, "exists already") {
		t.Fatalf("creating a target twice: %q %v", out, err)
	}
	if _, _, err := cli(t, "compute", "create", "local", "cpu", "--max-concurrent", "3"); err == nil ||
		!strings.Contains(err.Error(), "max_concurrent_runs: unset there, 3 here") {
		t.Fatalf("creating a target twice with other settings: %v", err)
	}
	if out, _, err := cli(t, "compute", "status", "cpu2"); err != nil || !strings.Contains(out, "cpu2: local target (this machine, Succeeded), at most 2 runs at once.") ||
		!strings.Contains(out, "no runs in progress") {
		t.Fatalf("compute status: %q %v", out, err)
	}
	if _, _, err := cli(t, "compute", "delete", "cpu2"); err != nil {
		t.Fatal(err)
	}
	if out, _, _ := cli(t, "compute", "list", "--workspace", ws); strings.Contains(out, "cpu2") {
		t.Fatalf("deleted target still listed:\n%s", out)
	}
	if _, _, err := cli(t, "compute", "delete", "cpu2"); err == nil {
		t.Fatal("deleting a missing target succeeded")
	}
	for _, bad := range [][]string{
		{"compute"}, {"compute", "frob"}, {"compute", "create", "local"}, {"compute", "create", "ssh", "x"},
		{"compute", "list", "extra"}, {"compute", "list", "--nope"},
	} {
		_, stderr, err := cli(t, bad...)
		if err == nil {
			t.Errorf("%q succeeded", bad)
		} else if !strings.Contains(stderr, "Usage") && !strings.Contains(err.Error(), "only local") && !strings.Contains(err.Error(), "shows the usage") {
			t.Errorf("%q: error %v without usage (stderr %q)", bad, err, stderr)
		}
	}
}

func TestRunCommands(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is needed")
	}
	// The agents need a gantry binary; this test's binary is not one.
	t.Setenv("GANTRY_AGENT_BINARY", gantrytest.Binary(t))
	ws := filepath.Join(t.TempDir(), "ws")
	if _, _, err := cli(t, "compute", "create", "local", "cpu", "--workspace", ws); err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	script := filepath.Join(src, "train.py")
	os.WriteFile(script, []byte("import sys\nprint('args', sys.argv[1:], flush=True)\nsys.exit(int(sys.argv[2]) if len(sys.argv) > 2 else 0)\n"), 0o644)

	out, stderr, err := cli(t, "run", "submit", "--workspace", ws, "--target", "cpu", "--experiment", "e1", script, "--", "--lr", "0")
	if err != nil {
		t.Fatalf("submit: %v\n%s", err, stderr)
	}
	id := strings.TrimSpace(out)
	if len(id) != 36 {
		t.Fatalf("submit printed %q, want a run ID", out)
	}
	if out, _, err := cli(t, "run", "wait", id[:8], "--workspace", ws); err != nil || strings.TrimSpace(out) != "Completed" {
		t.Fatalf("wait: %q %v", out, err)
	}
	if out, _, err := cli(t, "run", "logs", "--workspace", ws, id); err != nil || !strings.Contains(out, "args ['--lr', '0']") {
		t.Fatalf("logs: %q %v", out, err)
	}
	if out, _, err := cli(t, "run", "logs", id, "--follow", "--workspace", ws); err != nil || !strings.Contains(out, "args ['--lr', '0']") {
		t.Fatalf("logs --follow: %q %v", out, err)
	}

	// A failing run: wait says so and fails.
	out, _, err = cli(t, "run", "submit", "--workspace", ws, "--target", "cpu", script, "--", "x", "3")
	if err != nil {
		t.Fatal(err)
	}
	failed := strings.TrimSpace(out)
	if out, _, err := cli(t, "run", "wait", "--workspace", ws, failed); err == nil || strings.TrimSpace(out) != "Failed" {
		t.Fatalf("wait on a failing run: %q %v", out, err)
	}

	out, _, err = cli(t, "run", "list", "--workspace", ws)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^`+id[:8]+`\s+e1\s+Completed\s+cpu`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^`+failed[:8]+`\s+default\s+Failed`).MatchString(out) {
		t.Fatalf("run list:\n%s", out)
	}
	if out, _, _ := cli(t, "run", "list", "--workspace", ws, "--experiment", "e1"); strings.Contains(out, failed[:8]) {
		t.Fatalf("run list --experiment e1 shows the other experiment's run:\n%s", out)
	}
	if _, _, err := cli(t, "run", "cancel", "--workspace", ws, id); err == nil {
		t.Fatal("canceling a completed run succeeded")
	}

	for _, bad := range [][]string{
		{"run"}, {"run", "frob"}, {"run", "submit", "--workspace", ws, script},
		{"run", "submit", "--workspace", ws, "--target", "cpu"},
		{"run", "submit", "--workspace", ws, "--target", "cpu", script, "extra"},
		{"run", "wait", "--workspace", ws}, {"run", "logs", "--workspace", ws, "a", "b"},
	} {
		if _, stderr, err := cli(t, bad...); err == nil || (!strings.Contains(stderr, "Usage") && !strings.Contains(err.Error(), "shows the usage")) {
			t.Errorf("%q: %v, stderr %q; want a usage error", bad, err, stderr)
		}
	}
	if _, _, err := cli(t, "run", "wait", "--workspace", ws, "ffffffff"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("wait on an unknown run: %v", err)
	}
}

// A machine attached from the command line over a real sshd runs a
// script submitted from the command line; the attach and create errors
// say what was wrong.
func TestComputeAttachSSHAndCreateCluster(t *testing.T) {
	ws := filepath.Join(t.TempDir(), "ws")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"compute", "attach", "ssh", "box", "--user", "me"}, "--address and --user are required"},
		{[]string{"compute", "attach", "vm", "box", "--address", "h", "--user", "me"}, "want ssh NAME"},
		{[]string{"compute", "attach", "ssh", "box", "--address", "h", "--user", "me", "--jump", "bastion"}, "USER@HOST"},
		{[]string{"compute", "create", "local", "cpu", "--max-nodes", "3"}, "--max-nodes is an option of cluster targets"},
		{[]string{"compute", "create", "cluster", "c", "--max-concurrent", "3", "--max-nodes", "1"}, "--max-concurrent is an option of local targets"},
		{[]string{"compute", "create", "cluster", "c", "--vm-size", "HUGE", "--max-nodes", "1", "--slurm-dir", t.TempDir()}, `unknown VM size "HUGE"`},
		{[]string{"compute", "create", "cluster", "c", "--vm-size", "STANDARD_D1_V2", "--min-nodes", "2", "--max-nodes", "1", "--slurm-dir", t.TempDir()}, "min_nodes (2) is more than max_nodes (1)"},
	} {
		_, _, err := cli(t, append(tc.args, "--workspace", ws)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want an error with %q", tc.args, err, tc.want)
		}
	}

	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is needed")
	}
	t.Setenv("GANTRY_AGENT_BINARY", gantrytest.Binary(t))
	s := gantrytest.StartSSHD(t)
	out, stderr, err := cli(t, "compute", "attach", "ssh", "box", "--workspace", ws,
		"--address", "127.0.0.1", "--port", strconv.Itoa(s.Port), "--user", s.Env["SSHD_USER"],
		"--key", filepath.Join(s.Dir, "id_ed25519"), "--known-hosts", filepath.Join(s.Dir, "known_hosts"),
		"--remote-root", filepath.Join(t.TempDir(), "remote"))
	if err != nil {
		t.Fatalf("attach: %v\n%s", err, stderr)
	}
	if !strings.Contains(out, "attached SSH target box") || !strings.Contains(out, "Python:  Python 3") {
		t.Fatalf("attach said:\n%s", out)
	}
	if out, _, _ := cli(t, "compute", "list", "--workspace", ws); !regexp.MustCompile(`(?m)^box\s+ssh\s+Succeeded`).MatchString(out) {
		t.Fatalf("compute list:\n%s", out)
	}
	out, stderr, err = cli(t, "compute", "status", "box", "--workspace", ws)
	if err != nil || !strings.Contains(out, "box is reachable.") || !strings.Contains(out, "Python:  Python 3") {
		t.Fatalf("compute status: %v\n%s%s", err, out, stderr)
	}
	if strings.Contains(out, "error:") {
		t.Errorf("compute status shows a tool's error text:\n%s", out)
	}
	src := t.TempDir()
	script := filepath.Join(src, "train.py")
	os.WriteFile(script, []byte("import platform\nprint('remote says hello', flush=True)\n"), 0o644)
	out, stderr, err = cli(t, "run", "submit", "--workspace", ws, "--target", "box", script)
	if err != nil {
		t.Fatalf("submit: %v\n%s", err, stderr)
	}
	id := strings.TrimSpace(out)
	if out, _, err := cli(t, "run", "wait", id, "--workspace", ws); err != nil || strings.TrimSpace(out) != "Completed" {
		t.Fatalf("wait: %q %v", out, err)
	}
	if out, _, err := cli(t, "run", "logs", id, "--workspace", ws); err != nil || !strings.Contains(out, "remote says hello") {
		t.Fatalf("logs: %q %v", out, err)
	}
}

// TestUnknownWords runs the real binary: a word it does not know is named
// on the first line of stderr, with the nearest verb, and exits 1; no
// page of usage buries it.
func TestUnknownWords(t *testing.T) {
	bin := gantrytest.Binary(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"frob"}, `gantry: command "frob" is not one Gantry knows: use install, kernel, compute, run, pipeline, nbrun, version, help; gantry help shows the usage`},
		{[]string{"cmopute", "list"}, `command "cmopute" is not one Gantry knows (did you mean "compute"?)`},
		{[]string{"compute", "stauts", "x"}, `compute: subcommand "stauts" is not one Gantry knows (did you mean "status"?): use list, create, attach, status, delete, help`},
		{[]string{"run", "lst"}, `run: subcommand "lst" is not one Gantry knows (did you mean "list"?)`},
	} {
		cmd := exec.Command(bin, tc.args...)
		cmd.Dir = t.TempDir()
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		first, _, _ := strings.Cut(stderr.String(), "\n")
		if code := cmd.ProcessState.ExitCode(); err == nil || code != 1 || !strings.Contains(first, tc.want) {
			t.Errorf("gantry %q: exit %d, first line of stderr %q; want exit 1 and %q", tc.args, code, first, tc.want)
		}
	}
	for _, tc := range []struct{ word, want string }{{"stauts", "status"}, {"lst", "list"}, {"xyzzy", ""}, {"LIST", "list"}} {
		if got := nearest(tc.word, []string{"list", "status", "create"}); got != tc.want {
			t.Errorf("nearest(%q) = %q, want %q", tc.word, got, tc.want)
		}
	}
}
