package magics

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"gantry/sdk"
)

// RegisterBuiltins registers Gantry's own magics in r: writefile, cd, pwd,
// env, time, reset, lsmagic, help and require, and the SDK magics
// (sdk.go): workspace, compute, submit, runs, run, metrics and model.
// The SDK magics keep prompted secrets in secrets, the session's (nil:
// each workspace its own).
func RegisterBuiltins(r *Registry, secrets *sdk.Secrets) error {
	for _, m := range builtins(r) {
		if err := r.Register(m); err != nil {
			return err
		}
	}
	return registerSDK(r, secrets)
}

// builtins returns new instances of Gantry's own magics. The help and
// lsmagic magics describe the magics of r; %cd remembers the previous
// directory for "%cd -" in the returned magic, not globally.
func builtins(r *Registry) []*Magic {
	cd := &cdMagic{}
	return []*Magic{
		{Name: "writefile", Cell: true, Usage: "%%writefile [-a] PATH", Run: writefile,
			Doc: "Writes the rest of the cell to PATH, replacing the file, or appending to it with -a. " +
				"A final newline is added if the cell has none. The directory must exist. " +
				"Quote a path with spaces: %%writefile \"my notes.txt\"."},
		{Name: "cd", Line: true, Usage: "%cd [DIR]", Run: cd.run,
			Doc: "Changes the working directory of the executor (and of later ! commands) to DIR, " +
				"to your home directory without DIR, or back to the previous one with %cd -. Prints the new directory. " +
				"DIR may start with ~ and hold environment variables, $NAME or ${NAME}, as in a shell (%cd $TMPDIR/work)."},
		{Name: "pwd", Line: true, Usage: "%pwd", Run: pwd,
			Doc: "Prints the working directory."},
		{Name: "env", Line: true, Usage: "%env [NAME[=VALUE] | NAME VALUE]", Run: env,
			Doc: "Without arguments lists the environment, sorted, with hidden values for names that look secret " +
				"(secret, token, password, passphrase, credential, and words such as key, pass, pw, pwd, auth, " +
				"cred, private) and for the variables the workspace's compute targets take passwords and " +
				"passphrases from (--password-env, --passphrase-env). %env NAME prints one value, secret or not; " +
				"%env NAME=VALUE or %env NAME VALUE sets it for the executor and the processes it starts (the " +
				"value is echoed hidden if the name looks secret)."},
		{Name: "time", Line: true, Cell: true, Usage: "%time STATEMENT  or  %%time", Run: timeIt,
			Doc: "Runs the Go code on the rest of the line (%time) or in the rest of the cell (%%time) " +
				"and prints the wall time it took."},
		{Name: "reset", Line: true, Usage: "%reset [-f]", Run: reset,
			Doc: "Discards every value, declaration and import the cells have made. -f is accepted and ignored: " +
				"Gantry never asks for confirmation."},
		{Name: "lsmagic", Line: true, Usage: "%lsmagic", Run: func(_ context.Context, c *Call) error {
			_, err := fmt.Fprint(c.Stdout, lsmagic(r))
			return err
		}, Doc: "Lists the line and cell magics."},
		{Name: "help", Line: true, Usage: "%help [NAME]", Run: func(_ context.Context, c *Call) error {
			return Help(r, c.S, trimArgs(c.Args), 1)
		}, Doc: "Without NAME, an overview of what a cell may contain. With NAME, the usage of a magic " +
			"(%help cd or %help %cd) or the documentation of a Go name (%help fmt.Println)."},
		{Name: "exit", Line: true, Usage: "exit  or  quit  (a cell of only that word, or %exit, %quit)", Run: exitMagic,
			Doc: "Ends a terminal session: jupyter console stops and shuts the kernel down, as with IPython's exit. " +
				"It is a request to the client (an ask_exit payload), so in a notebook it does nothing: there, " +
				"use the Kernel menu to shut down or restart. A cell of only exit, quit, exit() or quit() is this " +
				"magic, unless a cell declared a func or value of that name, which then runs as Go."},
		{Name: "quit", Line: true, Usage: "quit  or  exit  (a cell of only that word, or %quit, %exit)", Run: exitMagic,
			Doc: "The same as exit: ends a jupyter console session, and does nothing in a notebook."},
		{Name: "require", Line: true, Usage: "%require MODULE@VERSION [MODULE@VERSION ...]", Run: requireMagic,
			Doc: "Fetches Go modules with the go command and makes their packages importable in cells. " +
				"Pin a version: %require github.com/google/uuid@v1.6.0. The interpreter runs packages from source, " +
				"so a module that uses cgo, tricks with unsafe, or generics the interpreter cannot handle " +
				"fails when imported, with the interpreter's error."},
	}
}

// exitMagic is exit and quit: it asks the client to end the session,
// unless the cells declared the name (no Go package or builtin has it, so
// documentation found for it is of a cell's declaration), which then runs
// as Go.
func exitMagic(ctx context.Context, c *Call) error {
	if _, declared := c.S.Doc(c.Name); declared {
		b, err := c.S.Eval(ctx, c.Name+c.Args)
		if b != nil {
			c.S.Display(b)
		}
		return err
	}
	if strings.TrimSpace(c.Args) != "" && strings.TrimSpace(c.Args) != "()" {
		return fmt.Errorf("%%%s takes no arguments", c.Name)
	}
	c.S.AskExit()
	return nil
}

func writefile(_ context.Context, c *Call) error {
	words, err := splitWords(c.Args)
	if err != nil {
		return fmt.Errorf("%%%%writefile: %w", err)
	}
	var (
		appendTo bool
		paths    []string
	)
	for _, w := range words {
		switch w {
		case "-a", "--append":
			appendTo = true
		default:
			if strings.HasPrefix(w, "-") && len(w) > 1 {
				return fmt.Errorf("%%%%writefile: unknown option %s: the only option is -a (append)", w)
			}
			paths = append(paths, w)
		}
	}
	if len(paths) != 1 {
		return fmt.Errorf("%%%%writefile needs exactly one PATH, got %d: use %%%%writefile [-a] PATH (quote a path with spaces)", len(paths))
	}
	path, err := expandHome(paths[0])
	if err != nil {
		return fmt.Errorf("%%%%writefile: %w", err)
	}
	dir := filepath.Dir(path)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return fmt.Errorf("%%%%writefile %s: directory %s does not exist: create it first (!mkdir -p %s)", path, dir, shellQuote(dir))
	}

	_, statErr := os.Stat(path)
	exists := statErr == nil
	flag := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	verb := "Writing"
	switch {
	case appendTo && exists:
		flag = os.O_WRONLY | os.O_CREATE | os.O_APPEND
		verb = "Appending to"
	case exists:
		verb = "Overwriting"
	}
	body := c.Body
	if body != "" && !strings.HasSuffix(body, "\n") {
		body += "\n"
	}
	f, err := os.OpenFile(path, flag, 0o644)
	if err != nil {
		return fmt.Errorf("%%%%writefile: %w", err)
	}
	if _, err := f.WriteString(body); err != nil {
		f.Close()
		return fmt.Errorf("%%%%writefile: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("%%%%writefile: %w", err)
	}
	fmt.Fprintf(c.Stdout, "%s %s\n", verb, path)
	return nil
}

// shellQuote quotes s for /bin/sh when it needs quoting.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+~") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// cdMagic is %cd with the directory it left last, for "%cd -".
type cdMagic struct{ prev string }

func (m *cdMagic) run(ctx context.Context, c *Call) error {
	words, err := splitWords(c.Args)
	if err != nil {
		return fmt.Errorf("%%cd: %w", err)
	}
	var dir string
	switch {
	case len(words) > 1:
		return fmt.Errorf("%%cd takes one directory, got %d words: quote a path with spaces", len(words))
	case len(words) == 0:
		if dir, err = os.UserHomeDir(); err != nil {
			return fmt.Errorf("%%cd: no home directory to go to: %w", err)
		}
	case words[0] == "-":
		if m.prev == "" {
			return errors.New("%cd -: no previous directory yet")
		}
		dir = m.prev
	default:
		word := words[0]
		if strings.Contains(word, "$") {
			var unset []string
			word = os.Expand(word, func(name string) string {
				v, ok := os.LookupEnv(name)
				if !ok {
					unset = append(unset, "$"+name)
				}
				return v
			})
			if len(unset) > 0 {
				return fmt.Errorf("%%cd %s: %s is not set (%%env NAME=VALUE sets one)", words[0], strings.Join(unset, ", "))
			}
		}
		if dir, err = expandHome(word); err != nil {
			return fmt.Errorf("%%cd: %w", err)
		}
	}
	old, err := os.Getwd()
	if err != nil {
		return fmt.Errorf("%%cd: the current directory is gone (%w); %%cd to an absolute path", err)
	}
	if err := os.Chdir(dir); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%%cd: directory %s does not exist", dir)
		}
		return fmt.Errorf("%%cd %s: %w", dir, err)
	}
	m.prev = old
	return pwd(ctx, c)
}

func pwd(_ context.Context, c *Call) error {
	wd, err := os.Getwd()
	if err != nil {
		return fmt.Errorf("%%pwd: %w", err)
	}
	_, err = fmt.Fprintln(c.Stdout, wd)
	return err
}

func env(ctx context.Context, c *Call) error {
	args := trimArgs(c.Args)
	targets := targetSecretVars(ctx)
	shown := func(name, value string) string {
		if looksSecret(name) || targets[name] {
			return "<hidden>"
		}
		return value
	}
	if args == "" {
		vars := os.Environ()
		sort.Strings(vars)
		var b strings.Builder
		for _, kv := range vars {
			name, value, _ := strings.Cut(kv, "=")
			fmt.Fprintf(&b, "%s=%s\n", name, shown(name, value))
		}
		_, err := fmt.Fprint(c.Stdout, b.String())
		return err
	}
	name, value, set := strings.Cut(args, "=")
	if i := strings.IndexAny(args, " \t"); i >= 0 && (!set || i < len(name)) {
		name, value, set = args[:i], strings.TrimSpace(args[i+1:]), true
	}
	name = strings.TrimSpace(name)
	if name == "" || strings.ContainsAny(name, " \t=") {
		return fmt.Errorf("%%env: %q is not a variable name: use %%env NAME=VALUE", name)
	}
	if !set {
		v, ok := os.LookupEnv(name)
		if !ok {
			return fmt.Errorf("%%env: %s is not set: set it with %%env %s=VALUE", name, name)
		}
		_, err := fmt.Fprintln(c.Stdout, v)
		return err
	}
	if err := os.Setenv(name, value); err != nil {
		return fmt.Errorf("%%env: set %s: %w", name, err)
	}
	_, err := fmt.Fprintf(c.Stdout, "env: %s=%s\n", name, shown(name, value))
	return err
}

func timeIt(ctx context.Context, c *Call) error {
	code := c.Args
	if c.Cell {
		code = c.Body
	}
	if strings.TrimSpace(code) == "" {
		if c.Cell {
			return errors.New("%%time: the cell has no code after its first line")
		}
		return errors.New("%time needs a statement: %time f(), or start the cell with %%time to time a whole cell")
	}
	start := time.Now()
	b, err := c.S.Eval(ctx, code)
	d := time.Since(start)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "Wall time: %s\n", formatDuration(d))
	if b != nil {
		c.S.Display(b)
	}
	return nil
}

// formatDuration formats d with three significant digits in the largest
// unit of ns, µs, ms and s that keeps the number at or above 1.
func formatDuration(d time.Duration) string {
	v, unit := float64(d), "ns"
	switch {
	case d >= time.Second:
		v, unit = d.Seconds(), "s"
	case d >= time.Millisecond:
		v, unit = v/1e6, "ms"
	case d >= time.Microsecond:
		v, unit = v/1e3, "µs"
	default:
		return fmt.Sprintf("%d ns", int64(d))
	}
	switch {
	case v < 10:
		return fmt.Sprintf("%.2f %s", v, unit)
	case v < 100:
		return fmt.Sprintf("%.1f %s", v, unit)
	}
	return fmt.Sprintf("%.0f %s", v, unit)
}

func reset(ctx context.Context, c *Call) error {
	for _, w := range strings.Fields(c.Args) {
		if w != "-f" {
			return fmt.Errorf("%%reset: unknown argument %s: %%reset takes only -f", w)
		}
	}
	if err := c.S.Reset(ctx); err != nil {
		return fmt.Errorf("%%reset: %w", err)
	}
	_, err := fmt.Fprintln(c.Stdout, "Interpreter state reset.")
	return err
}
