package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"gantry/sdk/track"
)

// ScriptPIDFile, in a run's directory, holds the process ID of the run's
// script, which leads a process group of its own.
const ScriptPIDFile = "script.pid"

// StopOrphans kills what is left of the script of a run whose agent died:
// every process of the script's process group that carries the run's ID in
// its environment (so a reused group ID never kills a stranger), and the
// run's container if it ran in Docker. The script itself gets SIGKILL
// from the kernel when its agent dies (PR_SET_PDEATHSIG); this ends its
// children. It returns how many processes it signalled.
func StopOrphans(runDir, runID string) (int, error) {
	if job, err := ReadJob(runDir); err == nil && job.Environment.Docker.Enabled {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		_ = exec.CommandContext(ctx, "docker", "kill", containerName(runID)).Run()
		cancel()
	}
	b, err := os.ReadFile(filepath.Join(runDir, ScriptPIDFile))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil // the script never started
	}
	if err != nil {
		return 0, err
	}
	pgid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pgid <= 1 {
		return 0, fmt.Errorf("%s: not a process ID: %q", ScriptPIDFile, b)
	}
	procs, err := os.ReadDir("/proc")
	if err != nil {
		// Without /proc the group cannot be checked: signal it whole.
		if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			return 0, err
		}
		return 1, nil
	}
	mark := []byte(track.EnvRunID + "=" + runID + "\x00")
	n := 0
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if processGroup(pid) != pgid {
			continue
		}
		env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if err != nil || !bytes.Contains(append([]byte{0}, env...), append([]byte{0}, mark...)) {
			continue
		}
		if syscall.Kill(pid, syscall.SIGKILL) == nil {
			n++
		}
	}
	return n, nil
}

// processGroup returns the process group of pid from /proc/PID/stat, or
// -1.
func processGroup(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	// pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return -1
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 3 {
		return -1
	}
	g, err := strconv.Atoi(f[2])
	if err != nil {
		return -1
	}
	return g
}
