package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"gantry/sdk/driver/spark"
	"gantry/sdk/workspace"
)

// SparkCompute is the configuration of a Spark target: a standalone
// cluster by its master's URL, and where its shared secret comes from (an
// environment variable, or a prompt; never stored). See package
// gantry/sdk/driver/spark.
type SparkCompute = spark.Config

// sparkDriver returns the driver of Spark targets, which finds secrets
// with the workspace's Secrets.
func (ws *Workspace) sparkDriver() (*spark.Driver, error) {
	exe, err := ws.gantry()
	if err != nil {
		return nil, err
	}
	return &spark.Driver{Exe: exe, Secret: ws.SparkSecret}, nil
}

// SparkSecret returns the secret of the Spark target name: from its
// environment variable, else as answered at a prompt this session.
func (ws *Workspace) SparkSecret(ctx context.Context, name string, c spark.Config) (string, error) {
	if c.NoAuth {
		return "", nil
	}
	d, err := ws.sshDriver() // its Secrets are the session's
	if err != nil {
		return "", err
	}
	v, err := d.Pool.Secrets.Get(ctx, name+"/secret", c.SecretEnv, c.PromptSecret,
		fmt.Sprintf("Secret of the Spark cluster %s (%s):", name, c.Master))
	if err != nil {
		return "", fmt.Errorf("Spark target %q: %w", name, err)
	}
	if v == "" {
		return "", fmt.Errorf("Spark target %q: its secret is empty (%s)", name, secretSource(c))
	}
	return v, nil
}

func secretSource(c spark.Config) string {
	if c.SecretEnv != "" {
		return "$" + c.SecretEnv
	}
	return "asked at a prompt"
}

// SparkInfo is what attaching a Spark cluster found out.
type SparkInfo struct {
	Master        string
	ApplicationID string // of the probe application
	Version       string // Spark's version
}

func (i *SparkInfo) String() string {
	return fmt.Sprintf("Spark %s at %s: the secret was accepted (probe application %s)", i.Version, i.Master, i.ApplicationID)
}

// AttachSparkCompute attaches the Spark standalone cluster c describes
// under name. It checks that the master answers and accepts the secret by
// running a probe application (a few seconds: a JVM starts), and saves the
// target only if that worked; the error says which failed. It is
// get-or-create, as the other targets: an existing target of that name
// with the same settings is probed again, one with other settings refused.
func (ws *Workspace) AttachSparkCompute(ctx context.Context, name string, c SparkCompute) (*SparkInfo, error) {
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
		if err := existing(have, "attach", workspace.KindSpark, cfg, "detach it first (DetachCompute), or pick another name"); err != nil {
			return nil, err
		}
	}
	info, err := ws.probeSpark(ctx, name, c)
	if err != nil {
		return nil, fmt.Errorf("attach %q: %w", name, err)
	}
	if !found {
		if err := ws.w.CreateTarget(ctx, workspace.Target{Name: name, Kind: workspace.KindSpark, Config: cfg,
			ProvisioningState: workspace.ProvisioningSucceeded}); err != nil {
			return nil, fmt.Errorf("attach %q: %w", name, err)
		}
	}
	return info, nil
}

// probeScript is the probe application: it registers with the master and
// leaves.
const probeScript = `from pyspark import SparkContext
sc = SparkContext.getOrCreate()
print("GANTRY-SPARK-PROBE", sc.applicationId, sc.version, flush=True)
sc.stop()
`

var probeLine = regexp.MustCompile(`GANTRY-SPARK-PROBE (\S+) (\S+)`)

// probeSpark runs the probe application on the cluster c.
func (ws *Workspace) probeSpark(ctx context.Context, name string, c spark.Config) (*SparkInfo, error) {
	if err := c.Reachable(ctx); err != nil {
		return nil, err
	}
	secret, err := ws.SparkSecret(ctx, name, c)
	if err != nil {
		return nil, err
	}
	exe, err := ws.gantry()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "gantry-spark-probe")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	script := filepath.Join(dir, "gantry_probe.py")
	if err := os.WriteFile(script, []byte(probeScript), 0o600); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute) // a hang guard: Spark's own retries end sooner
	defer cancel()
	argv := append(spark.Launcher(exe, c, "gantry-probe-"+name)[1:], script)
	cmd := exec.CommandContext(ctx, exe, argv...)
	cmd.Dir = dir
	cmd.Env = os.Environ()
	if !c.NoAuth {
		cmd.Env = append(cmd.Env, spark.EnvSecret+"="+secret)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	runErr := cmd.Run()
	if m := probeLine.FindStringSubmatch(out.String()); m != nil {
		return &SparkInfo{Master: c.Master, ApplicationID: m[1], Version: m[2]}, nil
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("the probe application on %s did not register within 3 minutes; its output ended: %s", c.Master, tail(out.String(), 5))
	}
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(l, "[gantry] ") {
			if strings.Contains(l, "refused the secret") {
				d, _ := ws.sshDriver()
				d.Pool.Secrets.Forget(name + "/secret") // a prompted secret is asked again
			}
			return nil, errors.New(strings.TrimPrefix(l, "[gantry] "))
		}
	}
	return nil, fmt.Errorf("the probe application on %s failed (%v); its output ended: %s", c.Master, runErr, tail(out.String(), 5))
}

// tail returns the last n non-empty lines of s, joined by " | ".
func tail(s string, n int) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			lines = append(lines, strings.TrimSpace(l))
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
