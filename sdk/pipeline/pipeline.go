// Package pipeline runs pipelines: graphs of steps submitted as one run
// (the pipeline run) whose child runs are the steps.
//
// A step is a script on any target (ScriptStep), a PySpark script or a jar
// on a Spark target (SparkStep), or a Spark SQL script over the pipeline's
// data (SQLStep). Steps pass data by name: a step declares the directories
// it writes under outputs/ (Outputs), and a later step names them in its
// Inputs as "STEP.OUTPUT"; the pipeline's own Inputs are files or
// directories of this machine. Every input is kept by content in the
// workspace's blob store and restored into the consuming step's working
// directory under inputs/NAME; its path is handed to the step in
// $GANTRY_INPUT_NAME and in arguments that say {inputs.NAME} (outputs:
// $GANTRY_OUTPUT_NAME, {outputs.NAME}).
//
// The graph comes from those data edges and After; cycles and missing
// inputs are refused before anything runs. Steps whose inputs are ready
// run at once, up to MaxConcurrency. A failed step stops its descendants
// (they are shown as not run) and fails the pipeline with its reason.
//
// Reuse: a step's key is the digest of its code snapshot, environment,
// arguments, settings and the content of every input. A step whose key
// matches a completed step's is not run again: its run is recorded
// Completed at once, says which run it reused, and hands on that run's
// outputs. Changed data at an unchanged path changes the key. Resubmit
// runs a pipeline again as it was submitted: completed steps are reused,
// the others run.
//
// The loop that schedules steps is the pipeline run's controller (package
// controller), a process of its own: a pipeline goes on when the kernel
// that submitted it restarts or dies, and Workspace.Run finds it again.
package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"gantry/sdk/environment"
)

// A StepKind says what a step runs.
type StepKind string

// The kinds of step.
const (
	ScriptStep StepKind = "script" // a script (python) or command, on any target
	SparkStep  StepKind = "spark"  // a PySpark script or a jar, with spark-submit, on a Spark target
	SQLStep    StepKind = "sql"    // a Spark SQL script over the step's inputs, on a Spark target
)

// Step is one step of a pipeline.
type Step struct {
	// Name identifies the step in the pipeline: letters, digits, - and _.
	Name string `json:"name" yaml:"name"`
	// Kind is ScriptStep when empty.
	Kind StepKind `json:"kind,omitempty" yaml:"kind,omitempty"`
	// Target is the compute target that runs the step.
	Target string `json:"target" yaml:"target"`
	// SourceDirectory is snapshotted when the pipeline is submitted (the
	// directory of a pipeline file, or the current one, when empty).
	SourceDirectory string `json:"source_directory,omitempty" yaml:"source_directory,omitempty"`
	// Script is a path inside SourceDirectory: a .py script; for a Spark
	// step a .py or a .jar; for a SQL step a .sql file.
	Script string `json:"script,omitempty" yaml:"script,omitempty"`
	// Command runs instead of Script (script steps only).
	Command []string `json:"command,omitempty" yaml:"command,omitempty"`
	// Arguments may hold {inputs.NAME} and {outputs.NAME}, replaced by
	// the paths of the step's inputs and outputs.
	Arguments []string `json:"arguments,omitempty" yaml:"arguments,omitempty"`
	// Environment is a user-managed python3 when nil (see
	// EnvironmentFile).
	Environment *environment.Environment `json:"environment,omitempty" yaml:"-"`
	// EnvironmentFile, in a pipeline file, is a conda_dependencies.yml or
	// a Python interpreter (a path or a name on PATH), as %submit --env.
	EnvironmentFile string            `json:"environment_file,omitempty" yaml:"environment,omitempty"`
	EnvVars         map[string]string `json:"env_vars,omitempty" yaml:"env_vars,omitempty"`
	// Inputs maps the step's names for its inputs to what they are: the
	// name of one of the pipeline's Inputs, or "STEP.OUTPUT".
	Inputs map[string]string `json:"inputs,omitempty" yaml:"inputs,omitempty"`
	// Outputs names what the step writes under outputs/ (a directory or a
	// file each), handed on to the steps that name them.
	Outputs []string `json:"outputs,omitempty" yaml:"outputs,omitempty"`
	// After names steps that must complete before this one, beside those
	// whose outputs it reads.
	After []string `json:"after,omitempty" yaml:"after,omitempty"`
	// NoReuse runs the step every time (allow_reuse=False).
	NoReuse     bool          `json:"no_reuse,omitempty" yaml:"no_reuse,omitempty"`
	MaxDuration time.Duration `json:"max_duration,omitempty" yaml:"max_duration,omitempty"`
	NodeCount   int           `json:"node_count,omitempty" yaml:"node_count,omitempty"`
	// MainClass is the class a Spark step's jar runs.
	MainClass string `json:"main_class,omitempty" yaml:"main_class,omitempty"`
	// Format is what a SQL step writes its result as: csv (the default,
	// with a header), parquet or json.
	Format string `json:"format,omitempty" yaml:"format,omitempty"`
}

// Pipeline is a graph of steps, submitted with Submit.
type Pipeline struct {
	Name string `json:"name,omitempty" yaml:"name,omitempty"`
	// Inputs maps names to files or directories of this machine, kept by
	// content when the pipeline is submitted.
	Inputs map[string]string `json:"inputs,omitempty" yaml:"inputs,omitempty"`
	Steps  []Step            `json:"steps" yaml:"steps"`
	// MaxConcurrency caps the steps that run at once (default 4).
	MaxConcurrency int `json:"max_concurrency,omitempty" yaml:"max_concurrency,omitempty"`
}

// Load reads a pipeline from a YAML or JSON file. Relative paths in it
// (inputs, source directories, environment files) are relative to the
// file's directory.
func Load(path string) (*Pipeline, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	var p Pipeline
	if strings.HasSuffix(path, ".json") {
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		err = dec.Decode(&p)
	} else {
		dec := yaml.NewDecoder(strings.NewReader(string(b)))
		dec.KnownFields(true)
		err = dec.Decode(&p)
	}
	if err != nil {
		return nil, fmt.Errorf("pipeline %s: %w", path, err)
	}
	base, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	rel := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(base, p)
	}
	for k, v := range p.Inputs {
		p.Inputs[k] = rel(v)
	}
	for i := range p.Steps {
		s := &p.Steps[i]
		if s.SourceDirectory == "" {
			s.SourceDirectory = base
		} else {
			s.SourceDirectory = rel(s.SourceDirectory)
		}
		if f := s.EnvironmentFile; f != "" && (strings.ContainsRune(f, '/') || strings.HasSuffix(f, ".yml") || strings.HasSuffix(f, ".yaml")) {
			s.EnvironmentFile = rel(f)
		}
	}
	return &p, nil
}

var nameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,63}$`)

// placeholderRE matches {inputs.NAME} and {outputs.NAME} in arguments.
var placeholderRE = regexp.MustCompile(`\{(inputs|outputs)\.([A-Za-z0-9_-]+)\}`)

// graph is a checked pipeline's steps in an order that runs every step
// after those it depends on.
type graph struct {
	order []int               // indexes into Steps
	deps  map[string][]string // step -> the steps it needs
}

// check validates the pipeline: names, references, kinds, and that the
// graph has no cycle. It reads nothing but the pipeline itself and the
// files it names.
func (p *Pipeline) check() (*graph, error) {
	if len(p.Steps) == 0 {
		return nil, errors.New("pipeline: it has no steps")
	}
	if p.MaxConcurrency < 0 {
		return nil, fmt.Errorf("pipeline: max concurrency %d: use 0 for the default (4) or a positive number", p.MaxConcurrency)
	}
	for name, path := range p.Inputs {
		if !nameRE.MatchString(name) {
			return nil, fmt.Errorf("pipeline input %q: a name is a letter then letters, digits, - or _", name)
		}
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("pipeline input %q: %s is missing: %w", name, path, errors.Unwrap(err))
		}
	}
	index := map[string]int{}
	for i, s := range p.Steps {
		if !nameRE.MatchString(s.Name) {
			return nil, fmt.Errorf("step %d: name %q: a name is a letter then letters, digits, - or _", i+1, s.Name)
		}
		if _, dup := index[s.Name]; dup {
			return nil, fmt.Errorf("step %q: two steps have that name", s.Name)
		}
		if _, dup := p.Inputs[s.Name]; dup {
			return nil, fmt.Errorf("step %q: a pipeline input has that name too", s.Name)
		}
		index[s.Name] = i
	}
	g := &graph{deps: map[string][]string{}}
	for _, s := range p.Steps {
		if err := s.checkOwn(); err != nil {
			return nil, err
		}
		need := map[string]bool{}
		for local, ref := range s.Inputs {
			if !nameRE.MatchString(local) {
				return nil, fmt.Errorf("step %q: input name %q: a name is a letter then letters, digits, - or _", s.Name, local)
			}
			step, out, isStep := strings.Cut(ref, ".")
			if !isStep {
				if _, ok := p.Inputs[ref]; !ok {
					return nil, fmt.Errorf("step %q: input %q is %q, which is neither a pipeline input (%s) nor STEP.OUTPUT", s.Name, local, ref, names(p.Inputs))
				}
				continue
			}
			j, ok := index[step]
			if !ok {
				return nil, fmt.Errorf("step %q: input %q comes from step %q, which the pipeline does not have", s.Name, local, step)
			}
			if !contains(p.Steps[j].Outputs, out) {
				return nil, fmt.Errorf("step %q: input %q is output %q of step %q, which declares no such output (it has: %s)", s.Name, local, out, step, strings.Join(p.Steps[j].Outputs, ", "))
			}
			need[step] = true
		}
		for _, a := range s.After {
			if _, ok := index[a]; !ok {
				return nil, fmt.Errorf("step %q: after %q: the pipeline has no such step", s.Name, a)
			}
			need[a] = true
		}
		if need[s.Name] {
			return nil, fmt.Errorf("step %q depends on itself: a cycle", s.Name)
		}
		for _, m := range placeholderRE.FindAllStringSubmatch(strings.Join(s.Arguments, "\x00"), -1) {
			if m[1] == "inputs" && s.Inputs[m[2]] == "" {
				return nil, fmt.Errorf("step %q: argument {inputs.%s} names no input of the step", s.Name, m[2])
			}
			if m[1] == "outputs" && !contains(s.Outputs, m[2]) {
				return nil, fmt.Errorf("step %q: argument {outputs.%s} names no output of the step", s.Name, m[2])
			}
		}
		for d := range need {
			g.deps[s.Name] = append(g.deps[s.Name], d)
		}
		sort.Strings(g.deps[s.Name])
	}
	// Kahn's algorithm, in the steps' order; what is left is a cycle.
	indeg := map[string]int{}
	for _, s := range p.Steps {
		indeg[s.Name] = len(g.deps[s.Name])
	}
	done := map[string]bool{}
	for len(g.order) < len(p.Steps) {
		progress := false
		for i, s := range p.Steps {
			if done[s.Name] || indeg[s.Name] > 0 {
				continue
			}
			done[s.Name] = true
			g.order = append(g.order, i)
			progress = true
			for _, t := range p.Steps {
				if contains(g.deps[t.Name], s.Name) {
					indeg[t.Name]--
				}
			}
		}
		if !progress {
			var cyc []string
			for _, s := range p.Steps {
				if !done[s.Name] {
					cyc = append(cyc, s.Name)
				}
			}
			return nil, fmt.Errorf("pipeline: the steps %s depend on each other in a cycle: break it (a step cannot read its own descendants' outputs)", strings.Join(cyc, ", "))
		}
	}
	return g, nil
}

// checkOwn checks what a step says of itself.
func (s Step) checkOwn() error {
	if s.Target == "" {
		return fmt.Errorf("step %q: no target: set Target to a compute target's name", s.Name)
	}
	seen := map[string]bool{}
	for _, o := range s.Outputs {
		if !nameRE.MatchString(o) && !regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`).MatchString(o) {
			return fmt.Errorf("step %q: output %q: a name is letters, digits, ., - or _", s.Name, o)
		}
		if seen[o] {
			return fmt.Errorf("step %q: output %q is declared twice", s.Name, o)
		}
		seen[o] = true
	}
	switch s.Kind {
	case "", ScriptStep:
		if s.Script == "" && len(s.Command) == 0 {
			return fmt.Errorf("step %q: nothing to run: set Script or Command", s.Name)
		}
	case SparkStep:
		if !strings.HasSuffix(s.Script, ".py") && !strings.HasSuffix(s.Script, ".jar") {
			return fmt.Errorf("step %q: a Spark step runs a .py or a .jar, not %q", s.Name, s.Script)
		}
		if strings.HasSuffix(s.Script, ".jar") && s.MainClass == "" {
			return fmt.Errorf("step %q: a jar needs MainClass", s.Name)
		}
	case SQLStep:
		if !strings.HasSuffix(s.Script, ".sql") {
			return fmt.Errorf("step %q: a SQL step runs a .sql script, not %q", s.Name, s.Script)
		}
		if len(s.Outputs) != 1 {
			return fmt.Errorf("step %q: a SQL step writes the result of its last query to exactly one output; it declares %d", s.Name, len(s.Outputs))
		}
		switch s.Format {
		case "", "csv", "parquet", "json":
		default:
			return fmt.Errorf("step %q: format %q: use csv, parquet or json", s.Name, s.Format)
		}
	default:
		return fmt.Errorf("step %q: kind %q: use script, spark or sql", s.Name, s.Kind)
	}
	if s.Script != "" {
		clean := filepath.Clean(s.Script)
		if filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") {
			return fmt.Errorf("step %q: script %q is outside its source directory %q", s.Name, s.Script, s.SourceDirectory)
		}
		if _, err := os.Stat(filepath.Join(s.dir(), clean)); err != nil {
			return fmt.Errorf("step %q: script %q not found in source directory %q", s.Name, s.Script, s.dir())
		}
	}
	return nil
}

// dir is the step's source directory.
func (s Step) dir() string {
	if s.SourceDirectory == "" {
		return "."
	}
	return s.SourceDirectory
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func names(m map[string]string) string {
	if len(m) == 0 {
		return "it has none"
	}
	var ns []string
	for k := range m {
		ns = append(ns, k)
	}
	sort.Strings(ns)
	return strings.Join(ns, ", ")
}

// envName is the environment variable that holds the path of an input or
// output: GANTRY_INPUT_CLEAN_DATA for clean-data.
func envName(prefix, name string) string {
	return prefix + strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			return r
		}
		return '_'
	}, name)
}
