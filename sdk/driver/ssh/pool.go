package ssh

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"gantry/sdk/remote"
)

// A Pool keeps one connection per target, shared by every run on it.
type Pool struct {
	Exe     string // the local gantry binary, copied to machines that lack it
	Secrets *Secrets

	mu     sync.Mutex
	conns  map[string]*entry    // by target name, lower case
	hashes map[string]fileStamp // binary path -> its hash, while unchanged
}

// fileStamp is a file's hash, valid while its size and time are unchanged.
type fileStamp struct {
	size int64
	mod  time.Time
	sum  string
}

// binaryHash returns the SHA-256 of the binary at path, hashing it again
// only when it changed.
func (p *Pool) binaryHash(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	p.mu.Lock()
	st, ok := p.hashes[path]
	p.mu.Unlock()
	if ok && st.size == fi.Size() && st.mod.Equal(fi.ModTime()) {
		return st.sum, nil
	}
	sum, err := fileHash(path)
	if err != nil {
		return "", err
	}
	p.mu.Lock()
	if p.hashes == nil {
		p.hashes = map[string]fileStamp{}
	}
	p.hashes[path] = fileStamp{fi.Size(), fi.ModTime(), sum}
	p.mu.Unlock()
	return sum, nil
}

// entry is a target's connection, or the memory of failing to make one.
type entry struct {
	mu      sync.Mutex // held while connecting
	conn    *Conn
	cfgKey  string
	failed  time.Time
	failKey string // the configuration that failed
	backoff time.Duration
	lastErr error
}

// A Conn is a live connection to a target, with `gantry remote serve`
// running at the far end.
type Conn struct {
	Target string
	Hello  remote.Hello
	// Installed is true when this connection copied the agent binary.
	Installed bool

	client *ssh.Client
	rc     *remote.Client
	stderr *lockedBuffer // what the remote server said on stderr
}

// lockedBuffer is a buffer written by the session's goroutine and read by
// this one.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Call sends a request to the remote server.
func (c *Conn) Call(ctx context.Context, req remote.Request) (*remote.Response, error) {
	return c.rc.Call(ctx, req)
}

// Remote returns the protocol client.
func (c *Conn) Remote() *remote.Client { return c.rc }

// Close closes the connection.
func (c *Conn) Close() error { return c.client.Close() }

func (c *Conn) alive() bool {
	select {
	case <-c.rc.Done():
		return false
	default:
		return true
	}
}

// Get returns the target's connection, connecting if there is none or the
// last one dropped. After a failure it waits out a backoff (0.2 s doubling
// to 5 s) before trying again, bounded by ctx.
func (p *Pool) Get(ctx context.Context, target string, cfg Config) (*Conn, error) {
	key := strings.ToLower(target)
	p.mu.Lock()
	if p.conns == nil {
		p.conns = map[string]*entry{}
	}
	e := p.conns[key]
	if e == nil {
		e = &entry{}
		p.conns[key] = e
	}
	p.mu.Unlock()

	b, _ := json.Marshal(cfg)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.conn != nil && e.cfgKey == string(b) && e.conn.alive() {
		return e.conn, nil
	}
	if e.conn != nil {
		e.conn.Close()
		e.conn = nil
	}
	if e.failKey != string(b) {
		e.backoff = 0 // a new configuration gets a fresh try
	}
	if wait := time.Until(e.failed.Add(e.backoff)); wait > 0 {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (last attempt: %v)", ctx.Err(), e.lastErr)
		case <-time.After(wait):
		}
	}
	c, err := p.connect(ctx, target, &cfg)
	if err != nil {
		e.failed, e.lastErr, e.failKey = time.Now(), err, string(b)
		e.backoff = min(max(2*e.backoff, 200*time.Millisecond), 5*time.Second)
		return nil, err
	}
	e.conn, e.cfgKey, e.backoff, e.lastErr = c, string(b), 0, nil
	return c, nil
}

// Drop closes the target's connection, if any.
func (p *Pool) Drop(target string) {
	p.mu.Lock()
	e := p.conns[strings.ToLower(target)]
	p.mu.Unlock()
	if e == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.conn != nil {
		e.conn.Close()
		e.conn = nil
	}
}

// Close closes every connection.
func (p *Pool) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range p.conns {
		if e.conn != nil {
			e.conn.Close()
			e.conn = nil
		}
	}
}

// errAgentRemoved says that an agent binary on the machine did not start
// and was removed, to be installed again.
var errAgentRemoved = errors.New("the agent binary there did not start and was removed, to be installed again")

// connect dials the target, makes sure the agent binary is there, and
// starts `gantry remote serve`.
func (p *Pool) connect(ctx context.Context, target string, cfg *Config) (*Conn, error) {
	secrets := p.Secrets
	if secrets == nil {
		secrets = &Secrets{}
	}
	client, err := dial(ctx, target, cfg, secrets)
	if err != nil {
		return nil, err
	}
	c := &Conn{Target: target, client: client}
	err = p.bootstrap(ctx, c, cfg)
	if errors.Is(err, errAgentRemoved) {
		c = &Conn{Target: target, client: client}
		err = p.bootstrap(ctx, c, cfg) // installs it again
	}
	if err != nil {
		client.Close()
		return nil, err
	}
	go keepalive(client, c.rc.Done())
	return c, nil
}

// bootstrap finds the machine's platform and remote root, copies the
// agent binary if that version is not there yet, and starts the server.
func (p *Pool) bootstrap(ctx context.Context, c *Conn, cfg *Config) error {
	root := cfg.RemoteRoot
	if root == "" {
		root = "$HOME/.gantry-remote"
	} else if rest, ok := strings.CutPrefix(root, "~/"); ok {
		root = "$HOME/" + rest
	} else {
		root = shellQuote(root)
	}
	out, err := output(ctx, c.client, nil, `R=`+root+`; uname -sm; printf '%s\n' "$R"; ls "$R/bin" 2>/dev/null; true`)
	if err != nil {
		return &StepError{c.Target, "inspect machine", err}
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 2 {
		return &StepError{c.Target, "inspect machine", fmt.Errorf("unexpected answer to uname: %q", out)}
	}
	goos, goarch, err := platform(lines[0])
	if err != nil {
		return &StepError{c.Target, "inspect machine", err}
	}
	rootDir := lines[1]
	have := map[string]bool{}
	for _, l := range lines[2:] {
		have[strings.TrimSpace(l)] = true
	}
	bin, err := p.agentBinary(ctx, goos, goarch)
	if err != nil {
		return &StepError{c.Target, "install agent", err}
	}
	sum, err := p.binaryHash(bin)
	if err != nil {
		return &StepError{c.Target, "install agent", err}
	}
	name := "gantry-" + sum[:16]
	remoteBin := rootDir + "/bin/" + name
	if !have[name] {
		f, err := os.Open(bin)
		if err != nil {
			return &StepError{c.Target, "install agent", err}
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return &StepError{c.Target, "install agent", err}
		}
		// cat ends at EOF, which is also what it sees when this process
		// dies mid-copy: only a copy of the whole size is installed, under
		// a name of its own per copy, so no truncated agent ever is.
		tmp := fmt.Sprintf("%s.tmp-%d", remoteBin, time.Now().UnixNano())
		_, err = output(ctx, c.client, f, fmt.Sprintf(
			"mkdir -p %[1]s && cat > %[2]s && set -- $(ls -ln %[2]s) && if [ \"$5\" = %[4]d ]; then chmod 755 %[2]s && mv %[2]s %[3]s; "+
				"else rm -f %[2]s; echo 'the copy of the agent is incomplete' >&2; exit 1; fi",
			shellQuote(rootDir+"/bin"), shellQuote(tmp), shellQuote(remoteBin), fi.Size()))
		f.Close()
		if err != nil {
			return &StepError{c.Target, "install agent", fmt.Errorf("copy %s to %s: %w", bin, remoteBin, err)}
		}
		c.Installed = true
	}
	sess, err := c.client.NewSession()
	if err != nil {
		return &StepError{c.Target, "start remote", err}
	}
	stdin, err := sess.StdinPipe()
	if err != nil {
		return &StepError{c.Target, "start remote", err}
	}
	stdout, err := sess.StdoutPipe()
	if err != nil {
		return &StepError{c.Target, "start remote", err}
	}
	c.stderr = &lockedBuffer{max: 64 << 10}
	sess.Stderr = c.stderr
	serve := "exec " + shellQuote(remoteBin) + " remote serve --root " + shellQuote(rootDir)
	if cfg.Slurm != nil && cfg.Slurm.SlurmConf != "" {
		serve = "SLURM_CONF=" + shellQuote(cfg.Slurm.SlurmConf) + " " + serve
	}
	if err := sess.Start(serve); err != nil {
		return &StepError{c.Target, "start remote", err}
	}
	c.rc = remote.NewClient(stdout, stdin)
	go func() { _ = sess.Wait(); stdin.Close() }()
	hctx, cancel := context.WithTimeout(ctx, cfg.timeout())
	defer cancel()
	resp, err := c.rc.Call(hctx, remote.Request{Op: remote.OpHello})
	if err != nil {
		msg := strings.TrimSpace(c.stderr.String())
		if msg != "" {
			err = fmt.Errorf("%w; it said: %s", err, msg)
		}
		if !c.Installed {
			// A copy left incomplete by an older Gantry: remove it, so the
			// next connection installs it again.
			if _, rmErr := output(ctx, c.client, nil, "rm -f "+shellQuote(remoteBin)); rmErr == nil {
				err = fmt.Errorf("%w (%w)", err, errAgentRemoved)
			}
		}
		return &StepError{c.Target, "start remote", fmt.Errorf("gantry remote serve on %s: %w", rootDir, err)}
	}
	c.Hello = *resp.Hello
	return nil
}

// platform maps `uname -sm` to GOOS and GOARCH.
func platform(uname string) (goos, goarch string, err error) {
	f := strings.Fields(uname)
	if len(f) != 2 {
		return "", "", fmt.Errorf("unexpected uname -sm output %q", uname)
	}
	switch strings.ToLower(f[0]) {
	case "linux":
		goos = "linux"
	case "darwin":
		goos = "darwin"
	case "freebsd":
		goos = "freebsd"
	default:
		return "", "", fmt.Errorf("the machine runs %s, which Gantry's agent does not support (Linux, macOS and FreeBSD are)", f[0])
	}
	switch f[1] {
	case "x86_64", "amd64":
		goarch = "amd64"
	case "aarch64", "arm64":
		goarch = "arm64"
	case "ppc64le":
		goarch = "ppc64le"
	case "s390x":
		goarch = "s390x"
	case "riscv64":
		goarch = "riscv64"
	default:
		return "", "", fmt.Errorf("the machine's processor is %s, which Gantry's agent is not built for", f[1])
	}
	return goos, goarch, nil
}

// agentBinary returns a gantry binary for goos/goarch: this machine's own
// when the platforms match; else one named by
// $GANTRY_AGENT_BINARY_<GOOS>_<GOARCH>, or beside the local binary as
// gantry-<goos>-<goarch>; else one cross-built from the source tree the
// local binary was built in, when there is one and a Go toolchain.
func (p *Pool) agentBinary(ctx context.Context, goos, goarch string) (string, error) {
	if p.Exe == "" {
		return "", errors.New("no local gantry binary to copy: build it (go build -o bin/gantry ./cmd/gantry)")
	}
	if goos == runtime.GOOS && goarch == runtime.GOARCH {
		return p.Exe, nil
	}
	if b := os.Getenv("GANTRY_AGENT_BINARY_" + strings.ToUpper(goos+"_"+goarch)); b != "" {
		return b, nil
	}
	beside := p.Exe + "-" + goos + "-" + goarch
	if _, err := os.Stat(beside); err == nil {
		return beside, nil
	}
	return crossBuild(ctx, p.Exe, goos, goarch)
}

// crossBuild builds gantry for goos/goarch from the module the local
// binary sits in (bin/gantry of a checkout), without cgo: the remote
// agent needs no SQLite.
func crossBuild(ctx context.Context, exe, goos, goarch string) (string, error) {
	howto := fmt.Sprintf("build one (GOOS=%s GOARCH=%s CGO_ENABLED=0 go build -o %s-%s-%s ./cmd/gantry) and put it beside %s", goos, goarch, exe, goos, goarch, exe)
	src := filepath.Dir(filepath.Dir(exe))
	if b, err := os.ReadFile(filepath.Join(src, "go.mod")); err != nil || !bytes.HasPrefix(b, []byte("module gantry\n")) {
		return "", fmt.Errorf("the machine is %s/%s and this gantry is %s/%s, and there is no source tree to cross-build from: %s", goos, goarch, runtime.GOOS, runtime.GOARCH, howto)
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("the machine is %s/%s and no Go toolchain is here to cross-build gantry for it: %s", goos, goarch, howto)
	}
	out := exe + "-" + goos + "-" + goarch
	cmd := exec.CommandContext(ctx, gobin, "build", "-o", out, "./cmd/gantry")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("cross-build gantry for %s/%s: %v: %s", goos, goarch, err, msg)
	}
	return out, nil
}

// fileHash returns the hex SHA-256 of a file.
func fileHash(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// output runs cmd in a new session with stdin and returns its output.
func output(ctx context.Context, client *ssh.Client, stdin io.Reader, cmd string) (string, error) {
	sess, err := client.NewSession()
	if err != nil {
		return "", err
	}
	defer sess.Close()
	sess.Stdin = stdin
	var out bytes.Buffer
	errb := &lockedBuffer{max: 16 << 10}
	sess.Stdout = &out
	sess.Stderr = errb
	done := make(chan error, 1)
	go func() { done <- sess.Run(cmd) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		sess.Close()
		return "", ctx.Err()
	}
	if err != nil {
		if msg := strings.TrimSpace(errb.String()); msg != "" {
			return out.String(), fmt.Errorf("%w: %s", err, msg)
		}
		return out.String(), err
	}
	return out.String(), nil
}

// keepalive pings the server every 5 s and closes the client when a ping
// goes unanswered for 10 s, so a dead link is noticed even when idle.
func keepalive(client *ssh.Client, done <-chan struct{}) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		ok := make(chan error, 1)
		go func() { _, _, err := client.SendRequest("keepalive@openssh.com", true, nil); ok <- err }()
		select {
		case err := <-ok:
			if err != nil {
				client.Close()
				return
			}
		case <-time.After(10 * time.Second):
			client.Close()
			return
		}
	}
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
