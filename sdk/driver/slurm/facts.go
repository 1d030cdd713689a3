package slurm

import (
	"context"
	"fmt"
	"regexp"
	"strings"
)

// JobFacts is what Slurm says of a job and its nodes, to tell why the job
// ended: a node that failed, a time limit, an scancel from outside.
type JobFacts struct {
	JobID  string
	State  string // JobState: RUNNING, NODE_FAIL, CANCELLED, TIMEOUT...
	Reason string // Slurm's reason, if it gives one
	Nodes  []NodeFacts
}

// NodeFacts is what Slurm says of one node of a job.
type NodeFacts struct {
	Name   string
	State  string // State: IDLE, ALLOCATED, DOWN+NOT_RESPONDING...
	Reason string // why it is down or drained, if it is
}

// Failed reports whether the node has failed: down, not responding, or
// failing.
func (n NodeFacts) Failed() bool {
	for _, s := range strings.Split(n.State, "+") {
		switch s {
		case "DOWN", "FAIL", "FAILING", "NOT_RESPONDING":
			return true
		}
	}
	return false
}

// FailedNodes returns the job's nodes that have failed.
func (f JobFacts) FailedNodes() []NodeFacts {
	var out []NodeFacts
	for _, n := range f.Nodes {
		if n.Failed() {
			out = append(out, n)
		}
	}
	return out
}

// Cause says in a phrase why the job was stopped, as far as Slurm tells:
// the failed nodes first, then the job's own state.
func (f JobFacts) Cause() string {
	var parts []string
	for _, n := range f.FailedNodes() {
		p := "node " + n.Name + " failed (Slurm: " + n.State
		if n.Reason != "" {
			p += ", " + n.Reason
		}
		parts = append(parts, p+")")
	}
	job := "job " + f.JobID + " " + f.State
	if f.Reason != "" && f.Reason != "None" {
		job += " (" + f.Reason + ")"
	}
	switch {
	case len(parts) > 0:
		return strings.Join(parts, ", ") + "; Slurm: " + job
	case f.State == "NODE_FAIL" || f.Reason == "NodeDown":
		return "a node of the job failed; Slurm: " + job
	case f.State == "TIMEOUT":
		return "Slurm's time limit ended it; Slurm: " + job
	case f.State == "CANCELLED":
		return "the job was cancelled in Slurm (scancel), not through Gantry; Slurm: " + job
	case f.State != "":
		return "Slurm: " + job
	}
	return ""
}

// ReadJobFacts asks Slurm about the job with scontrol, through run (which
// runs a Slurm command and returns its standard output). nodes, if not "",
// is the job's allocation (SLURM_JOB_NODELIST inside the job): Slurm drops
// a failed node from the NodeList of a job it is ending.
func ReadJobFacts(ctx context.Context, run func(ctx context.Context, name string, args ...string) ([]byte, error), jobID, nodes string) (JobFacts, error) {
	f := JobFacts{JobID: jobID}
	out, err := run(ctx, "scontrol", "--oneliner", "show", "job", jobID)
	if err != nil {
		return f, fmt.Errorf("scontrol show job %s: %w", jobID, err)
	}
	kv := ParseKeyValues(strings.TrimSpace(string(out)))
	f.State, f.Reason = kv["JobState"], kv["Reason"]
	if nodes == "" {
		nodes = kv["NodeList"]
	}
	if nodes == "" || nodes == "(null)" {
		return f, nil
	}
	names, err := run(ctx, "scontrol", "show", "hostnames", nodes)
	if err != nil {
		return f, fmt.Errorf("scontrol show hostnames %s: %w", nodes, err)
	}
	for _, name := range strings.Fields(string(names)) {
		n := NodeFacts{Name: name}
		if out, err := run(ctx, "scontrol", "--oneliner", "show", "node", name); err == nil {
			kv := ParseKeyValues(strings.TrimSpace(string(out)))
			n.State, n.Reason = kv["State"], kv["Reason"]
		}
		f.Nodes = append(f.Nodes, n)
	}
	return f, nil
}

// keyStart matches a word of scontrol's one-line output that starts a
// Key=value pair.
var keyStart = regexp.MustCompile(`^[A-Z][A-Za-z0-9_:/]*=`)

// ParseKeyValues parses a line of `scontrol --oneliner show ...`: Key=value
// pairs separated by spaces, where a value may hold spaces (Reason=Not
// responding [slurm@...]).
func ParseKeyValues(line string) map[string]string {
	kv := map[string]string{}
	var key string
	for _, w := range strings.Fields(line) {
		if m := keyStart.FindString(w); m != "" {
			key = strings.TrimSuffix(m, "=")
			kv[key] = w[len(m):]
			continue
		}
		if key != "" {
			kv[key] += " " + w
		}
	}
	return kv
}
