package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	"gantry/install"
	"gantry/install/papermill"
)

func runInstall(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("install", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o install.Options
	fs.BoolVar(&o.User, "user", false, "install for the current user (the default)")
	fs.BoolVar(&o.SysPrefix, "sys-prefix", false, "install into the prefix of the active Python environment ($VIRTUAL_ENV, or python3's sys.prefix)")
	fs.StringVar(&o.Prefix, "prefix", "", "install into PREFIX/share/jupyter/kernels")
	fs.StringVar(&o.Name, "name", "gantry", "kernelspec name")
	fs.StringVar(&o.DisplayName, "display-name", "Go (Gantry)", "name shown in the launcher")
	uninstall := fs.Bool("uninstall", false, "remove the kernelspec (and the panel and papermill translator) instead")
	noPanel := fs.Bool("no-panel", false, "install only the kernelspec, not the JupyterLab panel")
	pmPython := fs.String("papermill-python", "", "the Python whose papermill gets the Go translator (default: the environment the kernelspec goes into)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("install: unexpected argument %q", fs.Arg(0))
	}
	if o.SysPrefix && o.Prefix != "" {
		return fmt.Errorf("install: use --sys-prefix or --prefix, not both")
	}
	if *uninstall {
		dir, err := install.Uninstall(ctx, o)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Removed kernelspec %s from %s\n", o.Name, dir)
		if !*noPanel && install.HasPanel() {
			if err := install.UninstallPanel(ctx, o); err != nil {
				return err
			}
			fmt.Fprintln(stdout, "Removed the JupyterLab panel")
		}
		if py := translatorPython(o, *pmPython); py != "" {
			if err := papermill.Uninstall(ctx, py); err != nil {
				return err
			}
		}
		return nil
	}
	dir, err := install.Install(ctx, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Installed kernelspec %s in %s\n", o.Name, dir)
	installTranslator(ctx, o, *pmPython, stdout)
	if *noPanel {
		return nil
	}
	// The panel is an extra: without it the kernel works as before.
	note, err := install.InstallPanel(ctx, o)
	if err != nil {
		fmt.Fprintf(stderr, "The JupyterLab panel was not installed: %v\n", err)
		return nil
	}
	fmt.Fprintln(stdout, "Installed the JupyterLab panel (gantry-jupyterlab) and its gantry serve entry for jupyter-server-proxy")
	if note != "" {
		fmt.Fprintln(stderr, "Note:", note)
	}
	return nil
}

// installTranslator puts the papermill translator for Go notebooks into
// the Python environment of the kernelspec, where papermill would run; a
// Python without papermill is told of, not an error.
func installTranslator(ctx context.Context, o install.Options, python string, stdout io.Writer) {
	py := translatorPython(o, python)
	if py == "" {
		return
	}
	v := papermill.Version(version)
	done, err := papermill.Install(ctx, py, v, !o.SysPrefix && o.Prefix == "")
	switch {
	case errors.Is(err, papermill.ErrNoPapermill):
		fmt.Fprintf(stdout, "papermill is not installed in %s: its translator for Go notebooks was not installed (pip install papermill there, then gantry install again)\n", py)
	case err != nil:
		fmt.Fprintf(stdout, "The papermill translator for Go notebooks was not installed: %v\n", err)
	case done:
		fmt.Fprintf(stdout, "Installed the papermill translator for Go notebooks (%s %s) with %s\n", papermill.Distribution, v, py)
	}
}

// translatorPython is the Python to install the translator with: the one
// named, else the environment's of --sys-prefix or --prefix (if it has
// one), else python3 on PATH; "" when there is none.
func translatorPython(o install.Options, named string) string {
	if named != "" {
		return named
	}
	var candidates []string
	switch {
	case o.Prefix != "":
		candidates = []string{filepath.Join(o.Prefix, "bin", "python3"), filepath.Join(o.Prefix, "bin", "python")}
	case o.SysPrefix && os.Getenv("VIRTUAL_ENV") != "":
		candidates = []string{filepath.Join(os.Getenv("VIRTUAL_ENV"), "bin", "python")}
	default:
		candidates = []string{"python3"}
	}
	for _, c := range candidates {
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	return ""
}
