package agent

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	"gantry/sdk/runlock"
)

// Launch starts `exe agent --workspace wsDir --run runID` as a process of
// its own session, detached from the caller: it outlives the kernel that
// submitted the run. Its own output goes to logs/agent.out in the run's
// directory. The agent holds the run's agent lock (package runlock) from
// the moment it exists: Launch takes it and passes it on.
func Launch(exe, wsDir, runDir, runID string) (pid int, err error) {
	return LaunchWith(exe, []string{"agent", "--workspace", wsDir, "--run", runID}, nil, runDir, runID)
}

// LaunchWith starts exe with args as Launch starts an agent: detached, in
// its own session, holding the agent lock of the run in runDir, its output
// in logs/agent.out. env is added to this process's environment. A
// pipeline's controller is started this way.
func LaunchWith(exe string, args, env []string, runDir, runID string) (pid int, err error) {
	lock, err := runlock.TakeAgent(runDir)
	if err != nil {
		return 0, fmt.Errorf("launch agent for run %s: %w", runID, err)
	}
	defer lock.Release()
	out, err := os.OpenFile(filepath.Join(runDir, "logs", "agent.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return 0, fmt.Errorf("launch agent for run %s: %w", runID, err)
	}
	defer out.Close()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return 0, fmt.Errorf("launch agent for run %s: %w", runID, err)
	}
	defer devnull.Close()
	cmd := exec.Command(exe, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, out, out
	cmd.Env, cmd.ExtraFiles = lock.PassTo(append(os.Environ(), env...), nil)
	cmd.Dir = runDir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("launch agent for run %s: %w", runID, err)
	}
	pid = cmd.Process.Pid
	// Reap it if this process lives longer than the agent; never block.
	go func() { _ = cmd.Wait() }()
	return pid, nil
}
