package sdk

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"gantry/sdk/driver"
	sshdriver "gantry/sdk/driver/ssh"
	"gantry/sdk/remote"
	"gantry/sdk/workspace"
)

// SSHCompute is the configuration of an SSH target: any machine reachable
// over SSH (the seed's remote VM). Passwords and passphrases are never
// given here: name an environment variable that holds one, or ask for a
// prompt (the answer is kept in memory only).
type SSHCompute = sshdriver.Config

// MachineInfo describes a remote machine, as attach and status report it.
type MachineInfo = remote.Probe

// remotes is the state the SSH targets of a Workspace share: one
// connection per target and the runs being followed.
type remotes struct {
	once    sync.Once
	pool    *sshdriver.Pool
	mu      sync.Mutex
	follows map[string]bool // run IDs followed by this process
	ctx     context.Context
	stop    context.CancelFunc
}

// sshDriver returns the driver of SSH targets, with the workspace's pool.
func (ws *Workspace) sshDriver() (*sshdriver.Driver, error) {
	exe, err := ws.gantry()
	if err != nil {
		return nil, err
	}
	r := &ws.remotes
	r.once.Do(func() {
		secrets := ws.secrets
		if secrets == nil {
			secrets = &sshdriver.Secrets{}
		}
		r.pool = &sshdriver.Pool{Exe: exe, Secrets: secrets}
		r.follows = map[string]bool{}
		r.ctx, r.stop = context.WithCancel(context.Background())
	})
	return &sshdriver.Driver{Pool: r.pool}, nil
}

// Secrets holds the passwords and passphrases of SSH targets that are
// configured to prompt for them, in memory only, with the way to prompt.
// A kernel keeps one for its session and gives it to every Workspace it
// opens (UseSecrets), so a secret answered once serves magics and cells
// alike.
type Secrets = sshdriver.Secrets

// NewSecrets returns an empty Secrets that asks with prompt (nil: no one
// can be asked).
func NewSecrets(prompt func(ctx context.Context, question string) (string, error)) *Secrets {
	return &Secrets{Prompt: prompt}
}

// UseSecrets makes the workspace keep and look up prompted secrets in s,
// shared with the other Workspaces given s. Call it before the workspace
// connects to an SSH target.
func (ws *Workspace) UseSecrets(s *Secrets) {
	ws.secrets = s
	if ws.remotes.pool != nil {
		ws.remotes.pool.Secrets = s
	}
}

// SetSecretPrompt sets how SSH targets configured to prompt for a
// password or passphrase ask for it (the kernel asks with a hidden
// input); the answer is kept in this process's memory only.
func (ws *Workspace) SetSecretPrompt(prompt func(ctx context.Context, question string) (string, error)) {
	if d, err := ws.sshDriver(); err == nil {
		d.Pool.Secrets.Prompt = prompt
	}
}

// SetSecret gives the password ("password") or key passphrase
// ("passphrase") of an SSH target, or the secret ("secret") of a Spark
// target, for this process's life, for targets configured to prompt for
// it.
func (ws *Workspace) SetSecret(target, what, value string) error {
	if what != "password" && what != "passphrase" && what != "secret" {
		return fmt.Errorf("secret %q: only password, passphrase (SSH targets) and secret (Spark targets) are kept", what)
	}
	d, err := ws.sshDriver()
	if err != nil {
		return err
	}
	d.Pool.Secrets.Set(target+"/"+what, value)
	return nil
}

// AttachSSHCompute attaches the machine c describes under name: it
// connects (checking the host key), logs in, installs the agent there if
// need be, and describes the machine; the target is saved only if all of
// that worked. An error names the step that failed.
//
// It is get-or-create: when an SSH target of that name exists with the
// same settings, it connects to it and describes the machine, changing
// nothing; when the settings differ, the error matches ErrExists and says
// how.
func (ws *Workspace) AttachSSHCompute(ctx context.Context, name string, c SSHCompute) (*MachineInfo, error) {
	if err := c.Check(); err != nil {
		return nil, fmt.Errorf("attach %q: %w", name, err)
	}
	cfg, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	have, err := ws.w.Target(ctx, name)
	found := err == nil
	if found {
		if err := existing(have, "attach", workspace.KindSSH, cfg, "detach it first (DetachCompute), or pick another name"); err != nil {
			return nil, err
		}
	}
	d, err := ws.sshDriver()
	if err != nil {
		return nil, err
	}
	if found {
		probe, err := d.Attach(ctx, have.Name, have.Config)
		if err != nil {
			return nil, fmt.Errorf("attach %q (attached already): %w", name, err)
		}
		return probe, nil
	}
	probe, err := d.Attach(ctx, name, cfg)
	if err != nil {
		return nil, fmt.Errorf("attach %q: %w", name, err)
	}
	if err := ws.w.CreateTarget(ctx, workspace.Target{Name: name, Kind: workspace.KindSSH, Config: cfg,
		ProvisioningState: workspace.ProvisioningSucceeded}); err != nil {
		return nil, fmt.Errorf("attach %q: %w", name, err)
	}
	return probe, nil
}

// MachineStatus connects to the SSH target name and describes its machine
// now.
func (ws *Workspace) MachineStatus(ctx context.Context, name string) (*MachineInfo, error) {
	t, err := ws.w.Target(ctx, name)
	if err != nil {
		return nil, err
	}
	if t.Kind != workspace.KindSSH {
		return nil, fmt.Errorf("status of %q: it is a %s target; only SSH targets describe a machine", name, t.Kind)
	}
	d, err := ws.sshDriver()
	if err != nil {
		return nil, err
	}
	return d.Attach(ctx, t.Name, t.Config)
}

// follower is implemented by drivers whose agents cannot write to the
// workspace: Follow brings a run's record up to date until it ends.
type follower interface {
	Follow(ctx context.Context, ws *workspace.Workspace, job driver.Job) error
}

// follow starts following the run in the background, once per process,
// if its target's driver needs it.
func (ws *Workspace) follow(ctx context.Context, runID string) {
	d, err := ws.w.Run(ctx, runID)
	if err != nil || d.State.Final() {
		return
	}
	var h driver.Handle
	if err := json.Unmarshal([]byte(d.Properties[handleProperty]), &h); err != nil || h.Kind != sshdriver.Kind {
		return
	}
	drv, err := ws.sshDriver()
	if err != nil {
		return
	}
	r := &ws.remotes
	r.mu.Lock()
	if r.follows[d.ID] {
		r.mu.Unlock()
		return
	}
	r.follows[d.ID] = true
	r.mu.Unlock()
	t, err := ws.w.Target(ctx, d.Target)
	dir, derr := ws.w.RunDir(d.ID)
	if err != nil || derr != nil {
		r.mu.Lock()
		delete(r.follows, d.ID)
		r.mu.Unlock()
		return
	}
	job := driver.Job{RunID: d.ID, WorkspaceDir: ws.w.Dir(), RunDir: dir, Target: t.Name, Config: t.Config}
	go func() {
		defer func() {
			r.mu.Lock()
			delete(r.follows, job.RunID)
			r.mu.Unlock()
		}()
		_ = drv.Follow(r.ctx, ws.w, job)
	}()
}

// closeRemotes stops the followers and closes the connections.
func (ws *Workspace) closeRemotes() {
	r := &ws.remotes
	if r.stop != nil {
		r.stop()
		r.pool.Close()
	}
}

// Transfer is what a submit sent to a remote target's machine.
type Transfer struct {
	BytesSent int64 // snapshot bytes sent
	WireBytes int64 // all the submit wrote to the connection: run files (manifest included), blobs, framing
	FilesSent int   // distinct snapshot files sent
	Files     int   // distinct files in the snapshot; the machine had the rest
}

// String says what was sent in a sentence, for people: "Sent the
// snapshot's 3 files (2048 bytes), 4096 bytes in all.", "Sent 1 of the
// snapshot's 5 files (742 bytes; the machine had the other 4), ...", or
// "Sent none of the snapshot's 5 files (the machine had them all), ...".
func (t Transfer) String() string {
	files := plural(t.Files, "file")
	var what string
	switch {
	case t.FilesSent == 0 && t.Files == 1:
		what = "none of the snapshot's 1 file (the machine had it)"
	case t.FilesSent == 0 && t.Files > 0:
		what = fmt.Sprintf("none of the snapshot's %s (the machine had them all)", files)
	case t.FilesSent >= t.Files:
		what = fmt.Sprintf("the snapshot's %s (%s)", files, plural(int(t.BytesSent), "byte"))
	default:
		what = fmt.Sprintf("%d of the snapshot's %s (%s; the machine had the other %d)", t.FilesSent, files,
			plural(int(t.BytesSent), "byte"), t.Files-t.FilesSent)
	}
	return fmt.Sprintf("Sent %s, %s in all.", what, plural(int(t.WireBytes), "byte"))
}

// plural is "1 file" or "n files".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// Transfer returns what the run's submit sent to its machine, and false
// for runs on targets that need no transfer (the local machine).
func (r *Run) Transfer(ctx context.Context) (Transfer, bool, error) {
	d, err := r.Details(ctx)
	if err != nil {
		return Transfer{}, false, err
	}
	var h driver.Handle
	if err := json.Unmarshal([]byte(d.Properties[handleProperty]), &h); err != nil || h.Kind != sshdriver.Kind {
		return Transfer{}, false, nil
	}
	var st sshdriver.State
	if err := json.Unmarshal(h.State, &st); err != nil {
		return Transfer{}, false, fmt.Errorf("run %s: unreadable handle: %w", r.ID, err)
	}
	return Transfer{BytesSent: st.BytesSent, WireBytes: st.WireBytes, FilesSent: st.BlobsSent, Files: st.BlobsTotal}, true, nil
}
