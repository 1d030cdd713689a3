package ssh

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Secrets supplies passwords and passphrases that are not in the
// environment: asked for once (with Prompt) and then kept in memory for
// the life of the process, never written anywhere.
type Secrets struct {
	// Prompt asks the user for a secret, not echoing it; nil means no one
	// can be asked.
	Prompt func(ctx context.Context, question string) (string, error)

	mu    sync.Mutex
	known map[string]string
}

// Set keeps a secret for key (e.g. "gpu-box/password") in memory.
func (s *Secrets) Set(key, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.known == nil {
		s.known = map[string]string{}
	}
	s.known[key] = value
}

// Forget drops a secret, after it was found wrong.
func (s *Secrets) Forget(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.known, key)
}

// Get returns the secret kept under key ("TARGET/WHAT"): from the
// environment variable envName when it is set, else from memory, else by
// asking question if prompt allows.
func (s *Secrets) Get(ctx context.Context, key, envName string, prompt bool, question string) (string, error) {
	return s.get(ctx, key, envName, prompt, question)
}

// get returns the secret from env when envName is set, else from memory,
// else by prompting if allowed.
func (s *Secrets) get(ctx context.Context, key, envName string, prompt bool, question string) (string, error) {
	if envName != "" {
		v, ok := os.LookupEnv(envName)
		if !ok {
			return "", fmt.Errorf("the environment variable %s, which should hold the %s, is not set: set it in the kernel's environment (before starting Jupyter, or with %%env)", envName, what(key))
		}
		return v, nil
	}
	s.mu.Lock()
	v, ok := s.known[key]
	s.mu.Unlock()
	if ok {
		return v, nil
	}
	if !prompt {
		return "", fmt.Errorf("no %s is configured", what(key))
	}
	if s.Prompt == nil {
		return "", fmt.Errorf("the %s is asked for at a prompt, and no one can be asked here: give it again with %%compute connect, or keep it in an environment variable instead", what(key))
	}
	v, err := s.Prompt(ctx, question)
	if err != nil {
		return "", fmt.Errorf("ask for the %s: %w", what(key), err)
	}
	s.Set(key, v)
	return v, nil
}

func what(key string) string {
	_, w, _ := strings.Cut(key, "/")
	return w
}

// StepError says which step of connecting to a target failed.
type StepError struct {
	Target string
	Step   string // "connect", "host key", "log in", "install agent", "start remote", "probe"
	Err    error
}

func (e *StepError) Error() string {
	return fmt.Sprintf("%s: %s: %v", e.Target, e.Step, e.Err)
}

func (e *StepError) Unwrap() error { return e.Err }

// ErrHostKey matches host key errors: unknown and changed keys.
var ErrHostKey = errors.New("host key not trusted")

// hostKeyCallback checks keys against the known_hosts file, recording an
// unknown one when tofu is set.
func hostKeyCallback(file string, tofu bool) ssh.HostKeyCallback {
	return func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		cb, err := knownhosts.New(file)
		if errors.Is(err, os.ErrNotExist) {
			cb = func(string, net.Addr, ssh.PublicKey) error { return &knownhosts.KeyError{} }
		} else if err != nil {
			return fmt.Errorf("read known_hosts %s: %w", file, err)
		}
		err = cb(hostname, remote, key)
		var ke *knownhosts.KeyError
		var re *knownhosts.RevokedError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &re):
			return fmt.Errorf("%w: the host key of %s (%s) is marked revoked in %s", ErrHostKey, hostname, ssh.FingerprintSHA256(key), file)
		case errors.As(err, &ke) && len(ke.Want) == 0:
			if tofu {
				return recordHostKey(file, hostname, key)
			}
			return fmt.Errorf("%w: %s is not in %s; it offered the %s key %s. Check that fingerprint with the machine's owner, then add it (ssh-keyscan -p PORT HOST >> %s) or attach with trust on first use",
				ErrHostKey, hostname, file, key.Type(), ssh.FingerprintSHA256(key), file)
		case errors.As(err, &ke):
			var want []string
			for _, k := range ke.Want {
				want = append(want, fmt.Sprintf("%s %s (%s line %d)", k.Key.Type(), ssh.FingerprintSHA256(k.Key), k.Filename, k.Line))
			}
			return fmt.Errorf("%w: THE HOST KEY OF %s HAS CHANGED: known_hosts has %s, but the server offered %s %s. Someone may be intercepting the connection; if the machine was reinstalled, remove that line and attach again",
				ErrHostKey, hostname, strings.Join(want, ", "), key.Type(), ssh.FingerprintSHA256(key))
		}
		return err
	}
}

// recordHostKey appends the host's key to file.
func recordHostKey(file, hostname string, key ssh.PublicKey) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return fmt.Errorf("record host key: %w", err)
	}
	f, err := os.OpenFile(file, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("record host key: %w", err)
	}
	defer f.Close()
	_, err = fmt.Fprintln(f, knownhosts.Line([]string{knownhosts.Normalize(hostname)}, key))
	return err
}

// authMethods returns how to log in to the target called name with c.
func authMethods(ctx context.Context, name string, c *Config, s *Secrets) ([]ssh.AuthMethod, error) {
	var ms []ssh.AuthMethod
	if c.KeyFile != "" {
		path, err := expandHome(c.KeyFile)
		if err != nil {
			return nil, err
		}
		pem, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read private key: %w", err)
		}
		signer, err := ssh.ParsePrivateKey(pem)
		var missing *ssh.PassphraseMissingError
		if errors.As(err, &missing) {
			key := name + "/passphrase"
			pass, perr := s.get(ctx, key, c.PassphraseEnv, c.PromptPassphrase || c.PassphraseEnv == "", "Passphrase for "+c.KeyFile+": ")
			if perr != nil {
				return nil, fmt.Errorf("private key %s is encrypted: %w", c.KeyFile, perr)
			}
			signer, err = ssh.ParsePrivateKeyWithPassphrase(pem, []byte(pass))
			if errors.Is(err, x509IncorrectPassword) || err != nil && strings.Contains(err.Error(), "decryption password incorrect") {
				s.Forget(key)
				return nil, fmt.Errorf("the passphrase for %s is wrong", c.KeyFile)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("private key %s: %w", c.KeyFile, err)
		}
		ms = append(ms, ssh.PublicKeys(signer))
	}
	if c.PasswordEnv != "" || c.PromptPassword {
		pw, err := s.get(ctx, name+"/password", c.PasswordEnv, c.PromptPassword, fmt.Sprintf("Password for %s@%s: ", c.User, c.Address))
		if err != nil {
			return nil, err
		}
		ms = append(ms, ssh.Password(pw))
	}
	return ms, nil
}

// x509IncorrectPassword stands for the error a wrong passphrase gives
// for the older PEM encryption.
var x509IncorrectPassword = errors.New("x509: decryption password incorrect")

// dial connects and logs in to c, through its jump host if it has one.
func dial(ctx context.Context, name string, c *Config, s *Secrets) (*ssh.Client, error) {
	var via *ssh.Client
	if c.Jump != nil {
		j, err := dial(ctx, name+"/jump", c.Jump, s)
		if err != nil {
			return nil, fmt.Errorf("through jump host %s: %w", c.Jump.addr(), err)
		}
		via = j
	}
	client, err := dialVia(ctx, name, c, s, via)
	if err != nil && via != nil {
		via.Close()
	}
	return client, err
}

func dialVia(ctx context.Context, name string, c *Config, s *Secrets, via *ssh.Client) (*ssh.Client, error) {
	timeout := c.timeout()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	addr := c.addr()
	var conn net.Conn
	var err error
	if via != nil {
		conn, err = via.DialContext(ctx, "tcp", addr)
	} else {
		conn, err = (&net.Dialer{Timeout: timeout}).DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
			err = fmt.Errorf("no answer from %s within %s: check the address and port, and that the machine is up and reachable from here", addr, timeout)
		}
		return nil, &StepError{name, "connect", err}
	}
	auth, err := authMethods(ctx, name, c, s)
	if err != nil {
		conn.Close()
		return nil, &StepError{name, "log in", err}
	}
	khFile, err := c.knownHosts()
	if err != nil {
		conn.Close()
		return nil, &StepError{name, "host key", err}
	}
	var hostKeyErr error
	check := hostKeyCallback(khFile, c.TrustOnFirstUse)
	cfg := &ssh.ClientConfig{
		User: c.User,
		Auth: auth,
		HostKeyCallback: func(h string, r net.Addr, k ssh.PublicKey) error {
			hostKeyErr = check(h, r, k)
			return hostKeyErr
		},
		Timeout: timeout,
	}
	_ = conn.SetDeadline(time.Now().Add(timeout))
	sc, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	if err != nil {
		conn.Close()
		switch {
		case hostKeyErr != nil:
			return nil, &StepError{name, "host key", hostKeyErr}
		case strings.Contains(err.Error(), "unable to authenticate"):
			how := "with the key " + c.KeyFile
			if c.KeyFile == "" {
				how = "with the password"
			}
			if c.PromptPassword {
				s.Forget(name + "/password")
			}
			return nil, &StepError{name, "log in", fmt.Errorf("%s@%s refused to log in %s: check the user name, and that the key's public half is in ~/.ssh/authorized_keys there (or the password is right)", c.User, addr, how)}
		case isTimeout(err):
			return nil, &StepError{name, "connect", fmt.Errorf("%s did not complete the SSH handshake within %s: is it an SSH server?", addr, timeout)}
		}
		return nil, &StepError{name, "connect", err}
	}
	_ = conn.SetDeadline(time.Time{})
	return ssh.NewClient(sc, chans, reqs), nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
