// Package agent owns one run from start to end: it materialises the run's
// snapshot, prepares its environment, runs the script in a process group
// of its own, writes the script's output to the run's log, feeds what the
// script reports through gantry_run / sdk/track into the workspace, honours
// cancel requests and the maximum duration, and records every change of
// state in the workspace database.
//
// The agent runs as a process of its own (`gantry agent`), detached from
// the kernel that submitted the run, so a kernel restart or a closed
// notebook does not stop training. Everything it knows is in the run's
// directory and the workspace database, so any client can watch the run.
//
// It holds the run's agent lock for life (package runlock), starts the
// script only once the submit has completed, makes the script die with it
// (PR_SET_PDEATHSIG), and retries every record through a full disk or a
// busy database (disk.go): whoever watches can tell a dead agent from a
// live one, and a live one never gives up on recording the run's end.
package agent

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"gantry/sdk/environment"
	"gantry/sdk/track"
)

// Job is what the agent needs to run, written as job.json in the run's
// directory by the submitter.
type Job struct {
	RunID       string                  `json:"run_id"`
	Experiment  string                  `json:"experiment"`
	SnapshotID  string                  `json:"snapshot_id"`
	Script      string                  `json:"script,omitempty"`   // relative to the source directory
	Command     []string                `json:"command,omitempty"`  // instead of Script: argv, run in the source directory
	Notebook    *NotebookJob            `json:"notebook,omitempty"` // instead of Script: a notebook, run by gantry nbrun
	Arguments   []string                `json:"arguments,omitempty"`
	Environment environment.Environment `json:"environment"`
	EnvVars     map[string]string       `json:"env_vars,omitempty"`
	MaxDuration time.Duration           `json:"max_duration,omitempty"` // 0: no limit
	// Launcher, if set, is the argv that runs Script, before the script's
	// path and arguments: spark-submit and its options, say. The prepared
	// environment's interpreter is in the launcher's environment as
	// GANTRY_PYTHON (and PYSPARK_PYTHON).
	Launcher []string `json:"launcher,omitempty"`

	Target            string `json:"target"`
	MaxConcurrentRuns int    `json:"max_concurrent_runs,omitempty"` // of the target; 0: no cap
	// GPUCount is how many GPUs the run asks for: the agent leases that
	// many devices of the machine for it (gpus.go); 0: none, and a run
	// on a machine with GPUs sees none of them.
	GPUCount int `json:"gpu_count,omitempty"`
}

// Files and directories inside a run's directory.
const (
	JobFile      = "job.json"
	ManifestFile = "snapshot.manifest"
	OutputLog    = "logs/output.log"      // the script's stdout and stderr, in order of arrival
	PrepareLog   = "logs/environment.log" // the environment build
	AgentLog     = "logs/agent.log"       // the agent's own account of the run
	TrackFile    = track.TrackFileName    // records from gantry_run / sdk/track
	WorkDir      = "wd"                   // the snapshot, materialised; the script's working directory
	OutputsDir   = track.OutputsDirName   // collected outputs; wd/outputs links here
	PIDFile      = "agent.pid"
	// NotebookReport is where a notebook run's nbrun reports how the
	// notebook went (its failing cell), and ParametersFile where the agent
	// puts the notebook's parameters for it.
	NotebookReport = "logs/notebook.json"
	ParametersFile = "parameters.yaml"
)

// WriteJob writes job into runDir.
func WriteJob(runDir string, job Job) error {
	b, err := json.MarshalIndent(job, "", "  ")
	if err != nil {
		return fmt.Errorf("encode job of run %s: %w", job.RunID, err)
	}
	tmp := filepath.Join(runDir, JobFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("write job of run %s: %w", job.RunID, err)
	}
	if err := os.Rename(tmp, filepath.Join(runDir, JobFile)); err != nil {
		return fmt.Errorf("write job of run %s: %w", job.RunID, err)
	}
	return nil
}

// ReadJob reads the job in runDir.
func ReadJob(runDir string) (Job, error) {
	var job Job
	b, err := os.ReadFile(filepath.Join(runDir, JobFile))
	if err != nil {
		return job, fmt.Errorf("read job: %w", err)
	}
	if err := json.Unmarshal(b, &job); err != nil {
		return job, fmt.Errorf("read job %s: %w", filepath.Join(runDir, JobFile), err)
	}
	return job, nil
}
