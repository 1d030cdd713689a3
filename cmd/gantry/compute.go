package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"gantry/sdk"
	"gantry/sdk/workspace"
)

// createCompute is `gantry compute create local|cluster NAME ...`.
func createCompute(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, dir := newFlags("compute create", computeUsage, stderr)
	maxRuns := fs.Int("max-concurrent", 0, "local: the most runs that execute at once (0: no cap)")
	var c sdk.ManagedCluster
	fs.StringVar(&c.VMSize, "vm-size", "", "cluster: the nodes' size, from the size catalogue (e.g. STANDARD_D2_V2)")
	fs.IntVar(&c.MinNodes, "min-nodes", 0, "cluster: nodes kept up")
	fs.IntVar(&c.MaxNodes, "max-nodes", 0, "cluster: the most nodes")
	fs.StringVar(&c.VMPriority, "priority", "dedicated", "cluster: dedicated, or lowpriority (preempted by dedicated runs, requeued)")
	fs.IntVar(&c.IdleSecondsBeforeScaledown, "idle-seconds", 0, "cluster: idle time before a node is stopped (0: the default)")
	fs.StringVar(&c.NodesOf, "nodes-of", "", "cluster: share the nodes of this cluster, at its own priority")
	fs.StringVar(&c.SlurmDir, "slurm-dir", "", "cluster: the Slurm instance (default $GANTRY_SLURM_DIR)")
	pos, _, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usageError(stderr, computeUsage, "compute create: want KIND NAME, such as: gantry compute create local cpu")
	}
	kind, name := pos[0], pos[1]
	if kind != string(workspace.KindLocal) && kind != "cluster" {
		return usageError(stderr, computeUsage, "compute create: kind %q is not one to create: local or cluster (SSH machines are attached: gantry compute attach ssh)", kind)
	}
	if err := onlyFlagsOf(fs, kind); err != nil {
		return usageError(stderr, computeUsage, "%v", err)
	}
	ws, err := openWorkspace(ctx, *dir)
	if err != nil {
		return err
	}
	defer ws.Close()
	if kind == "cluster" {
		_, lookup := ws.ComputeTarget(ctx, name)
		if err := ws.CreateCompute(ctx, name, c); err != nil {
			return err
		}
		verb := "created"
		if lookup == nil {
			verb = "found (same settings)"
		}
		fmt.Fprintf(stdout, "%s managed cluster %s in %s\n", verb, name, ws.Dir())
		return nil
	}
	_, lookup := ws.ComputeTarget(ctx, name)
	if err := ws.CreateLocalCompute(ctx, name, sdk.LocalCompute{MaxConcurrentRuns: *maxRuns}); err != nil {
		return err
	}
	if lookup == nil {
		fmt.Fprintf(stdout, "local target %s exists already in %s, with these settings\n", name, ws.Dir())
		return nil
	}
	fmt.Fprintf(stdout, "created local target %s in %s\n", name, ws.Dir())
	return nil
}

// localFlag reports whether name is an option of compute create local;
// the others, but --workspace, are those of clusters.
func localFlag(name string) bool { return name == "max-concurrent" }

// onlyFlagsOf refuses the flags set on fs that belong to the other kind.
func onlyFlagsOf(fs *flag.FlagSet, kind string) error {
	var err error
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "workspace" || err != nil || localFlag(f.Name) == (kind == "local") {
			return
		}
		other := "cluster"
		if localFlag(f.Name) {
			other = "local"
		}
		err = fmt.Errorf("compute create %s: --%s is an option of %s targets", kind, f.Name, other)
	})
	return err
}

// attachSSH is `gantry compute attach ssh NAME ...`: connect, install the
// agent, describe the machine and save the target.
// attachSpark is `gantry compute attach spark NAME --master URL ...`.
func attachSpark(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, dir := newFlags("compute attach", computeUsage, stderr)
	var c sdk.SparkCompute
	fs.StringVar(&c.Master, "master", "", "the standalone master's URL, spark://HOST:PORT (required)")
	fs.StringVar(&c.SecretEnv, "secret-env", "", "the environment variable that holds the cluster's shared secret")
	fs.BoolVar(&c.NoAuth, "no-auth", false, "the cluster runs without spark.authenticate (anyone who reaches it may run code)")
	fs.StringVar(&c.SparkSubmit, "spark-submit", "", "the spark-submit to run (default: $SPARK_HOME's, else beside the environment's python, else on PATH)")
	fs.IntVar(&c.MaxConcurrentRuns, "max-concurrent", 0, "the most applications Gantry runs there at once (0: no cap)")
	pos, _, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usageError(stderr, computeUsage, "compute attach spark: want NAME, such as: gantry compute attach spark lake --master spark://HOST:7077 --secret-env SPARK_SECRET")
	}
	ws, err := openWorkspace(ctx, *dir)
	if err != nil {
		return err
	}
	defer ws.Close()
	info, err := ws.AttachSparkCompute(ctx, pos[1], c)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "attached Spark target %s: %s\n", pos[1], info)
	return nil
}

func attachSSH(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "spark" {
		return attachSpark(ctx, args, stdout, stderr)
	}
	fs, dir := newFlags("compute attach", computeUsage, stderr)
	var c sdk.SSHCompute
	fs.StringVar(&c.Address, "address", "", "the machine's host name or IP (required)")
	fs.IntVar(&c.Port, "port", 0, "its SSH port (default 22)")
	fs.StringVar(&c.User, "user", "", "the user to log in as (required)")
	fs.StringVar(&c.KeyFile, "key", "", "a private key file")
	fs.StringVar(&c.PassphraseEnv, "passphrase-env", "", "the environment variable that holds the key's passphrase")
	fs.StringVar(&c.PasswordEnv, "password-env", "", "the environment variable that holds the password")
	fs.StringVar(&c.KnownHosts, "known-hosts", "", "the known_hosts file host keys are checked against (default ~/.ssh/known_hosts)")
	fs.BoolVar(&c.TrustOnFirstUse, "trust-on-first-use", false, "trust and record the host key of a host known_hosts lacks")
	jump := fs.String("jump", "", "a jump host, USER@HOST[:PORT], logged in to as the machine is")
	fs.StringVar(&c.RemoteRoot, "remote-root", "", "where runs and caches live on the machine (default ~/.gantry-remote)")
	fs.IntVar(&c.MaxConcurrentRuns, "max-concurrent", 0, "the most runs that execute at once there (0: no cap)")
	pos, _, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 || pos[0] != "ssh" {
		return usageError(stderr, computeUsage, "compute attach: want ssh NAME, such as: gantry compute attach ssh gpu-box --address HOST --user USER --key FILE")
	}
	if c.Address == "" || c.User == "" {
		return usageError(stderr, computeUsage, "compute attach ssh: --address and --user are required")
	}
	if *jump != "" {
		if err := c.SetJump(*jump); err != nil {
			return fmt.Errorf("compute attach ssh: %w", err)
		}
	}
	ws, err := openWorkspace(ctx, *dir)
	if err != nil {
		return err
	}
	defer ws.Close()
	name := pos[1]
	_, lookup := ws.ComputeTarget(ctx, name)
	probe, err := ws.AttachSSHCompute(ctx, name, c)
	if err != nil {
		return err
	}
	if lookup == nil {
		fmt.Fprintf(stdout, "SSH target %s (%s@%s) is attached already in %s, with these settings\n", name, c.User, c.Address, ws.Dir())
	} else {
		fmt.Fprintf(stdout, "attached SSH target %s (%s@%s) in %s\n", name, c.User, c.Address, ws.Dir())
	}
	probe.Describe(stdout)
	return nil
}
