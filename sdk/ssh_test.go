package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"gantry/internal/gantrytest"
	sshdriver "gantry/sdk/driver/ssh"
	"gantry/sdk/environment"
	"gantry/sdk/workspace"
)

// sshd is a real OpenSSH server started by scripts/sshd.sh for one test.
type sshd struct{ *gantrytest.SSHD }

// startSSHD starts an sshd on a free loopback port, stopped at cleanup.
func startSSHD(t *testing.T) *sshd {
	t.Helper()
	return &sshd{gantrytest.StartSSHD(t)}
}

// config returns a key-authenticated configuration for the server's own
// user, with a remote root of the test's own.
func (s *sshd) config(t *testing.T) SSHCompute {
	return SSHCompute{Address: "127.0.0.1", Port: s.Port, User: s.Env["SSHD_USER"],
		KeyFile: filepath.Join(s.Dir, "id_ed25519"), KnownHosts: filepath.Join(s.Dir, "known_hosts"),
		RemoteRoot: filepath.Join(t.TempDir(), "remote"), ConnectTimeoutSeconds: 5}
}

func (s *sshd) needUsers(t *testing.T) {
	if s.Env["SSHD_PW_USER"] == "" {
		t.Skip("the test users are created only when scripts/sshd.sh runs as root")
	}
}

// attachSSH attaches the server as target "box" of a fresh workspace.
func attachSSH(t *testing.T, s *sshd) *Workspace {
	t.Helper()
	ws := testWorkspace(t)
	probe, err := ws.AttachSSHCompute(context.Background(), "box", s.config(t))
	if err != nil {
		t.Fatal(err)
	}
	if probe.Python == "" || probe.Arch == "" || probe.FreeDiskMB <= 0 {
		t.Errorf("probe lacks facts: %+v", probe)
	}
	return ws
}

func waitRun(t *testing.T, run *Run) (workspace.State, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // hang guard
	defer cancel()
	var out bytes.Buffer
	st, _, err := run.WaitForCompletion(ctx, WaitOptions{Output: &out, Poll: 20 * time.Millisecond})
	if err != nil {
		t.Fatalf("wait: %v (state %s)\n%s", err, st, out.String())
	}
	return st, out.String()
}

func TestSSHRunCompletesWithLogsMetricsAndOutputs(t *testing.T) {
	s := startSSHD(t)
	ws := attachSSH(t, s)
	src := writeScript(t, `import gantry_run, os
for i in range(20):
    print("epoch", i, flush=True)
    gantry_run.log("loss", 1.0 / (i + 1))
gantry_run.tag("where", "remote")
with open(os.path.join("outputs", "model.txt"), "w") as f:
    f.write("weights")
`)
	ctx := context.Background()
	run := submitBox(t, ws, src)
	st, out := waitRun(t, run)
	if st != workspace.StateCompleted {
		t.Fatalf("state %s\n%s", st, out)
	}
	for i := 0; i < 20; i++ {
		if n := strings.Count(out, fmt.Sprintf("epoch %d\n", i)); n != 1 {
			t.Errorf("epoch %d shown %d times:\n%s", i, n, out)
		}
	}
	m, err := run.Metrics(ctx)
	if err != nil || len(m.Series["loss"]) != 20 {
		t.Errorf("loss has %d points, want 20 (err %v)", len(m.Series["loss"]), err)
	}
	d, _ := run.Details(ctx)
	if d.Tags["where"] != "remote" || d.ExitCode == nil || *d.ExitCode != 0 {
		t.Errorf("tags %v exit code %v", d.Tags, d.ExitCode)
	}
	dir, _ := run.Dir()
	if b, err := os.ReadFile(filepath.Join(dir, "outputs", "model.txt")); err != nil || string(b) != "weights" {
		t.Errorf("output model.txt: %q, %v", b, err)
	}
}

func TestSSHResubmitSendsOnlyTheChangedFile(t *testing.T) {
	s := startSSHD(t)
	ws := attachSSH(t, s)
	src := writeScript(t, "print('ok')\n")
	for i := 0; i < 200; i++ {
		if err := os.WriteFile(filepath.Join(src, fmt.Sprintf("data-%03d.txt", i)), []byte(strings.Repeat(strconv.Itoa(i), 100)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	submit := func() sshdriver.State {
		run := submitBox(t, ws, src)
		if st, out := waitRun(t, run); st != workspace.StateCompleted {
			t.Fatalf("state %s\n%s", st, out)
		}
		return handleState(t, ws, run)
	}
	first := submit()
	if first.BlobsSent != first.BlobsTotal || first.BlobsTotal < 200 {
		t.Errorf("first submit sent %d of %d blobs", first.BlobsSent, first.BlobsTotal)
	}
	changed := []byte("a new version of one file")
	if err := os.WriteFile(filepath.Join(src, "data-007.txt"), changed, 0o644); err != nil {
		t.Fatal(err)
	}
	second := submit()
	if second.BlobsSent != 1 || second.BytesSent != int64(len(changed)) {
		t.Errorf("resubmit sent %d blobs, %d bytes; want 1 blob of %d bytes", second.BlobsSent, second.BytesSent, len(changed))
	}
	// On the wire: the run's files (job, manifest) and framing besides the
	// one blob; none of the blobs the first submit sent.
	if second.WireBytes <= second.BytesSent || second.WireBytes > first.WireBytes-first.BytesSent/2 {
		t.Errorf("wire bytes: first submit %d, resubmit %d (its blob %d bytes)", first.WireBytes, second.WireBytes, second.BytesSent)
	}
}

// submitBox submits src's train.py to the target "box".
func submitBox(t *testing.T, ws *Workspace, src string) *Run {
	t.Helper()
	run, err := ws.Experiment("exp").Submit(context.Background(), ScriptRunConfig{SourceDirectory: src, Script: "train.py",
		RunConfig: RunConfiguration{Target: "box"}})
	if err != nil {
		t.Fatal(err)
	}
	return run
}

// waitForOutput waits until the run's local output log holds want.
func waitForOutput(t *testing.T, run *Run, want string) {
	t.Helper()
	dir, _ := run.Dir()
	deadline := time.Now().Add(2 * time.Minute) // hang guard
	for {
		b, _ := os.ReadFile(filepath.Join(dir, "logs", "output.log"))
		if bytes.Contains(b, []byte(want)) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the run's output after 2 minutes:\n%s", want, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func handleState(t *testing.T, ws *Workspace, run *Run) sshdriver.State {
	t.Helper()
	d, err := run.Details(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var h struct {
		State sshdriver.State `json:"state"`
	}
	if err := json.Unmarshal([]byte(d.Properties[handleProperty]), &h); err != nil {
		t.Fatal(err)
	}
	return h.State
}

// A dropped connection loses and doubles no line: the run goes on on the
// machine, and the follower resumes from the offsets it reached.
func TestSSHDroppedConnectionLosesNothing(t *testing.T) {
	s := startSSHD(t)
	ws := attachSSH(t, s)
	src := writeScript(t, `import gantry_run, time
for i in range(300):
    print("line", i, flush=True)
    gantry_run.log("i", i)
    time.sleep(0.01)
`)
	ctx := context.Background()
	run := submitBox(t, ws, src)
	dir, _ := run.Dir()
	// Wait for the first lines to arrive here, then cut every connection
	// twice while the script runs.
	for drops := 0; drops < 2; {
		b, _ := os.ReadFile(filepath.Join(dir, "logs", "output.log"))
		if bytes.Count(b, []byte("\n")) > 50*(drops+1) {
			s.Script(t, "drop", s.Dir)
			drops++
		}
		time.Sleep(20 * time.Millisecond)
	}
	st, out := waitRun(t, run)
	if st != workspace.StateCompleted {
		t.Fatalf("state %s\n%s", st, out)
	}
	for i := 0; i < 300; i++ {
		if n := strings.Count(out, fmt.Sprintf("line %d\n", i)); n != 1 {
			t.Fatalf("line %d shown %d times", i, n)
		}
	}
	m, _ := run.Metrics(ctx)
	if n := len(m.Series["i"]); n != 300 {
		t.Errorf("metric i has %d points, want 300", n)
	}
}

// A kernel restart mid-run: the workspace is closed (followers and
// connections with it) and opened again, and the run is found and
// finished with its whole output.
func TestSSHRunSurvivesClosingTheWorkspace(t *testing.T) {
	s := startSSHD(t)
	ws := attachSSH(t, s)
	src := writeScript(t, `import time
for i in range(100):
    print("line", i, flush=True)
    time.sleep(0.01)
`)
	ctx := context.Background()
	run := submitBox(t, ws, src)
	id := run.ID
	time.Sleep(300 * time.Millisecond)
	exe := ws.exe
	ws.Close()
	ws2, err := OpenWorkspace(ctx, ws.Dir())
	if err != nil {
		t.Fatal(err)
	}
	defer ws2.Close()
	ws2.exe = exe
	run2, err := ws2.Run(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	st, out := waitRun(t, run2)
	if st != workspace.StateCompleted {
		t.Fatalf("state %s\n%s", st, out)
	}
	for i := 0; i < 100; i++ {
		if n := strings.Count(out, fmt.Sprintf("line %d\n", i)); n != 1 {
			t.Fatalf("line %d shown %d times", i, n)
		}
	}
}

func TestSSHCancel(t *testing.T) {
	s := startSSHD(t)
	ws := attachSSH(t, s)
	src := writeScript(t, `import time
print("started", flush=True)
time.sleep(300)
`)
	ctx := context.Background()
	run := submitBox(t, ws, src)
	waitForOutput(t, run, "started")
	if err := run.Cancel(ctx); err != nil {
		t.Fatal(err)
	}
	if st, out := waitRun(t, run); st != workspace.StateCanceled {
		t.Fatalf("state %s, want Canceled\n%s", st, out)
	}
}

func TestSSHAttachFailuresSayWhatFailed(t *testing.T) {
	s := startSSHD(t)
	ctx := context.Background()
	ws := testWorkspace(t)
	otherKey := filepath.Join(t.TempDir(), "other")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", otherKey).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	emptyKnown := filepath.Join(t.TempDir(), "known_hosts")
	changedKnown := filepath.Join(t.TempDir(), "known_hosts_changed")
	pub, _ := os.ReadFile(otherKey + ".pub")
	fields := strings.Fields(string(pub))
	os.WriteFile(changedKnown, []byte(fmt.Sprintf("[127.0.0.1]:%d %s %s\n", s.Port, fields[0], fields[1])), 0o600)
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()
	t.Setenv("GANTRY_TEST_WRONG_PASSWORD", "not-the-password")
	// A port that accepts connections and never says a word.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	silentPort := silent.Addr().(*net.TCPAddr).Port
	cases := []struct {
		name string
		edit func(c *SSHCompute)
		step string
		want string
	}{
		{"wrong key", func(c *SSHCompute) { c.KeyFile = otherKey }, "log in", "refused to log in"},
		{"unknown host key", func(c *SSHCompute) { c.KnownHosts = emptyKnown }, "host key", "is not in"},
		{"changed host key", func(c *SSHCompute) { c.KnownHosts = changedKnown }, "host key", "HAS CHANGED"},
		{"closed port", func(c *SSHCompute) { c.Port = closedPort }, "connect", "refused"},
		{"silent server", func(c *SSHCompute) { c.Port = silentPort; c.ConnectTimeoutSeconds = 1 }, "connect", "did not complete the SSH handshake"},
		{"unreachable address", func(c *SSHCompute) { c.Address = "10.255.255.1"; c.ConnectTimeoutSeconds = 1 }, "connect", ""},
		{"password env unset", func(c *SSHCompute) { c.KeyFile = ""; c.PasswordEnv = "GANTRY_TEST_UNSET_VAR" }, "log in", "is not set"},
		{"wrong password", func(c *SSHCompute) { c.KeyFile = ""; c.PasswordEnv = "GANTRY_TEST_WRONG_PASSWORD" }, "log in", "refused to log in"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := s.config(t)
			tc.edit(&c)
			began := time.Now()
			_, err := ws.AttachSSHCompute(ctx, "bad", c)
			var se *sshdriver.StepError
			if !errors.As(err, &se) {
				t.Fatalf("err = %v, want a StepError", err)
			}
			if se.Step != tc.step || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("step %q, error %q; want step %q mentioning %q", se.Step, err, tc.step, tc.want)
			}
			if _, terr := ws.ComputeTarget(ctx, "bad"); terr == nil {
				t.Errorf("a failed attach saved the target")
			}
			t.Logf("%s after %v: %v", tc.name, time.Since(began).Round(time.Millisecond), err)
		})
	}
	t.Run("changed host key shows both fingerprints", func(t *testing.T) {
		c := s.config(t)
		c.KnownHosts = changedKnown
		_, err := ws.AttachSSHCompute(ctx, "bad", c)
		if err == nil || strings.Count(err.Error(), "SHA256:") != 2 {
			t.Errorf("want both fingerprints in %v", err)
		}
	})
	t.Run("trust on first use records the key", func(t *testing.T) {
		c := s.config(t)
		c.KnownHosts = filepath.Join(t.TempDir(), "tofu_known_hosts")
		c.TrustOnFirstUse = true
		if _, err := ws.AttachSSHCompute(ctx, "tofu", c); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(c.KnownHosts)
		host, _ := os.ReadFile(filepath.Join(s.Dir, "host_ed25519.pub"))
		if err != nil || !strings.Contains(string(b), strings.Fields(string(host))[1]) {
			t.Errorf("known_hosts after TOFU: %q, %v", b, err)
		}
	})
	t.Run("encrypted key with passphrase from the environment", func(t *testing.T) {
		pass, _ := os.ReadFile(filepath.Join(s.Dir, "passphrase.txt"))
		t.Setenv("GANTRY_TEST_PASSPHRASE", strings.TrimSpace(string(pass)))
		c := s.config(t)
		c.KeyFile = filepath.Join(s.Dir, "id_ed25519_enc")
		c.PassphraseEnv = "GANTRY_TEST_PASSPHRASE"
		if _, err := ws.AttachSSHCompute(ctx, "enc", c); err != nil {
			t.Fatal(err)
		}
		t.Setenv("GANTRY_TEST_PASSPHRASE", "wrong")
		c.RemoteRoot = filepath.Join(t.TempDir(), "r")
		_, err := ws.AttachSSHCompute(ctx, "enc2", c)
		if err == nil || !strings.Contains(err.Error(), "passphrase") {
			t.Errorf("wrong passphrase: %v", err)
		}
	})
	t.Run("secrets are not stored", func(t *testing.T) {
		// grep in another process: opening the database file here would
		// drop this process's SQLite locks on it.
		pass, _ := os.ReadFile(filepath.Join(s.Dir, "passphrase.txt"))
		out, err := exec.Command("grep", "-rlF", strings.TrimSpace(string(pass)), ws.Dir()).CombinedOutput()
		if err == nil {
			t.Errorf("the passphrase is stored in the workspace: %s", out)
		}
	})
}

func TestSSHPasswordLogin(t *testing.T) {
	s := startSSHD(t)
	s.needUsers(t)
	pw, _ := os.ReadFile(filepath.Join(s.Dir, "password.txt"))
	t.Setenv("GANTRY_TEST_PASSWORD", strings.TrimSpace(string(pw)))
	ws := testWorkspace(t)
	c := SSHCompute{Address: "127.0.0.1", Port: s.Port, User: s.Env["SSHD_PW_USER"], PasswordEnv: "GANTRY_TEST_PASSWORD",
		KnownHosts: filepath.Join(s.Dir, "known_hosts"), ConnectTimeoutSeconds: 5}
	ctx := context.Background()
	if _, err := ws.AttachSSHCompute(ctx, "pw", c); err != nil {
		t.Fatal(err)
	}
	run, err := ws.Experiment("exp").Submit(ctx, ScriptRunConfig{SourceDirectory: writeScript(t, "import getpass; print('as', getpass.getuser())\n"),
		Script: "train.py", RunConfig: RunConfiguration{Target: "pw"}})
	if err != nil {
		t.Fatal(err)
	}
	if st, out := waitRun(t, run); st != workspace.StateCompleted || !strings.Contains(out, "as "+s.Env["SSHD_PW_USER"]) {
		t.Fatalf("state %s\n%s", st, out)
	}
}

func TestSSHMachineWithoutPython(t *testing.T) {
	s := startSSHD(t)
	s.needUsers(t)
	ws := testWorkspace(t)
	c := SSHCompute{Address: "127.0.0.1", Port: s.Port, User: s.Env["SSHD_NOPY_USER"], KeyFile: filepath.Join(s.Dir, "id_ed25519"),
		KnownHosts: filepath.Join(s.Dir, "known_hosts"), ConnectTimeoutSeconds: 5}
	ctx := context.Background()
	probe, err := ws.AttachSSHCompute(ctx, "nopy", c)
	if err != nil {
		t.Fatal(err)
	}
	if probe.Python != "" {
		t.Errorf("probe found Python %q on a machine without it", probe.Python)
	}
	run, err := ws.Experiment("exp").Submit(ctx, ScriptRunConfig{SourceDirectory: writeScript(t, "print('hi')\n"),
		Script: "train.py", RunConfig: RunConfiguration{Target: "nopy"}})
	if err != nil {
		t.Fatal(err)
	}
	st, _ := waitRun(t, run)
	if st != workspace.StateFailed {
		t.Fatalf("state %s, want Failed", st)
	}
	reason := lastReason(ctx, run, workspace.Run{})
	if !strings.Contains(reason, `"python3" is not on PATH`) {
		t.Errorf("reason %q does not say python3 was not found", reason)
	}
}

// While the machine is out of reach its run is NotResponding; when the
// server is back, the run is Running again and finishes with every line.
func TestSSHMachineOutOfReachIsNotRespondingThenRecovers(t *testing.T) {
	s := startSSHD(t)
	ws := attachSSH(t, s)
	src := writeScript(t, `import time
for i in range(120):
    print("line", i, flush=True)
    time.sleep(0.1)
`)
	ctx := context.Background()
	run := submitBox(t, ws, src)
	waitForOutput(t, run, "line 5\n")
	s.Script(t, "stop", s.Dir)              // the daemon and every connection
	deadline := time.Now().Add(time.Minute) // hang guard
	for {
		st, err := run.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st == workspace.StateNotResponding {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the run stayed %s while its machine was out of reach", st)
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.Script(t, "start", s.Dir, strconv.Itoa(s.Port))
	st, out := waitRun(t, run)
	if st != workspace.StateCompleted {
		t.Fatalf("state %s\n%s", st, out)
	}
	for i := 0; i < 120; i++ {
		if n := strings.Count(out, fmt.Sprintf("line %d\n", i)); n != 1 {
			t.Fatalf("line %d shown %d times", i, n)
		}
	}
	evs, _ := ws.Store().Events(ctx, run.ID)
	var path []string
	for _, e := range evs {
		path = append(path, string(e.To))
	}
	if !strings.Contains(strings.Join(path, ","), "NotResponding,Running") {
		t.Errorf("events %v lack NotResponding then Running", path)
	}
}

// Several runs on one target share one connection, and a target that runs
// one at a time queues the rest there; a queued run cancels.
func TestSSHRunsShareOneConnectionAndQueue(t *testing.T) {
	s := startSSHD(t)
	ws := testWorkspace(t)
	ctx := context.Background()
	c := s.config(t)
	c.MaxConcurrentRuns = 2
	if _, err := ws.AttachSSHCompute(ctx, "box", c); err != nil {
		t.Fatal(err)
	}
	src := writeScript(t, `import sys, time
print("run", sys.argv[1], flush=True)
time.sleep(float(sys.argv[2]))
`)
	submit := func(name, sleep string) *Run {
		r, err := ws.Experiment("many").Submit(ctx, ScriptRunConfig{SourceDirectory: src, Script: "train.py",
			Arguments: []string{name, sleep}, RunConfig: RunConfiguration{Target: "box"}})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	var runs []*Run
	for i := 0; i < 6; i++ {
		runs = append(runs, submit(strconv.Itoa(i), "0.3"))
	}
	for i, r := range runs {
		if st, out := waitRun(t, r); st != workspace.StateCompleted || !strings.Contains(out, "run "+strconv.Itoa(i)+"\n") {
			t.Fatalf("run %d: %s\n%s", i, st, out)
		}
	}
	log, _ := os.ReadFile(filepath.Join(s.Dir, "sshd.log"))
	if n := bytes.Count(log, []byte("Accepted publickey")); n != 1 {
		t.Errorf("%d logins for an attach and 6 runs, want 1: the connection attach made, shared\n%s", n, log)
	}
	// Two long runs hold both slots; a third waits Queued and is canceled.
	a, b := submit("a", "60"), submit("b", "60")
	for _, r := range []*Run{a, b} {
		for st, _ := r.Status(ctx); st != workspace.StateRunning; st, _ = r.Status(ctx) {
			time.Sleep(50 * time.Millisecond)
		}
	}
	queued := submit("q", "0")
	time.Sleep(500 * time.Millisecond)
	if st, _ := queued.Status(ctx); st != workspace.StateQueued {
		t.Fatalf("the run behind two busy slots is %s, want Queued", st)
	}
	for _, r := range []*Run{queued, a, b} {
		if err := r.Cancel(ctx); err != nil {
			t.Fatal(err)
		}
		if st, out := waitRun(t, r); st != workspace.StateCanceled {
			t.Fatalf("after cancel: %s\n%s", st, out)
		}
	}
}

// A system-managed environment is built on the machine, in its remote
// root, and reused there by the next run with the same spec.
func TestSSHSystemManagedEnvironmentBuiltThereAndReused(t *testing.T) {
	s := startSSHD(t)
	ws := attachSSH(t, s)
	ctx := context.Background()
	out, err := exec.Command("python3", "-c", "import sys; print(f'{sys.version_info[0]}.{sys.version_info[1]}')").Output()
	if err != nil {
		t.Skip("python3 is needed")
	}
	if err := exec.Command("python3", "-c", "import venv, ensurepip").Run(); err != nil {
		t.Skip("python3 -m venv is unavailable")
	}
	env := environment.New("plain")
	env.Python.CondaDependencies = &environment.CondaDependencies{Name: "plain",
		CondaPackages: []string{"python=" + strings.TrimSpace(string(out)), "pip"}}
	src := writeScript(t, "import sys\nprint('python', sys.executable)\n")
	var logs []string
	for i := 0; i < 2; i++ {
		r, err := ws.Experiment("env").Submit(ctx, ScriptRunConfig{SourceDirectory: src, Script: "train.py",
			RunConfig: RunConfiguration{Target: "box", Environment: env}})
		if err != nil {
			t.Fatal(err)
		}
		st, out := waitRun(t, r)
		if st != workspace.StateCompleted || !strings.Contains(out, "/remote/envs/") {
			dir, _ := r.Dir()
			elog, _ := os.ReadFile(filepath.Join(dir, "logs", "environment.log"))
			t.Fatalf("run %d: %s\n%s\nenvironment log:\n%s", i, st, out, elog)
		}
		dir, _ := r.Dir()
		b, _ := os.ReadFile(filepath.Join(dir, "logs", "environment.log"))
		logs = append(logs, string(b))
	}
	if strings.Contains(logs[0], "reusing it") || !strings.Contains(logs[1], "reusing it") {
		t.Errorf("first build log:\n%s\nsecond:\n%s", logs[0], logs[1])
	}
}

// Through a jump host (ssh -J): here the same server, which forwards the
// connection to itself.
func TestSSHThroughAJumpHost(t *testing.T) {
	s := startSSHD(t)
	ws := testWorkspace(t)
	ctx := context.Background()
	c := s.config(t)
	hop := s.config(t)
	hop.RemoteRoot = ""
	c.Jump = &hop
	if _, err := ws.AttachSSHCompute(ctx, "behind", c); err != nil {
		t.Fatal(err)
	}
	run, err := ws.Experiment("jump").Submit(ctx, ScriptRunConfig{SourceDirectory: writeScript(t, "print('through the jump host')\n"),
		Script: "train.py", RunConfig: RunConfiguration{Target: "behind"}})
	if err != nil {
		t.Fatal(err)
	}
	if st, out := waitRun(t, run); st != workspace.StateCompleted || !strings.Contains(out, "through the jump host") {
		t.Fatalf("state %s\n%s", st, out)
	}
	log, _ := os.ReadFile(filepath.Join(s.Dir, "sshd.log"))
	if !bytes.Contains(log, []byte("direct-tcpip")) && bytes.Count(log, []byte("Accepted publickey")) < 2 {
		t.Errorf("no sign of a forwarded connection in the server's log:\n%s", log)
	}
	// A jump host that refuses the key: the error says it was the jump host.
	bad := s.config(t)
	badHop := s.config(t)
	badHop.KeyFile = filepath.Join(s.Dir, "id_ed25519_enc") // encrypted, no passphrase given
	badHop.PassphraseEnv = "GANTRY_TEST_UNSET_PASSPHRASE"
	bad.Jump = &badHop
	_, err = ws.AttachSSHCompute(ctx, "behind2", bad)
	if err == nil || !strings.Contains(err.Error(), "through jump host") {
		t.Errorf("bad jump host: %v", err)
	}
}

// Two test servers on one machine keep their secrets private and their
// users apart: starting the second does not change the first's password,
// and stopping it leaves the first's users in place.
func TestSSHDInstancesAreIsolated(t *testing.T) {
	a := startSSHD(t)
	a.needUsers(t)
	b := gantrytest.StartSSHD(t)
	if a.Env["SSHD_PW_USER"] == b.Env["SSHD_PW_USER"] || a.Env["SSHD_NOPY_USER"] == b.Env["SSHD_NOPY_USER"] {
		t.Fatalf("the instances share users: %v and %v", a.Env, b.Env)
	}
	for _, s := range []*gantrytest.SSHD{a.SSHD, b} {
		for _, f := range []string{"password.txt", "passphrase.txt", "id_ed25519", "id_ed25519_enc", "host_ed25519"} {
			fi, err := os.Stat(filepath.Join(s.Dir, f))
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm()&0o077 != 0 {
				t.Errorf("%s/%s has mode %v: others can read a secret", s.Dir, f, fi.Mode().Perm())
			}
		}
	}
	b.Script(t, "stop", b.Dir)
	pw, _ := os.ReadFile(filepath.Join(a.Dir, "password.txt"))
	t.Setenv("GANTRY_TEST_PASSWORD", strings.TrimSpace(string(pw)))
	ws := testWorkspace(t)
	c := SSHCompute{Address: "127.0.0.1", Port: a.Port, User: a.Env["SSHD_PW_USER"], PasswordEnv: "GANTRY_TEST_PASSWORD",
		KnownHosts: filepath.Join(a.Dir, "known_hosts"), ConnectTimeoutSeconds: 5}
	if _, err := ws.AttachSSHCompute(context.Background(), "pw", c); err != nil {
		t.Fatalf("the first instance's password no longer works after a second started and stopped: %v", err)
	}
}

// The agent on the machine killed mid-run: the run ends Failed saying so,
// with every line the script printed, and nothing of the script is left
// running there. A run whose cancel was asked for while its agent was dead
// (no watcher was looking then) ends Canceled.
func TestSSHAgentKilled(t *testing.T) {
	s := startSSHD(t)
	ctx := context.Background()
	for _, cancelFirst := range []bool{false, true} {
		ws := attachSSH(t, s)
		run := submitBox(t, ws, writeScript(t, countingScript))
		waitForOutput(t, run, "line 10\n")
		dir := filepath.Join(handleState(t, ws, run).Root, "runs", run.ID)
		childPID, _ := readInt(filepath.Join(dir, "child.pid"))
		if cancelFirst {
			// Nobody watches while the agent dies and the cancel is asked.
			exe := ws.exe
			ws.Close()
			killAgent(t, dir)
			var err error
			if ws, err = OpenWorkspace(ctx, ws.Dir()); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ws.Close() })
			ws.exe = exe
			if err := ws.w.Transition(ctx, run.ID, workspace.StateCancelRequested, "cancel requested"); err != nil {
				t.Fatal(err)
			}
			if run, err = ws.Run(ctx, run.ID); err != nil {
				t.Fatal(err)
			}
		} else {
			killAgent(t, dir)
		}
		written, _ := readInt(filepath.Join(dir, "count.txt"))
		st, out := waitRun(t, run)
		d, _ := run.Details(ctx)
		reason := lastReason(ctx, run, d)
		want, says := workspace.StateFailed, "died"
		if cancelFirst {
			want, says = workspace.StateCanceled, "its agent on box had died"
		}
		if st != want || !strings.Contains(reason, says) {
			t.Fatalf("state %s%s; want %s", st, reason, want)
		}
		waitGone(t, "the script's child", childPID)
		checkAllLines(t, []byte(out), written)
	}
}

// TestSSHAttachIsGetOrCreate attaches a real machine twice with the same
// settings (a notebook run twice), refuses other settings under the name,
// reports an unconfigured Slurm without its error text, and describes a
// first submit without claiming the machine had files it did not.
func TestSSHAttachIsGetOrCreate(t *testing.T) {
	s := startSSHD(t)
	ws := testWorkspace(t)
	ctx := context.Background()
	cfg := s.config(t)
	first, err := ws.AttachSSHCompute(ctx, "box", cfg)
	if err != nil {
		t.Fatal(err)
	}
	again, err := ws.AttachSSHCompute(ctx, "box", cfg)
	if err != nil {
		t.Fatalf("attach again with the same settings: %v", err)
	}
	if again.Arch != first.Arch || again.Python == "" {
		t.Errorf("second attach did not describe the machine: %+v", again)
	}
	other := cfg
	other.Port = 1
	if _, err := ws.AttachSSHCompute(ctx, "box", other); !errors.Is(err, ErrExists) ||
		!strings.Contains(err.Error(), fmt.Sprintf("port: %d there, 1 here", cfg.Port)) {
		t.Errorf("other settings: %v, want ErrExists naming the port", err)
	}
	for _, p := range []*MachineInfo{first, again} {
		if strings.Contains(p.Slurm+strings.Join(p.Partitions, ""), "error") {
			t.Errorf("Slurm fields hold error text: %q %q", p.Slurm, p.Partitions)
		}
		if _, err := exec.LookPath("sbatch"); err == nil && p.Slurm == "" && !strings.Contains(p.SlurmNote, "not configured") {
			t.Errorf("sbatch is here but the probe says neither a version nor why: %+v", p)
		}
	}

	src := writeScript(t, "print('ok')\n")
	run := submitBox(t, ws, src)
	if st, out := waitRun(t, run); st != workspace.StateCompleted {
		t.Fatalf("state %s\n%s", st, out)
	}
	tr, ok, err := run.Transfer(ctx)
	if err != nil || !ok {
		t.Fatalf("transfer: %v %v", ok, err)
	}
	if got := tr.String(); !strings.HasPrefix(got, "Sent the snapshot's 1 file (") || strings.Contains(got, "had") {
		t.Errorf("first submit of a 1-file snapshot: %q", got)
	}
	run = submitBox(t, ws, src)
	waitRun(t, run)
	if tr, _, _ := run.Transfer(ctx); !strings.HasPrefix(tr.String(), "Sent none of the snapshot's 1 file (the machine had it)") {
		t.Errorf("resubmit of the same snapshot: %q", tr.String())
	}
}

// An agent binary left incomplete on the machine (by a copy cut short
// under an older Gantry) is found out, removed and installed again, and
// the submit goes through.
func TestSSHIncompleteAgentIsInstalledAgain(t *testing.T) {
	s := startSSHD(t)
	ws := attachSSH(t, s)
	t1, err := ws.ComputeTarget(context.Background(), "box")
	if err != nil {
		t.Fatal(err)
	}
	var c SSHCompute
	if err := json.Unmarshal(t1.Config, &c); err != nil {
		t.Fatal(err)
	}
	bins, _ := filepath.Glob(filepath.Join(c.RemoteRoot, "bin", "gantry-*"))
	if len(bins) != 1 {
		t.Fatalf("agent binaries on the machine: %v", bins)
	}
	// Replace it with its first 4 KiB (it is running: truncating it in
	// place is refused).
	head := make([]byte, 4096)
	f, err := os.Open(bins[0])
	if err != nil {
		t.Fatal(err)
	}
	io.ReadFull(f, head)
	f.Close()
	if err := os.WriteFile(bins[0]+".cut", head, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(bins[0]+".cut", bins[0]); err != nil {
		t.Fatal(err)
	}
	ws.Close()
	ws2, err := OpenWorkspace(context.Background(), ws.Dir())
	if err != nil {
		t.Fatal(err)
	}
	defer ws2.Close()
	ws2.exe = ws.exe
	run := submitBox(t, ws2, writeScript(t, "print('after the repair')\n"))
	if st, out := waitRun(t, run); st != workspace.StateCompleted || !strings.Contains(out, "after the repair") {
		t.Fatalf("state %s\n%s", st, out)
	}
	if fi, err := os.Stat(bins[0]); err != nil || fi.Size() <= 4096 {
		t.Fatalf("the agent binary was not installed again: %v %v", fi, err)
	}
}

// A machine without GPUs fails a run that asks for one, saying so; the
// attach reports no GPUs.
func TestSSHGPURequestOnMachineWithout(t *testing.T) {
	s := startSSHD(t)
	ws := attachSSH(t, s)
	var show bytes.Buffer
	if err := ws.DescribeCompute(context.Background(), &show, "box"); err != nil || !strings.Contains(show.String(), "GPUs:    none") {
		t.Errorf("status: %v\n%s", err, show.String())
	}
	run, err := ws.Experiment("exp").Submit(context.Background(), ScriptRunConfig{SourceDirectory: writeScript(t, "print('ran')\n"),
		Script: "train.py", RunConfig: RunConfiguration{Target: "box", GPUCount: 1}})
	if err != nil {
		t.Fatal(err)
	}
	st, out := waitRun(t, run)
	d, _ := run.Details(context.Background())
	reason := lastReason(context.Background(), run, d)
	if st != workspace.StateFailed || !strings.Contains(reason, "asks for 1 GPUs, and target box has no GPUs") || strings.Contains(out, "ran") {
		t.Fatalf("state %s%s\n%s", st, reason, out)
	}
}
