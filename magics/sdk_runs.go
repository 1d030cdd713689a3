package magics

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"gantry/display/runcard"
	"gantry/kernel/frame"
	"gantry/sdk"
	"gantry/sdk/agent"
	"gantry/sdk/environment"
	"gantry/sdk/workspace"
)

// --- %submit ---------------------------------------------------------------------

// submitArgs are %submit's arguments, parsed.
type submitArgs struct {
	target, experiment, env, source string
	submitKey, kernel               string
	gpus                            int
	noWait                          bool
	script                          string
	args                            []string
}

func parseSubmit(args string) (*submitArgs, error) {
	p, err := parseArgs("submit", args, flagSpec{"--target": true, "--experiment": true, "--env": true,
		"--source": true, "--submit-key": true, "--gpus": true, "--kernel": true, "--no-wait": false}, true)
	if err != nil {
		return nil, err
	}
	if len(p.pos) == 0 {
		return nil, errors.New("%submit needs a SCRIPT: %submit [--target T] [--experiment E] train.py [ARGS...]")
	}
	a := &submitArgs{target: p.opts["--target"], experiment: p.opts["--experiment"], env: p.opts["--env"],
		source: p.opts["--source"], submitKey: p.opts["--submit-key"], kernel: p.opts["--kernel"], script: p.pos[0], args: p.rest}
	_, a.noWait = p.opts["--no-wait"]
	if g, ok := p.opts["--gpus"]; ok {
		n, err := strconv.Atoi(g)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%%submit: --gpus %q: give a number of GPUs, 0 or more", g)
		}
		a.gpus = n
	}
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
	cfg := sdk.ScriptRunConfig{SourceDirectory: src, Script: script, Arguments: a.args, Kernel: a.kernel,
		RunConfig: sdk.RunConfiguration{Target: target, Environment: env, GPUCount: a.gpus}, SubmitKey: a.submitKey}
	if err := notebookParams(&cfg); err != nil {
		return fmt.Errorf("%%submit: %w", err)
	}
	run, err := ws.Experiment(a.experiment).Submit(ctx, cfg)
	if err != nil {
		return fmt.Errorf("%%submit: %w%s", err, notFoundHint(err, "%compute list shows the targets"))
	}
	fmt.Fprintf(c.Stdout, "Submitted run %s to %s (experiment %s).\n", run.ID, target, a.experiment)
	if tr, ok, err := run.Transfer(ctx); err == nil && ok {
		fmt.Fprintln(c.Stdout, tr)
	}
	if a.noWait {
		runcard.Show(context.WithoutCancel(ctx), c.S, ws, run.ID)
		_, err := fmt.Fprintf(c.Stdout, "%%run wait %s follows it, %%run show %s describes it, %%run cancel %s stops it.\n", run.ID, run.ID, run.ID)
		return err
	}
	return waitRunWS(ctx, c, ws, run)
}

// ErrStoppedWaiting is returned by a magic whose wait for a run was
// interrupted: the run goes on, which the magic has said. The cell ends
// as interrupted (queued cells do not run) without an error shown in red.
var ErrStoppedWaiting = errors.New("stopped waiting for the run, which goes on")

// waitRunWS shows run's live card and follows its output from the start to
// its final state, which it prints. Front ends without widgets see a status
// line kept up to date in place above the output instead of the card; it
// is cleared when the wait ends, so the final state is printed once. An
// interrupt stops the waiting, not the run.
func waitRunWS(ctx context.Context, c *Call, ws *sdk.Workspace, run *sdk.Run) error {
	card := runcard.Show(context.WithoutCancel(ctx), c.S, ws, run.ID)
	statusID := "gantry-run-status-" + run.ID + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	shown := false
	show := func(text string) {
		data := map[string]any{"text/plain": text, "text/html": ""}
		if text != "" {
			data["text/html"] = `<div class="gantry-run-status"><code>` + html.EscapeString(text) + "</code></div>"
		}
		c.S.DisplayID(statusID, &frame.Bundle{Data: data}, shown)
		shown = true
	}
	status := func(st workspace.State, _ time.Duration) {
		text := fmt.Sprintf("Run %s: %s", shortID(run.ID), st)
		if d, err := run.Details(context.WithoutCancel(ctx)); err == nil {
			if e := elapsed(d, time.Now()); e != "" {
				text += ", " + e
			}
		}
		show(text)
	}
	st, _, err := run.WaitForCompletion(ctx, sdk.WaitOptions{Output: c.Stdout, Status: status})
	if shown {
		show("") // the wait is over: the line below says how it ended
	}
	if err != nil {
		if ctx.Err() != nil {
			card.StoppedWaiting()
			now := ""
			if d, derr := run.Details(context.WithoutCancel(ctx)); derr == nil {
				now = fmt.Sprintf(" (%s", d.State)
				if e := elapsed(d, time.Now()); e != "" {
					now += ", " + e + " so far"
				}
				now += ")"
			}
			fmt.Fprintf(c.Stdout, "\nStopped waiting; run %s goes on%s. %%run wait %s follows it again, %%run cancel %s stops it.\n",
				run.ID, now, run.ID, run.ID)
			return ErrStoppedWaiting
		}
		return fmt.Errorf("wait for run %s: %w", run.ID, err)
	}
	d, err := run.Details(ctx)
	if err != nil {
		return err
	}
	line := fmt.Sprintf("Run %s: %s", run.ID, st)
	if total, prep := d.Elapsed(time.Now()); total > 0 {
		line += " in " + roundDuration(total)
		if prep > 0 {
			line += " (preparation " + roundDuration(prep) + ")"
		}
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
	if err := ws.Reconcile(ctx); err != nil {
		fmt.Fprintf(c.Stderr, "%%runs: the states shown may be out of date: %v\n", err)
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
	t := &table{head: []string{"id", "experiment", "target", "state", "created", "duration", "exit code"}}
	for _, r := range rs {
		code := ""
		if r.ExitCode != nil {
			code = strconv.Itoa(*r.ExitCode)
		}
		t.add(cell{text: shortID(r.ID), title: r.ID}, cell{text: r.Experiment}, cell{text: r.Target}, cell{text: string(r.State)},
			cell{text: when(r.Created)}, cell{text: elapsed(r, now)}, cell{text: code})
	}
	if more {
		t.note = fmt.Sprintf("The %d newest runs; --limit N shows more, --limit 0 all.", limit)
	}
	c.S.Display(t.bundle())
	return nil
}

// elapsed is how long r has taken, its environment's preparation included,
// with how much of it that was ("8.2s (preparation 3.1s)"); "" if it has
// not begun.
func elapsed(r workspace.Run, now time.Time) string {
	total, prep := r.Elapsed(now)
	if total == 0 && prep == 0 {
		return ""
	}
	s := roundDuration(total)
	if prep > 0 {
		s += " (preparation " + roundDuration(prep) + ")"
	}
	return s
}

// roundDuration rounds d for people: 850ms, 8.2s, 1m32s.
func roundDuration(d time.Duration) string {
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
	row("Duration", elapsed(d, time.Now()))
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
