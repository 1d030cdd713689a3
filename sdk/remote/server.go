package remote

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"gantry/nbrun"
	"gantry/sdk/agent"
	"gantry/sdk/journal"
	"gantry/sdk/runlock"
	"gantry/sdk/snapshot"
)

// A Server acts for the SDK on the remote machine, under Root:
//
//	Root/bin/      gantry binaries, by content hash
//	Root/blobs/    the snapshot blob cache
//	Root/envs/     system-managed environments, by spec hash
//	Root/runs/ID/  one directory per run, as on the local target
//	Root/targets/  slot locks for MaxConcurrentRuns
type Server struct {
	Root    string
	Exe     string // this binary, which runs the agents
	Version string

	mu      sync.Mutex
	started map[string]chan struct{} // agents this server started, closed when they exit
	slurm   map[string]slurmState    // squeue's last word on batch runs
	lacking map[string][]string      // by run: the blobs its prepare found missing
	swept   map[string]bool          // runs whose dead agent's leftovers were stopped
}

// alive reports whether the run's agent runs. An agent this server
// started is alive until it exits (right after the fork its command line
// is still this server's); any other is judged by its PID file.
func (s *Server) alive(dir, runID string) bool {
	if isBatch(dir) {
		return s.batchActive(context.Background(), runID)
	}
	s.mu.Lock()
	done, ok := s.started[runID]
	s.mu.Unlock()
	if ok {
		select {
		case <-done:
			return false
		default:
			return true
		}
	}
	_, alive := agentPID(dir, runID)
	return alive
}

// sweep stops what the script of a run whose agent died left running
// (its children: the script itself dies with its agent), once per run.
func (s *Server) sweep(dir, runID string) {
	s.mu.Lock()
	done := s.swept[runID]
	if s.swept == nil {
		s.swept = map[string]bool{}
	}
	s.swept[runID] = true
	s.mu.Unlock()
	if !done && !isBatch(dir) {
		_, _ = agent.StopOrphans(dir, runID)
	}
}

// Layout of Root.
func (s *Server) blobsDir() string { return filepath.Join(s.Root, "blobs") }
func (s *Server) runsDir() string  { return filepath.Join(s.Root, "runs") }

// RunDir returns the directory of run id under root, refusing IDs that
// are not a single path element.
func RunDir(root, id string) (string, error) {
	if id == "" || strings.ContainsAny(id, `/\`) || id == "." || id == ".." || !filepath.IsLocal(id) {
		return "", fmt.Errorf("run ID %q is not a valid run ID", id)
	}
	return filepath.Join(root, "runs", id), nil
}

// Serve answers requests read from r on w until r ends or ctx is done.
func (s *Server) Serve(ctx context.Context, r io.Reader, w io.Writer) error {
	for _, d := range []string{s.blobsDir(), s.runsDir(), filepath.Join(s.Root, "envs"), filepath.Join(s.Root, "targets")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("remote root %s: %w", s.Root, err)
		}
	}
	store, err := snapshot.NewBlobStore(s.blobsDir())
	if err != nil {
		return err
	}
	var wmu sync.Mutex
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for {
		var req Request
		if err := readFrame(r, &req); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("read request: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp := s.handle(ctx, store, &req)
			resp.ID = req.ID
			wmu.Lock()
			defer wmu.Unlock()
			if _, err := writeFrame(w, resp); err != nil {
				cancel()
			}
		}()
	}
}

func (s *Server) handle(ctx context.Context, store *snapshot.BlobStore, req *Request) *Response {
	resp, err := s.do(ctx, store, req)
	if err != nil {
		return &Response{Err: err.Error()}
	}
	return resp
}

func (s *Server) do(ctx context.Context, store *snapshot.BlobStore, req *Request) (*Response, error) {
	switch req.Op {
	case OpHello:
		return &Response{Hello: &Hello{Version: s.Version, GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, Root: s.Root, PID: os.Getpid()}}, nil
	case OpProbe:
		p := probe(ctx, s.Root)
		return &Response{Probe: &p}, nil
	case OpPut:
		return &Response{}, s.put(ctx, store, req)
	case OpPrepare:
		if err := s.prepare(req); err != nil {
			return nil, err
		}
		missing, blobs, err := s.missing(store, req.Run)
		if err != nil {
			return nil, err
		}
		s.mu.Lock()
		if s.lacking == nil {
			s.lacking = map[string][]string{}
		}
		s.lacking[req.Run] = missing
		s.mu.Unlock()
		return &Response{Missing: missing, Blobs: blobs}, nil
	case OpStart:
		if err := s.complete(store, req.Run); err != nil {
			return nil, err
		}
		pid, err := s.start(req.Run)
		return &Response{PID: pid}, err
	case OpRead:
		return s.read(ctx, req)
	case OpCancel:
		dir, err := RunDir(s.Root, req.Run)
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("cancel run %s: %w", req.Run, err)
		}
		if err := os.WriteFile(filepath.Join(dir, journal.CancelFile), []byte(time.Now().Format(time.RFC3339Nano)), 0o600); err != nil {
			return nil, err
		}
		if isBatch(dir) {
			return &Response{}, s.cancelBatch(ctx, dir, req.Run)
		}
		return &Response{}, nil
	case OpCommit:
		dir, err := RunDir(s.Root, req.Run)
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
			return &Response{}, nil // nothing to start: reads will tell the follower
		}
		return &Response{}, runlock.MarkCommitted(dir)
	case OpOutputs:
		return s.outputs(req.Run)
	case OpSubmit:
		if err := s.complete(store, req.Run); err != nil {
			return nil, err
		}
		return s.submitBatch(ctx, req)
	case OpKernel:
		var language, python string
		if len(req.Args) > 0 {
			language = req.Args[0]
		}
		if len(req.Args) > 1 {
			python = req.Args[1]
		}
		spec, err := (&nbrun.Kernels{Python: python, Self: s.Exe}).Find(ctx, req.Name, language)
		if err != nil {
			return nil, err
		}
		return &Response{Data: []byte(strings.Join(spec.Argv, " "))}, nil
	}
	return nil, fmt.Errorf("unknown operation %q: the remote gantry is older than this one", req.Op)
}

// put appends a chunk to a blob being uploaded and installs the blob once
// its last chunk has arrived and its content matches its hash.
func (s *Server) put(ctx context.Context, store *snapshot.BlobStore, req *Request) error {
	if store.Path(req.Hash) == "" {
		return fmt.Errorf("put: %q is not a SHA-256 digest", req.Hash)
	}
	inc := filepath.Join(s.blobsDir(), "incoming")
	if err := os.MkdirAll(inc, 0o700); err != nil {
		return err
	}
	part := filepath.Join(inc, req.Hash+".part")
	flags := os.O_CREATE | os.O_WRONLY | os.O_APPEND
	if req.Offset == 0 {
		flags |= os.O_TRUNC
	}
	f, err := os.OpenFile(part, flags, 0o600)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err == nil && fi.Size() != req.Offset {
		err = fmt.Errorf("put %s: chunk at offset %d, but %d bytes have arrived: start the upload again", req.Hash, req.Offset, fi.Size())
	}
	if err == nil {
		_, err = f.Write(req.Data)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil || !req.Last {
		return err
	}
	defer os.Remove(part)
	in, err := os.Open(part)
	if err != nil {
		return err
	}
	defer in.Close()
	sum, _, err := store.Put(ctx, in)
	if err != nil {
		return err
	}
	if sum != req.Hash {
		return fmt.Errorf("put: the content sent as %s hashes to %s: it was corrupted on the way", req.Hash, sum)
	}
	return nil
}

// prepare writes a run's directory.
func (s *Server) prepare(req *Request) error {
	dir, err := RunDir(s.Root, req.Run)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o700); err != nil {
		return err
	}
	for _, f := range req.Files {
		if !filepath.IsLocal(f.Path) {
			return fmt.Errorf("prepare run %s: %q is not a path inside the run's directory", req.Run, f.Path)
		}
		p := filepath.Join(dir, f.Path)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return err
		}
		mode := fs.FileMode(f.Mode) & fs.ModePerm
		if mode == 0 {
			mode = 0o600
		}
		data := f.Data
		if f.Gzip {
			if data, err = gunzip(f.Data); err != nil {
				return fmt.Errorf("prepare run %s: %s: %w", req.Run, f.Path, err)
			}
		}
		if err := os.WriteFile(p+".tmp", data, mode); err != nil {
			return err
		}
		if err := os.Rename(p+".tmp", p); err != nil {
			return err
		}
	}
	return nil
}

// maxUnzipped bounds a file of a run's directory sent compressed.
const maxUnzipped = 1 << 30

func gunzip(b []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("not gzip data: %w", err)
	}
	out, err := io.ReadAll(io.LimitReader(zr, maxUnzipped+1))
	if err != nil {
		return nil, fmt.Errorf("corrupt gzip data: %w", err)
	}
	if len(out) > maxUnzipped {
		return nil, fmt.Errorf("over %d bytes uncompressed", maxUnzipped)
	}
	return out, nil
}

// missing returns the blobs named by a prepared run's snapshot manifest
// that the cache lacks (what the client sends before it starts the run),
// and how many distinct blobs it names. A run prepared without a manifest
// lacks nothing here.
func (s *Server) missing(store *snapshot.BlobStore, runID string) (missing []string, blobs int, err error) {
	dir, err := RunDir(s.Root, runID)
	if err != nil {
		return nil, 0, err
	}
	f, err := os.Open(filepath.Join(dir, manifestFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, nil // no snapshot: nothing to send (the agent says what it lacks)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("run %s: %w", runID, err)
	}
	defer f.Close()
	var m snapshot.Manifest
	if err := m.Decode(f); err != nil {
		return nil, 0, fmt.Errorf("run %s: %w", runID, err)
	}
	seen := map[string]bool{}
	for _, e := range m.Entries {
		if e.SHA256 == "" || seen[e.SHA256] {
			continue
		}
		seen[e.SHA256] = true
		ok, err := store.Has(e.SHA256)
		if err != nil {
			return nil, 0, err
		}
		if !ok {
			missing = append(missing, e.SHA256)
		}
	}
	return missing, len(seen), nil
}

// complete refuses to start a run whose snapshot the cache does not hold
// in full. When this server prepared the run, only the blobs its prepare
// found missing are checked again.
func (s *Server) complete(store *snapshot.BlobStore, runID string) error {
	s.mu.Lock()
	missing, ok := s.lacking[runID]
	s.mu.Unlock()
	if !ok {
		var err error
		if missing, _, err = s.missing(store, runID); err != nil {
			return err
		}
	}
	var still []string
	for _, h := range missing {
		has, err := store.Has(h)
		if err != nil {
			return err
		}
		if !has {
			still = append(still, h)
		}
	}
	if len(still) > 0 {
		return fmt.Errorf("run %s: %d blobs of its snapshot are not in the cache (first %s): send them, then start it", runID, len(still), still[0])
	}
	s.mu.Lock()
	delete(s.lacking, runID)
	s.mu.Unlock()
	return nil
}

// manifestFile is the run's snapshot manifest (as agent.ManifestFile).
const manifestFile = "snapshot.manifest"

// pidFile is where the agent of a run writes its process ID (as
// agent.PIDFile).
const pidFile = "agent.pid"

// agentPID returns the PID of the run's agent if it still runs.
func agentPID(dir, runID string) (int, bool) {
	b, err := os.ReadFile(filepath.Join(dir, pidFile))
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	// The PID may have been reused: on Linux, check it is this run's agent.
	if cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil {
		return pid, bytes.Contains(cmdline, []byte(runID))
	}
	err = syscall.Kill(pid, 0)
	return pid, err == nil || errors.Is(err, syscall.EPERM)
}

// start launches the run's agent in a session of its own, so that it
// outlives this server and the SSH connection; a run whose agent already
// runs, or has run, is not started again.
func (s *Server) start(runID string) (int, error) {
	dir, err := RunDir(s.Root, runID)
	if err != nil {
		return 0, err
	}
	if pid, alive := agentPID(dir, runID); alive || s.alive(dir, runID) {
		return pid, nil
	}
	if _, err := os.Stat(filepath.Join(dir, journal.FileName)); err == nil {
		return 0, fmt.Errorf("run %s was started before and its agent has ended", runID)
	}
	out, err := os.OpenFile(filepath.Join(dir, "logs", "agent.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return 0, fmt.Errorf("start run %s: %w", runID, err)
	}
	defer out.Close()
	cmd := exec.Command(s.Exe, "agent", "--journal", "--await-commit", "--root", s.Root, "--run", runID)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start the agent of run %s: %w", runID, err)
	}
	pid := cmd.Process.Pid
	// The agent writes its PID itself; write it here too, so a status
	// check right after start sees it.
	_ = os.WriteFile(filepath.Join(dir, pidFile), []byte(strconv.Itoa(pid)), 0o600)
	done := make(chan struct{})
	s.mu.Lock()
	if s.started == nil {
		s.started = map[string]chan struct{}{}
	}
	s.started[runID] = done
	s.mu.Unlock()
	go func() { _ = cmd.Wait(); close(done) }()
	return pid, nil
}

// maxRead bounds one read's data.
const maxRead = 8 << 20

// read returns a run's file from an offset, waiting up to WaitMS for it to
// grow past the offset (a long poll).
func (s *Server) read(ctx context.Context, req *Request) (*Response, error) {
	dir, err := RunDir(s.Root, req.Run)
	if err != nil {
		return nil, err
	}
	path, err := inside(dir, req.Name)
	if err != nil {
		return nil, err
	}
	limit := req.Max
	if limit <= 0 || limit > maxRead {
		limit = maxRead
	}
	wait := time.Duration(min(max(req.WaitMS, 0), 10000)) * time.Millisecond
	deadline := time.Now().Add(wait)
	for {
		resp := &Response{}
		resp.Alive = s.alive(dir, req.Run)
		if !resp.Alive {
			s.sweep(dir, req.Run)
		}
		if fi, err := os.Stat(filepath.Join(dir, journal.HeartbeatFile)); err == nil {
			resp.HeartbeatAgeMS = time.Since(fi.ModTime()).Milliseconds()
		} else {
			resp.HeartbeatAgeMS = -1
		}
		fi, err := os.Stat(path)
		switch {
		case err == nil:
			resp.Size = fi.Size()
		case !errors.Is(err, fs.ErrNotExist):
			return nil, err
		}
		if resp.Size > req.Offset || !resp.Alive || !time.Now().Before(deadline) {
			if resp.Size > req.Offset {
				resp.Data, err = readInside(dir, path, req.Offset, limit)
				if err != nil {
					return nil, err
				}
			}
			return resp, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// inside resolves name inside dir, refusing paths that leave it, through
// ".." or through a symlink.
func inside(dir, name string) (string, error) {
	if !filepath.IsLocal(name) {
		return "", fmt.Errorf("%q is not a path inside the run's directory", name)
	}
	p := filepath.Join(dir, name)
	real, err := filepath.EvalSymlinks(p)
	if errors.Is(err, fs.ErrNotExist) {
		// Missing: fine, unless a dangling symlink is what is missing.
		if fi, lerr := os.Lstat(p); lerr == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return "", fmt.Errorf("%q is a symlink to nothing: not served", name)
		}
		return p, nil
	}
	if err != nil {
		return "", err
	}
	rdir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", err
	}
	if rel, err := filepath.Rel(rdir, real); err != nil || !filepath.IsLocal(rel) {
		return "", fmt.Errorf("%q leads out of the run's directory (through a symlink): not served", name)
	}
	return p, nil
}

// outputs lists the regular files under the run's outputs/, not following
// symlinks.
func (s *Server) outputs(runID string) (*Response, error) {
	dir, err := RunDir(s.Root, runID)
	if err != nil {
		return nil, err
	}
	root := filepath.Join(dir, "outputs")
	resp := &Response{}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		resp.Files = append(resp.Files, File{Path: filepath.ToSlash(rel), Mode: uint32(fi.Mode().Perm()), Size: fi.Size()})
		return nil
	})
	return resp, err
}

// readInside reads path from offset, at most limit bytes, checking on the
// open file that it is inside dir: a symlink swapped in after inside()
// looked is not followed out.
func readInside(dir, path string, offset int64, limit int) ([]byte, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if real, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", f.Fd())); err == nil {
		rdir, err := filepath.EvalSymlinks(dir)
		if err != nil {
			return nil, err
		}
		if rel, err := filepath.Rel(rdir, real); err != nil || !filepath.IsLocal(rel) {
			return nil, fmt.Errorf("%s leads out of the run's directory: not served", path)
		}
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return nil, err
	}
	return io.ReadAll(io.LimitReader(f, int64(limit)))
}
