package magics

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a command's
// stdout and stderr, which signals each write.
type syncBuffer struct {
	mu    sync.Mutex
	b     bytes.Buffer
	wrote chan struct{}
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{wrote: make(chan struct{}, 1)} }

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.b.Write(p)
	select {
	case s.wrote <- struct{}{}:
	default:
	}
	return n, err
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor waits until the buffer contains a line for which ok returns a
// value, or fails the test after a minute.
func (s *syncBuffer) waitFor(t *testing.T, ok func(string) bool) {
	t.Helper()
	timeout := time.After(time.Minute)
	for !ok(s.String()) {
		select {
		case <-s.wrote:
		case <-timeout:
			t.Fatalf("output never matched; got %q", s.String())
		}
	}
}

func TestRunShell(t *testing.T) {
	tests := []struct {
		name    string
		cmd     string
		out     string
		wantErr string
	}{
		{"order across stdout and stderr", "echo a; echo b >&2; echo c", "a\nb\nc\n", ""},
		{"exit status", "echo partial; exit 3", "partial\n", "command exited with status 3"},
		{"stdin is empty", "cat; echo done", "done\n", ""},
		{"killed by signal", "kill -TERM $$", "", "command killed by signal terminated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := newSyncBuffer()
			err := RunShell(context.Background(), tt.cmd, out, out)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || err.Error() != tt.wantErr) {
				t.Errorf("RunShell(%q) error = %v, want %q", tt.cmd, err, tt.wantErr)
			}
			if got := out.String(); got != tt.out {
				t.Errorf("RunShell(%q) output = %q, want %q", tt.cmd, got, tt.out)
			}
		})
	}
}

func TestRunShellStreamsAndInterrupts(t *testing.T) {
	// The background sleep ignores SIGINT (a non-interactive shell starts
	// background jobs so), so only the SIGKILL to the group stops it.
	out := newSyncBuffer()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- RunShell(ctx, "sleep 30 & echo $!; echo $$; wait", out, out)
	}()
	// Both PIDs arrive while the command is still running: the output is
	// streamed, not held until the end.
	out.waitFor(t, func(s string) bool { return strings.Count(s, "\n") >= 2 })
	var pids []int
	for _, f := range strings.Fields(out.String()) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("output %q: %v", out.String(), err)
		}
		pids = append(pids, pid)
	}
	select {
	case err := <-done:
		t.Fatalf("RunShell returned before the interrupt: %v", err)
	default:
	}
	cancel()
	err := <-done
	if err == nil || !strings.Contains(err.Error(), "interrupted") || !errors.Is(err, context.Canceled) {
		t.Errorf("RunShell after cancel: error = %v, want one saying it was interrupted, wrapping context.Canceled", err)
	}
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("process %d is still running after RunShell returned", pid)
		}
	}
}

func TestRunShellCancelledBeforeStart(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out := newSyncBuffer()
	err := RunShell(ctx, "echo ran", out, out)
	if !errors.Is(err, context.Canceled) || out.String() != "" {
		t.Errorf("RunShell with a done context = %v, output %q; want context.Canceled and no output", err, out.String())
	}
}

// alive reports whether pid is a running process; a zombie waiting to be
// reaped by whatever adopted it is not running.
func alive(pid int) bool {
	if errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z' && s[i+2] != 'X'
}
