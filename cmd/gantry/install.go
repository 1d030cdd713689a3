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
	uninstall := fs.Bool("uninstall", false, "remove the kernelspec instead")
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
		return nil
	}
	dir, err := install.Install(ctx, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Installed kernelspec %s in %s\n", o.Name, dir)
	return nil
}
