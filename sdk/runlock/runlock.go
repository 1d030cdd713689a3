// Package runlock tells, from file locks in a run's directory, whether the
// processes a run depends on are alive: the one that submitted it, until
// the run is handed to its target, and the agent that carries it out.
//
// Each holds an exclusive flock(2) on a file of its own in the run's
// directory for as long as it lives. The kernel drops a flock when the
// last descriptor of its open file goes, however the holder ends (exit,
// SIGKILL, a crash), so a lock that can be taken means its holder is gone.
// No process ID is trusted: IDs are reused, locks are not.
//
//	submit.lock  held by the submitter from the run's creation until the run
//	             is handed to its target; the submitter removes the file
//	             when the hand-over completed, so a file left behind with no
//	             holder means the submitter died part way
//	agent.lock   held by the run's agent for its whole life (the launcher
//	             takes it and passes it on, so it is held from the moment the
//	             agent exists)
//
// flock is local to a machine (and emulated over NFS), so these checks are
// made by processes on the machine that runs the agent: the local target,
// and the remote server of an SSH target. An agent on another machine
// than its submitter waits instead for a marker file, committed, that the
// submitter has put in the run's directory there once the hand-over was
// recorded (MarkCommitted, AwaitCommit).
package runlock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Files in a run's directory.
const (
	SubmitFile = "submit.lock"
	AgentFile  = "agent.lock"
	CommitFile = "committed"
)

// MarkCommitted puts the hand-over marker in the run's directory (on the
// machine that runs its agent).
func MarkCommitted(runDir string) error {
	return os.WriteFile(filepath.Join(runDir, CommitFile), []byte(time.Now().UTC().Format(time.RFC3339Nano)+"\n"), 0o600)
}

// AwaitCommit waits until the run's directory holds the hand-over marker,
// looking every poll (at least 5 ms), and reports whether it came within
// timeout.
func AwaitCommit(ctx context.Context, runDir string, poll, timeout time.Duration) (bool, error) {
	poll = max(poll, 5*time.Millisecond)
	deadline := time.Now().Add(timeout)
	for {
		if _, err := os.Stat(filepath.Join(runDir, CommitFile)); err == nil {
			return true, nil
		} else if !errors.Is(err, os.ErrNotExist) {
			return false, err
		}
		if time.Now().After(deadline) {
			return false, nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(poll):
		}
	}
}

// A Lock is a held flock on a file of a run's directory.
type Lock struct {
	f    *os.File
	path string
	done bool
}

// File returns the lock's open file, to pass to a child process that is to
// hold the lock on (os/exec's ExtraFiles).
func (l *Lock) File() *os.File { return l.f }

// Release drops the lock (closing this process's descriptor; a child that
// was given the file holds the lock on). Later calls do nothing.
func (l *Lock) Release() error {
	if l.done {
		return nil
	}
	l.done = true
	return l.f.Close()
}

// take takes an exclusive flock on path without waiting long; busy
// reports that another process holds it. A new file appears under path
// only once it is locked (it is made under a temporary name and linked
// into place), so no observer ever finds it unlocked while its holder
// lives. An observer's brief shared lock is waited out.
func take(path string) (l *Lock, busy bool, err error) {
	deadline := time.Now().Add(250 * time.Millisecond)
	for {
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if errors.Is(err, os.ErrNotExist) {
			l, err := create(path)
			if errors.Is(err, os.ErrExist) {
				continue // another process made it first: lock that one
			}
			return l, false, err
		}
		if err != nil {
			return nil, false, err
		}
		err = flock(f, syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return &Lock{f: f, path: path}, false, nil
		}
		f.Close()
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, false, err
		}
		if time.Now().After(deadline) {
			return nil, true, nil
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// create makes path, already locked; it fails with an error matching
// os.ErrExist if path exists.
func create(path string) (*Lock, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	if err := flock(f, syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, err
	}
	if err := os.Link(f.Name(), path); err != nil {
		f.Close()
		return nil, err
	}
	return &Lock{f: f, path: path}, nil
}

func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// BeginSubmit takes the submit lock of the run whose directory is runDir;
// the submitter holds it until Complete (the run was handed to its target)
// or until it dies.
func BeginSubmit(runDir string) (*Lock, error) {
	l, busy, err := take(filepath.Join(runDir, SubmitFile))
	if err != nil {
		return nil, fmt.Errorf("take the submit lock: %w", err)
	}
	if busy {
		return nil, fmt.Errorf("take the submit lock: another process is submitting run %s", filepath.Base(runDir))
	}
	return l, nil
}

// Complete says the hand-over is over: the file goes, then the lock.
// Later calls do nothing.
func (l *Lock) Complete() error {
	if l.done {
		return nil
	}
	err := os.Remove(l.path)
	if rerr := l.Release(); err == nil {
		err = rerr
	}
	return err
}

// A SubmitState is how the submit of a run stands, as its lock file tells.
type SubmitState int

const (
	// SubmitDone: the hand-over completed (or the run was never submitted
	// with a lock: no file).
	SubmitDone SubmitState = iota
	// SubmitInProgress: the submitter lives and holds the lock.
	SubmitInProgress
	// SubmitAbandoned: the file is there and nobody holds it: the
	// submitter died before the hand-over completed.
	SubmitAbandoned
)

// Submit tells how the submit of the run in runDir stands, without waiting.
func Submit(runDir string) (SubmitState, error) {
	path := filepath.Join(runDir, SubmitFile)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return SubmitDone, nil
	}
	if err != nil {
		return SubmitDone, err
	}
	defer f.Close()
	if err := flock(f, syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return SubmitInProgress, nil
		}
		return SubmitDone, err
	}
	// We hold it now: the submitter is gone. The file may have been
	// removed between our open and our lock, by a submitter that completed.
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return SubmitDone, nil
	}
	return SubmitAbandoned, nil
}

// ClearAbandoned removes the submit lock file of a run whose submitter died,
// once the run's end has been recorded; a file someone holds stays.
func ClearAbandoned(runDir string) error {
	path := filepath.Join(runDir, SubmitFile)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if err := flock(f, syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil
		}
		return err
	}
	err = os.Remove(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// AwaitSubmit waits until the submit of the run in runDir has ended and
// reports whether it completed. It polls the lock every poll (at least
// 5 ms), since a blocking flock cannot be interrupted by ctx.
func AwaitSubmit(ctx context.Context, runDir string, poll time.Duration) (completed bool, err error) {
	poll = max(poll, 5*time.Millisecond)
	for {
		st, err := Submit(runDir)
		if err != nil {
			return false, err
		}
		switch st {
		case SubmitDone:
			return true, nil
		case SubmitAbandoned:
			return false, nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(poll):
		}
	}
}

// envAgentLockFD names the descriptor a launcher passed its agent with the
// agent lock held (see Launch and HoldAgent).
const envAgentLockFD = "GANTRY_AGENT_LOCK_FD"

// TakeAgent takes the agent lock of the run in runDir for a launcher that
// is about to start the agent: pass it with PassTo, then Release it.
func TakeAgent(runDir string) (*Lock, error) {
	l, busy, err := take(filepath.Join(runDir, AgentFile))
	if err != nil {
		return nil, fmt.Errorf("take the agent lock: %w", err)
	}
	if busy {
		return nil, fmt.Errorf("an agent is already carrying out run %s", filepath.Base(runDir))
	}
	return l, nil
}

// PassTo makes the child process of env and extra hold the lock: it
// appends the lock's file to extra (the child's descriptors from 3 on) and
// says in the child's environment which descriptor it is.
func (l *Lock) PassTo(env []string, extra []*os.File) ([]string, []*os.File) {
	fd := 3 + len(extra)
	return append(env, fmt.Sprintf("%s=%d", envAgentLockFD, fd)), append(extra, l.f)
}

// HoldAgent makes this process the holder of the agent lock of the run in
// runDir, for its whole life: the lock its launcher passed on, or a new
// one. It fails if another live agent holds it. The descriptor is closed
// on exec, so the script and its children do not hold the lock.
func HoldAgent(runDir string) (*Lock, error) {
	if s := os.Getenv(envAgentLockFD); s != "" {
		os.Unsetenv(envAgentLockFD)
		var fd int
		if _, err := fmt.Sscan(s, &fd); err == nil && fd > 2 {
			f := os.NewFile(uintptr(fd), filepath.Join(runDir, AgentFile))
			if f != nil {
				syscall.CloseOnExec(fd)
				// Make sure it is the lock: taking a lock we hold succeeds.
				if err := flock(f, syscall.LOCK_EX|syscall.LOCK_NB); err == nil {
					return &Lock{f: f, path: f.Name()}, nil
				}
				f.Close()
			}
		}
	}
	return TakeAgent(runDir)
}

// An AgentState is what the agent lock of a run tells.
type AgentState int

const (
	// AgentNeverStarted: no agent lock file; no agent was started for
	// the run (or it was started by a Gantry that kept no lock).
	AgentNeverStarted AgentState = iota
	// AgentAlive: an agent holds the lock.
	AgentAlive
	// AgentGone: the lock file is there and nobody holds it.
	AgentGone
)

func (s AgentState) String() string {
	switch s {
	case AgentAlive:
		return "alive"
	case AgentGone:
		return "gone"
	}
	return "never started"
}

// Agent tells whether the agent of the run in runDir lives, without
// waiting.
func Agent(runDir string) (AgentState, error) {
	f, err := os.Open(filepath.Join(runDir, AgentFile))
	if errors.Is(err, os.ErrNotExist) {
		return AgentNeverStarted, nil
	}
	if err != nil {
		return AgentNeverStarted, err
	}
	defer f.Close()
	if err := flock(f, syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return AgentAlive, nil
		}
		return AgentNeverStarted, err
	}
	return AgentGone, nil
}
