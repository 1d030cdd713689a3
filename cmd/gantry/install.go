package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"gantry/install"
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
	uninstall := fs.Bool("uninstall", false, "remove the kernelspec (and the panel) instead")
	noPanel := fs.Bool("no-panel", false, "install only the kernelspec, not the JupyterLab panel")
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
		return nil
	}
	dir, err := install.Install(ctx, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Installed kernelspec %s in %s\n", o.Name, dir)
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
