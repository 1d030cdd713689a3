package install

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// template is kernel.json as written for an Executable of "gantry": the
// checked-in copy of what Spec generates, kept in step by the tests.
//
//go:embed kernel.json
var template string

// Template returns the kernel.json template: the spec of a kernel whose argv
// starts with a bare "gantry", to be found on PATH when Jupyter starts it.
func Template() []byte { return []byte(template) }

// kernelSpec is the content of kernel.json, in the field order written.
// See https://jupyter-client.readthedocs.io/en/stable/kernels.html#kernel-specs.
type kernelSpec struct {
	Argv          []string          `json:"argv"`
	DisplayName   string            `json:"display_name"`
	Language      string            `json:"language"`
	InterruptMode string            `json:"interrupt_mode"`
	Env           map[string]string `json:"env,omitempty"`
	Metadata      specMetadata      `json:"metadata"`
}

type specMetadata struct {
	Debugger bool `json:"debugger"`
}

// Spec returns the kernel.json that Install writes for o. Only
// DisplayName, Executable and Env matter to it.
func Spec(o Options) ([]byte, error) {
	b, err := spec(o)
	if err != nil {
		return nil, fmt.Errorf("kernelspec: %w", err)
	}
	return b, nil
}

func spec(o Options) ([]byte, error) {
	exe, err := executable(o.Executable)
	if err != nil {
		return nil, err
	}
	for k := range o.Env {
		if k == "" || strings.ContainsRune(k, '=') {
			return nil, fmt.Errorf("invalid env name %q", k)
		}
	}
	name := o.DisplayName
	if name == "" {
		name = DefaultDisplayName
	}
	ks := kernelSpec{
		Argv:          []string{exe, "kernel", "--connection-file", "{connection_file}"},
		DisplayName:   name,
		Language:      "go",
		InterruptMode: "message",
		Env:           o.Env,
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(ks); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// executable returns the program to put first in argv. An empty exe means
// the running program. A bare name such as "gantry" is kept as it is, for
// Jupyter to find on PATH; any other relative path is made absolute.
func executable(exe string) (string, error) {
	if exe == "" {
		p, err := os.Executable()
		if err != nil {
			return "", fmt.Errorf("find the gantry executable: %w", err)
		}
		if isGoRunBinary(p) {
			return "", fmt.Errorf("the running program %s is a temporary build (go run or go test); set Executable to an installed gantry", p)
		}
		return p, nil
	}
	if !strings.ContainsRune(exe, filepath.Separator) && !strings.ContainsRune(exe, '/') {
		return exe, nil
	}
	p, err := filepath.Abs(exe)
	if err != nil {
		return "", fmt.Errorf("executable %q: %w", exe, err)
	}
	return p, nil
}

// isGoRunBinary reports whether path looks like a binary that the go
// command built in one of its temporary go-build directories, which it
// deletes when the program exits.
func isGoRunBinary(path string) bool {
	for _, elem := range strings.Split(filepath.ToSlash(filepath.Dir(path)), "/") {
		if strings.HasPrefix(elem, "go-build") {
			return true
		}
	}
	return false
}
