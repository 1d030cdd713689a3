package remote

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// probe describes this machine: what attach reports and status shows.
// Each check is bounded, so a wedged tool (a hung Docker daemon) cannot
// hold up an attach.
func probe(ctx context.Context, root string) Probe {
	p := Probe{Arch: runtime.GOOS + "/" + runtime.GOARCH, CPUs: runtime.NumCPU()}
	p.OS = osRelease()
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		p.Kernel = strings.TrimSpace(string(b))
	}
	p.MemoryMB = memTotalMB()
	if path, err := exec.LookPath("python3"); err == nil {
		p.PythonPath = path
		p.Python = firstLine(run(ctx, path, "--version"))
	}
	if path, err := exec.LookPath("conda"); err == nil {
		p.Conda = strings.TrimPrefix(firstLine(run(ctx, path, "--version")), "conda ")
	}
	if path, err := exec.LookPath("docker"); err == nil {
		v := firstLine(run(ctx, path, "info", "--format", "{{.ServerVersion}}"))
		if v != "" && !strings.Contains(v, " ") {
			p.Docker = v
		} else {
			p.DockerNote = "docker is installed but its engine did not answer"
		}
	} else {
		p.DockerNote = "no docker on PATH"
	}
	if path, err := exec.LookPath("nvidia-smi"); err == nil {
		for _, l := range strings.Split(run(ctx, path, "-L"), "\n") {
			if l = strings.TrimSpace(l); strings.HasPrefix(l, "GPU ") {
				p.GPUs = append(p.GPUs, l)
			}
		}
	}
	if path, err := exec.LookPath("sbatch"); err == nil {
		p.Slurm = firstLine(run(ctx, path, "--version"))
		if sinfo, err := exec.LookPath("sinfo"); err == nil {
			for _, l := range strings.Split(run(ctx, sinfo, "-h", "-o", "%P %a %D %t"), "\n") {
				if l = strings.TrimSpace(l); l != "" {
					p.Partitions = append(p.Partitions, l)
				}
			}
		}
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(root, &st); err == nil {
		p.FreeDiskMB = int64(st.Bavail) * int64(st.Bsize) >> 20
	}
	return p
}

// run runs a probe command for at most 5 seconds and returns its output.
func run(ctx context.Context, name string, args ...string) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, name, args...).CombinedOutput()
	return strings.TrimSpace(string(out))
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return strings.TrimSpace(line)
}

func osRelease() string {
	b, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return runtime.GOOS
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return runtime.GOOS
}

func memTotalMB() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb >> 10
		}
	}
	return 0
}
