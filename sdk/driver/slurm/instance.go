package slurm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrNotInstalled is returned when the Slurm commands are missing.
var ErrNotInstalled = errors.New("Slurm is not installed on this machine: install it with apt-get install slurm-wlm munge (scripts/setup.sh does), then start a cluster with scripts/slurm.sh start DIR")

// ErrPoolExists is returned when a cluster of that name already exists in
// the Slurm instance.
var ErrPoolExists = errors.New("a cluster of that name exists in the Slurm instance")

// Installed reports whether the Slurm commands this package runs are
// present, with ErrNotInstalled if not.
func Installed() error {
	for _, c := range []string{"sbatch", "squeue", "scontrol", "scancel", "sinfo", "slurmctld", "slurmd", "munged"} {
		if _, err := lookPath(c); err != nil {
			return fmt.Errorf("%w (%s not found)", ErrNotInstalled, c)
		}
	}
	return nil
}

// lookPath finds a Slurm command on PATH or in /usr/sbin, where Debian
// puts the daemons.
func lookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range []string{"/usr/sbin", "/usr/bin", "/sbin"} {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	return "", exec.ErrNotFound
}

// An Instance is a Slurm cluster set up in a directory by scripts/slurm.sh.
type Instance struct {
	Dir string
}

// OpenInstance checks that Slurm is installed and that dir holds a Slurm
// instance.
func OpenInstance(dir string) (*Instance, error) {
	if err := Installed(); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	in := &Instance{Dir: abs}
	if _, err := os.Stat(in.Conf()); err != nil {
		return nil, fmt.Errorf("no Slurm instance in %s: start one with scripts/slurm.sh start %s", abs, abs)
	}
	return in, nil
}

// Conf returns the path of the instance's slurm.conf.
func (in *Instance) Conf() string { return filepath.Join(in.Dir, "etc", "slurm.conf") }

func (in *Instance) poolsDir() string { return filepath.Join(in.Dir, "etc", "clusters.d") }

// Env returns the environment Slurm commands of this instance need.
func (in *Instance) Env() []string {
	return append(os.Environ(), "SLURM_CONF="+in.Conf(), "PATH="+os.Getenv("PATH")+":/usr/sbin:/sbin")
}

// command runs a Slurm command of the instance and returns its output.
func (in *Instance) command(ctx context.Context, name string, args ...string) ([]byte, error) {
	p, err := lookPath(name)
	if err != nil {
		return nil, fmt.Errorf("%w (%s not found)", ErrNotInstalled, name)
	}
	cmd := exec.CommandContext(ctx, p, args...)
	cmd.Env = in.Env()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// lock takes the instance's lock on its cluster definitions.
func (in *Instance) lock() (unlock func(), err error) {
	if err := os.MkdirAll(in.poolsDir(), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(in.Dir, "etc", "clusters.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", in.Dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", in.Dir, err)
	}
	return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}

// Pools returns the clusters defined in the instance.
func (in *Instance) Pools() ([]Pool, error) {
	ms, err := filepath.Glob(filepath.Join(in.poolsDir(), "*.json"))
	if err != nil {
		return nil, err
	}
	sort.Strings(ms)
	var ps []Pool
	for _, m := range ms {
		b, err := os.ReadFile(m)
		if err != nil {
			return nil, err
		}
		var p Pool
		if err := json.Unmarshal(b, &p); err != nil {
			return nil, fmt.Errorf("cluster definition %s: %w", m, err)
		}
		ps = append(ps, p)
	}
	return ps, nil
}

func (in *Instance) writePool(p Pool) error {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(in.poolsDir(), p.Name+".json"), b)
}

func writeAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// CreatePool defines the cluster p in the instance and applies it.
func (in *Instance) CreatePool(ctx context.Context, p Pool) error {
	unlock, err := in.lock()
	if err != nil {
		return err
	}
	defer unlock()
	ps, err := in.Pools()
	if err != nil {
		return err
	}
	for _, q := range ps {
		if q.Name == p.Name {
			return fmt.Errorf("cluster %q: %w at %s", p.Name, ErrPoolExists, in.Dir)
		}
	}
	p.PortBlock = freeBlock(ps)
	if err := in.writePool(p); err != nil {
		return fmt.Errorf("define cluster %q: %w", p.Name, err)
	}
	if err := in.apply(ctx); err != nil {
		return fmt.Errorf("apply cluster %q: %w", p.Name, err)
	}
	return nil
}

// UpdatePool changes the sizes and node counts of the cluster p.Name,
// keeping its ports, and applies the change.
func (in *Instance) UpdatePool(ctx context.Context, p Pool) error {
	unlock, err := in.lock()
	if err != nil {
		return err
	}
	defer unlock()
	ps, err := in.Pools()
	if err != nil {
		return err
	}
	i := slicesIndex(ps, p.Name)
	if i < 0 {
		return fmt.Errorf("update cluster %q: not defined in the Slurm instance at %s", p.Name, in.Dir)
	}
	old := ps[i]
	p.PortBlock, p.Owner = old.PortBlock, old.Owner
	if p.MaxNodes < old.MaxNodes {
		// Nodes that go away stop first.
		gone := fmt.Sprintf("%s-[%d-%d]", p.Name, p.MaxNodes+1, old.MaxNodes)
		_, _ = in.command(ctx, filepath.Join(in.Dir, "bin", "provider"), "suspend", gone)
	}
	if err := in.writePool(p); err != nil {
		return fmt.Errorf("update cluster %q: %w", p.Name, err)
	}
	if err := in.apply(ctx); err != nil {
		return fmt.Errorf("apply cluster %q: %w", p.Name, err)
	}
	return nil
}

// DeletePool cancels the cluster's jobs, stops its nodes and removes it.
func (in *Instance) DeletePool(ctx context.Context, name string) error {
	unlock, err := in.lock()
	if err != nil {
		return err
	}
	defer unlock()
	ps, err := in.Pools()
	if err != nil {
		return err
	}
	i := slicesIndex(ps, name)
	if i < 0 {
		return nil
	}
	p := ps[i]
	_, _ = in.command(ctx, "scancel", "--partition="+p.Name+","+p.Name+lowSuffix)
	_, _ = in.command(ctx, filepath.Join(in.Dir, "bin", "provider"), "suspend", p.Nodes())
	if err := os.Remove(filepath.Join(in.poolsDir(), name+".json")); err != nil {
		return fmt.Errorf("delete cluster %q: %w", name, err)
	}
	if err := in.apply(ctx); err != nil {
		return fmt.Errorf("delete cluster %q: %w", name, err)
	}
	return nil
}

func slicesIndex(ps []Pool, name string) int {
	for i, p := range ps {
		if p.Name == name {
			return i
		}
	}
	return -1
}

// apply writes clusters.conf from the cluster definitions and makes
// slurmctld read it: a reconfigure, or a restart when the nodes changed
// (Slurm 22.05 cannot add or remove nodes on reconfigure). Then it boots
// the nodes each cluster keeps up.
func (in *Instance) apply(ctx context.Context) error {
	ps, err := in.Pools()
	if err != nil {
		return err
	}
	base, err := in.nodePortBase()
	if err != nil {
		return err
	}
	path := filepath.Join(in.Dir, "etc", "clusters.conf")
	old, _ := os.ReadFile(path)
	conf := GenerateConf(ps, base)
	if err := writeAtomic(filepath.Join(in.Dir, "etc", "gres.conf"), []byte(GenerateGres(ps, in.gpuDevices()))); err != nil {
		return err
	}
	if err := writeAtomic(path, []byte(conf)); err != nil {
		return err
	}
	if nodeSet(string(old)) != nodeSet(conf) {
		err = in.restartController(ctx)
	} else {
		_, err = in.command(ctx, "scontrol", "reconfigure")
	}
	if err != nil {
		return err
	}
	for _, p := range ps {
		if p.MinNodes > 0 {
			in.powerUp(ctx, p, p.MinNodes)
		}
	}
	return nil
}

// powerUp asks Slurm to boot nodes 1..n of the pool that are powered down.
func (in *Instance) powerUp(ctx context.Context, p Pool, n int) {
	ns, err := in.nodes(ctx, p)
	if err != nil {
		return
	}
	up := 0
	var down []string
	for _, nd := range ns {
		if nd.State == PoweredDown {
			down = append(down, nd.Name)
		} else if nd.State != Down {
			up++
		}
	}
	for i := 0; up < n && i < len(down); i++ {
		if _, err := in.command(ctx, "scontrol", "update", "nodename="+down[i], "state=power_up"); err == nil {
			up++
		}
	}
}

// gpuDevices returns the device files of a node's GPUs, with %d for the
// index: what etc/gpu_devices says (scripts/slurm.sh makes stand-in
// devices for nodes on one machine), else /dev/nvidia%d.
func (in *Instance) gpuDevices() string {
	if b, err := os.ReadFile(filepath.Join(in.Dir, "etc", "gpu_devices")); err == nil {
		if p := strings.TrimSpace(string(b)); p != "" {
			return p
		}
	}
	return "/dev/nvidia%d"
}

func (in *Instance) nodePortBase() (int, error) {
	b, err := os.ReadFile(filepath.Join(in.Dir, "etc", "node_port_base"))
	if err != nil {
		return 0, fmt.Errorf("Slurm instance at %s: %w (was it made by scripts/slurm.sh start?)", in.Dir, err)
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// restartController stops slurmctld and starts it again on the same
// state.
func (in *Instance) restartController(ctx context.Context) error {
	pidFile := filepath.Join(in.Dir, "run", "slurmctld.pid")
	if b, err := os.ReadFile(pidFile); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
			_ = syscall.Kill(pid, syscall.SIGTERM)
			for syscall.Kill(pid, 0) == nil {
				select {
				case <-ctx.Done():
					return fmt.Errorf("restart slurmctld: %w", ctx.Err())
				case <-time.After(20 * time.Millisecond):
				}
			}
		}
	}
	if _, err := in.command(ctx, "slurmctld", "-f", in.Conf()); err != nil {
		return fmt.Errorf("restart slurmctld (see %s): %w", filepath.Join(in.Dir, "log", "slurmctld.log"), err)
	}
	for {
		if out, err := in.command(ctx, "scontrol", "ping"); err == nil && bytes.Contains(out, []byte("UP")) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("restart slurmctld: it did not answer (see %s): %w", filepath.Join(in.Dir, "log", "slurmctld.log"), ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
