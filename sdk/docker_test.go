package sdk

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gantry/internal/gantrytest"
	"gantry/sdk/environment"
	"gantry/sdk/workspace"
)

// fakeDocker puts a stand-in docker CLI first on PATH: it answers
// `version`, runs `run`'s command on this machine (with its -w and -e,
// "python" meaning this python3) recording its argv, and stops a
// container by name. It tests how the agent drives docker, which is our
// logic; no engine runs here to test against.
func fakeDocker(t *testing.T) (logDir string) {
	t.Helper()
	dir := t.TempDir()
	logDir = t.TempDir()
	script := `#!/usr/bin/env python3
import os, signal, sys, time
log = ` + "%q" + `
args = sys.argv[1:]
if args[:1] == ["version"]:
    print("28.0.0"); sys.exit(0)
if args[:1] in (["stop"], ["kill"]):
    name = args[-1]
    open(os.path.join(log, "stopped-" + name), "w").write(" ".join(args))
    try:
        os.killpg(int(open(os.path.join(log, "pid-" + name)).read()), signal.SIGTERM)
    except Exception:
        pass
    sys.exit(0)
if args[:1] == ["run"]:
    i, env, wd, name = 1, {}, None, None
    while args[i].startswith("-"):
        opt = args[i]
        if opt in ("--rm", "--init"):
            i += 1; continue
        val = args[i + 1]
        if opt == "-e":
            k, _, v = val.partition("="); env[k] = v
        elif opt == "-w":
            wd = val
        elif opt == "--name":
            name = val
        i += 2
    image, cmd = args[i], args[i + 1:]
    open(os.path.join(log, "run-" + name), "w").write("\n".join(args))
    open(os.path.join(log, "pid-" + name), "w").write(str(os.getpgrp()))
    if cmd[0] == "python":
        cmd[0] = sys.executable
    os.chdir(wd)
    os.execve(cmd[0], cmd, {**env, "PATH": "/usr/bin:/bin"})
sys.exit("fake docker: unexpected " + " ".join(args))
`
	path := filepath.Join(dir, "docker")
	if err := os.WriteFile(path, []byte(strings.Replace(script, "%q", "'"+logDir+"'", 1)), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return logDir
}

func dockerEnv() *environment.Environment {
	env := environment.New("in-docker")
	env.Docker.Enabled = true
	env.Docker.BaseImage = "python:3.11-slim"
	return env
}

func TestDockerRunDrivesTheEngine(t *testing.T) {
	ws := testWorkspace(t)
	logDir := fakeDocker(t)
	ctx := context.Background()
	src := writeScript(t, `import gantry_run, os
print("in the container, run", os.environ["GANTRY_RUN_ID"])
gantry_run.log("acc", 0.5)
open(os.path.join("outputs", "m.txt"), "w").write("m")
`)
	run, err := ws.Experiment("d").Submit(ctx, ScriptRunConfig{SourceDirectory: src, Script: "train.py",
		RunConfig: RunConfiguration{Target: "local", Environment: dockerEnv(), EnvVars: map[string]string{"SEED": "7"}}})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	st, _, err := run.WaitForCompletion(ctx, WaitOptions{Output: &out, RaiseOnError: true})
	if err != nil || st != workspace.StateCompleted {
		dir, _ := run.Dir()
		agentLog, _ := os.ReadFile(filepath.Join(dir, "logs", "agent.log"))
		t.Fatalf("state %s, err %v\n%s\n%s", st, err, out.String(), agentLog)
	}
	if !strings.Contains(out.String(), "in the container, run "+run.ID) {
		t.Fatalf("output: %q", out.String())
	}
	b, err := os.ReadFile(filepath.Join(logDir, "run-gantry-"+run.ID))
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := run.Dir()
	argv := "\n" + string(b) + "\n"
	for _, want := range []string{"\n--rm\n", "\n-v\n" + dir + ":" + dir + "\n", "\n-w\n" + filepath.Join(dir, "wd") + "\n",
		"\n-e\nGANTRY_RUN_ID=" + run.ID + "\n", "\n-e\nSEED=7\n", "\npython:3.11-slim\npython\n-u\ntrain.py\n"} {
		if !strings.Contains(argv, want) {
			t.Errorf("docker run argv lacks %q:%s", want, argv)
		}
	}
	if strings.Contains(argv, "\nHOME=") || strings.Contains(argv, "\nPATH=") ||
		!strings.Contains(argv, "\nPYTHONPATH="+filepath.Join(dir, "gantry-python")+"\n") {
		t.Errorf("the host's environment leaked into the container:%s", argv)
	}
	m, _ := run.Metrics(ctx)
	if len(m.Series["acc"]) != 1 {
		t.Errorf("metrics from the container: %+v", m)
	}
}

func TestDockerRunCancelStopsTheContainer(t *testing.T) {
	ws := testWorkspace(t)
	logDir := fakeDocker(t)
	ctx := context.Background()
	src := writeScript(t, "import time\nprint('up', flush=True)\ntime.sleep(300)\n")
	run, err := ws.Experiment("d").Submit(ctx, ScriptRunConfig{SourceDirectory: src, Script: "train.py",
		RunConfig: RunConfiguration{Target: "local", Environment: dockerEnv()}})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 400; i++ {
		if st, _ := run.Status(ctx); st == workspace.StateRunning {
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	if err := run.Cancel(ctx); err != nil {
		t.Fatal(err)
	}
	st, _, err := run.WaitForCompletion(ctx, WaitOptions{})
	if err != nil || st != workspace.StateCanceled {
		t.Fatalf("state %s, err %v; want Canceled", st, err)
	}
	if _, err := os.Stat(filepath.Join(logDir, "stopped-gantry-"+run.ID)); err != nil {
		t.Fatalf("the container was not stopped with docker stop: %v", err)
	}
}

// A Docker run that asks for GPUs gets its leased devices with --gpus.
func TestDockerRunGetsItsGPUs(t *testing.T) {
	gantrytest.FakeGPUs(t, 2)
	ws := testWorkspace(t)
	logDir := fakeDocker(t)
	ctx := context.Background()
	run, err := ws.Experiment("d").Submit(ctx, ScriptRunConfig{SourceDirectory: writeScript(t, "print('ok')\n"), Script: "train.py",
		RunConfig: RunConfiguration{Target: "local", Environment: dockerEnv(), GPUCount: 2}})
	if err != nil {
		t.Fatal(err)
	}
	if st, _, err := run.WaitForCompletion(ctx, WaitOptions{RaiseOnError: true}); err != nil {
		t.Fatalf("state %s: %v", st, err)
	}
	b, err := os.ReadFile(filepath.Join(logDir, "run-gantry-"+run.ID))
	if err != nil {
		t.Fatal(err)
	}
	if argv := "\n" + string(b) + "\n"; !strings.Contains(argv, "\n--gpus\n\"device=0,1\"\n") || strings.Contains(argv, "CUDA_VISIBLE_DEVICES") {
		t.Errorf("docker run argv:%s", argv)
	}
}
