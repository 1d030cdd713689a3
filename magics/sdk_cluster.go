package magics

// %compute create cluster, and update and status for managed clusters
// (sdk.ManagedCluster on Slurm). sdk_compute.go dispatches here.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"gantry/sdk"
	"gantry/sdk/driver/slurm"
	"gantry/sdk/workspace"
)

// clusterFlags are the options of %compute create cluster.
func clusterFlags() flagSpec {
	return flagSpec{
		"--vm-size": true, "--min-nodes": true, "--max-nodes": true, "--priority": true,
		"--idle-seconds": true, "--nodes-of": true, "--slurm-dir": true,
	}
}

// clusterUsage is the syntax of %compute create cluster.
const clusterUsage = "%compute create cluster NAME --vm-size SIZE [--min-nodes N] --max-nodes N [--priority dedicated|lowpriority] [--idle-seconds S] [--nodes-of CLUSTER] [--slurm-dir DIR]"

// clusterUpdateUsage is the syntax of %compute update for a cluster.
const clusterUpdateUsage = "%compute update NAME [--min-nodes N] [--max-nodes N] [--idle-seconds S] [--vm-size SIZE] [--priority dedicated|lowpriority]"

// clusterUpdatable are the cluster options %compute update takes.
var clusterUpdatable = []string{"--min-nodes", "--max-nodes", "--idle-seconds", "--vm-size", "--priority"}

// clusterFlagGiven returns the first cluster option in p (in a fixed
// order), or "".
func clusterFlagGiven(p *parsedArgs) string {
	var given []string
	for opt := range clusterFlags() {
		if has(p, opt) {
			given = append(given, opt)
		}
	}
	sort.Strings(given)
	if len(given) == 0 {
		return ""
	}
	return given[0]
}

// checkClusterFlags refuses cluster options on subcommands that do not
// take them.
func checkClusterFlags(sub string, p *parsedArgs) error {
	if sub == "create" || sub == "update" {
		return nil
	}
	if opt := clusterFlagGiven(p); opt != "" {
		return fmt.Errorf("%%compute %s: %s belongs to %s", sub, opt, clusterUsage)
	}
	return nil
}

// sizeNames lists the default catalogue's sizes.
func sizeNames() string {
	var names []string
	for _, s := range slurm.DefaultCatalogue() {
		names = append(names, s.Name)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// createCluster is %compute create cluster NAME ...
func (s *sdkMagics) createCluster(ctx context.Context, c *Call, ws *sdk.Workspace, name string, p *parsedArgs) error {
	if has(p, "--max-concurrent-runs") {
		return fmt.Errorf("%%compute create cluster: --max-concurrent-runs belongs to local and SSH targets; a cluster runs as many runs as it has nodes: %s", clusterUsage)
	}
	mc := sdk.ManagedCluster{
		VMSize:     p.opts["--vm-size"],
		VMPriority: p.opts["--priority"],
		NodesOf:    p.opts["--nodes-of"],
		SlurmDir:   p.opts["--slurm-dir"],
	}
	var err error
	if mc.MinNodes, err = intOpt("compute", p, "--min-nodes", 0); err != nil {
		return err
	}
	if mc.MaxNodes, err = intOpt("compute", p, "--max-nodes", 0); err != nil {
		return err
	}
	if mc.IdleSecondsBeforeScaledown, err = intOpt("compute", p, "--idle-seconds", 0); err != nil {
		return err
	}
	if mc.NodesOf != "" {
		for _, opt := range []string{"--vm-size", "--min-nodes", "--max-nodes", "--idle-seconds", "--slurm-dir"} {
			if has(p, opt) {
				return fmt.Errorf("%%compute create cluster: %s comes from the cluster in --nodes-of (%s): a cluster that shares nodes sets only its --priority", opt, mc.NodesOf)
			}
		}
	} else {
		if mc.VMSize == "" {
			return fmt.Errorf("%%compute create cluster needs --vm-size SIZE, one of %s: %s", sizeNames(), clusterUsage)
		}
		if !has(p, "--max-nodes") {
			return fmt.Errorf("%%compute create cluster needs --max-nodes N (at least 1): %s", clusterUsage)
		}
		if mc.MinNodes > mc.MaxNodes {
			return fmt.Errorf("%%compute create cluster: --min-nodes %d is more than --max-nodes %d: the cluster keeps min nodes up and grows to max", mc.MinNodes, mc.MaxNodes)
		}
	}
	_, lookup := ws.ComputeTarget(ctx, name)
	if err := ws.CreateCompute(ctx, name, mc); err != nil {
		hint := ""
		switch {
		case errors.Is(err, workspace.ErrExists):
			hint = " (here: %compute update NAME --min-nodes N --max-nodes N --idle-seconds S, or %compute delete NAME)"
		case errors.Is(err, slurm.ErrPoolExists):
			hint = ": another workspace has a cluster of that name in this Slurm instance; pick another name"
		case errors.Is(err, workspace.ErrNotFound) && mc.NodesOf != "":
			hint = ": --nodes-of names a managed cluster of this workspace (%compute list shows them)"
		}
		return fmt.Errorf("%%compute create cluster: %w%s", err, hint)
	}
	t, err := ws.ComputeTarget(ctx, name)
	if err != nil {
		return err
	}
	cfg, err := slurm.ParseConfig(t.Config)
	if err != nil {
		return err
	}
	verb := "Created"
	if lookup == nil {
		verb = "Found (same settings)"
	}
	fmt.Fprintf(c.Stdout, "%s managed cluster %s: %s.\n", verb, name, describeCluster(cfg))
	return s.writeClusterStatus(ctx, c.Stdout, ws, name)
}

// updateCluster is %compute update NAME ... for a managed cluster.
func (s *sdkMagics) updateCluster(ctx context.Context, c *Call, ws *sdk.Workspace, t workspace.Target, p *parsedArgs) error {
	if has(p, "--max-concurrent-runs") {
		return fmt.Errorf("%%compute update: %s is a managed cluster: it runs as many runs as it has nodes; change them with %s", t.Name, clusterUpdateUsage)
	}
	for _, opt := range []string{"--nodes-of", "--slurm-dir"} {
		if has(p, opt) {
			return fmt.Errorf("%%compute update: a cluster's %s cannot change: %%compute delete %s and create it again", opt, t.Name)
		}
	}
	changed := false
	for _, opt := range clusterUpdatable {
		changed = changed || has(p, opt)
	}
	if !changed {
		return fmt.Errorf("%%compute update %s needs a setting to change: %s", t.Name, clusterUpdateUsage)
	}
	cfg, err := slurm.ParseConfig(t.Config)
	if err != nil {
		return fmt.Errorf("%%compute update: %w", err)
	}
	if cfg.NodesOf != "" {
		for _, opt := range []string{"--min-nodes", "--max-nodes", "--idle-seconds", "--vm-size"} {
			if has(p, opt) {
				return fmt.Errorf("%%compute update: %s shares the nodes of %s: change %s there (%%compute update %s %s N)", t.Name, cfg.NodesOf, opt, cfg.NodesOf, opt)
			}
		}
	}
	sizes := slurm.DefaultCatalogue()
	_ = sizes.Add(cfg.VMSize) // a size of the user's own catalogue stays valid
	mc := sdk.ManagedCluster{VMSize: cfg.VMSize.Name, MinNodes: cfg.MinNodes, MaxNodes: cfg.MaxNodes,
		VMPriority: cfg.VMPriority, IdleSecondsBeforeScaledown: cfg.IdleSecondsBeforeScaledown,
		NodesOf: cfg.NodesOf, SlurmDir: cfg.SlurmDir, Sizes: sizes}
	if v, ok := p.opts["--vm-size"]; ok {
		mc.VMSize = v
	}
	if v, ok := p.opts["--priority"]; ok {
		mc.VMPriority = v
	}
	if mc.MinNodes, err = intOpt("compute", p, "--min-nodes", mc.MinNodes); err != nil {
		return err
	}
	if mc.MaxNodes, err = intOpt("compute", p, "--max-nodes", mc.MaxNodes); err != nil {
		return err
	}
	if mc.IdleSecondsBeforeScaledown, err = intOpt("compute", p, "--idle-seconds", mc.IdleSecondsBeforeScaledown); err != nil {
		return err
	}
	if cfg.NodesOf == "" && mc.MinNodes > mc.MaxNodes {
		return fmt.Errorf("%%compute update: min nodes %d would be more than max nodes %d: change both (--min-nodes N --max-nodes M)", mc.MinNodes, mc.MaxNodes)
	}
	if err := ws.UpdateManagedCluster(ctx, t.Name, mc); err != nil {
		return fmt.Errorf("%%compute update: %w", err)
	}
	if t, err = ws.ComputeTarget(ctx, t.Name); err != nil {
		return err
	}
	if cfg, err = slurm.ParseConfig(t.Config); err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "Updated managed cluster %s: %s.\n", t.Name, describeCluster(cfg))
	return nil
}

// writeClusterStatus writes the cluster's nodes by state, its runs and
// each node.
func (s *sdkMagics) writeClusterStatus(ctx context.Context, w io.Writer, ws *sdk.Workspace, name string) error {
	st, err := ws.ClusterStatus(ctx, name)
	if err != nil {
		return fmt.Errorf("%%compute status: %w", err)
	}
	fmt.Fprintf(w, "  %s\n", st)
	for _, n := range st.Nodes {
		fmt.Fprintf(w, "    %-20s %-14s (Slurm: %s)\n", n.Name, n.State, n.Slurm)
	}
	return nil
}

// describeCluster says in a line what a cluster is made of.
func describeCluster(cfg slurm.Config) string { return cfg.Summary() }
