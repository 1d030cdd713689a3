package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"gantry/sdk/driver/slurm"
	"gantry/sdk/gpu"
	"gantry/sdk/remote"
	"gantry/sdk/workspace"
)

// Errors the SDK returns, wrapped with what was asked: test for them with
// [errors.Is]. They are the workspace's own (workspace.ErrNotFound, ...).
var (
	// ErrNotFound means that no compute target, run or model has the name
	// or ID given.
	ErrNotFound = workspace.ErrNotFound
	// ErrExists means that a compute target of that name exists already,
	// with other settings than those given.
	ErrExists = workspace.ErrExists
)

// ComputeTarget returns the target called name (names are matched
// regardless of case). When there is none, the error matches ErrNotFound
// and names the targets there are:
//
//	t, err := ws.ComputeTarget(ctx, "gpu-box")
//	if errors.Is(err, sdk.ErrNotFound) { ... create it ... }
//
// The Create and Attach methods are get-or-create already: they succeed
// when a target of that name exists with the same settings.
func (ws *Workspace) ComputeTarget(ctx context.Context, name string) (workspace.Target, error) {
	t, err := ws.w.Target(ctx, name)
	if errors.Is(err, ErrNotFound) {
		return t, fmt.Errorf("%w; %s", err, ws.targetNames(ctx))
	}
	return t, err
}

// targetNames says which targets the workspace has.
func (ws *Workspace) targetNames(ctx context.Context) string {
	ts, err := ws.w.Targets(ctx)
	if err != nil || len(ts) == 0 {
		return "the workspace has no compute targets"
	}
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.Name
	}
	return "the workspace has " + strings.Join(names, ", ")
}

// existing checks a target found under the name a create was asked for:
// nil when it is of kind with the configuration cfg (as the create would
// store it), else an error matching ErrExists that says what differs and
// what to do: remedy (verb starts the error: "create compute", "attach").
func existing(t workspace.Target, verb string, kind workspace.Kind, cfg []byte, remedy string) error {
	if t.Kind != kind {
		return fmt.Errorf("%s %q: a %s target of that name %w: pick another name, or delete it first", verb, t.Name, t.Kind, ErrExists)
	}
	diffs, err := configDiff(t.Config, cfg)
	if err != nil {
		return fmt.Errorf("%s %q: %w", verb, t.Name, err)
	}
	if len(diffs) > 0 {
		return fmt.Errorf("%s %q: a target of that name %w with other settings (%s): %s",
			verb, t.Name, ErrExists, strings.Join(diffs, "; "), remedy)
	}
	if t.ProvisioningState != workspace.ProvisioningSucceeded {
		return fmt.Errorf("%s %q: it exists in state %s: wait for it (WaitForCompute), or delete it and create it again", verb, t.Name, t.ProvisioningState)
	}
	return nil
}

// configDiff lists the settings that differ between two target
// configurations (JSON objects), as "name: OLD there, NEW here".
func configDiff(have, want []byte) ([]string, error) {
	var a, b map[string]json.RawMessage
	if err := json.Unmarshal(orEmpty(have), &a); err != nil {
		return nil, fmt.Errorf("the stored configuration is unreadable: %w", err)
	}
	if err := json.Unmarshal(orEmpty(want), &b); err != nil {
		return nil, err
	}
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	var diffs []string
	for k := range keys {
		x, y := compactValue(a[k]), compactValue(b[k])
		if x != y {
			diffs = append(diffs, fmt.Sprintf("%s: %s there, %s here", k, x, y))
		}
	}
	sort.Strings(diffs)
	return diffs, nil
}

func orEmpty(b []byte) []byte {
	if len(bytes.TrimSpace(b)) == 0 {
		return []byte("{}")
	}
	return b
}

// compactValue is a JSON value in compact form, "unset" when absent.
func compactValue(v json.RawMessage) string {
	var buf bytes.Buffer
	if len(v) == 0 || json.Compact(&buf, v) != nil || buf.String() == "null" {
		return "unset"
	}
	s := buf.String()
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}

// UpdateLocalCompute changes the configuration of the local target name;
// runs already started keep the slots they hold.
func (ws *Workspace) UpdateLocalCompute(ctx context.Context, name string, c LocalCompute) error {
	t, err := ws.w.Target(ctx, name)
	if err != nil {
		return err
	}
	if t.Kind != workspace.KindLocal {
		return fmt.Errorf("update compute %q: it is a %s target, not local", name, t.Kind)
	}
	cfg, err := json.Marshal(c)
	if err != nil {
		return err
	}
	t.Config = cfg
	return ws.w.UpdateTarget(ctx, t)
}

// DeleteCompute removes the target name from the workspace. For a managed
// cluster this will also release its machines; for the local target and
// for attached machines it only forgets them.
func (ws *Workspace) DeleteCompute(ctx context.Context, name string) error {
	if t, err := ws.w.Target(ctx, name); err == nil && t.Kind == workspace.KindSlurm {
		if err := ws.deleteCluster(ctx, t); err != nil { // cluster.go
			return err
		}
	}
	return ws.w.DeleteTarget(ctx, name)
}

// DetachCompute forgets the target name without touching the machine it
// names.
func (ws *Workspace) DetachCompute(ctx context.Context, name string) error {
	return ws.w.DeleteTarget(ctx, name)
}

// WaitForCompute waits until the target name has finished provisioning
// (the seed's compute_target.wait_for_completion), writing its state
// changes to show when it is not nil. The local target is ready at once.
func (ws *Workspace) WaitForCompute(ctx context.Context, name string, show io.Writer) (workspace.ProvisioningState, error) {
	var last workspace.ProvisioningState
	for {
		t, err := ws.w.Target(ctx, name)
		if err != nil {
			return "", err
		}
		if t.ProvisioningState != last && show != nil {
			fmt.Fprintf(show, "compute %s: %s\n", name, t.ProvisioningState)
		}
		last = t.ProvisioningState
		switch last {
		case workspace.ProvisioningSucceeded:
			return last, nil
		case workspace.ProvisioningFailed:
			return last, fmt.Errorf("compute %q failed to provision", name)
		}
		select {
		case <-ctx.Done():
			return last, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// DescribeCompute writes what the target name is and how it is now, as
// `%compute status NAME` and `gantry compute status NAME` show it: for an
// SSH target it connects and describes the machine; for a managed cluster
// it lists its nodes by state and its runs; for the local target it says
// how many of its runs are queued and running.
func (ws *Workspace) DescribeCompute(ctx context.Context, w io.Writer, name string) error {
	t, err := ws.ComputeTarget(ctx, name)
	if err != nil {
		return err
	}
	switch t.Kind {
	case workspace.KindSSH:
		probe, err := ws.MachineStatus(ctx, t.Name)
		if err != nil {
			return fmt.Errorf("status of %q: %w", t.Name, err)
		}
		fmt.Fprintf(w, "%s is reachable.\n", t.Name)
		probe.Describe(w)
		return nil
	case workspace.KindSlurm:
		cfg, err := slurm.ParseConfig(t.Config)
		if err != nil {
			return fmt.Errorf("status of %q: %w", t.Name, err)
		}
		st, err := ws.ClusterStatus(ctx, t.Name)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%s: managed cluster, %s.\n  %s\n", t.Name, cfg.Summary(), st)
		for _, n := range st.Nodes {
			fmt.Fprintf(w, "    %-20s %-14s (Slurm: %s)\n", n.Name, n.State, n.Slurm)
		}
		return nil
	}
	var c LocalCompute
	if err := json.Unmarshal(orEmpty(t.Config), &c); err != nil {
		return fmt.Errorf("status of %q: its configuration is unreadable: %w", t.Name, err)
	}
	runs, err := ws.w.Runs(ctx, workspace.Filter{})
	if err != nil {
		return fmt.Errorf("status of %q: %w", t.Name, err)
	}
	counts := map[workspace.State]int{}
	for _, r := range runs {
		if strings.EqualFold(r.Target, t.Name) && !r.State.Final() {
			counts[r.State]++
		}
	}
	limit := "no cap on concurrent runs"
	if c.MaxConcurrentRuns > 0 {
		limit = fmt.Sprintf("at most %d runs at once", c.MaxConcurrentRuns)
	}
	fmt.Fprintf(w, "%s: local target (this machine, %s), %s.\n", t.Name, t.ProvisioningState, limit)
	devs, gerr := gpu.Detect(ctx)
	note := ""
	if gerr != nil {
		note = gerr.Error()
	}
	remote.DescribeGPUs(w, devs, note)
	if len(counts) == 0 {
		fmt.Fprintln(w, "  no runs in progress")
		return nil
	}
	var parts []string
	for _, st := range []workspace.State{workspace.StateNotStarted, workspace.StateQueued, workspace.StatePreparing,
		workspace.StateStarting, workspace.StateRunning, workspace.StateFinalizing, workspace.StateCancelRequested, workspace.StateNotResponding} {
		if n := counts[st]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, st))
			delete(counts, st)
		}
	}
	for st, n := range counts {
		parts = append(parts, fmt.Sprintf("%d %s", n, st))
	}
	fmt.Fprintf(w, "  runs in progress: %s\n", strings.Join(parts, ", "))
	return nil
}
