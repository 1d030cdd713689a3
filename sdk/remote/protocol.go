// Package remote is the protocol between the SDK and `gantry remote
// serve`, the process the SSH driver starts on a remote machine, once per
// connection, to act for it there: keep a content-addressed cache of
// snapshot blobs, prepare run directories, start detached agents, and
// serve the files they write (journal, logs, outputs) from any offset.
//
// Requests and responses are msgpack-encoded frames, each preceded by its
// 4-byte big-endian length, over the SSH session's stdin and stdout. Every
// request carries an ID its response repeats, so many runs share one
// connection: the server handles requests concurrently and a slow one
// (a long poll on a log) holds up no other.
package remote

import (
	"gantry/sdk/gpu"

	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"

	"github.com/vmihailenco/msgpack/v5"
)

// MaxFrame bounds one frame (64 MiB); blobs travel in chunks well under it.
const MaxFrame = 64 << 20

// ChunkSize is how much of a blob one put request carries.
const ChunkSize = 4 << 20

// The operations.
const (
	OpHello   = "hello"   // -> Hello
	OpProbe   = "probe"   // -> Probe
	OpPut     = "put"     // Hash, Offset, Data, Last: a chunk of a blob
	OpPrepare = "prepare" // Run, Files -> Missing: write a run's directory; the blobs its snapshot needs that the cache lacks
	OpStart   = "start"   // Run -> PID: start its agent, detached (idempotent), once the cache has every blob
	OpRead    = "read"    // Run, Name, Offset, Max, WaitMS -> Data, Size, Alive, HeartbeatAgeMS
	OpCancel  = "cancel"  // Run: ask its agent to cancel
	OpOutputs = "outputs" // Run -> Files (no Data): the run's outputs/
	OpSubmit  = "submit"  // Run, Nodes, Requeue, Args -> Data (the Slurm job ID): run its agent as a batch job
	OpCommit  = "commit"  // Run: the submitter recorded the hand-over; the agent may start the script (idempotent)
	OpKernel  = "kernel"  // Name, Args (language, python) -> Data (the kernel's argv): a notebook's kernel, found on the machine
)

// A Request asks the server for one operation; only the fields of its Op
// are set.
type Request struct {
	ID     uint64 `msgpack:"id"`
	Op     string `msgpack:"op"`
	Run    string `msgpack:"run,omitempty"`
	Hash   string `msgpack:"hash,omitempty"`
	Offset int64  `msgpack:"offset,omitempty"`
	Data   []byte `msgpack:"data,omitempty"`
	Last   bool   `msgpack:"last,omitempty"`
	Files  []File `msgpack:"files,omitempty"`
	Name   string `msgpack:"name,omitempty"`
	Max    int    `msgpack:"max,omitempty"`
	WaitMS int    `msgpack:"wait_ms,omitempty"`
	// For OpSubmit: nodes, whether Slurm may requeue the job (a
	// preemptible partition), and more sbatch arguments.
	Nodes   int      `msgpack:"nodes,omitempty"`
	Requeue bool     `msgpack:"requeue,omitempty"`
	Args    []string `msgpack:"args,omitempty"`
}

// A File is a file of a run's directory, by path relative to it.
type File struct {
	Path string `msgpack:"path"`
	Mode uint32 `msgpack:"mode,omitempty"`
	Size int64  `msgpack:"size,omitempty"`
	Data []byte `msgpack:"data,omitempty"`
	Gzip bool   `msgpack:"gzip,omitempty"` // Data is gzip-compressed
}

// A Response answers the request with the same ID; Err is set when it
// failed.
type Response struct {
	ID             uint64   `msgpack:"id"`
	Err            string   `msgpack:"err,omitempty"`
	Hello          *Hello   `msgpack:"hello,omitempty"`
	Probe          *Probe   `msgpack:"probe,omitempty"`
	Missing        []string `msgpack:"missing,omitempty"`
	Blobs          int      `msgpack:"blobs,omitempty"` // OpPrepare: distinct blobs of the run's snapshot
	PID            int      `msgpack:"pid,omitempty"`
	Data           []byte   `msgpack:"data,omitempty"`
	Size           int64    `msgpack:"size,omitempty"`
	Alive          bool     `msgpack:"alive,omitempty"`
	HeartbeatAgeMS int64    `msgpack:"hb_age_ms,omitempty"`
	Files          []File   `msgpack:"files,omitempty"`
}

// Hello tells the client who it talks to.
type Hello struct {
	Version string `msgpack:"version"`
	GOOS    string `msgpack:"goos"`
	GOARCH  string `msgpack:"goarch"`
	Root    string `msgpack:"root"`
	PID     int    `msgpack:"pid"`
}

// Probe describes the remote machine, for attach and status.
type Probe struct {
	OS         string       `msgpack:"os"`     // e.g. "Debian GNU/Linux 12 (bookworm)"
	Kernel     string       `msgpack:"kernel"` // release
	Arch       string       `msgpack:"arch"`   // GOOS/GOARCH
	CPUs       int          `msgpack:"cpus"`
	MemoryMB   int64        `msgpack:"memory_mb"`
	Python     string       `msgpack:"python"` // "Python 3.11.2", or "" when there is none
	PythonPath string       `msgpack:"python_path"`
	Conda      string       `msgpack:"conda"`  // version, or ""
	Docker     string       `msgpack:"docker"` // engine version, or "" (with DockerNote saying why)
	DockerNote string       `msgpack:"docker_note,omitempty"`
	GPUs       []gpu.Device `msgpack:"gpus"`                 // from nvidia-smi --query-gpu; none without it
	GPUNote    string       `msgpack:"gpu_note,omitempty"`   // why GPUs is empty on a machine with nvidia-smi
	FreeDiskMB int64        `msgpack:"free_disk_mb"`         // where the remote root is
	Slurm      string       `msgpack:"slurm,omitempty"`      // sbatch --version ("slurm 22.05.8"), on a login node
	Partitions []string     `msgpack:"partitions,omitempty"` // sinfo: "NAME AVAIL NODES STATE" lines
	// SlurmNote says why Slurm and Partitions are empty on a machine that
	// has sbatch: it is not configured there, or sinfo failed.
	SlurmNote string `msgpack:"slurm_note,omitempty"`
}

// DescribeGPUs writes a machine's GPUs, a line each, indented like
// Describe's lines; note says why there are none when nvidia-smi failed.
func DescribeGPUs(w io.Writer, gpus []gpu.Device, note string) {
	switch {
	case len(gpus) == 0 && note != "":
		fmt.Fprintf(w, "  GPUs:    none usable (%s)\n", note)
	case len(gpus) == 0:
		fmt.Fprintf(w, "  GPUs:    none (no nvidia-smi)\n")
	default:
		for i, d := range gpus {
			label := "  GPUs:   "
			if i > 0 {
				label = "         "
			}
			fmt.Fprintf(w, "%s %s\n", label, d)
		}
	}
}

// Describe writes what the probe found, a line per subject, each
// indented by two spaces.
func (p *Probe) Describe(w io.Writer) {
	or := func(s, none string) string {
		if s == "" {
			return none
		}
		return s
	}
	fmt.Fprintf(w, "  OS:      %s (kernel %s, %s), %d CPUs, %d MiB memory\n", p.OS, p.Kernel, p.Arch, p.CPUs, p.MemoryMB)
	fmt.Fprintf(w, "  Python:  %s\n", or(strings.TrimSpace(p.Python+" "+p.PythonPath), "none on PATH: runs need an interpreter path, a system-managed environment with conda, or Docker"))
	fmt.Fprintf(w, "  Conda:   %s\n", or(p.Conda, "none"))
	fmt.Fprintf(w, "  Docker:  %s\n", or(p.Docker, "none ("+p.DockerNote+")"))
	DescribeGPUs(w, p.GPUs, p.GPUNote)
	fmt.Fprintf(w, "  Disk:    %d MiB free under the remote root\n", p.FreeDiskMB)
	switch {
	case p.Slurm != "" && p.SlurmNote != "":
		fmt.Fprintf(w, "  Slurm:   %s (%s)\n", p.Slurm, p.SlurmNote)
	case p.Slurm != "":
		fmt.Fprintf(w, "  Slurm:   %s; partitions (name, avail, nodes, state): %s\n", p.Slurm, strings.Join(p.Partitions, "; "))
	case p.SlurmNote != "":
		fmt.Fprintf(w, "  Slurm:   none usable (%s)\n", p.SlurmNote)
	}
}

// writeFrame writes v as one frame.
func writeFrame(w io.Writer, v any) (int, error) {
	body, err := msgpack.Marshal(v)
	if err != nil {
		return 0, err
	}
	if len(body) > MaxFrame {
		return 0, fmt.Errorf("frame of %d bytes is over the limit of %d", len(body), MaxFrame)
	}
	b := make([]byte, 4, 4+len(body))
	binary.BigEndian.PutUint32(b, uint32(len(body)))
	return w.Write(append(b, body...))
}

// readFrame reads one frame into v.
func readFrame(r io.Reader, v any) error {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return err
	}
	size := binary.BigEndian.Uint32(n[:])
	if size > MaxFrame {
		return fmt.Errorf("frame claims %d bytes, over the limit of %d: the stream is corrupt", size, MaxFrame)
	}
	body := make([]byte, size)
	if _, err := io.ReadFull(r, body); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	return msgpack.Unmarshal(body, v)
}

type sentKey struct{}

// WithSentCounter returns a context under which a Client's calls add the
// bytes they write (frames, headers included) to n: what a submit put on
// the wire.
func WithSentCounter(ctx context.Context, n *atomic.Int64) context.Context {
	return context.WithValue(ctx, sentKey{}, n)
}

func sentCounter(ctx context.Context) *atomic.Int64 {
	n, _ := ctx.Value(sentKey{}).(*atomic.Int64)
	return n
}
