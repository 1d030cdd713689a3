package ssh

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"

	"gantry/sdk/driver"
	"gantry/sdk/remote"
	"gantry/sdk/snapshot"
)

// Driver runs jobs on SSH targets through a Pool of connections.
type Driver struct {
	Pool *Pool
}

var (
	_ driver.Driver       = (*Driver)(nil)
	_ driver.Validator    = (*Driver)(nil)
	_ driver.Recoverer    = (*Driver)(nil)
	_ driver.Committer    = (*Driver)(nil)
	_ driver.KernelFinder = (*Driver)(nil)
)

// State is what a run's handle keeps.
type State struct {
	PID        int    `json:"pid,omitempty"`
	SlurmJob   string `json:"slurm_job,omitempty"` // the batch job's ID on a login node (not a unique key)
	Root       string `json:"root"`                // the remote root on the machine
	BytesSent  int64  `json:"bytes_sent"`          // snapshot bytes sent by this submit
	BlobsSent  int    `json:"blobs_sent"`          // of
	BlobsTotal int    `json:"blobs_total"`         // distinct blobs in the snapshot
	WireBytes  int64  `json:"wire_bytes"`          // all this submit wrote to the connection: run files, blobs, framing
}

// Validate checks a configuration without connecting.
func (d *Driver) Validate(ctx context.Context, config json.RawMessage) error {
	_, err := ParseConfig(config)
	return err
}

// Attach connects to the target, installing the agent there if need be,
// and describes the machine.
func (d *Driver) Attach(ctx context.Context, target string, config json.RawMessage) (*remote.Probe, error) {
	cfg, err := ParseConfig(config)
	if err != nil {
		return nil, err
	}
	c, err := d.Pool.Get(ctx, target, cfg)
	if err != nil {
		return nil, err
	}
	resp, err := c.Call(ctx, remote.Request{Op: remote.OpProbe})
	if err != nil {
		return nil, &StepError{target, "probe", err}
	}
	if cfg.Slurm != nil && resp.Probe.Slurm == "" {
		return nil, &StepError{target, "probe", fmt.Errorf("the machine is to be a Slurm login node, but sbatch is not on its PATH")}
	}
	return resp.Probe, nil
}

// gzipFrom is the size from which a run file travels compressed: the
// snapshot manifest of a large tree is most of what a resubmit sends.
const gzipFrom = 4 << 10

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	zw.Write(b) // writes to a bytes.Buffer do not fail
	zw.Close()
	return buf.Bytes()
}

// runFiles are the files of a run's local directory that its agent needs,
// those of gzipFrom bytes or more compressed.
func runFiles(dir string) ([]remote.File, error) {
	var files []remote.File
	for _, name := range []string{"job.json", "snapshot.manifest", "gantry-python"} {
		root := filepath.Join(dir, name)
		err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) && p == root && name == "gantry-python" {
					return nil
				}
				return err
			}
			if !e.Type().IsRegular() {
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fi, err := e.Info()
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			f := remote.File{Path: filepath.ToSlash(rel), Mode: uint32(fi.Mode().Perm()), Data: b}
			if len(b) >= gzipFrom {
				f.Data, f.Gzip = gzipped(b), true
			}
			files = append(files, f)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read the run's %s: %w", name, err)
		}
	}
	return files, nil
}

// submitTries is how often a submit is tried when the connection drops
// under it; every step is idempotent, so a retry resumes.
const submitTries = 3

// Submit sends the blobs of the run's snapshot that the machine lacks,
// writes the run's directory there and starts its agent, detached. A
// connection that drops meanwhile is made again and the submit resumes.
func (d *Driver) Submit(ctx context.Context, job driver.Job) (driver.Handle, error) {
	cfg, err := ParseConfig(job.Config)
	if err != nil {
		return driver.Handle{}, err
	}
	for try := 1; ; try++ {
		h, err := d.submit(ctx, job, cfg)
		if err == nil || !errors.Is(err, remote.ErrClosed) || try == submitTries {
			return h, err
		}
	}
}

func (d *Driver) submit(ctx context.Context, job driver.Job, cfg Config) (driver.Handle, error) {
	c, err := d.Pool.Get(ctx, job.Target, cfg)
	if err != nil {
		return driver.Handle{}, err
	}
	var wire atomic.Int64
	ctx = remote.WithSentCounter(ctx, &wire)
	files, err := runFiles(job.RunDir)
	if err != nil {
		return driver.Handle{}, err
	}
	// The machine answers with the blobs of the snapshot its cache lacks.
	resp, err := c.Call(ctx, remote.Request{Op: remote.OpPrepare, Run: job.RunID, Files: files})
	if err != nil {
		return driver.Handle{}, fmt.Errorf("prepare the run's directory on %s: %w", job.Target, err)
	}
	st := State{Root: c.Hello.Root, BlobsTotal: resp.Blobs}
	store, err := snapshot.NewBlobStore(filepath.Join(job.WorkspaceDir, "blobs"))
	if err != nil {
		return driver.Handle{}, err
	}
	for _, h := range resp.Missing {
		b, err := store.Open(h)
		if err != nil {
			return driver.Handle{}, err
		}
		n, err := c.Remote().PutBlob(ctx, h, b)
		b.Close()
		if err != nil {
			return driver.Handle{}, fmt.Errorf("send the snapshot to %s: %w", job.Target, err)
		}
		st.BytesSent += n
		st.BlobsSent++
	}
	if cfg.Slurm != nil {
		args := cfg.Slurm.sbatchArgs()
		if job.GPUCount > 0 {
			args = append(args, "--gres=gpu:"+strconv.Itoa(job.GPUCount))
		}
		resp, err = c.Call(ctx, remote.Request{Op: remote.OpSubmit, Run: job.RunID, Nodes: job.NodeCount,
			Requeue: cfg.Slurm.Requeue, Args: args})
		if err != nil {
			return driver.Handle{}, fmt.Errorf("submit the run to Slurm from %s: %w", job.Target, err)
		}
		st.SlurmJob = string(resp.Data)
	} else {
		resp, err = c.Call(ctx, remote.Request{Op: remote.OpStart, Run: job.RunID})
		if err != nil {
			return driver.Handle{}, fmt.Errorf("start the run's agent on %s: %w", job.Target, err)
		}
		st.PID = resp.PID
	}
	st.WireBytes = wire.Load()
	b, _ := json.Marshal(st)
	return driver.Handle{Kind: Kind, State: b}, nil
}

// Cancel tells the run's agent to cancel. When the machine cannot be
// reached the request stays recorded in the workspace, and the follower
// delivers it once the machine answers.
func (d *Driver) Cancel(ctx context.Context, job driver.Job, h driver.Handle) error {
	cfg, err := ParseConfig(job.Config)
	if err != nil {
		return err
	}
	c, err := d.Pool.Get(ctx, job.Target, cfg)
	if err != nil {
		return nil
	}
	_, err = c.Call(ctx, remote.Request{Op: remote.OpCancel, Run: job.RunID})
	return err
}

// Commit tells the run's agent that its hand-over is recorded.
func (d *Driver) Commit(ctx context.Context, job driver.Job, h driver.Handle) error {
	cfg, err := ParseConfig(job.Config)
	if err != nil {
		return err
	}
	c, err := d.Pool.Get(ctx, job.Target, cfg)
	if err != nil {
		return err
	}
	_, err = c.Call(ctx, remote.Request{Op: remote.OpCommit, Run: job.RunID})
	return err
}

// Alive asks the machine whether the run's agent still runs.
func (d *Driver) Alive(ctx context.Context, job driver.Job, h driver.Handle) (bool, error) {
	cfg, err := ParseConfig(job.Config)
	if err != nil {
		return false, err
	}
	c, err := d.Pool.Get(ctx, job.Target, cfg)
	if err != nil {
		return false, err
	}
	resp, err := c.Call(ctx, remote.Request{Op: remote.OpRead, Run: job.RunID, Name: "journal.bin", Offset: 1 << 62})
	if err != nil {
		return false, err
	}
	return resp.Alive, nil
}

// FindKernel looks for a notebook's kernel on the machine.
func (d *Driver) FindKernel(ctx context.Context, target string, config json.RawMessage, k driver.Kernel) error {
	cfg, err := ParseConfig(config)
	if err != nil {
		return err
	}
	c, err := d.Pool.Get(ctx, target, cfg)
	if err != nil {
		return err
	}
	if _, err := c.Call(ctx, remote.Request{Op: remote.OpKernel, Name: k.Name, Args: []string{k.Language, k.Python}}); err != nil {
		return fmt.Errorf("on %s: %w", target, err)
	}
	return nil
}
