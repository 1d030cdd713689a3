package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// The committed sources are what gengeneric makes of this Go's GOROOT
// (the header, which names the Go version, aside): run go generate in
// kernel/gostd when this fails.
func TestSourcesUpToDate(t *testing.T) {
	m := regexp.MustCompile(`^go1\.(\d+)`).FindStringSubmatch(runtime.Version())
	if m == nil {
		t.Skipf("not a release: %s", runtime.Version())
	}
	for _, p := range packages {
		file := filepath.Join("..", "..", fmt.Sprintf("go1_%s_%s.go.txt", m[1], p))
		want, err := os.ReadFile(file)
		if err != nil {
			t.Fatalf("%v: run go generate in kernel/gostd with %s", err, runtime.Version())
		}
		got, err := lower(p)
		if err != nil {
			t.Fatalf("lower %s: %v", p, err)
		}
		if body(string(got)) != body(string(want)) {
			t.Errorf("%s is not what gengeneric makes of %s's GOROOT: run go generate in kernel/gostd", file, runtime.Version())
		}
	}
}

// body drops the first line, which names the Go version.
func body(src string) string {
	_, rest, _ := strings.Cut(src, "\n")
	return rest
}
