package environment

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// tailLines is how many of the last lines of a build log a BuildError
// quotes.
const tailLines = 25

// lineWriter copies a build log, a whole line at a time as each line
// ends, to the caller's writer and to the log file, and keeps the last
// lines for error messages. Errors writing to the caller's writer are
// ignored (the build goes on); errors writing the file are reported by
// err.
type lineWriter struct {
	mu      sync.Mutex
	out     io.Writer
	file    io.Writer
	partial []byte
	tail    []string
	fileErr error
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		w.emit(w.partial[:i+1])
		w.partial = w.partial[i+1:]
	}
	return len(p), nil
}

// Printf writes a whole line (or lines) of Gantry's own.
func (w *lineWriter) Printf(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	w.Write([]byte(s))
}

// Flush ends a last, unterminated line.
func (w *lineWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.partial) > 0 {
		w.emit(append(w.partial, '\n'))
		w.partial = nil
	}
}

func (w *lineWriter) emit(line []byte) {
	w.out.Write(line)
	if _, err := w.file.Write(line); err != nil && w.fileErr == nil {
		w.fileErr = err
	}
	w.tail = append(w.tail, strings.TrimRight(string(line), "\r\n"))
	if len(w.tail) > tailLines {
		w.tail = w.tail[len(w.tail)-tailLines:]
	}
}

// Tail returns the last lines written.
func (w *lineWriter) Tail() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.tail, "\n")
}

// buildEnv is the environment of build commands: the caller's, with pip
// kept from prompting and from checking its own version online.
func buildEnv() []string {
	return append(os.Environ(),
		"PIP_NO_INPUT=1",
		"PIP_DISABLE_PIP_VERSION_CHECK=1",
		"PYTHONUNBUFFERED=1",
	)
}

// command returns a command that runs in its own process group, all of
// which is killed when ctx is done.
func command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = buildEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// run runs a command with its stdout and stderr streamed to w, after a
// "$ command" line. Errors name the step as what ("pip install").
func run(ctx context.Context, w *lineWriter, what, name string, args ...string) error {
	w.Printf("$ %s", commandLine(name, args))
	cmd := command(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = w, w
	err := cmd.Run()
	w.Flush()
	return runErr(ctx, what, err)
}

// output runs a command and returns its stdout; stderr goes to w.
func output(ctx context.Context, w *lineWriter, what, name string, args ...string) ([]byte, error) {
	w.Printf("$ %s", commandLine(name, args))
	var out bytes.Buffer
	cmd := command(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &out, w
	err := cmd.Run()
	w.Flush()
	return out.Bytes(), runErr(ctx, what, err)
}

func runErr(ctx context.Context, what string, err error) error {
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("%s stopped: %w", what, ctx.Err())
	default:
		return fmt.Errorf("%s failed (%w)", what, err)
	}
}

// commandLine renders a command for logs, quoting arguments with spaces or
// shell metacharacters.
func commandLine(name string, args []string) string {
	parts := []string{quote(name)}
	for _, a := range args {
		parts = append(parts, quote(a))
	}
	return strings.Join(parts, " ")
}

func quote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\$`!*?[]{}()<>|&;#~") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
