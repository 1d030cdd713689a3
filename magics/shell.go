package magics

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const (
	// killGrace is how long an interrupted shell command has between
	// SIGINT and SIGKILL.
	killGrace = 2 * time.Second
	// pipeGrace is how long RunShell keeps reading output after the shell
	// exits, for background processes that still hold its stdout.
	pipeGrace = time.Second
)

// RunShell runs cmd with /bin/sh -c in a process group of its own, stdin
// from /dev/null, writing its output to stdout and stderr as it is produced.
// Unless stdout and stderr are the same writer, they are written from two
// goroutines at once.
//
// When ctx is done (the cell was interrupted) the group gets SIGINT, and
// SIGKILL if anything in it is still running killGrace later; RunShell then
// returns an error that wraps ctx's error. A non-zero exit is an error
// "command exited with status N".
func RunShell(ctx context.Context, cmd string, stdout, stderr io.Writer) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("shell command not run: %w", err)
	}
	c := exec.Command("/bin/sh", "-c", cmd)
	c.Stdout, c.Stderr = stdout, stderr
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.WaitDelay = pipeGrace
	if err := c.Start(); err != nil {
		return fmt.Errorf("start shell command: %w", err)
	}
	pgid := c.Process.Pid

	exited := make(chan struct{})
	stopped := make(chan struct{}) // closed once the group is gone or killed
	go func() {
		defer close(stopped)
		select {
		case <-exited:
			return
		case <-ctx.Done():
		}
		_ = syscall.Kill(-pgid, syscall.SIGINT)
		if waitGroup(pgid, killGrace) {
			return
		}
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		waitGroup(pgid, killGrace) // SIGKILL cannot be caught; this is quick
	}()

	err := c.Wait()
	close(exited)
	if ctx.Err() != nil {
		<-stopped
		return fmt.Errorf("shell command interrupted: %w", context.Cause(ctx))
	}
	var ee *exec.ExitError
	switch {
	case err == nil, errors.Is(err, exec.ErrWaitDelay):
		// ErrWaitDelay: the shell succeeded but left a background
		// process holding its output; that process keeps running.
		return nil
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return fmt.Errorf("command killed by signal %v", ws.Signal())
		}
		return fmt.Errorf("command exited with status %d", ee.ExitCode())
	default:
		return fmt.Errorf("run shell command: %w", err)
	}
}

// waitGroup waits up to d for every process in the group to end and
// reports whether they did.
func waitGroup(pgid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for groupAlive(pgid) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// groupAlive reports whether a process of the group is still running.
// Zombies do not count: a killed background process whose parent shell
// is gone may stay a zombie for as long as PID 1 does not reap it.
func groupAlive(pgid int) bool {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		// No /proc: a group with only zombies left looks alive here.
		return !errors.Is(syscall.Kill(-pgid, 0), syscall.ESRCH)
	}
	for _, e := range entries {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // ended since ReadDir
		}
		// "pid (comm) state ppid pgrp ...": comm may hold spaces and parens.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 3 || f[0] == "Z" || f[0] == "X" {
			continue
		}
		if pg, err := strconv.Atoi(f[2]); err == nil && pg == pgid {
			return true
		}
	}
	return false
}
