package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"gantry/nbrun"
	"gantry/notebook"
)

const nbrunUsage = `Usage:
  gantry nbrun NOTEBOOK [-p NAME VALUE]... [-r NAME VALUE]... [-y YAML] [-f FILE]
      [--out OUT.ipynb] [--html OUT.html] [--kernel NAME] [--python PY]
      [--cwd DIR] [--timeout SECONDS] [--report FILE]

Runs NOTEBOOK on this machine without a Jupyter server, printing each
cell's output as it comes and a progress line per cell; exits 1 with the
failing cell's number and error. Parameters are papermill's: -p types its
value (True, False, None, ints, floats, else a string), -r keeps it a
string, -y and -f read YAML; they go in a cell tagged injected-parameters
after the cell tagged parameters. Gantry (Go) notebooks run on this
binary's kernel; others on their kernelspec, found as Jupyter finds it
($JUPYTER_PATH, the --python environment, the user's and the system's
Jupyter directories).
`

// runNbrun is `gantry nbrun`.
func runNbrun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	params, args, err := notebook.ParseArgs(args, os.ReadFile)
	if err != nil {
		return usageError(stderr, nbrunUsage, "nbrun: %v", err)
	}
	fs, _ := newFlags("nbrun", nbrunUsage, stderr)
	out := fs.String("out", "", "write the executed notebook here")
	html := fs.String("html", "", "write an HTML export of the executed notebook here")
	kernel := fs.String("kernel", "", "run on this kernelspec instead of the notebook's own")
	python := fs.String("python", "", "the Python environment whose kernels are searched, and which runs kernelspecs that start with python")
	cwd := fs.String("cwd", "", "the kernel's working directory (default: the notebook's)")
	timeout := fs.String("timeout", "", "stop a cell that runs longer than this many seconds (default: no limit)")
	report := fs.String("report", "", "write a JSON report (cells executed, duration, the failing cell) here")
	pos, rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 || len(pos) != 1 {
		return usageError(stderr, nbrunUsage, "nbrun: want one NOTEBOOK, got %q", append(pos, rest...))
	}
	var cellTimeout time.Duration
	if *timeout != "" {
		s, err := strconv.ParseFloat(*timeout, 64)
		if err != nil || s <= 0 {
			return usageError(stderr, nbrunUsage, "nbrun: --timeout %q: want a number of seconds", *timeout)
		}
		cellTimeout = time.Duration(s * float64(time.Second))
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("nbrun: %w", err)
	}
	// Ctrl-C or a cancel stops the cell, and the executed notebook is
	// still written.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	_, err = nbrun.Run(ctx, pos[0], nbrun.Options{
		Params: params, Kernel: *kernel, Kernels: nbrun.Kernels{Python: *python, Self: self}, Dir: *cwd,
		Out: *out, HTML: *html, Report: *report, CellTimeout: cellTimeout, Stdout: stdout, Stderr: stderr,
	})
	if err != nil {
		return fmt.Errorf("nbrun %s: %w", pos[0], err)
	}
	return nil
}
