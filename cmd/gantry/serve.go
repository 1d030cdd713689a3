package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"

	"gantry/sdk"
	"gantry/sdk/workspace"
	"gantry/serve"
)

const serveUsage = `Usage:
  gantry serve [--addr 127.0.0.1:8765 | --socket PATH] [--workspace DIR]
  gantry ui [--addr 127.0.0.1:0] [--workspace DIR] [--no-browser]

serve answers the HTTP API the JupyterLab panel and the Gantry page use,
over one workspace, on this machine only (a loopback address or a unix
socket); every request needs its token, taken from $GANTRY_SERVE_TOKEN
when set (as the panel's launcher sets it), else made up and printed in
the page's address. ui serves the same and opens the page in a browser.
`

// tokenEnv passes serve its token.
const tokenEnv = "GANTRY_SERVE_TOKEN"

func runServe(ctx context.Context, args []string, stderr io.Writer, ui bool) error {
	name := "serve"
	defAddr := "127.0.0.1:8765"
	if ui {
		name, defAddr = "ui", "127.0.0.1:0"
	}
	fs, wsDir := newFlags(name, serveUsage, stderr)
	addr := fs.String("addr", defAddr, "listen on this loopback HOST:PORT (port 0: any free port)")
	socket := fs.String("socket", "", "listen on this unix socket instead")
	noBrowser := fs.Bool("no-browser", false, "ui: print the page's address, do not open a browser")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError(stderr, serveUsage, "%s: unexpected argument %q", name, fs.Arg(0))
	}
	token := os.Getenv(tokenEnv)
	os.Unsetenv(tokenEnv) // not for the agents this process starts
	printToken := token == ""
	if token == "" {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return err
		}
		token = base64.RawURLEncoding.EncodeToString(b)
	}
	dir := *wsDir
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return err
		}
		dir = workspace.DefaultDir(wd)
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	ws, err := sdk.OpenWorkspace(ctx, dir)
	if err != nil {
		return err
	}
	defer ws.Close()
	listen := *addr
	if *socket != "" {
		listen = "unix:" + *socket
	}
	ln, err := serve.Listen(listen)
	if err != nil {
		return err
	}
	s := &serve.Server{WS: ws, Token: token, UI: serve.WebUI()}
	abs, _ := filepath.Abs(ws.Dir())
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok {
		page := fmt.Sprintf("http://%s/", tcp.String())
		if printToken {
			page += "?token=" + token
		}
		fmt.Fprintf(stderr, "Gantry serves the workspace %s at %s\n", abs, page)
		if ui && !*noBrowser {
			if err := openBrowser(page); err != nil {
				fmt.Fprintf(stderr, "Open that address in a browser (%v).\n", err)
			}
		}
	} else {
		fmt.Fprintf(stderr, "Gantry serves the workspace %s on %s\n", abs, ln.Addr())
	}
	err = s.Serve(ctx, ln)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// openBrowser opens url with $BROWSER, else xdg-open or open.
func openBrowser(url string) error {
	for _, c := range []string{os.Getenv("BROWSER"), "xdg-open", "open"} {
		if c == "" {
			continue
		}
		if p, err := exec.LookPath(c); err == nil {
			cmd := exec.Command(p, url)
			cmd.Stdout, cmd.Stderr = nil, nil
			if err := cmd.Start(); err != nil {
				return err
			}
			go cmd.Wait()
			return nil
		}
	}
	return errors.New("no browser found: $BROWSER is not set and xdg-open is not installed")
}
