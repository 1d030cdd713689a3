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
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"gantry/kernel/frame"
	"gantry/sdk"
	"gantry/sdk/agent"
	"gantry/sdk/environment"
	"gantry/sdk/workspace"
)

// sdkMagics owns the workspaces the SDK magics opened, one per directory.
type sdkMagics struct {
	mu   sync.Mutex
	open map[string]*sdk.Workspace
}

// registerSDK registers %workspace, %compute, %submit, %runs, %run,
// %metrics and %model in r.
func registerSDK(r *Registry) error {
	s := &sdkMagics{}
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
			Usage: "%compute list | show NAME | create local NAME [--max-concurrent-runs N] | delete NAME | detach NAME",
			Run:   s.compute,
			Doc: "Manages the workspace's compute targets. list shows them in a table; show NAME prints one " +
				"with its configuration; create local NAME adds this machine as a target (NAME: 2 to 16 letters, " +
				"digits or hyphens, starting with a letter), optionally capping how many runs execute at once; " +
				"delete NAME removes a target (runs that used it keep its name). detach NAME forgets a target " +
				"without deprovisioning anything: for a local target it is the same as delete. SSH and Slurm " +
				"targets are not available yet."},
		{Name: "submit", Line: true,
			Usage: "%submit [--target T] [--experiment E] [--env ENV] [--source DIR] [--no-wait] SCRIPT [--] [ARGS...]",
			Run:   s.submit,
			Doc: "Submits SCRIPT as a run. The script's directory is snapshotted and sent to the target (with " +
				"--source DIR, DIR is, and SCRIPT is a path inside it). Words after SCRIPT (after an optional --) " +
				"are the script's arguments. --target defaults to the only compute target when there is exactly " +
				"one; --experiment defaults to \"default\". --env takes a conda_dependencies.yml file (a " +
				"system-managed environment built from that spec) or the name or path of a Python interpreter " +
				"whose packages you manage (python3 by default). Without --no-wait the cell shows the run's output " +
				"as it arrives and its final state; interrupting the cell stops the waiting, not the run: " +
				"%run wait ID follows it again, %run cancel ID stops it."},
		{Name: "runs", Line: true, Usage: "%runs [--experiment E] [--limit N]", Run: s.runs,
			Doc: "Lists runs, newest first, in a table: ID, experiment, state, creation time, duration and exit " +
				"code. --experiment keeps one experiment's runs; --limit N shows at most N (default 20, 0 for all)."},
		{Name: "run", Line: true, Usage: "%run show ID | logs ID | wait ID | cancel ID", Run: s.run,
			Doc: "Works with one run. show prints its record, metrics and state changes; logs prints its output so " +
				"far; wait shows its output from the start and waits for its final state (interrupting stops the " +
				"waiting, not the run); cancel asks its agent to stop it. ID may be a unique prefix of at least " +
				"6 characters of the run's ID, as %runs shows it."},
		{Name: "metrics", Line: true, Usage: "%metrics ID [ID ...]", Run: s.metrics,
			Doc: "Shows the last value of each metric the runs logged, in a table with a row per run and a " +
				"column per metric. IDs may be unique prefixes of at least 6 characters."},
		{Name: "model", Line: true, Usage: "%model list [NAME] | register RUN_ID NAME PATH_IN_OUTPUTS", Run: s.model,
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

// --- %compute --------------------------------------------------------------------

func (s *sdkMagics) compute(ctx context.Context, c *Call) error {
	p, err := parseArgs("compute", c.Args, flagSpec{"--max-concurrent-runs": true}, false)
	if err != nil {
		return err
	}
	if len(p.pos) == 0 {
		return errors.New("%compute needs a subcommand: list, show NAME, create local NAME, delete NAME or detach NAME")
	}
	sub, args := p.pos[0], p.pos[1:]
	if _, ok := p.opts["--max-concurrent-runs"]; ok && sub != "create" {
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
	case "create":
		if len(args) != 2 {
			return fmt.Errorf("%%compute create needs a KIND and a NAME, got %d words: %%compute create local NAME [--max-concurrent-runs N]", len(args))
		}
		kind, name := args[0], args[1]
		switch workspace.Kind(kind) {
		case workspace.KindLocal:
		case workspace.KindSSH, workspace.KindSlurm:
			return fmt.Errorf("%%compute create %s: %s targets are not available yet: only local targets run jobs for now", kind, kind)
		default:
			return fmt.Errorf("%%compute create: unknown kind %q: use local (ssh and slurm are not available yet)", kind)
		}
		n, err := intOpt("compute", p, "--max-concurrent-runs", 0)
		if err != nil {
			return err
		}
		if err := ws.CreateLocalCompute(ctx, name, sdk.LocalCompute{MaxConcurrentRuns: n}); err != nil {
			hint := ""
			if errors.Is(err, workspace.ErrExists) {
				hint = ": pick another name, or %compute delete it first"
			}
			return fmt.Errorf("%%compute create: %w%s", err, hint)
		}
		_, err = fmt.Fprintf(c.Stdout, "Created local compute target %s.\n", name)
		return err
	case "delete", "detach":
		name, err := one()
		if err != nil {
			return err
		}
		if err := ws.Store().DeleteTarget(ctx, name); err != nil {
			return fmt.Errorf("%%compute %s: %w%s", sub, err, notFoundHint(err, "%compute list shows the targets"))
		}
		verb := "Deleted"
		if sub == "detach" {
			verb = "Detached"
		}
		_, err = fmt.Fprintf(c.Stdout, "%s compute target %s.\n", verb, name)
		return err
	}
	return fmt.Errorf("%%compute: unknown subcommand %q: use list, show, create, delete or detach", sub)
}

// notFoundHint is ": "+hint when err is a workspace.ErrNotFound.
func notFoundHint(err error, hint string) string {
	if errors.Is(err, workspace.ErrNotFound) {
		return ": " + hint
	}
	return ""
}

// --- %submit ---------------------------------------------------------------------

// submitArgs are %submit's arguments, parsed.
type submitArgs struct {
	target, experiment, env, source string
	noWait                          bool
	script                          string
	args                            []string
}

func parseSubmit(args string) (*submitArgs, error) {
	p, err := parseArgs("submit", args, flagSpec{"--target": true, "--experiment": true, "--env": true,
		"--source": true, "--no-wait": false}, true)
	if err != nil {
		return nil, err
	}
	if len(p.pos) == 0 {
		return nil, errors.New("%submit needs a SCRIPT: %submit [--target T] [--experiment E] train.py [ARGS...]")
	}
	a := &submitArgs{target: p.opts["--target"], experiment: p.opts["--experiment"], env: p.opts["--env"],
		source: p.opts["--source"], script: p.pos[0], args: p.rest}
	_, a.noWait = p.opts["--no-wait"]
	if a.experiment == "" {
		a.experiment = "default"
	}
	return a, nil
}

// environmentFor is the environment --env names: a conda spec file, or a
// user-managed interpreter.
func environmentFor(v string) (*environment.Environment, error) {
	if v == "" {
		return nil, nil
	}
	if ext := strings.ToLower(filepath.Ext(v)); ext == ".yml" || ext == ".yaml" {
		p, err := expandHome(v)
		if err != nil {
			return nil, err
		}
		deps, err := environment.ReadCondaFile(p)
		if err != nil {
			return nil, fmt.Errorf("--env %s: %w", v, err)
		}
		name := deps.Name
		if name == "" {
			name = strings.TrimSuffix(filepath.Base(p), filepath.Ext(p))
		}
		e := environment.New(name)
		e.Python.CondaDependencies = deps
		if err := e.Validate(); err != nil {
			return nil, fmt.Errorf("--env %s: %w", v, err)
		}
		return e, nil
	}
	e := &environment.Environment{Name: v}
	e.Python.UserManagedDependencies = true
	e.Python.InterpreterPath = v
	return e, nil
}

func (s *sdkMagics) submit(ctx context.Context, c *Call) error {
	a, err := parseSubmit(c.Args)
	if err != nil {
		return err
	}
	env, err := environmentFor(a.env)
	if err != nil {
		return fmt.Errorf("%%submit: %w", err)
	}
	script, err := expandHome(a.script)
	if err != nil {
		return fmt.Errorf("%%submit: %w", err)
	}
	src := a.source
	if src == "" {
		src, script = filepath.Dir(script), filepath.Base(script)
	} else if src, err = expandHome(src); err != nil {
		return fmt.Errorf("%%submit: %w", err)
	}
	full := filepath.Join(src, script)
	if fi, err := os.Stat(full); err != nil {
		wd, _ := os.Getwd()
		return fmt.Errorf("%%submit: script %s not found (in %s): write it first, e.g. with %%%%writefile %s", full, wd, shellQuote(a.script))
	} else if fi.IsDir() {
		return fmt.Errorf("%%submit: %s is a directory: give the script to run; --source DIR sets the directory sent to the target", full)
	}
	ws, err := s.ws(ctx)
	if err != nil {
		return fmt.Errorf("%%submit: %w", err)
	}
	target := a.target
	if target == "" {
		ts, err := ws.ComputeTargets(ctx)
		if err != nil {
			return fmt.Errorf("%%submit: %w", err)
		}
		switch len(ts) {
		case 0:
			return errors.New("%submit: the workspace has no compute target: add this machine with %compute create local local")
		case 1:
			target = ts[0].Name
		default:
			var names []string
			for _, t := range ts {
				names = append(names, t.Name)
			}
			return fmt.Errorf("%%submit: the workspace has %d compute targets (%s): choose one with --target NAME", len(ts), strings.Join(names, ", "))
		}
	}
	run, err := ws.Experiment(a.experiment).Submit(ctx, sdk.ScriptRunConfig{
		SourceDirectory: src, Script: script, Arguments: a.args,
		RunConfig: sdk.RunConfiguration{Target: target, Environment: env},
	})
	if err != nil {
		return fmt.Errorf("%%submit: %w%s", err, notFoundHint(err, "%compute list shows the targets"))
	}
	fmt.Fprintf(c.Stdout, "Submitted run %s to %s (experiment %s).\n", run.ID, target, a.experiment)
	if a.noWait {
		_, err := fmt.Fprintf(c.Stdout, "%%run wait %s follows it, %%run show %s describes it, %%run cancel %s stops it.\n", run.ID, run.ID, run.ID)
		return err
	}
	return waitRunWS(ctx, c, ws, run)
}

// waitRunWS follows run's output from the start to its final state and
// prints that state. An interrupt stops the waiting, not the run.
func waitRunWS(ctx context.Context, c *Call, ws *sdk.Workspace, run *sdk.Run) error {
	// One status line, kept up to date in place above the live output.
	statusID := "gantry-run-status-" + run.ID + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	shown := false
	status := func(st workspace.State, waited time.Duration) {
		text := fmt.Sprintf("Run %s: %s (%s)", shortID(run.ID), st, waited.Round(time.Second))
		c.S.DisplayID(statusID, &frame.Bundle{Data: map[string]any{
			"text/plain": text,
			"text/html":  "<code>" + html.EscapeString(text) + "</code>",
		}}, shown)
		shown = true
	}
	st, _, err := run.WaitForCompletion(ctx, sdk.WaitOptions{Output: c.Stdout, Status: status})
	if shown {
		status(st, 0)
	}
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintf(c.Stdout, "\nStopped waiting; run %s goes on. %%run wait %s follows it again, %%run cancel %s stops it.\n",
				run.ID, run.ID, run.ID)
			return ctx.Err()
		}
		return fmt.Errorf("wait for run %s: %w", run.ID, err)
	}
	d, err := run.Details(ctx)
	if err != nil {
		return err
	}
	line := fmt.Sprintf("Run %s: %s", run.ID, st)
	if dur := duration(d, time.Now()); dur != "" {
		line += " in " + dur
	}
	if d.ExitCode != nil {
		line += fmt.Sprintf(" (exit code %d)", *d.ExitCode)
	}
	if st != workspace.StateCompleted {
		if r := lastEvent(ctx, ws.Store(), run.ID); r != "" {
			line += ": " + r
		}
	}
	_, err = fmt.Fprintln(c.Stdout, line)
	return err
}

// lastEvent is the reason of the run's last state change, or "".
func lastEvent(ctx context.Context, st *workspace.Workspace, id string) string {
	if st == nil {
		return ""
	}
	evs, err := st.Events(ctx, id)
	if err != nil || len(evs) == 0 {
		return ""
	}
	return evs[len(evs)-1].Reason
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

// --- %runs -----------------------------------------------------------------------

func (s *sdkMagics) runs(ctx context.Context, c *Call) error {
	p, err := parseArgs("runs", c.Args, flagSpec{"--experiment": true, "--limit": true}, false)
	if err != nil {
		return err
	}
	if len(p.pos) > 0 {
		return fmt.Errorf("%%runs takes only options, not %q: %%runs [--experiment E] [--limit N]", p.pos[0])
	}
	limit, err := intOpt("runs", p, "--limit", 20)
	if err != nil {
		return err
	}
	ws, err := s.ws(ctx)
	if err != nil {
		return fmt.Errorf("%%runs: %w", err)
	}
	if _, err := ws.Store().MarkStale(ctx, 15*time.Second); err != nil {
		return fmt.Errorf("%%runs: %w", err)
	}
	f := workspace.Filter{Experiment: p.opts["--experiment"]}
	if limit > 0 {
		f.Limit = limit + 1 // one more, to tell whether there are more
	}
	rs, err := ws.Store().Runs(ctx, f)
	if err != nil {
		return fmt.Errorf("%%runs: %w", err)
	}
	if len(rs) == 0 {
		msg := "No runs yet: %submit SCRIPT starts one."
		if f.Experiment != "" {
			msg = fmt.Sprintf("No runs in experiment %q.", f.Experiment)
		}
		_, err := fmt.Fprintln(c.Stdout, msg)
		return err
	}
	more := limit > 0 && len(rs) > limit
	if more {
		rs = rs[:limit]
	}
	now := time.Now()
	t := &table{head: []string{"id", "experiment", "state", "created", "duration", "exit code"}}
	for _, r := range rs {
		code := ""
		if r.ExitCode != nil {
			code = strconv.Itoa(*r.ExitCode)
		}
		t.add(cell{text: shortID(r.ID), title: r.ID}, cell{text: r.Experiment}, cell{text: string(r.State)},
			cell{text: when(r.Created)}, cell{text: duration(r, now)}, cell{text: code})
	}
	if more {
		t.note = fmt.Sprintf("The %d newest runs; --limit N shows more, --limit 0 all.", limit)
	}
	c.S.Display(t.bundle())
	return nil
}

// duration is how long r ran (so far), or "" if it has not started.
func duration(r workspace.Run, now time.Time) string {
	if r.Started.IsZero() {
		return ""
	}
	end := r.Ended
	if end.IsZero() {
		end = now
	}
	d := end.Sub(r.Started)
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// when formats a time for tables, "" for the zero time.
func when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

// --- %run ------------------------------------------------------------------------

func (s *sdkMagics) run(ctx context.Context, c *Call) error {
	p, err := parseArgs("run", c.Args, nil, false)
	if err != nil {
		return err
	}
	if len(p.pos) > 0 {
		if ext := filepath.Ext(p.pos[0]); ext == ".py" || ext == ".go" || ext == ".sh" {
			return fmt.Errorf("%%run does not run scripts here (as it does in IPython): %%submit %s runs it as a tracked run; %%run show|logs|wait|cancel ID follows one", p.pos[0])
		}
	}
	if len(p.pos) != 2 {
		return errors.New("%run needs a subcommand and a run ID: %run show ID, %run logs ID, %run wait ID or %run cancel ID")
	}
	sub := p.pos[0]
	switch sub {
	case "show", "logs", "wait", "cancel":
	default:
		return fmt.Errorf("%%run: unknown subcommand %q: use show, logs, wait or cancel", sub)
	}
	ws, err := s.ws(ctx)
	if err != nil {
		return fmt.Errorf("%%run %s: %w", sub, err)
	}
	run, err := resolveRun(ctx, ws, p.pos[1])
	if err != nil {
		return fmt.Errorf("%%run %s: %w", sub, err)
	}
	switch sub {
	case "show":
		return showRun(ctx, c, ws, run)
	case "logs":
		dir, err := run.Dir()
		if err != nil {
			return err
		}
		f, err := os.Open(filepath.Join(dir, agent.OutputLog))
		if errors.Is(err, fs.ErrNotExist) {
			_, err := fmt.Fprintf(c.Stdout, "Run %s has no output yet.\n", run.ID)
			return err
		}
		if err != nil {
			return fmt.Errorf("%%run logs: %w", err)
		}
		defer f.Close()
		_, err = io.Copy(c.Stdout, f)
		return err
	case "wait":
		fmt.Fprintf(c.Stdout, "Waiting for run %s.\n", run.ID)
		return waitRunWS(ctx, c, ws, run)
	}
	// cancel
	if err := run.Cancel(ctx); err != nil {
		if errors.Is(err, workspace.ErrIllegalTransition) {
			st, _ := run.Status(ctx)
			return fmt.Errorf("%%run cancel: run %s is %s: there is nothing to cancel", run.ID, st)
		}
		return fmt.Errorf("%%run cancel: %w", err)
	}
	_, err = fmt.Fprintf(c.Stdout, "Asked run %s to stop: %%run wait %s shows when it has.\n", run.ID, run.ID)
	return err
}

func showRun(ctx context.Context, c *Call, ws *sdk.Workspace, run *sdk.Run) error {
	st, err := run.Status(ctx)
	if err != nil {
		return err
	}
	d, err := run.Details(ctx)
	if err != nil {
		return err
	}
	d.State = st
	var b strings.Builder
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%-12s %s\n", k+":", v)
		}
	}
	row("Run", d.ID)
	row("Experiment", d.Experiment)
	row("Parent", d.ParentID)
	row("Target", d.Target)
	row("State", string(d.State))
	if d.ExitCode != nil {
		row("Exit code", strconv.Itoa(*d.ExitCode))
	}
	row("Created", when(d.Created))
	row("Started", when(d.Started))
	row("Ended", when(d.Ended))
	row("Duration", duration(d, time.Now()))
	row("Snapshot", d.SnapshotID)
	row("Environment", d.EnvKey)
	if dir, err := run.Dir(); err == nil {
		row("Directory", dir)
	}
	row("Tags", kvs(d.Tags))
	row("Properties", kvs(d.Properties))
	if m, err := run.Metrics(ctx); err == nil && len(m.Scalars) > 0 {
		var names []string
		for n := range m.Scalars {
			names = append(names, n)
		}
		sort.Strings(names)
		var parts []string
		for _, n := range names {
			parts = append(parts, n+"="+formatFloat(m.Scalars[n]))
		}
		row("Metrics", strings.Join(parts, ", "))
	}
	if evs, err := ws.Store().Events(ctx, d.ID); err == nil && len(evs) > 0 {
		b.WriteString("Events:\n")
		for _, e := range evs {
			from := string(e.From)
			if from == "" {
				from = "-"
			}
			fmt.Fprintf(&b, "  %s  %s -> %s", e.Time.Local().Format("15:04:05.000"), from, e.To)
			if e.Reason != "" {
				fmt.Fprintf(&b, ": %s", e.Reason)
			}
			b.WriteByte('\n')
		}
	}
	_, err = io.WriteString(c.Stdout, b.String())
	return err
}

// kvs formats a map as k=v pairs sorted by key.
func kvs(m map[string]string) string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ", ")
}

// --- %metrics --------------------------------------------------------------------

func (s *sdkMagics) metrics(ctx context.Context, c *Call) error {
	p, err := parseArgs("metrics", c.Args, nil, false)
	if err != nil {
		return err
	}
	if len(p.pos) == 0 {
		return errors.New("%metrics needs one or more run IDs: %metrics ID [ID ...] (%runs lists the runs)")
	}
	ws, err := s.ws(ctx)
	if err != nil {
		return fmt.Errorf("%%metrics: %w", err)
	}
	var (
		runs  []*sdk.Run
		vals  []map[string]float64
		names = map[string]bool{}
	)
	for _, id := range p.pos {
		run, err := resolveRun(ctx, ws, id)
		if err != nil {
			return fmt.Errorf("%%metrics: %w", err)
		}
		m, err := run.Metrics(ctx)
		if err != nil {
			return fmt.Errorf("%%metrics: run %s: %w", run.ID, err)
		}
		for n := range m.Scalars {
			names[n] = true
		}
		runs, vals = append(runs, run), append(vals, m.Scalars)
	}
	if len(names) == 0 {
		_, err := fmt.Fprintln(c.Stdout, "These runs logged no metrics: scripts log them with gantry_run.log(name, value).")
		return err
	}
	cols := make([]string, 0, len(names))
	for n := range names {
		cols = append(cols, n)
	}
	sort.Strings(cols)
	t := &table{head: append([]string{"run"}, cols...)}
	for i, run := range runs {
		row := []cell{{text: shortID(run.ID), title: run.ID}}
		for _, n := range cols {
			v, ok := vals[i][n]
			text := ""
			if ok {
				text = formatFloat(v)
			}
			row = append(row, cell{text: text, num: true})
		}
		t.add(row...)
	}
	c.S.Display(t.bundle())
	return nil
}

// formatFloat formats a metric value with up to 6 significant digits.
func formatFloat(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}

// --- %model ----------------------------------------------------------------------

func (s *sdkMagics) model(ctx context.Context, c *Call) error {
	p, err := parseArgs("model", c.Args, nil, false)
	if err != nil {
		return err
	}
	if len(p.pos) == 0 {
		return errors.New("%model needs a subcommand: %model list [NAME] or %model register RUN_ID NAME PATH_IN_OUTPUTS")
	}
	sub, args := p.pos[0], p.pos[1:]
	switch sub {
	case "list":
		if len(args) > 1 {
			return errors.New("%model list takes at most one NAME")
		}
	case "register":
		if len(args) != 3 {
			return fmt.Errorf("%%model register needs RUN_ID NAME PATH_IN_OUTPUTS, got %d words: e.g. %%model register 1a2b3c mnist model.pt", len(args))
		}
	default:
		return fmt.Errorf("%%model: unknown subcommand %q: use list or register", sub)
	}
	ws, err := s.ws(ctx)
	if err != nil {
		return fmt.Errorf("%%model: %w", err)
	}
	if sub == "list" {
		name := ""
		if len(args) == 1 {
			name = args[0]
		}
		ms, err := ws.Store().Models(ctx, name)
		if err != nil {
			return fmt.Errorf("%%model list: %w", err)
		}
		if len(ms) == 0 {
			msg := "No models registered: %model register RUN_ID NAME PATH_IN_OUTPUTS registers one."
			if name != "" {
				msg = fmt.Sprintf("No model called %q: %%model list shows them all.", name)
			}
			_, err := fmt.Fprintln(c.Stdout, msg)
			return err
		}
		t := &table{head: []string{"name", "version", "run", "path", "created"}}
		for _, m := range ms {
			t.add(cell{text: m.Name}, cell{text: strconv.Itoa(m.Version), num: true}, cell{text: shortID(m.RunID), title: m.RunID},
				cell{text: m.Path}, cell{text: when(m.Created)})
		}
		c.S.Display(t.bundle())
		return nil
	}
	run, err := resolveRun(ctx, ws, args[0])
	if err != nil {
		return fmt.Errorf("%%model register: %w", err)
	}
	name := args[1]
	dir, err := run.Dir()
	if err != nil {
		return fmt.Errorf("%%model register: %w", err)
	}
	outputs := filepath.Join(dir, "outputs")
	rel, err := outputsPath(outputs, args[2])
	if err != nil {
		return fmt.Errorf("%%model register: run %s: %w", run.ID, err)
	}
	// The sdk copies the files into the workspace, so the model outlives
	// the run's directory.
	m, err := run.RegisterModel(ctx, name, rel, nil)
	if err != nil {
		return fmt.Errorf("%%model register: %w", err)
	}
	_, err = fmt.Fprintf(c.Stdout, "Registered model %s version %d: outputs/%s of run %s.\n", m.Name, m.Version, m.Path, run.ID)
	return err
}

// outputsPath checks that p names a file or directory under the outputs
// directory and returns it relative to that directory, with slashes. p
// may start with "outputs/".
func outputsPath(outputs, p string) (string, error) {
	rel := filepath.Clean(filepath.FromSlash(p))
	if p == "" || !filepath.IsLocal(rel) {
		return "", fmt.Errorf("%q is not a path inside the run's outputs directory: give it relative to outputs/, such as model.pt", p)
	}
	exists := func(r string) bool { _, err := os.Stat(filepath.Join(outputs, r)); return err == nil }
	if !exists(rel) {
		if r, ok := strings.CutPrefix(rel, "outputs"+string(filepath.Separator)); ok && exists(r) {
			rel = r
		} else {
			return "", fmt.Errorf("outputs/%s not found; the run's outputs: %s", filepath.ToSlash(rel), listOutputs(outputs))
		}
	}
	return filepath.ToSlash(rel), nil
}

// listOutputs names up to 20 files under dir, for errors.
func listOutputs(dir string) string {
	var files []string
	more := false
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if len(files) == 20 {
			more = true
			return fs.SkipAll
		}
		r, _ := filepath.Rel(dir, path)
		files = append(files, filepath.ToSlash(r))
		return nil
	})
	if len(files) == 0 {
		return "none (a script writes them to the directory outputs/ in its working directory)"
	}
	s := strings.Join(files, ", ")
	if more {
		s += ", ..."
	}
	return s
}

// --- tables ----------------------------------------------------------------------

// cell is one table cell: text, an optional title (shown on hover in
// HTML), right-aligned when num.
type cell struct {
	text, title string
	num         bool
}

// table renders as HTML with a text/plain fallback.
type table struct {
	head []string
	rows [][]cell
	note string
}

func (t *table) add(cs ...cell) { t.rows = append(t.rows, cs) }

func (t *table) bundle() *frame.Bundle {
	return &frame.Bundle{Data: map[string]any{"text/html": t.html(), "text/plain": t.text()}}
}

func (t *table) html() string {
	var b strings.Builder
	b.WriteString("<table>\n<thead><tr>")
	for _, h := range t.head {
		fmt.Fprintf(&b, "<th>%s</th>", html.EscapeString(h))
	}
	b.WriteString("</tr></thead>\n<tbody>\n")
	for _, r := range t.rows {
		b.WriteString("<tr>")
		for _, c := range r {
			attrs := ""
			if c.title != "" {
				attrs += fmt.Sprintf(` title="%s"`, html.EscapeString(c.title))
			}
			if c.num {
				attrs += ` style="text-align:right"`
			}
			fmt.Fprintf(&b, "<td%s>%s</td>", attrs, html.EscapeString(c.text))
		}
		b.WriteString("</tr>\n")
	}
	b.WriteString("</tbody>\n</table>")
	if t.note != "" {
		fmt.Fprintf(&b, "\n<p>%s</p>", html.EscapeString(t.note))
	}
	return b.String()
}

func (t *table) text() string {
	width := make([]int, len(t.head))
	for i, h := range t.head {
		width[i] = len([]rune(h))
	}
	for _, r := range t.rows {
		for i, c := range r {
			if i < len(width) && len([]rune(c.text)) > width[i] {
				width[i] = len([]rune(c.text))
			}
		}
	}
	var b strings.Builder
	line := func(cs []string) {
		for i, s := range cs {
			if i > 0 {
				b.WriteString("  ")
			}
			pad := strings.Repeat(" ", width[i]-len([]rune(s)))
			if i == len(cs)-1 {
				pad = ""
			}
			b.WriteString(s + pad)
		}
		b.WriteByte('\n')
	}
	line(t.head)
	for _, r := range t.rows {
		cs := make([]string, len(r))
		for i, c := range r {
			cs[i] = c.text
		}
		line(cs)
	}
	if t.note != "" {
		b.WriteString(t.note + "\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

// compactJSON is raw JSON on one line, "{}" for none.
func compactJSON(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "{}"
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return string(raw)
	}
	out, _ := json.Marshal(v)
	return string(out)
}

// indentJSON is raw JSON indented for reading.
func indentJSON(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "{}"
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return string(raw)
	}
	out, _ := json.MarshalIndent(v, "", "  ")
	return string(out)
}
