package runlock

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// holder starts this test binary as a process that takes the lock named
// by what ("submit" or "agent") in dir and holds it until killed or its
// stdin closes; when complete is set it completes a submit instead of
// dying with it.
func holder(t *testing.T, dir, what string, complete bool) (*exec.Cmd, io.WriteCloser) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHolder$")
	cmd.Env = append(os.Environ(), "RUNLOCK_HOLD="+what, "RUNLOCK_DIR="+dir, fmt.Sprintf("RUNLOCK_COMPLETE=%v", complete))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make([]byte, 6)
	if _, err := io.ReadFull(stdout, ready); err != nil || string(ready) != "ready\n" {
		t.Fatalf("holder: %q %v", ready, err)
	}
	return cmd, stdin
}

func TestHelperHolder(t *testing.T) {
	what := os.Getenv("RUNLOCK_HOLD")
	if what == "" {
		t.Skip("a helper process")
	}
	dir := os.Getenv("RUNLOCK_DIR")
	var l *Lock
	var err error
	if what == "submit" {
		l, err = BeginSubmit(dir)
	} else {
		l, err = HoldAgent(dir)
	}
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Print("ready\n")
	io.Copy(io.Discard, os.Stdin) // until the test closes it
	if os.Getenv("RUNLOCK_COMPLETE") == "true" {
		l.Complete()
	}
	os.Exit(0)
}

// eventually polls cond, since the kernel drops a dead process's locks a
// moment after its exit.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
	}
}

func TestSubmitStates(t *testing.T) {
	for _, tc := range []struct {
		name     string
		complete bool
		want     SubmitState
	}{
		{"submitter dies", false, SubmitAbandoned},
		{"submit completes", true, SubmitDone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if st, err := Submit(dir); err != nil || st != SubmitDone {
				t.Fatalf("no lock file: %v %v, want done", st, err)
			}
			cmd, stdin := holder(t, dir, "submit", tc.complete)
			if st, err := Submit(dir); err != nil || st != SubmitInProgress {
				t.Fatalf("while held: %v %v", st, err)
			}
			if _, err := BeginSubmit(dir); err == nil {
				t.Fatal("a second submitter took the lock")
			}
			awaited := make(chan bool, 1)
			go func() {
				ok, _ := AwaitSubmit(context.Background(), dir, 0)
				awaited <- ok
			}()
			if tc.complete {
				stdin.Close()
				cmd.Wait()
			} else {
				cmd.Process.Kill()
				cmd.Wait()
			}
			if ok := <-awaited; ok != tc.complete {
				t.Errorf("AwaitSubmit = %v, want %v", ok, tc.complete)
			}
			eventually(t, fmt.Sprintf("state %v", tc.want), func() bool { st, _ := Submit(dir); return st == tc.want })
			if tc.want == SubmitAbandoned {
				if err := ClearAbandoned(dir); err != nil {
					t.Fatal(err)
				}
				if st, _ := Submit(dir); st != SubmitDone {
					t.Errorf("after ClearAbandoned: %v", st)
				}
			}
		})
	}
}

func TestAgentStates(t *testing.T) {
	dir := t.TempDir()
	if st, err := Agent(dir); err != nil || st != AgentNeverStarted {
		t.Fatalf("no agent yet: %v %v", st, err)
	}
	cmd, _ := holder(t, dir, "agent", false)
	if st, err := Agent(dir); err != nil || st != AgentAlive {
		t.Fatalf("agent running: %v %v", st, err)
	}
	if _, err := HoldAgent(dir); err == nil {
		t.Fatal("a second agent took the lock of a live one")
	}
	cmd.Process.Kill()
	cmd.Wait()
	eventually(t, "agent gone", func() bool { st, _ := Agent(dir); return st == AgentGone })
	// A new agent (a requeued job's) takes the lock over.
	l, err := HoldAgent(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if st, _ := Agent(dir); st != AgentAlive {
		t.Errorf("after takeover: %v", st)
	}
}

// A launcher takes the lock and passes it: the lock is held from before
// the child exists until the child dies, with no moment free between.
func TestPassedAgentLock(t *testing.T) {
	dir := t.TempDir()
	l, err := TakeAgent(dir)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHolder$")
	env := append(os.Environ(), "RUNLOCK_HOLD=agent", "RUNLOCK_DIR="+dir)
	cmd.Env, cmd.ExtraFiles = l.PassTo(env, nil)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	l.Release()
	if st, _ := Agent(dir); st != AgentAlive {
		t.Fatalf("right after the launch: %v", st)
	}
	ready := make([]byte, 6)
	if _, err := io.ReadFull(stdout, ready); err != nil || string(ready) != "ready\n" {
		t.Fatalf("child: %q %v", ready, err)
	}
	stdin.Close()
	cmd.Wait()
	eventually(t, "agent gone", func() bool { st, _ := Agent(dir); return st == AgentGone })
	if _, err := os.Stat(filepath.Join(dir, AgentFile)); err != nil {
		t.Fatal(err)
	}
}

func TestAwaitCommit(t *testing.T) {
	dir := t.TempDir()
	if ok, err := AwaitCommit(context.Background(), dir, 0, 20*time.Millisecond); ok || err != nil {
		t.Fatalf("no marker: %v %v", ok, err)
	}
	go func() {
		time.Sleep(30 * time.Millisecond)
		MarkCommitted(dir)
	}()
	if ok, err := AwaitCommit(context.Background(), dir, 0, time.Minute); !ok || err != nil {
		t.Fatalf("marker: %v %v", ok, err)
	}
}
