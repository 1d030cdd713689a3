// Package spark is the driver of Spark targets: a Spark standalone cluster
// attached by its master's URL (spark://HOST:PORT) and a shared secret.
//
// A run on a Spark target is carried out by a `gantry agent` on this
// machine, like a local run, whose script is started by spark-submit in
// client mode: the application's driver is a process of the agent, so its
// output, state and metrics (gantry_run works in the driver) are the run's,
// and the executors run on the cluster's workers. The agent runs
//
//	gantry spark submit --master URL [--conf K=V ...] -- SCRIPT ARGS...
//
// (RunSubmit), which starts spark-submit with the cluster's secret and
// says clearly when the master is out of reach or refuses the secret.
//
// # The secret
//
// A standalone master has no users: with spark.authenticate=true, every
// RPC connection must prove it knows the cluster's shared secret (SASL
// DIGEST-MD5, checked by the master, the workers and the executors). The
// target's configuration never holds the secret: it names an environment
// variable that holds it (secret_env), or says to prompt for it
// (prompt_secret), as SSH targets do for passwords. The submitting process
// hands it to the run's agent in the agent's environment
// (GANTRY_SPARK_SECRET), and the agent to spark-submit in a properties file
// that lives in memory only (memfd_create), passed as /dev/fd/3: it is
// never written to disk nor put on a command line. Spark standalone
// requires spark.authenticate.secret in the driver's configuration (the
// _SPARK_AUTH_SECRET variable is for YARN and local mode only).
package spark

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"gantry/sdk/agent"
	"gantry/sdk/driver"
)

// Kind is the target kind this driver runs.
const Kind = "spark"

// EnvSecret is the variable of the agent's environment that holds the
// cluster's secret for `gantry spark submit`.
const EnvSecret = "GANTRY_SPARK_SECRET"

// Config is a Spark target's configuration, kept in the workspace.
type Config struct {
	// Master is the standalone master's URL: spark://HOST:PORT.
	Master string `json:"master"`
	// SecretEnv names the environment variable that holds the cluster's
	// shared secret (spark.authenticate.secret).
	SecretEnv string `json:"secret_env,omitempty"`
	// PromptSecret asks for the secret with hidden input instead, once
	// per kernel session.
	PromptSecret bool `json:"prompt_secret,omitempty"`
	// NoAuth attaches a cluster that runs without spark.authenticate
	// (not recommended: anyone who reaches the master may run code).
	NoAuth bool `json:"no_auth,omitempty"`
	// SparkSubmit is the spark-submit to run; default: $SPARK_HOME's, else
	// the one on PATH.
	SparkSubmit string `json:"spark_submit,omitempty"`
	// Conf holds Spark properties for every application (--conf K=V):
	// spark.executor.memory, say.
	Conf map[string]string `json:"conf,omitempty"`
	// MaxConcurrentRuns caps the applications Gantry runs at once on the
	// cluster (0: no cap).
	MaxConcurrentRuns int `json:"max_concurrent_runs,omitempty"`
}

// ParseConfig reads and checks a Spark target's configuration.
func ParseConfig(raw json.RawMessage) (Config, error) {
	var c Config
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &c); err != nil {
			return c, fmt.Errorf("spark target configuration: %w", err)
		}
	}
	return c, c.Check()
}

// Check reports what is wrong with the configuration, if anything.
func (c Config) Check() error {
	if _, err := c.Address(); err != nil {
		return err
	}
	n := 0
	if c.SecretEnv != "" {
		n++
	}
	if c.PromptSecret {
		n++
	}
	if c.NoAuth {
		n++
	}
	if n != 1 {
		return errors.New("spark target: say where its secret comes from: secret_env (an environment variable's name) or prompt_secret; or no_auth for a cluster without spark.authenticate")
	}
	for k := range c.Conf {
		if !strings.HasPrefix(k, "spark.") {
			return fmt.Errorf("spark target: conf %q is not a Spark property (they begin with spark.)", k)
		}
		if strings.HasPrefix(k, "spark.authenticate") {
			return fmt.Errorf("spark target: conf %q cannot be set here: the secret comes from secret_env or prompt_secret, never from the stored configuration", k)
		}
	}
	if c.MaxConcurrentRuns < 0 {
		return fmt.Errorf("spark target: max_concurrent_runs is %d: use 0 for no cap or a positive number", c.MaxConcurrentRuns)
	}
	return nil
}

// Address returns the master's host:port.
func (c Config) Address() (string, error) {
	u, err := url.Parse(c.Master)
	if err != nil || u.Scheme != "spark" || u.Host == "" || u.Port() == "" {
		return "", fmt.Errorf("spark target: master %q is not a standalone master's URL: give spark://HOST:PORT (port 7077 by default)", c.Master)
	}
	return u.Host, nil
}

// Reachable checks that something listens at the master's address.
func (c Config) Reachable(ctx context.Context) error {
	addr, err := c.Address()
	if err != nil {
		return err
	}
	d := net.Dialer{Timeout: 5 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("the Spark master %s is out of reach (%v): start the cluster (scripts/spark.sh start DIR) or check the address", c.Master, err)
	}
	return conn.Close()
}

// Driver starts the agents of runs on Spark targets, on this machine.
type Driver struct {
	Exe string // the gantry binary
	// Secret returns the secret of the target named target, configured
	// as c (from the environment, or asked for); nil: environment only.
	Secret func(ctx context.Context, target string, c Config) (string, error)
}

var (
	_ driver.Driver    = (*Driver)(nil)
	_ driver.Validator = (*Driver)(nil)
)

// state is what the handle keeps.
type state struct {
	PID int `json:"pid"`
}

// Validate checks a Spark target's configuration.
func (d *Driver) Validate(ctx context.Context, config json.RawMessage) error {
	_, err := ParseConfig(config)
	return err
}

// SecretOf returns the target's secret from secret(ctx, target, c), or
// from the environment when secret is nil; "" for a target without
// authentication.
func SecretOf(ctx context.Context, secret func(context.Context, string, Config) (string, error), target string, c Config) (string, error) {
	if c.NoAuth {
		return "", nil
	}
	if secret != nil {
		return secret(ctx, target, c)
	}
	if c.SecretEnv == "" {
		return "", fmt.Errorf("the secret of Spark target %q is asked for at a prompt, and no one can be asked here: keep it in an environment variable instead (secret_env)", target)
	}
	v, ok := os.LookupEnv(c.SecretEnv)
	if !ok || v == "" {
		return "", fmt.Errorf("the environment variable %s, which should hold the secret of Spark target %q, is not set: set it in the kernel's environment (before starting Jupyter, or with %%env)", c.SecretEnv, target)
	}
	return v, nil
}

// Submit checks that the master answers, makes the run's script start
// through `gantry spark submit`, and starts its agent with the secret in
// its environment.
func (d *Driver) Submit(ctx context.Context, job driver.Job) (driver.Handle, error) {
	if d.Exe == "" {
		return driver.Handle{}, errors.New("spark driver: no gantry binary to run agents with")
	}
	c, err := ParseConfig(job.Config)
	if err != nil {
		return driver.Handle{}, err
	}
	secret, err := SecretOf(ctx, d.Secret, job.Target, c)
	if err != nil {
		return driver.Handle{}, err
	}
	if err := c.Reachable(ctx); err != nil {
		return driver.Handle{}, err
	}
	j, err := agent.ReadJob(job.RunDir)
	if err != nil {
		return driver.Handle{}, err
	}
	if j.Script == "" {
		return driver.Handle{}, errors.New("a run on a Spark target needs a script (a .py file or a .jar) for spark-submit, not a command")
	}
	j.Launcher = Launcher(d.Exe, c, "gantry-"+shortID(job.RunID))
	if err := agent.WriteJob(job.RunDir, j); err != nil {
		return driver.Handle{}, err
	}
	var env []string
	if !c.NoAuth {
		env = append(env, EnvSecret+"="+secret)
	}
	pid, err := agent.LaunchWith(d.Exe, []string{"agent", "--workspace", job.WorkspaceDir, "--run", job.RunID}, env, job.RunDir, job.RunID)
	if err != nil {
		return driver.Handle{}, err
	}
	st, _ := json.Marshal(state{PID: pid})
	return driver.Handle{Kind: Kind, State: st}, nil
}

// Cancel does nothing more: the agent sees the request and ends
// spark-submit's process group, which ends the application.
func (d *Driver) Cancel(ctx context.Context, job driver.Job, h driver.Handle) error { return nil }

// Launcher is the argv that starts a script on the cluster c: `exe spark
// submit` with the master, the target's Spark properties and the
// application's name, ending in "--".
func Launcher(exe string, c Config, appName string) []string {
	argv := []string{exe, "spark", "submit", "--master", c.Master, "--name", appName}
	if c.SparkSubmit != "" {
		argv = append(argv, "--spark-submit", c.SparkSubmit)
	}
	if c.NoAuth {
		argv = append(argv, "--no-auth")
	}
	keys := make([]string, 0, len(c.Conf))
	for k := range c.Conf {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		argv = append(argv, "--conf", k+"="+c.Conf[k])
	}
	return append(argv, "--")
}

// sparkSubmit finds the spark-submit to run: path if given, else
// $SPARK_HOME/bin/spark-submit, else spark-submit beside the Python in
// $GANTRY_PYTHON (a venv with pyspark), else on PATH.
func sparkSubmit(path string) (string, error) {
	if path != "" {
		return path, nil
	}
	if h := os.Getenv("SPARK_HOME"); h != "" {
		if p := filepath.Join(h, "bin", "spark-submit"); isExec(p) {
			return p, nil
		}
	}
	if py := os.Getenv("GANTRY_PYTHON"); py != "" {
		if p := filepath.Join(filepath.Dir(py), "spark-submit"); isExec(p) {
			return p, nil
		}
	}
	p, err := exec.LookPath("spark-submit")
	if err != nil {
		return "", errors.New("spark-submit was not found: install pyspark (pip install pyspark; scripts/setup.sh does) or set the target's spark_submit or SPARK_HOME")
	}
	return p, nil
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// javaHome returns $JAVA_HOME, else a JDK 17 or 21 of Debian's, else "".
func javaHome() string {
	if h := os.Getenv("JAVA_HOME"); h != "" {
		return h
	}
	for _, pat := range []string{"/usr/lib/jvm/java-17-openjdk-*", "/usr/lib/jvm/java-21-openjdk-*"} {
		if m, _ := filepath.Glob(pat); len(m) > 0 {
			return m[0]
		}
	}
	return ""
}

func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// memFile returns a file that lives in memory only, holding data, which a
// child process inherits (os/exec's ExtraFiles).
func memFile(name string, data []byte) (*os.File, error) {
	p, err := syscall.BytePtrFromString(name)
	if err != nil {
		return nil, err
	}
	fd, _, errno := syscall.Syscall(sysMemfdCreate, uintptr(unsafe.Pointer(p)), 0, 0)
	if errno != 0 {
		return nil, fmt.Errorf("memfd_create: %w", errno)
	}
	f := os.NewFile(fd, name)
	if _, err := f.Write(data); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
