package environment

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const sampleYAML = `name: project_environment
channels:
  - conda-forge
  - defaults
dependencies:
  - python=3.11
  - scikit-learn>=1.4
  - pip
  - pip:
      - --index-url https://pypi.example.org/simple
      - --extra-index-url=https://extra.example.org/simple
      - -f /data/wheels
      - --no-index
      - requests==2.31.0
      - torch>=2.3; sys_platform == 'linux'
prefix: /home/someone/miniconda3/envs/project_environment
`

var sampleDeps = &CondaDependencies{
	Name:          "project_environment",
	Channels:      []string{"conda-forge", "defaults"},
	CondaPackages: []string{"python=3.11", "scikit-learn>=1.4", "pip"},
	PipPackages:   []string{"requests==2.31.0", "torch>=2.3; sys_platform == 'linux'"},
	PipOptions: PipOptions{
		IndexURL:       "https://pypi.example.org/simple",
		ExtraIndexURLs: []string{"https://extra.example.org/simple"},
		FindLinks:      []string{"/data/wheels"},
		NoIndex:        true,
	},
}

func TestParseCondaYAML(t *testing.T) {
	got, err := ParseCondaYAML([]byte(sampleYAML))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, sampleDeps) {
		t.Errorf("ParseCondaYAML:\n got %+v\nwant %+v", got, sampleDeps)
	}
}

func TestCondaYAMLRoundTrip(t *testing.T) {
	tests := []*CondaDependencies{
		sampleDeps,
		{},
		{Name: "only-conda", CondaPackages: []string{"numpy=1.26", "conda-forge::scipy"}},
		{PipPackages: []string{"requests"}},
		{PipOptions: PipOptions{NoIndex: true, FindLinks: []string{"./wheels dir"}}},
		{Name: "yes", Channels: []string{"on"}, CondaPackages: []string{"null"}}, // YAML words stay strings
	}
	for _, want := range tests {
		data := want.YAML()
		got, err := ParseCondaYAML(data)
		if err != nil {
			t.Errorf("ParseCondaYAML(YAML()) of %+v: %v\n%s", want, err, data)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("round trip changed the spec:\n got %+v\nwant %+v\nYAML:\n%s", got, want, data)
		}
	}
}

func TestCondaYAMLFormat(t *testing.T) {
	want := `name: project_environment
channels:
  - conda-forge
  - defaults
dependencies:
  - python=3.11
  - scikit-learn>=1.4
  - pip
  - pip:
      - --index-url https://pypi.example.org/simple
      - --extra-index-url https://extra.example.org/simple
      - --find-links /data/wheels
      - --no-index
      - requests==2.31.0
      - torch>=2.3; sys_platform == 'linux'
`
	if got := string(sampleDeps.YAML()); got != want {
		t.Errorf("YAML():\n%s\nwant:\n%s", got, want)
	}
	if got, want := string((&CondaDependencies{}).YAML()), "dependencies: []\n"; got != want {
		t.Errorf("empty spec YAML() = %q, want %q", got, want)
	}
}

func TestParseCondaYAMLErrors(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string // all in the error
	}{
		{"invalid YAML", "dependencies:\n  - numpy\n  bad: [\n", []string{"not valid YAML", "line"}},
		{"empty", "", []string{"is empty"}},
		{"not a mapping", "- numpy\n", []string{"line 1", "top level must be a mapping"}},
		{"unknown key", "name: x\nvariables:\n  A: b\n", []string{"line 2", `"variables"`, "EnvironmentVariables"}},
		{"duplicate key", "name: a\nname: b\n", []string{"line 2", "twice"}},
		{"bad conda package", "dependencies:\n  - numpy\n  - numpy=\n", []string{"line 3", `"numpy="`}},
		{"bad pip package", "dependencies:\n  - pip:\n    - requests\n    - numpy=1.26\n", []string{"line 4", `"numpy=1.26"`, "numpy==1.26"}},
		{"unsupported pip option", "dependencies:\n  - pip:\n    - -r requirements.txt\n", []string{"line 3", "not supported", "-r requirements.txt"}},
		{"option without value", "dependencies:\n  - pip:\n    - --find-links\n", []string{"line 3", "exactly one value"}},
		{"option with two values", "dependencies:\n  - pip:\n    - --find-links a b\n", []string{"line 3", "exactly one value"}},
		{"two index URLs", "dependencies:\n  - pip:\n    - -i https://a\n    - -i https://b\n", []string{"line 4", "already https://a"}},
		{"dependencies not a list", "dependencies: numpy\n", []string{"line 1", "must be a list"}},
		{"channel not a string", "channels:\n  - [a, b]\n", []string{"line 2", "single string"}},
		{"other mapping in dependencies", "dependencies:\n  - npm: [left-pad]\n", []string{"line 2", "single key pip"}},
		{"empty dependency", "dependencies:\n  - numpy\n  -\n", []string{"line 3", "single string"}},
	}
	for _, tt := range tests {
		_, err := ParseCondaYAML([]byte(tt.yaml))
		if err == nil {
			t.Errorf("%s: ParseCondaYAML succeeded, want an error", tt.name)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not contain %q", tt.name, err, w)
			}
		}
	}
}

func TestCondaFileReadWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), CondaFileName)
	if err := sampleDeps.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	got, err := ReadCondaFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, sampleDeps) {
		t.Errorf("ReadCondaFile = %+v, want %+v", got, sampleDeps)
	}
	if _, err := ReadCondaFile(filepath.Join(t.TempDir(), "missing.yml")); err == nil {
		t.Error("ReadCondaFile of a missing file succeeded")
	}
}

func TestAddPackageAndValidate(t *testing.T) {
	var c CondaDependencies
	if err := c.AddCondaPackage(" scikit-learn "); err != nil {
		t.Fatal(err)
	}
	if err := c.AddPipPackage("requests>=2"); err != nil {
		t.Fatal(err)
	}
	if err := c.AddPipPackage("numpy=1"); err == nil {
		t.Error("AddPipPackage(numpy=1) succeeded, want the conda-syntax error")
	}
	if err := c.AddCondaPackage("numpy="); err == nil {
		t.Error("AddCondaPackage(numpy=) succeeded")
	}
	if !reflect.DeepEqual(c.CondaPackages, []string{"scikit-learn"}) || !reflect.DeepEqual(c.PipPackages, []string{"requests>=2"}) {
		t.Errorf("after Add*: %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	c.PipPackages = append(c.PipPackages, "ok", "bad==")
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "pip package 3") {
		t.Errorf("Validate error = %v, want it to name pip package 3", err)
	}
	c = CondaDependencies{Channels: []string{"conda forge"}}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "channel 1") {
		t.Errorf("Validate error = %v, want it to name channel 1", err)
	}
}

// TestReadCondaFileFindLinks: a relative --find-links in the file is
// relative to the file, wherever the reader runs; URLs and absolute paths
// are kept.
func TestReadCondaFileFindLinks(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, CondaFileName)
	spec := "dependencies:\n  - pip:\n    - --no-index\n    - --find-links wheels\n    - -f ../shared/wheels\n" +
		"    - --find-links /opt/wheels\n    - --find-links https://example.org/wheels/\n    - --find-links file:///srv/wheels\n    - tinystats==0.1.0\n"
	if err := os.WriteFile(path, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir()) // somewhere else
	c, err := ReadCondaFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(dir, "wheels"), filepath.Join(filepath.Dir(dir), "shared", "wheels"), "/opt/wheels",
		"https://example.org/wheels/", "file:///srv/wheels"}
	if !reflect.DeepEqual(c.PipOptions.FindLinks, want) {
		t.Errorf("FindLinks = %q, want %q", c.PipOptions.FindLinks, want)
	}
	// The same file read by a relative path.
	t.Chdir(filepath.Dir(dir))
	c, err = ReadCondaFile(filepath.Join(filepath.Base(dir), CondaFileName))
	if err != nil || c.PipOptions.FindLinks[0] != filepath.Join(dir, "wheels") {
		t.Errorf("read by a relative path: %q, %v", c.PipOptions.FindLinks, err)
	}
}

func TestPipHint(t *testing.T) {
	wheels := t.TempDir()
	for _, f := range []string{"tinystats-0.1.0-py3-none-any.whl", "other_pkg-1.0-py3-none-any.whl", "my-pkg-2.0.tar.gz"} {
		if err := os.WriteFile(filepath.Join(wheels, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(t.TempDir())
	noMatch := "ERROR: Could not find a version that satisfies the requirement X (from versions: none)\nERROR: No matching distribution found for "
	for _, tt := range []struct {
		name string
		opts PipOptions
		log  string
		want []string // "" for no hint
	}{
		{"other failure", PipOptions{}, "ERROR: pip's resolver failed", nil},
		{"wrong version in the wheelhouse", PipOptions{NoIndex: true, FindLinks: []string{wheels}}, noMatch + "tinystats==0.2.0",
			[]string{"no distribution of tinystats==0.2.0", "holds tinystats-0.1.0-py3-none-any.whl", "version pin"}},
		{"sdist with hyphens", PipOptions{NoIndex: true, FindLinks: []string{wheels}}, noMatch + "My_Pkg>=3",
			[]string{"holds my-pkg-2.0.tar.gz"}},
		{"not in the wheelhouse", PipOptions{NoIndex: true, FindLinks: []string{wheels}}, noMatch + "numpy",
			[]string{"which holds no file of numpy"}},
		{"relative and missing", PipOptions{NoIndex: true, FindLinks: []string{"wheelhouse"}}, noMatch + "tinystats",
			[]string{"--find-links wheelhouse, which is relative to the directory pip ran in", "relative to the file"}},
		{"absolute and missing", PipOptions{NoIndex: true, FindLinks: []string{"/nonexistent/wheels"}}, noMatch + "tinystats",
			[]string{"/nonexistent/wheels, which does not exist"}},
		{"nowhere to look", PipOptions{NoIndex: true}, noMatch + "tinystats", []string{"drop --no-index"}},
		{"the index", PipOptions{IndexURL: "https://pypi.example/simple"}, noMatch + "tinystats",
			[]string{"the index https://pypi.example/simple"}},
		{"PyPI", PipOptions{}, noMatch + "tinystats", []string{"the index PyPI"}},
	} {
		got := pipHint(&CondaDependencies{PipOptions: tt.opts}, tt.log)
		if (got == "") != (tt.want == nil) {
			t.Errorf("%s: hint %q", tt.name, got)
		}
		for _, w := range tt.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: hint %q lacks %q", tt.name, got, w)
			}
		}
	}
}
