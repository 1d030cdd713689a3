package sdk

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"gantry/sdk/workspace"
)

// ComputeTarget returns the target called name.
func (ws *Workspace) ComputeTarget(ctx context.Context, name string) (workspace.Target, error) {
	return ws.w.Target(ctx, name)
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
