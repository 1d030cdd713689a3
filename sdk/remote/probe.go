package remote

import (
	"gantry/sdk/gpu"

	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"regexp"
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
	if devs, err := gpu.Detect(ctx); err != nil {
		p.GPUNote = err.Error()
	} else {
		p.GPUs = devs
	}
	if path, err := exec.LookPath("sbatch"); err == nil {
		probeSlurm(ctx, &p, path)
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(root, &st); err == nil {
		p.FreeDiskMB = int64(st.Bavail) * int64(st.Bsize) >> 20
	}
	return p
}

// slurmVersion matches what sbatch --version prints: "slurm 23.02.1",
// "slurm-wlm 22.05.8" (Debian's build).
var slurmVersion = regexp.MustCompile(`^slurm\S* \d`)

// probeSlurm fills in the Slurm fields of p from the sbatch at path and
// sinfo beside it. Slurm's tools answer --version only when they find a
// configuration, so a machine with the tools but no cluster gets a note
// with their complaint instead of a version, and no partitions.
func probeSlurm(ctx context.Context, p *Probe, sbatch string) {
	out, err := runErr(ctx, sbatch, "--version")
	if err != nil || !slurmVersion.MatchString(firstLine(out)) {
		p.SlurmNote = "sbatch is installed but Slurm is not configured here: " + lastLine(out, err)
		return
	}
	p.Slurm = firstLine(out)
	sinfo, err := exec.LookPath("sinfo")
	if err != nil {
		p.SlurmNote = "no sinfo on PATH beside sbatch"
		return
	}
	out, err = runErr(ctx, sinfo, "-h", "-o", "%P %a %D %t")
	if err != nil {
		p.SlurmNote = "sinfo failed: " + lastLine(out, err)
		return
	}
	for _, l := range strings.Split(out, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			p.Partitions = append(p.Partitions, l)
		}
	}
}

// run runs a probe command for at most 5 seconds and returns its output.
func run(ctx context.Context, name string, args ...string) string {
	out, _ := runErr(ctx, name, args...)
	return out
}

// runErr is run, with the command's error.
func runErr(ctx context.Context, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// lastLine is the last line of a failed command's output (where Slurm's
// tools put the fatal one), or its error when it wrote nothing.
func lastLine(out string, err error) string {
	if i := strings.LastIndexByte(out, '\n'); i >= 0 {
		out = out[i+1:]
	}
	if out = strings.TrimSpace(out); out != "" {
		return out
	}
	if err != nil {
		return err.Error()
	}
	return "no output"
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
