package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"gantry/notebook"
	"gantry/sdk"
	"gantry/sdk/agent"
	"gantry/sdk/workspace"
)

const computeUsage = `Usage:
  gantry compute list [--workspace DIR]
  gantry compute create local NAME [--max-concurrent N] [--workspace DIR]
  gantry compute create cluster NAME --vm-size SIZE --max-nodes N [--min-nodes N]
      [--priority dedicated|lowpriority] [--idle-seconds S] [--nodes-of CLUSTER]
      [--slurm-dir DIR] [--workspace DIR]
  gantry compute attach ssh NAME --address HOST [--port 22] --user USER
      (--key FILE [--passphrase-env VAR] | --password-env VAR) [--known-hosts FILE]
      [--trust-on-first-use] [--jump USER@HOST[:PORT]] [--remote-root DIR]
      [--max-concurrent N] [--workspace DIR]
  gantry compute attach spark NAME --master spark://HOST:PORT (--secret-env VAR | --no-auth)
      [--spark-submit PATH] [--max-concurrent N] [--workspace DIR]
  gantry compute status NAME [--workspace DIR]
  gantry compute delete NAME [--workspace DIR]

Passwords and passphrases come from environment variables here; in a
notebook, the compute attach magic can also prompt for them.
`

const runUsage = `Usage:
  gantry run submit --target T [--experiment E] [--submit-key KEY] [--gpus N] [--workspace DIR] SCRIPT [-- ARGS...]
  gantry run submit --target T [...] [--kernel K] NOTEBOOK.ipynb [-p NAME VALUE]... [-r NAME VALUE]... [-y YAML] [-f FILE]
  gantry run list [--experiment E] [--state S] [--workspace DIR]
  gantry run logs ID [--follow] [--workspace DIR]
  gantry run wait ID [--workspace DIR]
  gantry run cancel ID [--workspace DIR]

ID may be a unique prefix of a run's ID, such as the 8 characters run list shows.
run submit prints the new run's ID. A notebook runs headless on its kernel on
the target, with papermill's parameters; the executed notebook is in the run's
outputs/. With --submit-key, a submit retried with
the same key (after a crash, or a reply that never came) prints the run the
first attempt started instead of starting another.
--workspace defaults to $GANTRY_WORKSPACE, else ./.gantry.
`

// unknownVerb is the error for a word that is not one of verbs: it names
// the word, the verbs there are, the nearest one if it looks like a typo,
// and where the usage is.
func unknownVerb(what, word, help string, verbs ...string) error {
	guess := ""
	if near := nearest(word, verbs); near != "" {
		guess = fmt.Sprintf(" (did you mean %q?)", near)
	}
	return fmt.Errorf("%s %q is not one Gantry knows%s: use %s; %s shows the usage", what, word, guess, strings.Join(verbs, ", "), help)
}

// nearest returns the verb at most two edits from word, if there is one.
func nearest(word string, verbs []string) string {
	best, bestD := "", 3
	for _, v := range verbs {
		if d := editDistance(strings.ToLower(word), v); d < bestD {
			best, bestD = v, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			sub := prev[j-1]
			if a[i-1] != b[j-1] {
				sub++
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, sub)
		}
		prev = cur
	}
	return prev[len(b)]
}

// usageError is a mistake in a command line: the usage follows it.
func usageError(stderr io.Writer, usage, format string, a ...any) error {
	fmt.Fprint(stderr, usage)
	return fmt.Errorf(format, a...)
}

// newFlags makes a subcommand's flag set, with --workspace.
func newFlags(name, usage string, stderr io.Writer) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage, "\nFlags of gantry ", name, ":\n")
		fs.PrintDefaults()
	}
	ws := fs.String("workspace", "", "the workspace directory (default $GANTRY_WORKSPACE, else ./.gantry)")
	return fs, ws
}

// parseArgs parses flags wherever they are among the positional arguments,
// up to a "--"; it returns the positional arguments and those after "--"
// (rest is nil when there is no "--").
func parseArgs(fs *flag.FlagSet, args []string) (pos, rest []string, err error) {
	for {
		if err := fs.Parse(args); err != nil {
			return nil, nil, err
		}
		// flag.Parse consumes a "--"; find whether it stopped at one.
		consumed := len(args) - fs.NArg()
		if consumed > 0 && args[consumed-1] == "--" {
			return pos, append([]string{}, fs.Args()...), nil
		}
		left := fs.Args()
		if len(left) == 0 {
			return pos, nil, nil
		}
		pos = append(pos, left[0])
		args = left[1:]
	}
}

func openWorkspace(ctx context.Context, dir string) (*sdk.Workspace, error) {
	return sdk.OpenWorkspace(ctx, dir)
}

func runCompute(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError(stderr, computeUsage, "compute: missing subcommand (list, create, attach, status or delete)")
	}
	switch args[0] {
	case "list":
		fs, dir := newFlags("compute list", computeUsage, stderr)
		pos, _, err := parseArgs(fs, args[1:])
		if err != nil {
			return err
		}
		if len(pos) != 0 {
			return usageError(stderr, computeUsage, "compute list: unexpected argument %q", pos[0])
		}
		ws, err := openWorkspace(ctx, *dir)
		if err != nil {
			return err
		}
		defer ws.Close()
		ts, err := ws.ComputeTargets(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tKIND\tSTATE\tCREATED")
		for _, t := range ts {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.Name, t.Kind, t.ProvisioningState, t.Created.Local().Format(time.DateTime))
		}
		return tw.Flush()
	case "create":
		return createCompute(ctx, args[1:], stdout, stderr)
	case "attach":
		return attachSSH(ctx, args[1:], stdout, stderr)
	case "delete":
		fs, dir := newFlags("compute delete", computeUsage, stderr)
		pos, _, err := parseArgs(fs, args[1:])
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return usageError(stderr, computeUsage, "compute delete: want the target's NAME")
		}
		ws, err := openWorkspace(ctx, *dir)
		if err != nil {
			return err
		}
		defer ws.Close()
		if _, err := ws.Store().Target(ctx, pos[0]); err != nil {
			return err
		}
		// As %compute delete: a managed cluster's partitions and nodes go too.
		if err := ws.DeleteCompute(ctx, pos[0]); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "deleted target %s\n", pos[0])
		return nil
	case "status":
		fs, dir := newFlags("compute status", computeUsage, stderr)
		pos, _, err := parseArgs(fs, args[1:])
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return usageError(stderr, computeUsage, "compute status: want the target's NAME (gantry compute list shows them)")
		}
		ws, err := openWorkspace(ctx, *dir)
		if err != nil {
			return err
		}
		defer ws.Close()
		return ws.DescribeCompute(ctx, stdout, pos[0])
	case "help", "-h", "--help":
		fmt.Fprint(stdout, computeUsage)
		return nil
	default:
		return unknownVerb("compute: subcommand", args[0], "gantry compute help", "list", "create", "attach", "status", "delete", "help")
	}
}

func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError(stderr, runUsage, "run: missing subcommand (submit, list, logs, wait or cancel)")
	}
	// Waiting ends on Ctrl-C; the run goes on.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	sub := args[0]
	switch sub {
	case "submit":
		fs, dir := newFlags("run submit", runUsage, stderr)
		target := fs.String("target", "", "the compute target to run on (required)")
		exp := fs.String("experiment", "default", "the experiment the run belongs to")
		key := fs.String("submit-key", "", "a name for this submit, unique in the workspace: retried with the same key, the submit returns the run it started")
		gpus := fs.Int("gpus", 0, "GPUs the run asks for (devices of its own; Slurm's --gres=gpu:N on a managed cluster)")
		kernel := fs.String("kernel", "", "run a notebook on this kernelspec instead of its own")
		params, args, err := notebookParams(args[1:])
		if err != nil {
			return usageError(stderr, runUsage, "run submit: %v", err)
		}
		pos, rest, err := parseArgs(fs, args)
		if err != nil {
			return err
		}
		if len(pos) == 0 {
			return usageError(stderr, runUsage, "run submit: missing SCRIPT")
		}
		if len(pos) > 1 {
			return usageError(stderr, runUsage, "run submit: unexpected argument %q: put the script's arguments after --", pos[1])
		}
		if *target == "" {
			return usageError(stderr, runUsage, "run submit: --target is required (gantry compute list shows the targets)")
		}
		ws, err := openWorkspace(ctx, *dir)
		if err != nil {
			return err
		}
		defer ws.Close()
		script := pos[0]
		r, err := ws.Experiment(*exp).Submit(ctx, sdk.ScriptRunConfig{
			SourceDirectory: filepath.Dir(script), Script: filepath.Base(script), Arguments: rest,
			Parameters: params, Kernel: *kernel,
			RunConfig: sdk.RunConfiguration{Target: *target, GPUCount: *gpus}, SubmitKey: *key,
		})
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, r.ID)
		return nil
	case "list":
		fs, dir := newFlags("run list", runUsage, stderr)
		exp := fs.String("experiment", "", "only the runs of this experiment")
		state := fs.String("state", "", "only the runs in this state (Running, Completed, Failed...)")
		pos, _, err := parseArgs(fs, args[1:])
		if err != nil {
			return err
		}
		if len(pos) != 0 {
			return usageError(stderr, runUsage, "run list: unexpected argument %q", pos[0])
		}
		ws, err := openWorkspace(ctx, *dir)
		if err != nil {
			return err
		}
		defer ws.Close()
		if err := ws.Reconcile(ctx); err != nil {
			fmt.Fprintf(stderr, "gantry: runs may show an old state: %v\n", err)
		}
		rs, err := ws.Store().Runs(ctx, workspace.Filter{Experiment: *exp, State: workspace.State(*state)})
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tEXPERIMENT\tSTATE\tTARGET\tCREATED")
		for _, r := range rs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.ID[:8], r.Experiment, r.State, r.Target, r.Created.Local().Format(time.DateTime))
		}
		return tw.Flush()
	case "logs", "wait", "cancel":
		fs, dir := newFlags("run "+sub, runUsage, stderr)
		var follow *bool
		if sub == "logs" {
			follow = fs.Bool("follow", false, "keep showing the output as it arrives, until the run ends")
		}
		pos, _, err := parseArgs(fs, args[1:])
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return usageError(stderr, runUsage, "run %s: want one run ID", sub)
		}
		ws, err := openWorkspace(ctx, *dir)
		if err != nil {
			return err
		}
		defer ws.Close()
		r, err := findRun(ctx, ws, pos[0])
		if err != nil {
			return err
		}
		switch sub {
		case "logs":
			if *follow {
				_, _, err := r.WaitForCompletion(ctx, sdk.WaitOptions{Output: stdout, Poll: 200 * time.Millisecond})
				return err
			}
			d, err := r.Dir()
			if err != nil {
				return err
			}
			f, err := os.Open(filepath.Join(d, agent.OutputLog))
			if errors.Is(err, os.ErrNotExist) {
				return nil // no output yet
			}
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = io.Copy(stdout, f)
			return err
		case "wait":
			st, _, err := r.WaitForCompletion(ctx, sdk.WaitOptions{RaiseOnError: true, Poll: 200 * time.Millisecond})
			if st != "" {
				fmt.Fprintln(stdout, st)
			}
			return err
		default:
			if err := r.Cancel(ctx); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "cancel requested for run %s\n", r.ID)
			return nil
		}
	case "help", "-h", "--help":
		fmt.Fprint(stdout, runUsage)
		return nil
	default:
		return unknownVerb("run: subcommand", sub, "gantry run help", "submit", "list", "logs", "wait", "cancel", "help")
	}
}

// notebookParams takes papermill's parameter options (-p, -r, -y, -f) out
// of a run submit's arguments before any "--", after which the words are
// a script's own.
func notebookParams(args []string) (map[string]any, []string, error) {
	head, tail := args, []string(nil)
	for i, a := range args {
		if a == "--" {
			head, tail = args[:i], args[i:]
			break
		}
	}
	params, head, err := notebook.ParseArgs(head, os.ReadFile)
	if err != nil || len(params) == 0 {
		return nil, append(head, tail...), err
	}
	m := map[string]any{}
	for _, p := range params {
		m[p.Name] = p.Value
	}
	return m, append(head, tail...), nil
}

// findRun finds a run by its ID or a unique prefix of it.
func findRun(ctx context.Context, ws *sdk.Workspace, id string) (*sdk.Run, error) {
	if r, err := ws.Run(ctx, id); err == nil {
		return r, nil
	} else if !errors.Is(err, workspace.ErrInvalidID) {
		return nil, err
	}
	rs, err := ws.Store().Runs(ctx, workspace.Filter{})
	if err != nil {
		return nil, err
	}
	var match []string
	for _, r := range rs {
		if strings.HasPrefix(r.ID, strings.ToLower(id)) {
			match = append(match, r.ID)
		}
	}
	switch len(match) {
	case 0:
		return nil, fmt.Errorf("run %q: %w", id, workspace.ErrNotFound)
	case 1:
		return ws.Run(ctx, match[0])
	default:
		return nil, fmt.Errorf("run %q is ambiguous: %d runs start with it (%s...)", id, len(match), strings.Join(match[:2], ", "))
	}
}
