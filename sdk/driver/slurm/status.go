package slurm

import (
	"context"
	"fmt"
	"strings"
)

// A NodeState is what a cluster node is doing, as a cluster's status
// reports it.
type NodeState string

// The states of a node.
const (
	PoweredDown  NodeState = "powered down" // no machine: costs nothing
	Booting      NodeState = "booting"      // the provider is starting it
	Idle         NodeState = "idle"         // up, without a run
	Busy         NodeState = "busy"         // running a run
	Draining     NodeState = "draining"     // finishing its run, then out of service
	PoweringDown NodeState = "powering down"
	Down         NodeState = "down" // failed or unreachable
)

// ClassifyNode maps sinfo's extended node state (%T: "idle~", "mixed#",
// "allocated", "down*", ...) to a NodeState.
func ClassifyNode(t string) NodeState {
	t = strings.ToLower(strings.TrimSpace(t))
	base := strings.TrimRight(t, "~#%!*$@^-")
	suffix := t[len(base):]
	switch {
	case strings.Contains(suffix, "%") || strings.Contains(suffix, "!"):
		return PoweringDown
	case strings.Contains(suffix, "#"):
		return Booting
	case strings.HasPrefix(base, "down") || base == "fail" || base == "failing" || base == "unknown":
		if strings.Contains(suffix, "~") {
			return PoweredDown
		}
		return Down
	case strings.Contains(suffix, "~"):
		return PoweredDown
	case strings.HasPrefix(base, "drain"):
		return Draining
	case base == "idle":
		return Idle
	case base == "allocated", base == "mixed", base == "completing":
		return Busy
	}
	return Down
}

// A Node is one node of a cluster.
type Node struct {
	Name  string
	State NodeState
	Slurm string // Slurm's own word for the state
}

// Status is a cluster's nodes and runs.
type Status struct {
	Nodes   []Node
	Counts  map[NodeState]int // nodes by state
	Queued  int               // runs waiting for nodes
	Running int               // runs on nodes
}

// String is a one-line summary.
func (s Status) String() string {
	var parts []string
	for _, st := range []NodeState{PoweredDown, Booting, Idle, Busy, Draining, PoweringDown, Down} {
		if n := s.Counts[st]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, st))
		}
	}
	if len(parts) == 0 {
		parts = append(parts, "no nodes")
	}
	return fmt.Sprintf("nodes: %s; runs: %d queued, %d running", strings.Join(parts, ", "), s.Queued, s.Running)
}

// parseNodes reads `sinfo -h -N -o %N|%T` output.
func parseNodes(out string) []Node {
	var ns []Node
	for _, l := range strings.Split(out, "\n") {
		name, st, ok := strings.Cut(strings.TrimSpace(l), "|")
		if !ok {
			continue
		}
		ns = append(ns, Node{Name: name, State: ClassifyNode(st), Slurm: st})
	}
	return ns
}

func (in *Instance) nodes(ctx context.Context, p Pool) ([]Node, error) {
	out, err := in.command(ctx, "sinfo", "-h", "-N", "-p", p.Name, "-o", "%N|%T")
	if err != nil {
		return nil, fmt.Errorf("nodes of cluster %q: %w", p.Name, err)
	}
	return parseNodes(string(out)), nil
}

// PoolStatus returns the nodes of the cluster called name by state, and
// its queued and running jobs.
func (in *Instance) PoolStatus(ctx context.Context, name string) (Status, error) {
	ns, err := in.nodes(ctx, Pool{Name: name})
	if err != nil {
		return Status{}, err
	}
	s := Status{Nodes: ns, Counts: map[NodeState]int{}}
	for _, n := range ns {
		s.Counts[n.State]++
	}
	out, err := in.command(ctx, "squeue", "-h", "-p", name+","+name+lowSuffix, "-o", "%T")
	if err != nil {
		return s, fmt.Errorf("runs of cluster %q: %w", name, err)
	}
	for _, st := range strings.Fields(string(out)) {
		switch st {
		case "PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED":
			s.Queued++
		case "RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED":
			s.Running++
		}
	}
	return s, nil
}
