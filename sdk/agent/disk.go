package agent

// What the agent does about a full disk. The run's output log keeps a
// reserve of preallocated space beyond its end, so the last words of a
// script that fills the disk (its traceback, most often) still land in
// the log; every record the agent makes is retried until space returns,
// nothing dropped; and a run that saw the disk full says so in its reason.

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"sync"
	"syscall"
	"time"

	"gantry/sdk/workspace"
)

// fallocate(2) modes (linux/falloc.h), which package syscall does not
// name.
const (
	fallocKeepSize  = 0x1
	fallocPunchHole = 0x2
)

// outputReserve is the space kept preallocated beyond the end of a run's
// output log.
const outputReserve = 1 << 20

// reserve preallocates space in f from its end to n bytes beyond it,
// without changing its size, so that appends up to there need no free
// space. Filesystems that cannot preallocate are left as they are.
func reserve(f *os.File, n int64) {
	fi, err := f.Stat()
	if err != nil {
		return
	}
	_ = syscall.Fallocate(int(f.Fd()), fallocKeepSize, fi.Size(), n)
}

// unreserve gives back the space preallocated beyond f's end.
func unreserve(f *os.File) {
	fi, err := f.Stat()
	if err != nil {
		return
	}
	_ = syscall.Fallocate(int(f.Fd()), fallocKeepSize|fallocPunchHole, fi.Size(), outputReserve*4)
}

// lowSpace is the free space under which the disk counts as full.
const lowSpace = 64 << 10

// diskFree returns the space available to unprivileged users on the
// filesystem of path, or -1 if it cannot be told.
func diskFree(path string) int64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return -1
	}
	return int64(st.Bavail) * int64(st.Bsize)
}

// full reports whether err says the disk is full.
func full(err error) bool {
	return errors.Is(err, workspace.ErrDiskFull) || errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// passing reports whether err is one that retrying cures: a full disk, or
// a database another process holds for long.
func passing(err error) bool { return full(err) || errors.Is(err, workspace.ErrLocked) }

// diskWatch remembers whether the run's disk was seen full.
type diskWatch struct {
	path string // a path on the run's filesystem
	mu   sync.Mutex
	seen time.Time // when it was first seen full; zero if never
}

// note records that the disk was found full now.
func (d *diskWatch) note() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.seen.IsZero() {
		d.seen = time.Now()
	}
}

// check looks at the free space now.
func (d *diskWatch) check() {
	if free := diskFree(d.path); free >= 0 && free < lowSpace {
		d.note()
	}
}

// sawFull returns when the disk was first seen full, and whether it was.
func (d *diskWatch) sawFull() (time.Time, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.seen, !d.seen.IsZero()
}

// persistent is a Recorder that never loses a record to a full disk or a
// busy database: it retries until the record is made, backing off up to
// maxBackoff, and notes the full disk. Heartbeats are not retried (the
// next one follows), and reads are passed through.
type persistent struct {
	Recorder
	disk   *diskWatch
	logger *log.Logger
}

// maxBackoff caps the wait between retries of a record.
const maxBackoff = 2 * time.Second

// retry calls do until it succeeds or fails for a reason retrying does
// not cure. It does not give up when ctx ends: a record of the run's end
// matters more than a prompt exit, and the agent is ended by SIGKILL if
// it must go at once.
func (p *persistent) retry(what string, do func() error) error {
	wait := 50 * time.Millisecond
	var since time.Time
	for {
		err := do()
		if err == nil || !passing(err) {
			if err == nil && !since.IsZero() {
				p.logger.Printf("%s: recorded after %s of retries", what, time.Since(since).Round(time.Millisecond))
			}
			return err
		}
		if full(err) {
			p.disk.note()
		}
		if since.IsZero() {
			since = time.Now()
			p.logger.Printf("%s: %v; retrying until it can be recorded", what, err)
		}
		time.Sleep(wait)
		wait = min(2*wait, maxBackoff)
	}
}

func (p *persistent) Transition(ctx context.Context, runID string, to workspace.State, reason string) error {
	return p.retry("transition to "+string(to), func() error {
		return p.Recorder.Transition(context.WithoutCancel(ctx), runID, to, reason)
	})
}

func (p *persistent) SetExitCode(ctx context.Context, runID string, code int) error {
	return p.retry("exit code", func() error { return p.Recorder.SetExitCode(context.WithoutCancel(ctx), runID, code) })
}

func (p *persistent) SetTag(ctx context.Context, runID, key, value string) error {
	return p.retry(fmt.Sprintf("tag %q", key), func() error {
		return p.Recorder.SetTag(context.WithoutCancel(ctx), runID, key, value)
	})
}

func (p *persistent) LogMetrics(ctx context.Context, runID string, ms []workspace.Metric) error {
	return p.retry(fmt.Sprintf("%d metric points", len(ms)), func() error {
		return p.Recorder.LogMetrics(context.WithoutCancel(ctx), runID, ms)
	})
}

func (p *persistent) Heartbeat(ctx context.Context, runID string) error {
	err := p.Recorder.Heartbeat(ctx, runID)
	if full(err) {
		p.disk.note()
	}
	return err
}
