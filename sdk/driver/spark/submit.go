package spark

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Trouble that spark-submit's log tells of, which RunSubmit turns into
// one clear line and an early end instead of Spark's minute of retries.
var troubles = []struct {
	marker string
	say    string
}{
	{"SaslException", "the Spark master %s refused the secret (SASL authentication failed): give the target the cluster's secret (its secret_env variable, or %%compute connect to be asked again)"},
	{"A secret key must be specified", "the Spark master %s requires a secret and none was given: the target must name one (secret_env or prompt_secret)"},
	{"All masters are unresponsive", "the Spark master %s did not answer: is the cluster up (scripts/spark.sh status DIR)?"},
}

// RunSubmit is `gantry spark submit`: it runs spark-submit in client mode
// against --master with the secret in $GANTRY_SPARK_SECRET passed in a
// properties file held in memory, copies its output to stdout, and ends
// it early with a clear message when the master refuses the secret or does
// not answer. It returns spark-submit's exit status.
func RunSubmit(ctx context.Context, args []string, stdout io.Writer) (int, error) {
	fs := flag.NewFlagSet("spark submit", flag.ContinueOnError)
	fs.SetOutput(stdout)
	master := fs.String("master", "", "the master's URL, spark://HOST:PORT")
	name := fs.String("name", "gantry", "the application's name")
	submit := fs.String("spark-submit", "", "the spark-submit to run")
	noAuth := fs.Bool("no-auth", false, "the cluster runs without spark.authenticate")
	var confs multiFlag
	fs.Var(&confs, "conf", "a Spark property K=V (repeatable)")
	if err := fs.Parse(args); err != nil {
		return 2, err
	}
	rest := fs.Args()
	if *master == "" || len(rest) == 0 {
		return 2, errors.New("spark submit: usage: gantry spark submit --master URL [--conf K=V ...] -- SCRIPT [ARGS...] (the agent of a run on a Spark target runs it)")
	}
	bin, err := sparkSubmit(*submit)
	if err != nil {
		return 1, err
	}
	props := map[string]string{"spark.ui.enabled": "false"}
	for _, kv := range confs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return 2, fmt.Errorf("spark submit: --conf %q: want K=V", kv)
		}
		props[k] = v
	}
	secret := os.Getenv(EnvSecret)
	os.Unsetenv(EnvSecret)
	if !*noAuth {
		if secret == "" {
			return 1, fmt.Errorf("spark submit: no secret for %s in $%s (the run's agent should have been given it)", *master, EnvSecret)
		}
		props["spark.authenticate"] = "true"
		props["spark.authenticate.secret"] = secret
	}
	var pf strings.Builder
	for k, v := range props {
		fmt.Fprintf(&pf, "%s=%s\n", k, strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(v))
	}
	mem, err := memFile("gantry-spark-properties", []byte(pf.String()))
	if err != nil {
		return 1, fmt.Errorf("spark submit: %w", err)
	}
	defer mem.Close()
	argv := []string{"--master", *master, "--deploy-mode", "client", "--name", *name, "--properties-file", "/dev/fd/3"}
	if c := os.Getenv("GANTRY_SPARK_MAIN_CLASS"); c != "" {
		argv = append(argv, "--class", c)
	}
	argv = append(argv, rest...)
	cmd := exec.CommandContext(ctx, bin, argv...)
	cmd.ExtraFiles = []*os.File{mem}
	cmd.Env = os.Environ()
	if os.Getenv("SPARK_HOME") == "" {
		// pip's spark-submit finds its Spark with the python on PATH;
		// point it at the pyspark of its own venv instead.
		if m, _ := filepath.Glob(filepath.Join(filepath.Dir(bin), "..", "lib", "python3*", "site-packages", "pyspark", "bin", "spark-class")); len(m) > 0 {
			cmd.Env = append(cmd.Env, "SPARK_HOME="+filepath.Clean(filepath.Join(filepath.Dir(m[0]), "..")))
		}
	}
	if h := javaHome(); h != "" && os.Getenv("JAVA_HOME") == "" {
		cmd.Env = append(cmd.Env, "JAVA_HOME="+h)
	}
	if u, err := url.Parse(*master); err == nil && (u.Hostname() == "127.0.0.1" || u.Hostname() == "localhost") {
		// A cluster on this machine: the driver binds the loopback only.
		cmd.Env = append(cmd.Env, "SPARK_LOCAL_IP=127.0.0.1")
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return 1, err
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return 1, fmt.Errorf("spark submit: start %s: %w", bin, err)
	}
	pw.Close()
	var (
		once sync.Once
		told string
	)
	stop := func(msg string) {
		once.Do(func() {
			told = msg
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
			go func() {
				time.Sleep(5 * time.Second)
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			}()
		})
	}
	sc := bufio.NewScanner(pr)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(stdout, line)
		for _, t := range troubles {
			if strings.Contains(line, t.marker) {
				stop(fmt.Sprintf(t.say, *master))
			}
		}
	}
	pr.Close()
	err = cmd.Wait()
	// What the application left in its process group ends with it.
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if told != "" {
		fmt.Fprintf(stdout, "[gantry] %s\n", told)
		return 1, errors.New(told)
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), nil
	}
	if err != nil {
		return 1, fmt.Errorf("spark submit: %w", err)
	}
	return 0, nil
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
