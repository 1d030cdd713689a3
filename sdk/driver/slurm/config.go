package slurm

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
)

// The VM priorities of a cluster.
const (
	Dedicated   = "dedicated"   // never preempted
	LowPriority = "lowpriority" // preempted by dedicated runs, then requeued
)

// DefaultIdleSeconds is how long a node stays up without work when a
// cluster does not say.
const DefaultIdleSeconds = 120

// Config is a managed cluster target's configuration, kept in the
// workspace.
type Config struct {
	// SlurmDir is the Slurm instance's directory; "" means $GANTRY_SLURM_DIR.
	SlurmDir string `json:"slurm_dir,omitempty"`
	// Pool is the Slurm-side name of the cluster's nodes and partitions:
	// the target's name in lower case, or that of the cluster in NodesOf.
	Pool string `json:"pool"`
	// NodesOf names another managed cluster whose nodes this one uses, at
	// its own VMPriority (a dedicated target beside a low-priority one on
	// the same nodes, say). Size and node counts are then that cluster's.
	NodesOf                    string `json:"nodes_of,omitempty"`
	VMSize                     Size   `json:"vm_size"`
	MinNodes                   int    `json:"min_nodes"`
	MaxNodes                   int    `json:"max_nodes"`
	VMPriority                 string `json:"vm_priority"`
	IdleSecondsBeforeScaledown int    `json:"idle_seconds_before_scaledown"`
}

// ParseConfig reads a target's configuration.
func ParseConfig(raw json.RawMessage) (Config, error) {
	var c Config
	if err := json.Unmarshal(raw, &c); err != nil {
		return c, fmt.Errorf("managed cluster configuration: %w", err)
	}
	return c, nil
}

// Summary says in a line what the cluster is made of: "0 to 3 nodes of
// STANDARD_D2_V2 (2 CPUs, 7168 MB), dedicated, scale-down after 120 s
// idle, Slurm instance DIR".
func (c Config) Summary() string {
	if c.NodesOf != "" {
		return fmt.Sprintf("%s, on the nodes of %s", c.VMPriority, c.NodesOf)
	}
	idle := c.IdleSecondsBeforeScaledown
	if idle == 0 {
		idle = DefaultIdleSeconds
	}
	sz := c.VMSize
	what := fmt.Sprintf("%d CPUs, %d MB", sz.CPUs, sz.MemoryMB)
	if sz.GPUs > 0 {
		what += fmt.Sprintf(", %d GPUs", sz.GPUs)
	}
	return fmt.Sprintf("%d to %d nodes of %s (%s), %s, scale-down after %d s idle, Slurm instance %s",
		c.MinNodes, c.MaxNodes, sz.Name, what, c.VMPriority, idle, c.SlurmDir)
}

// Check reports the first thing wrong with c, in words that say what to
// do.
func (c *Config) Check() error {
	switch c.VMPriority {
	case Dedicated, LowPriority:
	default:
		return fmt.Errorf("vm_priority %q: use %q or %q", c.VMPriority, Dedicated, LowPriority)
	}
	if c.Pool == "" || strings.ContainsAny(c.Pool, "_ ,=") {
		return fmt.Errorf("cluster pool name %q is invalid", c.Pool)
	}
	if c.NodesOf != "" {
		return nil
	}
	if err := c.VMSize.check(); err != nil {
		return err
	}
	switch {
	case c.MaxNodes < 1:
		return fmt.Errorf("max_nodes is %d: a cluster needs at least 1", c.MaxNodes)
	case c.MaxNodes > maxNodesPerPool:
		return fmt.Errorf("max_nodes is %d: at most %d here", c.MaxNodes, maxNodesPerPool)
	case c.MinNodes < 0:
		return fmt.Errorf("min_nodes is %d: use 0 to scale down to nothing", c.MinNodes)
	case c.MinNodes > c.MaxNodes:
		return fmt.Errorf("min_nodes (%d) is more than max_nodes (%d)", c.MinNodes, c.MaxNodes)
	case c.IdleSecondsBeforeScaledown < 0:
		return fmt.Errorf("idle_seconds_before_scaledown is %d: use 0 for the default (%d s) or a positive number", c.IdleSecondsBeforeScaledown, DefaultIdleSeconds)
	}
	return nil
}

// Dir returns the Slurm instance's directory: SlurmDir, else
// $GANTRY_SLURM_DIR.
func (c *Config) Dir() (string, error) {
	if c.SlurmDir != "" {
		return c.SlurmDir, nil
	}
	if d := os.Getenv("GANTRY_SLURM_DIR"); d != "" {
		return d, nil
	}
	return "", errors.New("no Slurm instance: start one with scripts/slurm.sh start DIR and set GANTRY_SLURM_DIR=DIR (or SlurmDir in the cluster's configuration)")
}

// Partition returns the partition the cluster's runs go to.
func (c *Config) Partition() string {
	if c.VMPriority == LowPriority {
		return c.Pool + lowSuffix
	}
	return c.Pool
}

// lowSuffix ends the name of a pool's low-priority partition; pool names
// have no underscore.
const lowSuffix = "_low"

// maxNodesPerPool is the size of a pool's block of slurmd ports.
const maxNodesPerPool = 64

// CheckGPUs refuses a run that asks for more GPUs per node than the
// cluster's nodes have, naming the sizes of sizes (nil: the default
// catalogue) whose nodes would do.
func (c Config) CheckGPUs(n int, sizes Catalogue) error {
	if n <= c.VMSize.GPUs {
		return nil
	}
	if sizes == nil {
		sizes = DefaultCatalogue()
	}
	var fit []string
	for _, s := range sizes {
		if s.GPUs >= n {
			fit = append(fit, fmt.Sprintf("%s (%d GPUs)", s.Name, s.GPUs))
		}
	}
	what := "no size of the catalogue has that many"
	if len(fit) > 0 {
		what = "sizes with enough: " + strings.Join(fit, ", ")
	}
	return fmt.Errorf("the run asks for %d GPUs per node, and the nodes of cluster %s (%s) have %d: "+
		"use a cluster of another size (%s)", n, c.Pool, c.VMSize.Name, c.VMSize.GPUs, what)
}
