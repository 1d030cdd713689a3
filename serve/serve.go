// Package serve is `gantry serve`: one HTTP API over a workspace, for the
// JupyterLab panel and the standalone page of `gantry ui`, whose files it
// also serves.
//
// The API reads and acts through package sdk, so its validation and error
// texts are the SDK's: a request the SDK refuses is answered with a 4xx
// status and {"error": "<the SDK's message>"}.
//
//	GET    /api/workspace                      the workspace's directory
//	GET    /api/targets                        targets, their runs by state, clusters' nodes by state
//	POST   /api/targets                        create local / attach ssh / create cluster
//	PATCH  /api/targets/{name}                 update a cluster's node counts, a local target's cap
//	DELETE /api/targets/{name}                 delete (a cluster releases its nodes)
//	POST   /api/targets/{name}/detach          forget a target, leaving its machine alone
//	GET    /api/sizes                          the cluster size catalogue
//	GET    /api/experiments                    experiment names
//	GET    /api/runs?experiment&target&state&limit&before   a page of runs, newest first
//	GET    /api/runs/{id}                      a run, its events, files and last metrics
//	GET    /api/runs/{id}/logs?offset|tail&file its output (or environment log) from any byte offset
//	GET    /api/runs/{id}/metrics              its metric series
//	GET    /api/runs/{id}/files/{path...}      download an output or log file
//	POST   /api/runs/{id}/cancel, /resubmit
//	GET    /api/models
//	GET    /api/events?since&run&log&metrics   server-sent events: state changes, targets
//	                                           changed, and a run's new log bytes and metric points
//
// Every request needs the server's token: an "Authorization: Bearer"
// header, the cookie the server sets when a page is opened with ?token=,
// or a token query parameter. A request without one is answered 401, one
// with a wrong one 403. Requests that change something and authenticate
// with the cookie must also carry the header X-Gantry, so that another
// site's page cannot forge them. The server listens only on a loopback
// address or a unix socket (see [Listen]). Secrets given on attach are
// kept in the process's memory and never returned.
package serve

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io/fs"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"gantry/sdk"
)

// A Server answers the API over one workspace.
type Server struct {
	// WS is the workspace served.
	WS *sdk.Workspace
	// Token is required on every request; it must not be empty.
	Token string
	// UI holds the web page's files (index.html and what it loads),
	// served at /; nil serves none.
	UI fs.FS
	// Poll is how often an event stream looks for changes; 0 means 50 ms.
	Poll time.Duration
	// Log receives what the server has to say about failed requests; nil
	// means the standard logger.
	Log *log.Logger
}

// cookieName is the cookie that carries the token for pages.
const cookieName = "gantry-token"

// csrfHeader must accompany requests that change something when they
// authenticate with the cookie.
const csrfHeader = "X-Gantry"

// Handler returns the server's HTTP handler.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/workspace", s.workspace)
	mux.HandleFunc("GET /api/targets", s.listTargets)
	mux.HandleFunc("POST /api/targets", s.createTarget)
	mux.HandleFunc("PATCH /api/targets/{name}", s.updateTarget)
	mux.HandleFunc("DELETE /api/targets/{name}", s.deleteTarget)
	mux.HandleFunc("POST /api/targets/{name}/detach", s.detachTarget)
	mux.HandleFunc("GET /api/sizes", s.sizes)
	mux.HandleFunc("GET /api/experiments", s.experiments)
	mux.HandleFunc("GET /api/runs", s.listRuns)
	mux.HandleFunc("GET /api/runs/{id}", s.getRun)
	mux.HandleFunc("GET /api/runs/{id}/logs", s.logs)
	mux.HandleFunc("GET /api/runs/{id}/metrics", s.metrics)
	mux.HandleFunc("GET /api/runs/{id}/files/{path...}", s.download)
	mux.HandleFunc("POST /api/runs/{id}/cancel", s.cancel)
	mux.HandleFunc("POST /api/runs/{id}/resubmit", s.resubmit)
	mux.HandleFunc("GET /api/models", s.models)
	mux.HandleFunc("GET /api/events", s.events)
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Errorf("no API endpoint %s %s: see the list in `go doc gantry/serve`", r.Method, r.URL.Path))
	})
	if s.UI != nil {
		files := http.FileServerFS(s.UI)
		mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				writeError(w, http.StatusMethodNotAllowed, fmt.Errorf("%s %s: the page's files are only read", r.Method, r.URL.Path))
				return
			}
			files.ServeHTTP(w, r)
		})
	}
	return s.auth(mux)
}

// auth lets through only requests to a loopback host name that carry the
// token.
func (s *Server) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !loopbackHost(r.Host) {
			writeError(w, http.StatusForbidden, fmt.Errorf("host %q is not this machine: open the page at 127.0.0.1 or localhost", r.Host))
			return
		}
		token, how := s.credentials(r)
		if token == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="gantry"`)
			writeError(w, http.StatusUnauthorized, errors.New("this Gantry server needs its token: open the address `gantry ui` printed (it carries ?token=), or send Authorization: Bearer TOKEN"))
			return
		}
		if subtle.ConstantTimeCompare([]byte(token), []byte(s.Token)) != 1 {
			writeError(w, http.StatusForbidden, errors.New("wrong token: use the one `gantry ui` or `gantry serve` printed when it started (a restart makes a new one)"))
			return
		}
		safe := r.Method == http.MethodGet || r.Method == http.MethodHead
		if how == "cookie" && !safe && r.Header.Get(csrfHeader) == "" {
			writeError(w, http.StatusForbidden, fmt.Errorf("a request that changes something needs the header %s (the Gantry page sends it)", csrfHeader))
			return
		}
		if how == "query" && safe && !strings.HasPrefix(r.URL.Path, "/api/") {
			// A page opened with ?token=: keep the token in a cookie and
			// take it out of the address bar (and of the history).
			http.SetCookie(w, &http.Cookie{Name: cookieName, Value: token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
			q := r.URL.Query()
			q.Del("token")
			u := url.URL{Path: r.URL.Path, RawQuery: q.Encode()}
			http.Redirect(w, r, u.String(), http.StatusSeeOther)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// credentials returns the token a request carries and how it carries it:
// "header", "cookie" or "query".
func (s *Server) credentials(r *http.Request) (token, how string) {
	if h := r.Header.Get("Authorization"); h != "" {
		if t, ok := strings.CutPrefix(h, "Bearer "); ok {
			return strings.TrimSpace(t), "header"
		}
		if t, ok := strings.CutPrefix(h, "token "); ok {
			return strings.TrimSpace(t), "header"
		}
	}
	if t := r.URL.Query().Get("token"); t != "" {
		return t, "query"
	}
	if c, err := r.Cookie(cookieName); err == nil && c.Value != "" {
		return c.Value, "cookie"
	}
	return "", ""
}

// loopbackHost reports whether a Host header names this machine, so that
// a page of another site whose name was made to resolve to 127.0.0.1 (DNS
// rebinding) is refused.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if host == "localhost" || host == "" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Listen listens on addr, which must be a loopback address with a port
// ("127.0.0.1:8765", "localhost:0", "[::1]:8765") or "unix:PATH" for a
// unix socket, created private to the user.
func Listen(addr string) (net.Listener, error) {
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		if path == "" {
			return nil, errors.New("listen: unix: needs a socket path")
		}
		ln, err := net.Listen("unix", path)
		if err != nil {
			return nil, fmt.Errorf("listen on unix socket %s: %w", path, err)
		}
		if err := os.Chmod(path, 0o600); err != nil {
			ln.Close()
			return nil, fmt.Errorf("listen on unix socket %s: %w", path, err)
		}
		return ln, nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("listen address %q: %w: give HOST:PORT, such as 127.0.0.1:8765, or unix:PATH", addr, err)
	}
	if host != "localhost" {
		ip := net.ParseIP(host)
		if ip == nil || !ip.IsLoopback() {
			return nil, fmt.Errorf("listen address %q: gantry serve listens only on this machine (127.0.0.1, ::1 or localhost) or a unix socket; to reach it from elsewhere, forward the port over SSH (ssh -L)", addr)
		}
	}
	if host == "localhost" {
		addr = net.JoinHostPort("127.0.0.1", addr[strings.LastIndex(addr, ":")+1:])
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return ln, nil
}

// Serve answers requests on ln until ctx is done, then shuts down,
// letting requests in flight finish for up to 2 s. Meanwhile it keeps the
// records of unfinished runs up to date (see watchRuns).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if s.Token == "" {
		return errors.New("serve: the server has no token")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go s.watchRuns(ctx)
	hs := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: s.Log,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, scancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer scancel()
	_ = hs.Shutdown(sctx)
	if ul, ok := ln.(*net.UnixListener); ok {
		os.Remove(ul.Addr().String())
	}
	return nil
}

// watchRuns looks at every unfinished run every 2 s through the SDK, which
// follows runs on SSH targets, marks runs whose agent went silent and
// compares managed clusters' view of their jobs with ours; so the views
// stay true when no notebook watches.
func (s *Server) watchRuns(ctx context.Context) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		active, err := s.WS.Store().ActiveRuns(ctx)
		if err == nil && len(active) > 0 {
			s.checkActive(ctx)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Server) logf(format string, args ...any) {
	if s.Log != nil {
		s.Log.Printf(format, args...)
		return
	}
	log.Printf(format, args...)
}
