// Package track carries metrics, tags and images from a training script to
// the Gantry agent that owns its run.
//
// The agent tells the script about its run through environment variables
// (see [Environ]) and the script appends records to a JSON Lines file, the
// track file, named by GANTRY_TRACK_FILE. The agent follows that file with a
// [Tailer] and records what it reads in the workspace. A file, rather than a
// socket, means that a script never blocks on the agent and that an agent
// restarted in the middle of a run resumes at the byte offset it saved.
//
// Go training programs write records with a [Run]:
//
//	run, err := track.FromEnv()
//	if errors.Is(err, track.ErrNotGantry) {
//		run, err = track.Local("run") // not run by Gantry: keep records in ./run
//	}
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer run.Close() // writes the last records
//	for step := range epochs {
//		run.Log("loss", loss, step)
//	}
//
// Python scripts use the one-file helper gantry_run.py kept next to this
// package (sdk/track/python), which writes the same records.
//
// # Record format
//
// Each line of the track file is one compact JSON object with its kind in
// "k" and the time it was logged, in Unix seconds, in "t":
//
//	{"k":"metric","name":"loss","value":0.5,"step":3,"t":1754000000.123456}
//	{"k":"list","name":"acc","values":[0.5,0.75],"t":1754000000.123456}
//	{"k":"row","name":"table","values":{"col":1,"other":2.5},"t":1754000000.123456}
//	{"k":"image","name":"plot","path":"outputs/plot.png","t":1754000000.123456}
//	{"k":"tag","key":"lr","value":"0.01","t":1754000000.123456}
//
// "step", a non-negative integer, is optional; a reader numbers the values
// of a name that come without one 0, 1, 2, ... (see [StepAssigner]).
// Values are finite numbers: JSON has no NaN or infinity, and writers refuse
// them. An image's "path" is relative to the run directory, with forward
// slashes, when the image lies inside it, and absolute otherwise. Writers
// only ever append whole lines; a reader ignores blank lines and fields it
// does not know.
package track
