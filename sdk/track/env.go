package track

import (
	"errors"
	"path/filepath"
)

// The environment variables through which the agent describes a run to its
// script.
const (
	EnvRunID      = "GANTRY_RUN_ID"      // the run's ID
	EnvExperiment = "GANTRY_EXPERIMENT"  // the experiment's name
	EnvRunDir     = "GANTRY_RUN_DIR"     // the run's directory
	EnvOutputsDir = "GANTRY_OUTPUTS_DIR" // $GANTRY_RUN_DIR/outputs: files kept with the run
	EnvTrackFile  = "GANTRY_TRACK_FILE"  // the track file the script appends records to
)

// Default names inside a run directory.
const (
	OutputsDirName = "outputs"
	TrackFileName  = "track.jsonl"
)

// ErrNotGantry reports that the program was not started by Gantry: the
// environment names no track file.
var ErrNotGantry = errors.New("not run by Gantry")

// Environ returns the environment entries ("KEY=value") that describe a run
// to its script: the run's ID, its experiment, its directory, the outputs
// directory inside it and the track file inside it.
func Environ(runID, experiment, runDir string) []string {
	return []string{
		EnvRunID + "=" + runID,
		EnvExperiment + "=" + experiment,
		EnvRunDir + "=" + runDir,
		EnvOutputsDir + "=" + filepath.Join(runDir, OutputsDirName),
		EnvTrackFile + "=" + filepath.Join(runDir, TrackFileName),
	}
}
