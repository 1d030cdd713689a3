package magics

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestRequireArguments(t *testing.T) {
	gopath := t.TempDir()
	tests := []struct {
		name   string
		gopath string
		specs  []string
		want   string
	}{
		{"no module", gopath, nil, "%require needs a module"},
		{"no version", gopath, []string{"github.com/x/y"}, "github.com/x/y has no version: pin a version: %require github.com/x/y@v1.2.3"},
		{"empty version", gopath, []string{"github.com/x/y@"}, "pin a version"},
		{"no path", gopath, []string{"@v1.0.0"}, "is not a module path"},
		{"second bad", gopath, []string{"github.com/x/y@v1.0.0", "github.com/x/z"}, "github.com/x/z has no version"},
		{"no gopath", "", []string{"github.com/x/y@v1.0.0"}, "no GOPATH"},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		err := Require(context.Background(), tt.gopath, tt.specs, &out)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Require(%q) error %v, want it to contain %q", tt.name, tt.specs, err, tt.want)
		}
	}
	if entries, _ := os.ReadDir(gopath); len(entries) != 0 {
		t.Errorf("Require with bad arguments wrote to GOPATH: %v", entries)
	}
}

func TestRequireWithoutGo(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	err := Require(context.Background(), t.TempDir(), []string{"github.com/google/uuid@v1.6.0"}, new(bytes.Buffer))
	if err == nil || !strings.Contains(err.Error(), "not on PATH") || !strings.Contains(err.Error(), "install Go") {
		t.Errorf("Require without go on PATH: error %v, want one saying to install Go", err)
	}
}

// TestRequireUUID fetches a module that the module cache already holds, so
// it needs no network.
func TestRequireUUID(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	// Work from the cache only; the checksum database is not reachable
	// offline and the cache was verified when it was filled.
	t.Setenv("GOFLAGS", "-mod=mod")
	t.Setenv("GOPROXY", "off")
	t.Setenv("GOSUMDB", "off")
	cache, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(strings.TrimSpace(string(cache)), "cache/download/github.com/google/uuid/@v/v1.6.0.zip")); err != nil {
		t.Skip("github.com/google/uuid@v1.6.0 is not in the module cache")
	}

	gopath := t.TempDir()
	var out bytes.Buffer
	if err := Require(context.Background(), gopath, []string{"github.com/google/uuid@v1.6.0"}, &out); err != nil {
		t.Fatalf("Require: %v\n%s", err, out.String())
	}
	if want := `github.com/google/uuid@v1.6.0 ready: import "github.com/google/uuid"`; !strings.Contains(out.String(), want) {
		t.Errorf("output %q lacks %q", out.String(), want)
	}
	t.Logf("output:\n%s", out.String())
	link := filepath.Join(gopath, "src/github.com/google/uuid")
	target, err := os.Readlink(link)
	if err != nil {
		t.Fatalf("%s is not a link: %v", link, err)
	}
	if !strings.HasSuffix(target, "uuid@v1.6.0") {
		t.Errorf("link points at %s, want the v1.6.0 directory", target)
	}
	if _, err := os.Stat(filepath.Join(link, "uuid.go")); err != nil {
		t.Errorf("no uuid.go through the link: %v", err)
	}

	// A second call with the same version leaves the link alone and says
	// nothing about versions changing.
	out.Reset()
	if err := Require(context.Background(), gopath, []string{"github.com/google/uuid@v1.6.0"}, &out); err != nil {
		t.Fatalf("second Require: %v", err)
	}
	if strings.Contains(out.String(), "->") {
		t.Errorf("second Require reported a change: %q", out.String())
	}

	// A link to another version is replaced, and the change reported.
	other := t.TempDir() + "/uuid@v1.5.0"
	if err := os.Symlink(other, link+".tmp"); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(link+".tmp", link); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := Require(context.Background(), gopath, []string{"github.com/google/uuid@v1.6.0"}, &out); err != nil {
		t.Fatalf("third Require: %v", err)
	}
	if !strings.Contains(out.String(), "github.com/google/uuid: v1.5.0 -> v1.6.0") {
		t.Errorf("relinking printed %q, want the version change", out.String())
	}
	if target2, _ := os.Readlink(link); target2 != target {
		t.Errorf("link points at %s after relinking, want %s", target2, target)
	}
}

func TestRequireBadModule(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	t.Setenv("GOPROXY", "off") // fail fast, without the network
	err := Require(context.Background(), t.TempDir(), []string{"example.invalid/nothing@v1.0.0"}, new(bytes.Buffer))
	if err == nil || !strings.Contains(err.Error(), "go get") || !strings.Contains(err.Error(), "example.invalid/nothing") {
		t.Errorf("Require of a module that does not exist: error %v, want go get's message", err)
	}
	t.Logf("error: %v", err)
}

func TestGetHint(t *testing.T) {
	tests := []struct{ msg, want string }{
		{`go get x@v1 failed: x@v1: verifying module: x@v1: Get "https://sum.golang.org/lookup/x@v1": dial tcp: lookup sum.golang.org on 10.0.0.1:53: no such host`, "GONOSUMDB=<module path>"},
		{`go get x@v1 failed: x@v1: verifying module: x@v1: Get "http://127.0.0.1:9/lookup/x@v1": dial tcp 127.0.0.1:9: connect: connection refused`, "GOSUMDB=off"},
		{`go get x@v1 failed: go: x@v1: module lookup disabled by GOPROXY=off`, "go mod download MODULE@VERSION"},
		{`go get x@v1 failed: go: x@v1: verifying module: checksum mismatch`, "check the module path and version"},
		{`go get no/such@v1 failed: go: unrecognized import path "no/such"`, "check the module path and version"},
	}
	for _, tt := range tests {
		if got := getHint(tt.msg); !strings.Contains(got, tt.want) {
			t.Errorf("getHint(%q) = %q; want it to contain %q", tt.msg, got, tt.want)
		}
	}
}
