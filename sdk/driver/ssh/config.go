// Package ssh is the driver of SSH targets: any machine reachable over
// SSH (the seed's "remote VM"). It keeps one connection per target,
// multiplexed across runs and re-established with backoff when it drops;
// on the far end it runs `gantry remote serve` (the same binary, copied
// there once per version), which caches snapshot blobs by content hash and
// starts each run's agent detached, so runs outlive the connection and the
// kernel. Agents there record into a journal in the run's directory, which
// the driver's follower applies to the workspace exactly once (Follow).
//
// Host keys are checked against a known_hosts file; a key is trusted on
// first use only when the configuration says so, and recorded then.
// Passwords and passphrases are never stored: the configuration names an
// environment variable that holds one, or asks for a prompt, whose answer
// is kept in this process's memory only.
package ssh

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Kind is the target kind this driver runs.
const Kind = "ssh"

// Config is an SSH target's configuration, as stored in the workspace.
type Config struct {
	Address string `json:"address"`        // host name or IP
	Port    int    `json:"port,omitempty"` // 22 when 0
	User    string `json:"user"`

	// Authentication: a private key file (with a passphrase from an
	// environment variable or a prompt, if it has one), or a password
	// from an environment variable or a prompt.
	KeyFile          string `json:"key_file,omitempty"`
	PassphraseEnv    string `json:"passphrase_env,omitempty"`
	PromptPassphrase bool   `json:"prompt_passphrase,omitempty"`
	PasswordEnv      string `json:"password_env,omitempty"`
	PromptPassword   bool   `json:"prompt_password,omitempty"`

	// KnownHosts is the known_hosts file host keys are checked against
	// (~/.ssh/known_hosts when empty). With TrustOnFirstUse, a host that
	// is not in it is trusted and added; a changed key is always refused.
	KnownHosts      string `json:"known_hosts,omitempty"`
	TrustOnFirstUse bool   `json:"trust_on_first_use,omitempty"`

	// Jump is a bastion to connect through (ssh -J), if any.
	Jump *Config `json:"jump,omitempty"`

	// RemoteRoot is where runs, the blob cache and environments live on
	// the machine (~/.gantry-remote when empty).
	RemoteRoot string `json:"remote_root,omitempty"`
	// ConnectTimeoutSeconds bounds connecting and logging in (10 when 0).
	ConnectTimeoutSeconds int `json:"connect_timeout_seconds,omitempty"`
	// MaxConcurrentRuns caps the runs that execute at once there (0: no cap).
	MaxConcurrentRuns int `json:"max_concurrent_runs,omitempty"`

	// Slurm, when set, makes the machine the login node of an existing
	// Slurm cluster: each run is a batch job submitted there, and its
	// agent runs on the compute nodes Slurm gives it. The remote root must
	// then be on a filesystem the nodes share (home directories usually are).
	Slurm *SlurmLogin `json:"slurm,omitempty"`
}

// SlurmLogin says how runs are submitted from a Slurm login node.
type SlurmLogin struct {
	Partition string `json:"partition,omitempty"` // the cluster's default when empty
	Account   string `json:"account,omitempty"`
	// Requeue: the partition is preemptible; a preempted run is requeued
	// by Slurm and restarts by itself.
	Requeue bool `json:"requeue,omitempty"`
	// SlurmConf is SLURM_CONF for the commands on the login node, when
	// its slurm.conf is not where Slurm looks by default.
	SlurmConf string `json:"slurm_conf,omitempty"`
	// SbatchArgs are more arguments for sbatch (--time=..., --gres=...).
	SbatchArgs []string `json:"sbatch_args,omitempty"`
}

// sbatchArgs returns the arguments a run's sbatch gets from l.
func (l *SlurmLogin) sbatchArgs() []string {
	var args []string
	if l.Partition != "" {
		args = append(args, "--partition="+l.Partition)
	}
	if l.Account != "" {
		args = append(args, "--account="+l.Account)
	}
	return append(args, l.SbatchArgs...)
}

// ParseConfig decodes and checks a stored configuration.
func ParseConfig(raw json.RawMessage) (Config, error) {
	var c Config
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &c); err != nil {
			return c, fmt.Errorf("SSH target configuration: %w", err)
		}
	}
	return c, c.Check()
}

// Check reports the first problem with c, saying how to fix it.
func (c *Config) Check() error {
	if c.Address == "" {
		return errors.New("SSH target: no address: give the machine's host name or IP address")
	}
	if strings.ContainsAny(c.Address, " /@") {
		return fmt.Errorf("SSH target: address %q is not a host name or IP address (give the user and port separately)", c.Address)
	}
	if strings.Contains(c.Address, ":") && net.ParseIP(c.Address) == nil {
		return fmt.Errorf("SSH target: address %q holds a colon and is not an IPv6 address: give the port separately (port 2222, not host:2222)", c.Address)
	}
	if c.Port < 0 || c.Port > 65535 {
		return fmt.Errorf("SSH target: port %d is out of range 1-65535", c.Port)
	}
	if c.User == "" {
		return errors.New("SSH target: no user: give the user name to log in as")
	}
	if c.KeyFile == "" && c.PasswordEnv == "" && !c.PromptPassword {
		return errors.New("SSH target: no way to log in: give a private key file, or a password (from an environment variable, or prompted)")
	}
	if c.KeyFile != "" {
		p, err := expandHome(c.KeyFile)
		if err != nil {
			return err
		}
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("SSH target: private key file %s: %w", c.KeyFile, err)
		}
	}
	for _, name := range []string{c.PasswordEnv, c.PassphraseEnv} {
		if name != "" && !validEnvName(name) {
			return fmt.Errorf("SSH target: %q is not an environment variable name (the value itself must never be given here)", name)
		}
	}
	if c.ConnectTimeoutSeconds < 0 || c.MaxConcurrentRuns < 0 {
		return errors.New("SSH target: connect_timeout_seconds and max_concurrent_runs cannot be negative")
	}
	if c.Slurm != nil {
		for _, a := range c.Slurm.SbatchArgs {
			if !strings.HasPrefix(a, "-") {
				return fmt.Errorf("SSH target: sbatch argument %q is not an option: give options only (--time=1:00:00), the batch script is Gantry's", a)
			}
		}
	}
	if c.Jump != nil {
		if c.Jump.Jump != nil {
			return errors.New("SSH target: one jump host is supported, not a chain")
		}
		if err := c.Jump.Check(); err != nil {
			return fmt.Errorf("jump host: %w", err)
		}
	}
	return nil
}

func validEnvName(s string) bool {
	for i, r := range s {
		if !(r == '_' || 'A' <= r && r <= 'Z' || 'a' <= r && r <= 'z' || i > 0 && '0' <= r && r <= '9') {
			return false
		}
	}
	return s != ""
}

// addr is host:port.
func (c *Config) addr() string {
	port := c.Port
	if port == 0 {
		port = 22
	}
	return net.JoinHostPort(c.Address, strconv.Itoa(port))
}

func (c *Config) timeout() time.Duration {
	if c.ConnectTimeoutSeconds > 0 {
		return time.Duration(c.ConnectTimeoutSeconds) * time.Second
	}
	return 10 * time.Second
}

func (c *Config) knownHosts() (string, error) {
	if c.KnownHosts != "" {
		return expandHome(c.KnownHosts)
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no known_hosts file given and no home directory: %w", err)
	}
	return filepath.Join(home, ".ssh", "known_hosts"), nil
}

// expandHome expands a leading ~/.
func expandHome(p string) (string, error) {
	rest, ok := strings.CutPrefix(p, "~/")
	if !ok {
		return p, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("expand %s: %w", p, err)
	}
	return filepath.Join(home, rest), nil
}

// SetJump makes c connect through the jump host spec, USER@HOST[:PORT]
// (as ssh -J), which logs in with c's key or password and checks its host
// key against c's known_hosts.
func (c *Config) SetJump(spec string) error {
	user, hostport, ok := strings.Cut(spec, "@")
	if !ok || user == "" || hostport == "" {
		return fmt.Errorf("jump host %q: give it as USER@HOST or USER@HOST:PORT", spec)
	}
	hop := Config{User: user, Address: hostport,
		KeyFile: c.KeyFile, PassphraseEnv: c.PassphraseEnv, PromptPassphrase: c.PromptPassphrase,
		PasswordEnv: c.PasswordEnv, PromptPassword: c.PromptPassword,
		KnownHosts: c.KnownHosts, TrustOnFirstUse: c.TrustOnFirstUse}
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		port, err := strconv.Atoi(p)
		if err != nil {
			return fmt.Errorf("jump host %q: port %q is not a number", spec, p)
		}
		hop.Address, hop.Port = h, port
	}
	c.Jump = &hop
	return nil
}
