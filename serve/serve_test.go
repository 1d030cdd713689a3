package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"gantry/internal/gantrytest"
	"gantry/sdk"
)

const testToken = "t0ken-for-tests"

// testServer is a Server over a fresh workspace, behind httptest, that
// keeps every response body it sent so that tests can search them for
// secrets.
type testServer struct {
	*Server
	URL string

	mu     sync.Mutex
	bodies [][]byte
}

func newTestServer(t *testing.T) *testServer {
	t.Helper()
	ctx := context.Background()
	t.Setenv("GANTRY_AGENT_BINARY", gantrytest.Binary(t))
	ws, err := sdk.OpenWorkspace(ctx, filepath.Join(t.TempDir(), "ws"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	ts := &testServer{Server: &Server{WS: ws, Token: testToken,
		UI: fstest.MapFS{"index.html": {Data: []byte("<title>Gantry</title>")}}}}
	h := ts.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &recorder{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		ts.mu.Lock()
		ts.bodies = append(ts.bodies, rec.body.Bytes())
		ts.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	ts.URL = srv.URL
	return ts
}

// recorder keeps a copy of what a handler writes.
type recorder struct {
	http.ResponseWriter
	body bytes.Buffer
}

func (r *recorder) Write(b []byte) (int, error) {
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

func (r *recorder) Flush() { r.ResponseWriter.(http.Flusher).Flush() }

// do sends a request with the token and returns the status and the
// decoded JSON body (nil if it is not JSON).
func (ts *testServer) do(t *testing.T, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, ts.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return resp.StatusCode, out
}

// sawSecret reports whether any response so far contained s.
func (ts *testServer) sawSecret(s string) bool {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for _, b := range ts.bodies {
		if bytes.Contains(b, []byte(s)) {
			return true
		}
	}
	return false
}

func TestAuth(t *testing.T) {
	ts := newTestServer(t)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string, edit func(*http.Request)) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", ts.URL+path, nil)
		if edit != nil {
			edit(req)
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for _, tc := range []struct {
		name string
		path string
		edit func(*http.Request)
		want int
	}{
		{"no token", "/api/targets", nil, 401},
		{"no token on the page", "/", nil, 401},
		{"no token on events", "/api/events", nil, 401},
		{"wrong bearer", "/api/targets", func(r *http.Request) { r.Header.Set("Authorization", "Bearer nope") }, 403},
		{"wrong query", "/api/targets?token=nope", nil, 403},
		{"wrong cookie", "/api/targets", func(r *http.Request) { r.AddCookie(&http.Cookie{Name: cookieName, Value: "nope"}) }, 403},
		{"bearer", "/api/targets", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+testToken) }, 200},
		{"cookie", "/api/targets", func(r *http.Request) { r.AddCookie(&http.Cookie{Name: cookieName, Value: testToken}) }, 200},
		{"query on the API", "/api/targets?token=" + testToken, nil, 200},
		{"another host", "/api/targets", func(r *http.Request) {
			r.Header.Set("Authorization", "Bearer "+testToken)
			r.Host = "evil.example:80"
		}, 403},
	} {
		if got := get(tc.path, tc.edit).StatusCode; got != tc.want {
			t.Errorf("%s: GET %s = %d, want %d", tc.name, tc.path, got, tc.want)
		}
	}

	// A page opened with ?token= gets the cookie and loses the token from
	// its address.
	resp := get("/?token="+testToken, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Errorf("GET /?token= = %d to %q; want 303 to /", resp.StatusCode, resp.Header.Get("Location"))
	}
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == cookieName {
			cookie = c
		}
	}
	if cookie == nil || cookie.Value != testToken || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode {
		t.Fatalf("cookie = %+v; want an HttpOnly, SameSite=Strict cookie with the token", cookie)
	}
	if r := get("/", func(r *http.Request) { r.AddCookie(cookie) }); r.StatusCode != 200 {
		t.Errorf("GET / with the cookie = %d", r.StatusCode)
	}

	// With the cookie alone, a change needs the X-Gantry header.
	post := func(withHeader bool) int {
		req, _ := http.NewRequest("POST", ts.URL+"/api/targets", strings.NewReader(`{"kind":"local","name":"local"}`))
		req.AddCookie(cookie)
		if withHeader {
			req.Header.Set(csrfHeader, "1")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := post(false); got != 403 {
		t.Errorf("POST with the cookie and no %s = %d, want 403", csrfHeader, got)
	}
	if got := post(true); got != 201 {
		t.Errorf("POST with the cookie and %s = %d, want 201", csrfHeader, got)
	}
	if ts.sawSecret(testToken) {
		t.Error("a response body contained the token")
	}
}

func TestListen(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", "192.0.2.1:8765", ":0", "example.com:80", "nonsense"} {
		if ln, err := Listen(addr); err == nil {
			ln.Close()
			t.Errorf("Listen(%q) succeeded; want a refusal", addr)
		} else if !strings.Contains(err.Error(), "listen") {
			t.Errorf("Listen(%q): %v", addr, err)
		}
	}
	for _, addr := range []string{"127.0.0.1:0", "localhost:0"} {
		ln, err := Listen(addr)
		if err != nil {
			t.Errorf("Listen(%q): %v", addr, err)
			continue
		}
		ln.Close()
	}
	sock := filepath.Join(t.TempDir(), "gantry.sock")
	ln, err := Listen("unix:" + sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket %s: %v, mode %v; want 0600", sock, err, fi.Mode())
	}
}

// sdkError returns the error the SDK gives for what fn does on a
// workspace of its own, to compare with the API's.
func sdkError(t *testing.T, fn func(ctx context.Context, ws *sdk.Workspace) error) string {
	t.Helper()
	ctx := context.Background()
	ws, err := sdk.OpenWorkspace(ctx, filepath.Join(t.TempDir(), "other"))
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	err = fn(ctx, ws)
	if err == nil {
		t.Fatal("the SDK accepted what the API should refuse")
	}
	return err.Error()
}

func TestTargetsBadInput(t *testing.T) {
	ts := newTestServer(t)
	if code, _ := ts.do(t, "POST", "/api/targets", map[string]any{"kind": "local", "name": "local"}); code != 201 {
		t.Fatalf("create local = %d", code)
	}
	for _, tc := range []struct {
		name string
		body any
		want int
		sdk  func(ctx context.Context, ws *sdk.Workspace) error // the SDK's error for the same
		text string                                             // else a part of the message
	}{
		{"bad name", map[string]any{"kind": "local", "name": "9lives"}, 400,
			func(ctx context.Context, ws *sdk.Workspace) error {
				return ws.CreateLocalCompute(ctx, "9lives", sdk.LocalCompute{})
			}, ""},
		{"name too long", map[string]any{"kind": "local", "name": "a-very-long-name-indeed"}, 400,
			func(ctx context.Context, ws *sdk.Workspace) error {
				return ws.CreateLocalCompute(ctx, "a-very-long-name-indeed", sdk.LocalCompute{})
			}, ""},
		{"missing name", map[string]any{"kind": "local"}, 400,
			func(ctx context.Context, ws *sdk.Workspace) error {
				return ws.CreateLocalCompute(ctx, "", sdk.LocalCompute{})
			}, ""},
		{"negative cap", map[string]any{"kind": "local", "name": "capped", "max_concurrent_runs": -1}, 400,
			func(ctx context.Context, ws *sdk.Workspace) error {
				return ws.CreateLocalCompute(ctx, "capped", sdk.LocalCompute{MaxConcurrentRuns: -1})
			}, ""},
		{"exists with other settings", map[string]any{"kind": "local", "name": "LOCAL", "max_concurrent_runs": 3}, 409, nil, "local"},
		{"ssh without address", map[string]any{"kind": "ssh", "name": "box", "user": "me", "key_file": "/nonexistent"}, 400,
			func(ctx context.Context, ws *sdk.Workspace) error {
				_, err := ws.AttachSSHCompute(ctx, "box", sdk.SSHCompute{User: "me", KeyFile: "/nonexistent"})
				return err
			}, ""},
		{"ssh without a way to log in", map[string]any{"kind": "ssh", "name": "box", "address": "127.0.0.1", "user": "me"}, 400,
			func(ctx context.Context, ws *sdk.Workspace) error {
				_, err := ws.AttachSSHCompute(ctx, "box", sdk.SSHCompute{Address: "127.0.0.1", User: "me"})
				return err
			}, ""},
		{"cluster of unknown size", map[string]any{"kind": "cluster", "name": "cpu", "vm_size": "HUGE", "max_nodes": 2}, 400,
			func(ctx context.Context, ws *sdk.Workspace) error {
				return ws.CreateCompute(ctx, "cpu", sdk.ManagedCluster{VMSize: "HUGE", MaxNodes: 2})
			}, ""},
		{"no kind", map[string]any{"name": "box"}, 400, nil, `give "kind"`},
		{"unknown kind", map[string]any{"kind": "k8s", "name": "box"}, 400, nil, `kind "k8s" is unknown`},
		{"unknown field", map[string]any{"kind": "local", "name": "x1", "max_runs": 3}, 400, nil, `unknown field "max_runs"`},
		{"wrong type", map[string]any{"kind": "local", "name": "x1", "max_concurrent_runs": "3"}, 400, nil, `"max_concurrent_runs" must be a int`},
	} {
		code, body := ts.do(t, "POST", "/api/targets", tc.body)
		msg, _ := body["error"].(string)
		want := tc.text
		if tc.sdk != nil {
			want = sdkError(t, tc.sdk)
		}
		if code != tc.want || msg == "" || (tc.sdk != nil && msg != want) || (tc.sdk == nil && !strings.Contains(msg, want)) {
			t.Errorf("%s: %d %q\nwant %d %q", tc.name, code, msg, tc.want, want)
		}
	}
	// A body that is not JSON.
	req, _ := http.NewRequest("POST", ts.URL+"/api/targets", strings.NewReader("{kind: local"))
	req.Header.Set("Authorization", "Bearer "+testToken)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 400 {
		t.Errorf("POST of broken JSON = %v, %v; want 400", resp.StatusCode, err)
	}

	for _, tc := range []struct {
		method, path string
		body         any
		want         int
		text         string
	}{
		{"PATCH", "/api/targets/nowhere", map[string]any{"max_concurrent_runs": 2}, 404, `compute "nowhere": not found`},
		{"PATCH", "/api/targets/local", map[string]any{"max_nodes": 2}, 400, "only max_concurrent_runs can change"},
		{"PATCH", "/api/targets/local", map[string]any{"max_concurrent_runs": 2}, 200, ""},
		{"DELETE", "/api/targets/nowhere", nil, 404, `compute "nowhere": not found`},
		{"POST", "/api/targets/nowhere/detach", nil, 404, `compute "nowhere": not found`},
		{"GET", "/api/runs/not-a-run", nil, 400, "is not a UUID"},
		{"GET", "/api/runs/8c0ffee0-0000-4000-8000-000000000000", nil, 404, "not found"},
		{"GET", "/api/runs?state=Sleeping", nil, 400, `state "Sleeping" is not a run state`},
		{"GET", "/api/runs?limit=0", nil, 400, "limit"},
		{"GET", "/api/runs?before=nope", nil, 400, "is not a UUID"},
		{"GET", "/api/nothing", nil, 404, "no API endpoint"},
	} {
		code, body := ts.do(t, tc.method, tc.path, tc.body)
		msg, _ := body["error"].(string)
		if code != tc.want || !strings.Contains(msg, tc.text) {
			t.Errorf("%s %s = %d %q; want %d %q", tc.method, tc.path, code, msg, tc.want, tc.text)
		}
	}
	code, body := ts.do(t, "GET", "/api/targets", nil)
	targets, _ := body["targets"].([]any)
	if code != 200 || len(targets) != 1 {
		t.Fatalf("GET /api/targets = %d %v", code, body)
	}
	local := targets[0].(map[string]any)
	if local["name"] != "local" || local["kind"] != "local" || local["config"].(map[string]any)["max_concurrent_runs"] != 2.0 {
		t.Errorf("target = %v; want local with max_concurrent_runs 2", local)
	}
	if code, _ := ts.do(t, "DELETE", "/api/targets/local", nil); code != 200 {
		t.Errorf("DELETE local = %d", code)
	}
	if _, body := ts.do(t, "GET", "/api/targets", nil); len(body["targets"].([]any)) != 0 {
		t.Errorf("after delete, targets = %v", body["targets"])
	}
}

// TestAttachSecretNeverReturned attaches a real sshd's password user
// through the API and looks for the password in every response and in
// every file of the workspace.
func TestAttachSecretNeverReturned(t *testing.T) {
	s := gantrytest.StartSSHD(t)
	user := s.Env["SSHD_PW_USER"]
	if user == "" {
		t.Skip("the test users are created only when scripts/sshd.sh runs as root")
	}
	pwb, err := os.ReadFile(filepath.Join(s.Dir, "password.txt"))
	if err != nil {
		t.Fatal(err)
	}
	pw := strings.TrimSpace(string(pwb))
	ts := newTestServer(t)
	attach := map[string]any{"kind": "ssh", "name": "pwbox", "address": "127.0.0.1", "port": s.Port,
		"user": user, "known_hosts": filepath.Join(s.Dir, "known_hosts")}

	attach["password"] = pw + "-wrong"
	code, body := ts.do(t, "POST", "/api/targets", attach)
	if code != 400 || !strings.Contains(body["error"].(string), "refused to log in") {
		t.Errorf("attach with a wrong password = %d %v; want 400 saying the login was refused", code, body)
	}
	attach["password"] = pw
	code, body = ts.do(t, "POST", "/api/targets", attach)
	if code != 201 {
		t.Fatalf("attach = %d %v", code, body)
	}
	cfg := body["target"].(map[string]any)["config"].(map[string]any)
	if cfg["prompt_password"] != true {
		t.Errorf("config = %v; want prompt_password, the secret kept in memory", cfg)
	}
	ts.do(t, "GET", "/api/targets", nil)
	ts.do(t, "GET", "/api/workspace", nil)
	if ts.sawSecret(pw) {
		t.Fatal("a response contained the password")
	}
	filepath.WalkDir(ts.WS.Dir(), func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if b, _ := os.ReadFile(p); bytes.Contains(b, []byte(pw)) {
				t.Errorf("%s holds the password", p)
			}
		}
		return nil
	})
}

func TestUIFiles(t *testing.T) {
	ts := newTestServer(t)
	req, _ := http.NewRequest("GET", ts.URL+"/", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "<title>Gantry</title>") {
		t.Errorf("GET / = %d %q", resp.StatusCode, b)
	}
	u, _ := url.Parse(ts.URL + "/missing.js")
	req, _ = http.NewRequest("GET", u.String(), nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 404 {
		t.Errorf("GET /missing.js = %v %v; want 404", resp.StatusCode, err)
	}
}
