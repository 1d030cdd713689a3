package magics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"gantry/sdk"
	"gantry/sdk/workspace"
)

// --- %compute --------------------------------------------------------------------

func (s *sdkMagics) compute(ctx context.Context, c *Call) error {
	spec := sshFlags()
	spec["--max-concurrent-runs"] = true
	spec["--kind"] = true
	for opt, takes := range clusterFlags() { // sdk_cluster.go
		spec[opt] = takes
	}
	p, err := parseArgs("compute", c.Args, spec, false)
	if err != nil {
		return err
	}
	if len(p.pos) == 0 {
		return errors.New("%compute needs a subcommand: list, show NAME, status NAME, create local NAME, attach ssh NAME ..., connect NAME, update NAME, delete NAME or detach NAME")
	}
	sub, args := p.pos[0], p.pos[1:]
	if sub != "attach" && sub != "create" {
		for opt := range sshFlags() {
			if has(p, opt) {
				return fmt.Errorf("%%compute %s: %s belongs to %s", sub, opt, sshUsage)
			}
		}
	}
	if err := checkClusterFlags(sub, p); err != nil {
		return err
	}
	if _, ok := p.opts["--max-concurrent-runs"]; ok && sub != "create" && sub != "attach" && sub != "update" {
		return fmt.Errorf("%%compute %s: --max-concurrent-runs belongs to %%compute create", sub)
	}
	one := func() (string, error) {
		if len(args) != 1 {
			return "", fmt.Errorf("%%compute %s needs one target NAME, got %d words: %%compute list shows the targets", sub, len(args))
		}
		return args[0], nil
	}
	ws, err := s.ws(ctx)
	if err != nil {
		return fmt.Errorf("%%compute: %w", err)
	}
	switch sub {
	case "list":
		if len(args) > 0 {
			return errors.New("%compute list takes no arguments")
		}
		ts, err := ws.ComputeTargets(ctx)
		if err != nil {
			return fmt.Errorf("%%compute list: %w", err)
		}
		if len(ts) == 0 {
			_, err := io.WriteString(c.Stdout, "No compute targets: add this machine with %compute create local NAME\n")
			return err
		}
		t := &table{head: []string{"name", "kind", "state", "config"}}
		for _, x := range ts {
			t.add(cell{text: x.Name}, cell{text: string(x.Kind)}, cell{text: string(x.ProvisioningState)}, cell{text: compactJSON(x.Config)})
		}
		c.S.Display(t.bundle())
		return nil
	case "show":
		name, err := one()
		if err != nil {
			return err
		}
		t, err := ws.Store().Target(ctx, name)
		if err != nil {
			return fmt.Errorf("%%compute show: %w%s", err, notFoundHint(err, "%compute list shows the targets"))
		}
		var b strings.Builder
		fmt.Fprintf(&b, "Name:    %s\nKind:    %s\nState:   %s\nCreated: %s\nUpdated: %s\nConfig:  %s\n",
			t.Name, t.Kind, t.ProvisioningState, when(t.Created), when(t.Updated), indentJSON(t.Config))
		if len(t.Secrets) > 0 {
			var keys []string
			for k := range t.Secrets {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			fmt.Fprintf(&b, "Secrets: %s (stored by reference)\n", strings.Join(keys, ", "))
		}
		_, err = io.WriteString(c.Stdout, b.String())
		return err
	case "update":
		name, err := one()
		if err != nil {
			return err
		}
		if t, err := ws.ComputeTarget(ctx, name); err == nil && t.Kind == workspace.KindSlurm {
			return s.updateCluster(ctx, c, ws, t, p) // sdk_cluster.go
		}
		if opt := clusterFlagGiven(p); opt != "" {
			return fmt.Errorf("%%compute update: %s belongs to managed clusters, and %s is not one", opt, name)
		}
		if _, ok := p.opts["--max-concurrent-runs"]; !ok {
			return errors.New("%compute update NAME needs a setting to change: --max-concurrent-runs N")
		}
		n, err := intOpt("compute", p, "--max-concurrent-runs", 0)
		if err != nil {
			return err
		}
		if err := ws.UpdateLocalCompute(ctx, name, sdk.LocalCompute{MaxConcurrentRuns: n}); err != nil {
			return fmt.Errorf("%%compute update: %w%s", err, notFoundHint(err, "%compute list shows the targets"))
		}
		_, err = fmt.Fprintf(c.Stdout, "Updated compute target %s: max concurrent runs %d (0: no cap).\n", name, n)
		return err
	case "status", "connect":
		name, err := one()
		if err != nil {
			return err
		}
		if sub == "connect" {
			return s.connectSSH(ctx, c, ws, name)
		}
		if err := ws.DescribeCompute(ctx, c.Stdout, name); err != nil {
			return fmt.Errorf("%%compute status: %w", err)
		}
		return nil
	case "create", "attach":
		if kind, ok := p.opts["--kind"]; ok && len(args) == 1 {
			args = []string{kind, args[0]} // %compute attach NAME --kind KIND
		}
		if len(args) == 2 && workspace.Kind(args[0]) == workspace.KindSSH {
			return s.attachSSH(ctx, c, ws, args[1], p, false)
		}
		if len(args) == 2 && workspace.Kind(args[0]) == workspace.KindSlurm && has(p, "--address") {
			return s.attachSSH(ctx, c, ws, args[1], p, true) // an existing cluster's login node
		}
		for opt := range sshFlags() {
			if has(p, opt) {
				return fmt.Errorf("%%compute %s: %s belongs to %s", sub, opt, sshUsage)
			}
		}
		if len(args) == 2 && args[0] == "cluster" && sub == "create" {
			return s.createCluster(ctx, c, ws, args[1], p) // sdk_cluster.go
		}
		if opt := clusterFlagGiven(p); opt != "" {
			return fmt.Errorf("%%compute %s: %s belongs to %s", sub, opt, clusterUsage)
		}
		if len(args) != 2 {
			return fmt.Errorf("%%compute create needs a KIND and a NAME, got %d words: %%compute create local NAME [--max-concurrent-runs N], or %s", len(args), clusterUsage)
		}
		kind, name := args[0], args[1]
		switch workspace.Kind(kind) {
		case workspace.KindLocal:
		case workspace.KindSlurm:
			return fmt.Errorf("%%compute %s %s: a managed cluster on Slurm is %s; an existing Slurm cluster is attached through its login node with %%compute attach NAME --kind slurm --address HOST ...", sub, kind, clusterUsage)
		default:
			return fmt.Errorf("%%compute create: unknown kind %q: use local or cluster, or attach ssh", kind)
		}
		n, err := intOpt("compute", p, "--max-concurrent-runs", 0)
		if err != nil {
			return err
		}
		_, lookup := ws.ComputeTarget(ctx, name)
		if err := ws.CreateLocalCompute(ctx, name, sdk.LocalCompute{MaxConcurrentRuns: n}); err != nil {
			hint := ""
			if errors.Is(err, workspace.ErrExists) {
				hint = " (here: %compute update NAME --max-concurrent-runs N, or %compute delete NAME)"
			}
			return fmt.Errorf("%%compute create: %w%s", err, hint)
		}
		if lookup == nil {
			_, err = fmt.Fprintf(c.Stdout, "Local compute target %s exists already, with these settings.\n", name)
			return err
		}
		verb := "Created"
		if sub == "attach" {
			verb = "Attached" // this machine exists already: attaching it is creating its target
		}
		_, err = fmt.Fprintf(c.Stdout, "%s local compute target %s.\n", verb, name)
		return err
	case "delete", "detach":
		name, err := one()
		if err != nil {
			return err
		}
		del := ws.DeleteCompute // a managed cluster's runs are canceled and its nodes released
		if sub == "detach" {
			del = ws.DetachCompute
		}
		if err := del(ctx, name); err != nil {
			return fmt.Errorf("%%compute %s: %w%s", sub, err, notFoundHint(err, "%compute list shows the targets"))
		}
		verb := "Deleted"
		if sub == "detach" {
			verb = "Detached"
		}
		_, err = fmt.Fprintf(c.Stdout, "%s compute target %s.\n", verb, name)
		return err
	}
	return fmt.Errorf("%%compute: unknown subcommand %q: use list, show, create, attach, update, delete or detach", sub)
}

// notFoundHint is ": "+hint when err is a workspace.ErrNotFound.
func notFoundHint(err error, hint string) string {
	if errors.Is(err, workspace.ErrNotFound) {
		return ": " + hint
	}
	return ""
}
