package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"syscall"

	"gantry/kernel"
	"gantry/kernel/executor"
)

const version = kernel.Version

func runKernel(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("kernel", flag.ContinueOnError)
	fs.SetOutput(stderr)
	conn := fs.String("connection-file", "", "the Jupyter connection file (JSON)")
	hist := fs.String("history", "", `history database; "-" disables history (default $GANTRY_HISTORY or ~/.local/share/gantry/history.db)`)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *conn == "" && fs.NArg() == 1 {
		*conn = fs.Arg(0)
	}
	if *conn == "" {
		return fmt.Errorf("kernel: --connection-file is required (Jupyter passes it as {connection_file})")
	}
	mem, memText, err := executorMemory()
	if err != nil {
		return err
	}
	_ = mem
	k, err := kernel.New(kernel.Config{
		ConnectionFile: *conn,
		HistoryPath:    *hist,
		MemLimit:       memText,
		Log:            log.New(stderr, "gantry kernel: ", log.LstdFlags),
		// Jupyter's launcher says who started the kernel; with it set,
		// the kernel ends with that process, as ipykernel does.
		WatchParent: os.Getenv("JPY_PARENT_PID") != "",
	})
	if err != nil {
		return err
	}
	return k.Run(ctx)
}

func runExecutor(ctx context.Context) error {
	in := os.NewFile(3, "frames-in")
	out := os.NewFile(4, "frames-out")
	if in == nil || out == nil {
		return fmt.Errorf("executor: fds 3 and 4 are not open: the executor is started by `gantry kernel`, not by hand")
	}
	// Inherited without close-on-exec: set it, or a process a cell starts
	// would hold the kernel's frame pipe open after the executor exits, and
	// the kernel would wait for that process to notice the exit.
	syscall.CloseOnExec(3)
	syscall.CloseOnExec(4)
	mem, _, err := executorMemory()
	if err != nil {
		return err
	}
	gopath := os.Getenv("GANTRY_GOPATH")
	if gopath == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			cache = os.TempDir()
		}
		gopath = filepath.Join(cache, "gantry", "gopath")
	}
	// Goroutines the interpreter starts keep the default stack limit
	// smaller so that runaway recursion fails fast.
	return executor.Run(ctx, executor.Config{
		GoPath:    gopath,
		MemLimit:  mem,
		MaxStack:  256 << 20,
		Traceback: os.Getenv("GANTRY_TRACEBACK"),
	}, in, out)
}
