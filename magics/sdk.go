package magics

// The SDK magics: thin commands over gantry/sdk (and sdk/workspace for what
// the sdk package does not wrap) for the workspace, compute targets, runs,
// metrics and models. They run inside the executor, so they call the SDK
// directly; the workspace is opened lazily on a magic's first use, from
// $GANTRY_WORKSPACE or .gantry in the executor's current directory (which
// follows %cd), and kept open per directory by the sdkMagics value that
// registered them.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"gantry/sdk"
	"gantry/sdk/workspace"
)

// sdkMagics owns the workspaces the SDK magics opened, one per directory.
type sdkMagics struct {
	mu      sync.Mutex
	open    map[string]*sdk.Workspace
	secrets *sdk.Secrets // the session's prompted secrets; nil: each workspace's own
}

// registerSDK registers %workspace, %compute, %submit, %runs, %run,
// %metrics, %pipeline and %model in r.
func registerSDK(r *Registry, secrets *sdk.Secrets) error {
	s := &sdkMagics{secrets: secrets}
	for _, m := range s.magics() {
		if err := r.Register(m); err != nil {
			return err
		}
	}
	return nil
}

func (s *sdkMagics) magics() []*Magic {
	return []*Magic{
		{Name: "workspace", Line: true, Usage: "%workspace", Run: s.workspaceMagic,
			Doc: "Shows the workspace the SDK magics use and how many compute targets, experiments, runs and " +
				"models it holds. The workspace is $GANTRY_WORKSPACE if set, else the directory .gantry in the " +
				"current directory (%cd changes which); it is created on first use."},
		{Name: "compute", Line: true,
			Usage: "%compute list | show NAME | status NAME | create local|cluster NAME ... | attach NAME --kind ssh|slurm ... | connect NAME | update NAME ... | delete NAME | detach NAME",
			Forms: []string{
				"%compute list",
				"%compute show NAME",
				"%compute status NAME",
				"%compute create local NAME [--max-concurrent-runs N]   (or: %compute attach local NAME)",
				"%compute attach NAME --kind ssh --address HOST [--port 22] --user USER " + sshAuthUsage + " " + sshMoreUsage +
					"   (or: %compute attach ssh NAME ...)",
				"%compute attach NAME --kind slurm --address HOST [--port 22] --user USER " + sshAuthUsage +
					" [--partition P] [--account A] [--slurm-conf FILE] [--requeue] " + sshMoreUsage,
				"%compute connect NAME",
				clusterUsage,
				"%compute update NAME --max-concurrent-runs N",
				clusterUpdateUsage,
				"%compute delete NAME",
				"%compute detach NAME",
			},
			Run: s.compute,
			Doc: "Manages the workspace's compute targets: where runs execute. NAME is 2 to 16 letters, digits or " +
				"hyphens, starting with a letter. Creating or attaching a target that exists with the same settings " +
				"changes nothing (a notebook may run it every time); with other settings it is refused, naming each " +
				"setting that differs.\n\n" +
				"list shows the targets in a table; show NAME prints one with its configuration; status NAME " +
				"describes it now: an SSH machine as it answers (OS, Python, conda, Docker, GPUs, disk, Slurm), a " +
				"managed cluster's nodes by state with its queued and running runs, a local target's runs in " +
				"progress.\n\n" +
				"create local NAME adds this machine, optionally capping how many runs execute at once (attach local " +
				"NAME is the same); update NAME --max-concurrent-runs N changes the cap.\n\n" +
				"attach NAME --kind ssh adds a machine reached over SSH: it checks the host key against known_hosts " +
				"(--known-hosts FILE; --trust-on-first-use records an unknown one), logs in with --key FILE or a " +
				"password, copies the agent there and describes the machine. Secrets are never stored: --password and " +
				"--passphrase ask with hidden input (again after a restart: connect NAME), --password-env and " +
				"--passphrase-env name an environment variable. --jump goes through a bastion; --remote-root is where " +
				"runs and caches live there (~/.gantry-remote).\n\n" +
				"attach NAME --kind slurm adds an existing Slurm cluster through its login node, with the SSH options: " +
				"runs become batch jobs submitted there, to --partition (with --account; --requeue when it is " +
				"preemptible; --slurm-conf when its slurm.conf is not where Slurm looks).\n\n" +
				"create cluster NAME makes a managed cluster on Slurm (the instance in --slurm-dir, else " +
				"$GANTRY_SLURM_DIR): nodes of --vm-size boot when runs need them, up to --max-nodes, and stop after " +
				"--idle-seconds without work, down to --min-nodes; --priority lowpriority makes its runs preemptible " +
				"by dedicated ones, and Slurm requeues them; --nodes-of CLUSTER shares another cluster's nodes at " +
				"this one's priority. update CLUSTER changes its node counts, size, priority or idle time.\n\n" +
				"delete NAME removes a target (a cluster's runs are canceled and its nodes released; runs that used " +
				"it keep its name); detach NAME forgets it without touching the machine."},
		{Name: "submit", Line: true,
			Usage: "%submit [--target T] [--experiment E] [--env ENV] [--source DIR] [--submit-key KEY] [--gpus N] [--kernel K] [--no-wait] SCRIPT [--] [ARGS...]",
			Run:   s.submit,
			Doc: "Submits SCRIPT as a run. The script's directory is snapshotted and sent to the target (with " +
				"--source DIR, DIR is, and SCRIPT is a path inside it). Words after SCRIPT (after an optional --) " +
				"are the script's arguments. --target defaults to the only compute target when there is exactly " +
				"one; --experiment defaults to \"default\". --env takes a conda_dependencies.yml file (a " +
				"system-managed environment built from that spec) or the name or path of a Python interpreter " +
				"whose packages you manage (python3 by default). The cell shows a live run card (state, time with " +
				"the environment's preparation, last lines, a metric's sparkline) that keeps updating after the " +
				"cell ends. Without --no-wait the cell also shows the run's output as it arrives and its final " +
				"state; interrupting the cell stops the waiting, not the run: %run wait ID follows it again, " +
				"%run cancel ID stops it. --submit-key KEY names the submit: run " +
				"again with the same KEY (after the kernel died mid-submit, say), it shows the run the first " +
				"attempt started instead of starting another. --gpus N asks for N GPUs: on this machine and SSH " +
				"machines the run gets devices of its own (CUDA_VISIBLE_DEVICES) and waits in Queued while they " +
				"are busy; on a managed cluster Slurm gives them (--gres=gpu:N).\n\n" +
				"A notebook (SCRIPT.ipynb) runs headless on its own kernel on the target, as gantry nbrun runs it: " +
				"-p NAME VALUE, -r NAME VALUE, -y YAML and -f FILE after it are papermill's parameters, injected " +
				"after its cell tagged parameters; each cell's output is the run's log, a failing cell fails the " +
				"run with its number and error, and the executed notebook and its HTML are in the run's outputs/. " +
				"Go notebooks need nothing on the target; others need their kernel there (--kernel K picks " +
				"another), which the submit checks."},
		{Name: "runs", Line: true, Usage: "%runs [--experiment E] [--limit N]", Run: s.runs,
			Doc: "Lists runs, newest first, in a table: ID, experiment, target, state, creation time, duration " +
				"(environment preparation included) and exit code. --experiment keeps one experiment's runs; --limit N shows at most N (default 20, 0 for all)."},
		{Name: "run", Line: true, Usage: "%run show ID | logs ID | wait ID | cancel ID", Run: s.run,
			Forms: []string{"%run show ID", "%run logs ID", "%run wait ID", "%run cancel ID"},
			Doc: "Works with one run. show prints its record, metrics and state changes; logs prints its output so " +
				"far; wait shows its live run card and its output from the start, and waits for its final state (interrupting stops the " +
				"waiting, not the run); cancel asks its agent to stop it. ID may be a unique prefix of at least " +
				"6 characters of the run's ID, as %runs shows it."},
		{Name: "metrics", Line: true, Usage: "%metrics ID [ID ...]", Run: s.metrics,
			Doc: "Shows the last value of each metric the runs logged, in a table with a row per run and a " +
				"column per metric. IDs may be unique prefixes of at least 6 characters. In Go, " +
				"sdk.Compare(ctx, runs, \"mse\", sdk.Minimize) shows the same with the best run highlighted and " +
				"series summarised, and run.Metrics(ctx) returns every value (Scalars, Series). Go's own " +
				"runtime/metrics package is ?runtime/metrics."},
		{Name: "pipeline", Line: true,
			Usage: "%pipeline submit FILE [--experiment E] [--no-wait] | list | show ID | wait ID | resubmit ID [--no-wait] | cancel ID",
			Forms: []string{"%pipeline submit FILE [--experiment E] [--no-wait]", "%pipeline list [--experiment E]",
				"%pipeline show ID", "%pipeline wait ID", "%pipeline resubmit ID [--no-wait]", "%pipeline cancel ID"},
			Run: s.pipelineMagic,
			Doc: "Runs pipelines: graphs of steps (scripts on any target, PySpark scripts or jars and Spark SQL " +
				"scripts on Spark targets) that pass data by name. FILE is a pipeline in YAML or JSON (the README's " +
				"Pipelines section shows one). submit checks the graph (cycles and missing inputs are refused before " +
				"anything runs), keeps every step's code and every input by content, and starts the pipeline's " +
				"controller, which goes on if the kernel restarts; the cell shows each step's output labelled " +
				"[STEP] and then the graph, steps coloured by state, reused ones dashed. A step whose code, " +
				"environment, arguments, settings and input content match a completed step's is reused, not run " +
				"again. resubmit ID runs the pipeline again as it was submitted: completed steps are reused, the " +
				"failed ones and their descendants run. list shows pipeline runs; show ID draws one's graph; wait ID " +
				"follows it; cancel ID stops it and its steps. In Go: pipeline.Submit(ctx, ws, exp, p) with " +
				"gantry/sdk/pipeline."},
		{Name: "model", Line: true, Usage: "%model list [NAME] | register RUN_ID NAME PATH_IN_OUTPUTS", Run: s.model,
			Forms: []string{"%model list [NAME]", "%model register RUN_ID NAME PATH_IN_OUTPUTS"},
			Doc: "list shows the registered models (every version, or those of NAME). register records the file " +
				"or directory PATH_IN_OUTPUTS, a path inside the run's outputs/ directory (model.pt, or " +
				"outputs/model.pt), as the next version of the model NAME."},
	}
}

// ws returns the workspace for the current directory, opening it on first
// use.
func (s *sdkMagics) ws(ctx context.Context) (*sdk.Workspace, error) {
	wd, err := os.Getwd()
	if err != nil {
		return nil, fmt.Errorf("the current directory is gone (%w): %%cd to an existing one", err)
	}
	dir, err := filepath.Abs(workspace.DefaultDir(wd))
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if w, ok := s.open[dir]; ok {
		return w, nil
	}
	w, err := sdk.OpenWorkspace(ctx, dir)
	if err != nil {
		return nil, err
	}
	if s.secrets != nil {
		w.UseSecrets(s.secrets)
	}
	if s.open == nil {
		s.open = make(map[string]*sdk.Workspace)
	}
	s.open[dir] = w
	return w, nil
}

// --- argument parsing ------------------------------------------------------------

// flagSpec says which options a magic takes: true for an option with a
// value, false for a switch.
type flagSpec map[string]bool

// parsedArgs are a magic's options and positional words.
type parsedArgs struct {
	opts map[string]string // "--name" -> value ("" for a switch)
	pos  []string
	rest []string // the words after the first positional, when stopAtPos
}

// parseArgs splits args into words and sorts them into the options of spec
// (--name VALUE, --name=VALUE, switches) and positional words. With
// stopAtPos, parsing stops at the first positional word: it and the words
// after it (less one leading "--") are returned in pos[0] and rest. A bare
// "--" ends the options.
func parseArgs(magic, args string, spec flagSpec, stopAtPos bool) (*parsedArgs, error) {
	words, err := splitWords(args)
	if err != nil {
		return nil, fmt.Errorf("%%%s: %w", magic, err)
	}
	p := &parsedArgs{opts: map[string]string{}}
	for i := 0; i < len(words); i++ {
		w := words[i]
		if w == "--" {
			p.pos = append(p.pos, words[i+1:]...)
			if stopAtPos && len(p.pos) > 0 {
				p.rest = p.pos[1:]
				p.pos = p.pos[:1]
			}
			return p, nil
		}
		if !strings.HasPrefix(w, "-") || w == "-" {
			p.pos = append(p.pos, w)
			if stopAtPos {
				rest := words[i+1:]
				if len(rest) > 0 && rest[0] == "--" {
					rest = rest[1:]
				}
				p.rest = rest
				return p, nil
			}
			continue
		}
		name, value, hasValue := strings.Cut(w, "=")
		takes, known := spec[name]
		if !known {
			return nil, fmt.Errorf("%%%s: unknown option %s: %s", magic, name, optionList(spec))
		}
		switch {
		case takes && !hasValue:
			if i+1 >= len(words) {
				return nil, fmt.Errorf("%%%s: option %s needs a value: %s VALUE", magic, name, name)
			}
			i++
			value = words[i]
		case !takes && hasValue:
			return nil, fmt.Errorf("%%%s: option %s takes no value", magic, name)
		}
		if _, dup := p.opts[name]; dup {
			return nil, fmt.Errorf("%%%s: option %s given twice", magic, name)
		}
		p.opts[name] = value
	}
	return p, nil
}

func optionList(spec flagSpec) string {
	if len(spec) == 0 {
		return "this magic takes no options"
	}
	var names []string
	for n := range spec {
		names = append(names, n)
	}
	sort.Strings(names)
	return "the options are " + strings.Join(names, ", ")
}

// intOpt reads an integer option, def when absent.
func intOpt(magic string, p *parsedArgs, name string, def int) (int, error) {
	v, ok := p.opts[name]
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%%%s: %s takes a whole number >= 0, not %q", magic, name, v)
	}
	return n, nil
}

// --- %workspace ------------------------------------------------------------------

func (s *sdkMagics) workspaceMagic(ctx context.Context, c *Call) error {
	if _, err := parseArgs("workspace", c.Args, nil, false); err != nil {
		return err
	} else if strings.TrimSpace(c.Args) != "" {
		return errors.New("%workspace takes no arguments: set $GANTRY_WORKSPACE (%env GANTRY_WORKSPACE=DIR) or %cd to use another workspace")
	}
	ws, err := s.ws(ctx)
	if err != nil {
		return fmt.Errorf("%%workspace: %w", err)
	}
	st := ws.Store()
	ts, err := st.Targets(ctx)
	if err != nil {
		return fmt.Errorf("%%workspace: %w", err)
	}
	es, err := st.Experiments(ctx)
	if err != nil {
		return fmt.Errorf("%%workspace: %w", err)
	}
	rs, err := st.Runs(ctx, workspace.Filter{})
	if err != nil {
		return fmt.Errorf("%%workspace: %w", err)
	}
	ms, err := st.Models(ctx, "")
	if err != nil {
		return fmt.Errorf("%%workspace: %w", err)
	}
	_, err = fmt.Fprintf(c.Stdout, "Workspace: %s\n  compute targets: %d\n  experiments:     %d\n  runs:            %d\n  model versions:  %d\n",
		ws.Dir(), len(ts), len(es), len(rs), len(ms))
	return err
}

// --- run IDs ---------------------------------------------------------------------

// minPrefix is the shortest run ID prefix the magics accept.
const minPrefix = 6

// resolveRun finds the run whose ID is id or starts with it.
func resolveRun(ctx context.Context, ws *sdk.Workspace, id string) (*sdk.Run, error) {
	rs, err := ws.Store().Runs(ctx, workspace.Filter{})
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(rs))
	for i, r := range rs {
		ids[i] = r.ID
	}
	full, err := matchID(ids, id)
	if err != nil {
		return nil, err
	}
	return ws.Run(ctx, full)
}

// matchID returns the one of ids that is id or starts with it (case aside).
func matchID(ids []string, id string) (string, error) {
	id = strings.ToLower(strings.TrimSpace(id))
	if len(id) < minPrefix {
		return "", fmt.Errorf("run ID %q is too short: give at least %d characters of it (%%runs lists the runs)", id, minPrefix)
	}
	var found []string
	for _, x := range ids {
		if x == id {
			return x, nil
		}
		if strings.HasPrefix(x, id) {
			found = append(found, x)
		}
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("no run has an ID starting with %q: %%runs lists the runs", id)
	case 1:
		return found[0], nil
	}
	sort.Strings(found)
	return "", fmt.Errorf("run ID prefix %q is ambiguous: it starts %d runs (%s): give more characters", id, len(found), strings.Join(found, ", "))
}

// shortID is the first 8 characters of a run ID.
func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}
