package magics

import (
	"context"
	"encoding/json"
	"fmt"

	"gantry/sdk"
	sshdriver "gantry/sdk/driver/ssh"
	"gantry/sdk/workspace"
)

// sshFlags are the options of %compute attach ssh.
func sshFlags() flagSpec {
	return flagSpec{
		"--address": true, "--port": true, "--user": true, "--key": true,
		"--passphrase-env": true, "--passphrase": false, "--password-env": true, "--password": false,
		"--known-hosts": true, "--trust-on-first-use": false, "--jump": true, "--remote-root": true,
		"--connect-timeout": true,
		// An existing Slurm cluster's login node: %compute attach NAME --kind slurm --address ...
		"--partition": true, "--account": true, "--slurm-conf": true, "--requeue": false,
	}
}

// slurmLoginFlags are the options that make an SSH target a login node.
var slurmLoginFlags = []string{"--partition", "--account", "--slurm-conf", "--requeue"}

// The syntax of %compute attach ssh: how to log in, and the rest.
const (
	sshAuthUsage = "(--key FILE [--passphrase-env VAR | --passphrase] | --password-env VAR | --password)"
	sshMoreUsage = "[--known-hosts FILE] [--trust-on-first-use] [--jump USER@HOST[:PORT]] [--remote-root DIR] [--connect-timeout SECONDS] [--max-concurrent-runs N]"
	sshUsage     = "%compute attach ssh NAME --address HOST [--port 22] --user USER " + sshAuthUsage + " " + sshMoreUsage
)

// attachSSH is %compute attach ssh NAME ...: it connects, installs the
// agent, describes the machine and saves the target.
//
// With slurmLogin the machine is the login node of an existing Slurm
// cluster (%compute attach NAME --kind slurm --address HOST ...): runs are
// batch jobs submitted there.
func (s *sdkMagics) attachSSH(ctx context.Context, c *Call, ws *sdk.Workspace, name string, p *parsedArgs, slurmLogin bool) error {
	cfg := sdk.SSHCompute{
		Address:          p.opts["--address"],
		User:             p.opts["--user"],
		KeyFile:          p.opts["--key"],
		PassphraseEnv:    p.opts["--passphrase-env"],
		PasswordEnv:      p.opts["--password-env"],
		KnownHosts:       p.opts["--known-hosts"],
		RemoteRoot:       p.opts["--remote-root"],
		TrustOnFirstUse:  has(p, "--trust-on-first-use"),
		PromptPassword:   has(p, "--password"),
		PromptPassphrase: has(p, "--passphrase"),
	}
	var err error
	if cfg.Port, err = intOpt("compute", p, "--port", 0); err != nil {
		return err
	}
	if cfg.ConnectTimeoutSeconds, err = intOpt("compute", p, "--connect-timeout", 0); err != nil {
		return err
	}
	if cfg.MaxConcurrentRuns, err = intOpt("compute", p, "--max-concurrent-runs", 0); err != nil {
		return err
	}
	if cfg.Address == "" || cfg.User == "" {
		return fmt.Errorf("%%compute attach ssh needs --address and --user: %s", sshUsage)
	}
	for _, opt := range slurmLoginFlags {
		if has(p, opt) && !slurmLogin {
			return fmt.Errorf("%%compute attach: %s belongs to a Slurm login node: %%compute attach NAME --kind slurm --address HOST ... %s", opt, opt)
		}
	}
	if slurmLogin {
		cfg.Slurm = &sshdriver.SlurmLogin{Partition: p.opts["--partition"], Account: p.opts["--account"],
			SlurmConf: p.opts["--slurm-conf"], Requeue: has(p, "--requeue")}
	}
	if j := p.opts["--jump"]; j != "" {
		if err := cfg.SetJump(j); err != nil {
			return fmt.Errorf("%%compute attach: %w", err)
		}
	}
	if err := s.askSecrets(c, ws, name, cfg); err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "Connecting to %s@%s ...\n", cfg.User, cfg.Address)
	_, lookup := ws.ComputeTarget(ctx, name)
	probe, err := ws.AttachSSHCompute(ctx, name, cfg)
	if err != nil {
		return fmt.Errorf("%%compute attach: %w", err)
	}
	if lookup == nil {
		fmt.Fprintf(c.Stdout, "%s is attached already, with these settings.\n", name)
	} else if cfg.Slurm != nil {
		fmt.Fprintf(c.Stdout, "Attached Slurm cluster %s through its login node %s@%s.\n", name, cfg.User, cfg.Address)
	} else {
		fmt.Fprintf(c.Stdout, "Attached SSH compute target %s (%s@%s).\n", name, cfg.User, cfg.Address)
	}
	probe.Describe(c.Stdout)
	return nil
}

// askSecrets prompts for the password or passphrase a target is set to
// prompt for, keeping the answer in this kernel's memory only.
func (s *sdkMagics) askSecrets(c *Call, ws *sdk.Workspace, name string, cfg sdk.SSHCompute) error {
	ask := func(what, prompt string) error {
		v, err := c.S.Ask(prompt, true)
		if err != nil {
			return fmt.Errorf("%%compute: the %s of %s is asked for, and no answer came (%v): keep it in an environment variable and use --%s-env instead", what, name, err, what)
		}
		return ws.SetSecret(name, what, v)
	}
	if cfg.PromptPassword {
		if err := ask("password", fmt.Sprintf("Password for %s@%s: ", cfg.User, cfg.Address)); err != nil {
			return err
		}
	}
	if cfg.PromptPassphrase {
		if err := ask("passphrase", "Passphrase for "+cfg.KeyFile+": "); err != nil {
			return err
		}
	}
	return nil
}

// connectSSH is %compute connect NAME: ask again for a target's prompted
// secrets (after a kernel restart) and connect.
func (s *sdkMagics) connectSSH(ctx context.Context, c *Call, ws *sdk.Workspace, name string) error {
	t, err := ws.ComputeTarget(ctx, name)
	if err != nil {
		return fmt.Errorf("%%compute connect: %w%s", err, notFoundHint(err, "%compute list shows the targets"))
	}
	if t.Kind != workspace.KindSSH {
		return fmt.Errorf("%%compute connect: %s is a %s target; only SSH targets connect", name, t.Kind)
	}
	cfg, err := sshConfig(t)
	if err != nil {
		return err
	}
	if err := s.askSecrets(c, ws, t.Name, cfg); err != nil {
		return err
	}
	return s.machineStatus(ctx, c, ws, t.Name)
}

// machineStatus is %compute status NAME for an SSH target.
func (s *sdkMagics) machineStatus(ctx context.Context, c *Call, ws *sdk.Workspace, name string) error {
	probe, err := ws.MachineStatus(ctx, name)
	if err != nil {
		return fmt.Errorf("%%compute status: %w", err)
	}
	fmt.Fprintf(c.Stdout, "%s is reachable.\n", name)
	probe.Describe(c.Stdout)
	return nil
}

func sshConfig(t workspace.Target) (sdk.SSHCompute, error) {
	var cfg sdk.SSHCompute
	if err := json.Unmarshal(t.Config, &cfg); err != nil {
		return cfg, fmt.Errorf("target %s: its configuration is unreadable: %w", t.Name, err)
	}
	return cfg, nil
}

func has(p *parsedArgs, opt string) bool {
	_, ok := p.opts[opt]
	return ok
}
