package agent

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// containerName is the name of a run's container, so the agent can stop
// it: killing the docker CLI does not stop the container.
func containerName(runID string) string { return "gantry-" + runID }

// dockerArgv returns the docker command that runs the job's script in a
// container of the environment's base image. The run's directory is
// mounted at its own path, so every GANTRY_* path, the outputs/ link and
// the track file mean the same inside; the script runs as the agent's
// user, so the files it writes belong to them.
func (a *agent) dockerArgv(script []string, env []string) []string {
	argv := []string{"docker", "run", "--rm", "--init",
		"--name", containerName(a.job.RunID),
		"--user", strconv.Itoa(os.Getuid()) + ":" + strconv.Itoa(os.Getgid()),
		"-v", a.dir + ":" + a.dir,
		"-w", filepath.Join(a.dir, WorkDir),
	}
	for _, kv := range env {
		// Only what describes the run and what the job set: the host's
		// own environment (PATH, HOME, PYTHONHOME) does not belong in the
		// image.
		if strings.HasPrefix(kv, "GANTRY_") || kv == "PYTHONUNBUFFERED=1" || a.jobSets(kv) {
			argv = append(argv, "-e", kv)
		}
	}
	if helper := filepath.Join(a.dir, "gantry-python"); fileExists(helper) {
		argv = append(argv, "-e", "PYTHONPATH="+helper)
	}
	if ids := a.gpus.indices; len(ids) > 0 {
		// The container gets the run's devices, and inside numbers them
		// from 0: the script sees all it is given.
		dev := make([]string, len(ids))
		for i, n := range ids {
			dev[i] = strconv.Itoa(n)
		}
		argv = append(argv, "--gpus", `"device=`+strings.Join(dev, ",")+`"`)
	}
	argv = append(argv, a.job.Environment.Docker.BaseImage)
	return append(argv, script...)
}

// jobSets reports whether the job itself set the variable in kv.
func (a *agent) jobSets(kv string) bool {
	k, _, _ := strings.Cut(kv, "=")
	if _, ok := a.job.EnvVars[k]; ok {
		return true
	}
	_, ok := a.job.Environment.EnvironmentVariables[k]
	return ok
}

// stopContainer stops the run's container: SIGTERM, then SIGKILL after
// grace, as for a local process group.
func (a *agent) stopContainer(grace time.Duration) {
	name := containerName(a.job.RunID)
	ctx, cancel := context.WithTimeout(context.Background(), grace+10*time.Second)
	defer cancel()
	secs := strconv.Itoa(int(grace.Seconds()))
	if err := exec.CommandContext(ctx, "docker", "stop", "--time", secs, name).Run(); err != nil {
		a.logger.Printf("docker stop %s: %v", name, err)
		_ = exec.CommandContext(ctx, "docker", "kill", name).Run()
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
