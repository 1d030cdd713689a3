// Package local is the driver of the local target: the run's agent is a
// process of this machine, in a session of its own, so it outlives the
// kernel or program that submitted the run.
package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"syscall"

	"gantry/sdk/agent"
	"gantry/sdk/driver"
)

// Kind is the target kind this driver runs.
const Kind = "local"

// Driver starts agents with the gantry binary at Exe.
type Driver struct {
	Exe string
}

var (
	_ driver.Driver    = (*Driver)(nil)
	_ driver.Validator = (*Driver)(nil)
	_ driver.Recoverer = (*Driver)(nil)
)

// state is what the handle keeps.
type state struct {
	PID int `json:"pid"`
}

// Config is the local target's configuration.
type Config struct {
	// MaxConcurrentRuns caps the runs that execute at once (0: no cap).
	MaxConcurrentRuns int `json:"max_concurrent_runs,omitempty"`
}

// Submit starts `gantry agent` for the job, detached.
func (d *Driver) Submit(ctx context.Context, job driver.Job) (driver.Handle, error) {
	if d.Exe == "" {
		return driver.Handle{}, errors.New("local driver: no gantry binary to run agents with")
	}
	pid, err := agent.Launch(d.Exe, job.WorkspaceDir, job.RunDir, job.RunID)
	if err != nil {
		return driver.Handle{}, err
	}
	st, _ := json.Marshal(state{PID: pid})
	return driver.Handle{Kind: Kind, State: st}, nil
}

// Cancel does nothing more: the agent, on this machine, sees the cancel
// request in the workspace within a quarter of a second.
func (d *Driver) Cancel(ctx context.Context, job driver.Job, h driver.Handle) error { return nil }

// Validate checks a local target's configuration.
func (d *Driver) Validate(ctx context.Context, config json.RawMessage) error {
	var c Config
	if len(config) == 0 {
		return nil
	}
	if err := json.Unmarshal(config, &c); err != nil {
		return fmt.Errorf("local target configuration: %w", err)
	}
	if c.MaxConcurrentRuns < 0 {
		return fmt.Errorf("local target configuration: max_concurrent_runs is %d: use 0 for no cap or a positive number", c.MaxConcurrentRuns)
	}
	return nil
}

// Alive reports whether the agent process in the handle still runs.
func (d *Driver) Alive(ctx context.Context, job driver.Job, h driver.Handle) (bool, error) {
	var st state
	if err := json.Unmarshal(h.State, &st); err != nil || st.PID <= 0 {
		return false, fmt.Errorf("local driver: unreadable handle %s", h.State)
	}
	err := syscall.Kill(st.PID, 0)
	return err == nil || errors.Is(err, syscall.EPERM), nil
}
