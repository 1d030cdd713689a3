package slurm

import (
	"fmt"
	"slices"
	"strings"
)

// A Pool is a cluster's nodes on the Slurm instance: what the instance
// keeps in etc/clusters.d/NAME.json and turns into slurm.conf lines.
type Pool struct {
	Name        string `json:"name"`
	Size        Size   `json:"size"`
	MinNodes    int    `json:"min_nodes"`
	MaxNodes    int    `json:"max_nodes"`
	IdleSeconds int    `json:"idle_seconds"`
	PortBlock   int    `json:"port_block"` // its nodes' slurmd ports: base + 64*PortBlock + i
	Owner       string `json:"owner,omitempty"`
}

// PoolOf returns the pool a cluster configuration describes.
func PoolOf(c Config, owner string) Pool {
	idle := c.IdleSecondsBeforeScaledown
	if idle == 0 {
		idle = DefaultIdleSeconds
	}
	return Pool{Name: c.Pool, Size: c.VMSize, MinNodes: c.MinNodes, MaxNodes: c.MaxNodes, IdleSeconds: idle, Owner: owner}
}

// Nodes returns the hostlist of the pool's nodes, name-[1-max].
func (p Pool) Nodes() string {
	if p.MaxNodes == 1 {
		return p.Name + "-1"
	}
	return fmt.Sprintf("%s-[1-%d]", p.Name, p.MaxNodes)
}

// nodeLines returns the NodeName lines of the pool.
func (p Pool) nodeLines(portBase int) []string {
	var lines []string
	for i := 1; i <= p.MaxNodes; i++ {
		l := fmt.Sprintf("NodeName=%s-%d NodeHostname=localhost NodeAddr=127.0.0.1 Port=%d CPUs=%d RealMemory=%d",
			p.Name, i, portBase+maxNodesPerPool*p.PortBlock+i-1, p.Size.CPUs, p.Size.MemoryMB)
		if p.Size.GPUs > 0 {
			l += fmt.Sprintf(" Gres=gpu:%d", p.Size.GPUs)
		}
		lines = append(lines, l+" State=CLOUD")
	}
	return lines
}

// GenerateConf returns clusters.conf for pools: CLOUD nodes, a dedicated
// and a low-priority partition per pool, and SuspendExcNodes that keeps
// each pool's min nodes up. portBase is the first slurmd port for nodes.
func GenerateConf(pools []Pool, portBase int) string {
	pools = slices.Clone(pools)
	slices.SortFunc(pools, func(a, b Pool) int { return strings.Compare(a.Name, b.Name) })
	var b strings.Builder
	b.WriteString("# Gantry managed clusters: written by Gantry from clusters.d; do not edit.\n")
	var keep []string
	for _, p := range pools {
		fmt.Fprintf(&b, "\n# %s: %s (%d CPUs, %d MB, %d GPUs), %d-%d nodes, idle %d s\n",
			p.Name, p.Size.Name, p.Size.CPUs, p.Size.MemoryMB, p.Size.GPUs, p.MinNodes, p.MaxNodes, p.IdleSeconds)
		for _, l := range p.nodeLines(portBase) {
			b.WriteString(l + "\n")
		}
		common := fmt.Sprintf("Nodes=%s OverSubscribe=EXCLUSIVE MaxTime=INFINITE SuspendTime=%d State=UP", p.Nodes(), p.IdleSeconds)
		fmt.Fprintf(&b, "PartitionName=%s %s PriorityTier=10 PreemptMode=OFF\n", p.Name, common)
		// No GraceTime: with one, Slurm 22.05 signals only the job's steps,
		// not a batch script, until the grace ends. Without it the whole job
		// gets SIGTERM at once and KillWait (15 s) to checkpoint before SIGKILL.
		fmt.Fprintf(&b, "PartitionName=%s%s %s PriorityTier=1 PreemptMode=REQUEUE\n", p.Name, lowSuffix, common)
		if p.MinNodes > 0 {
			keep = append(keep, fmt.Sprintf("%s:%d", p.Nodes(), p.MinNodes))
		}
	}
	if len(keep) > 0 {
		fmt.Fprintf(&b, "\nSuspendExcNodes=%s\n", strings.Join(keep, ","))
	}
	return b.String()
}

// nodeSet returns the node lines of conf, which slurmctld cannot change
// on reconfigure: a change needs a restart.
func nodeSet(conf string) string {
	var b strings.Builder
	for _, l := range strings.Split(conf, "\n") {
		if strings.HasPrefix(l, "NodeName=") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// freeBlock returns the lowest port block no pool uses.
func freeBlock(pools []Pool) int {
	used := map[int]bool{}
	for _, p := range pools {
		used[p.PortBlock] = true
	}
	for i := 0; ; i++ {
		if !used[i] {
			return i
		}
	}
}

// GenerateGres returns gres.conf for pools: each node of a pool whose size
// has GPUs declares that many gpu devices, the files devices names with
// %d for the index (0, 1, ...), so Slurm hands a job the devices it asked
// for (--gres=gpu:N) and sets CUDA_VISIBLE_DEVICES.
func GenerateGres(pools []Pool, devices string) string {
	pools = slices.Clone(pools)
	slices.SortFunc(pools, func(a, b Pool) int { return strings.Compare(a.Name, b.Name) })
	var b strings.Builder
	b.WriteString("# Gantry managed clusters' GPUs: written by Gantry from clusters.d; do not edit.\n")
	for _, p := range pools {
		for i := 0; i < p.Size.GPUs; i++ {
			fmt.Fprintf(&b, "NodeName=%s Name=gpu File=%s\n", p.Nodes(), fmt.Sprintf(devices, i))
		}
	}
	return b.String()
}
