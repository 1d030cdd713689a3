package environment

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Base images for Docker.Enabled environments. They are the seed's
// azureml.core.runconfig.DEFAULT_CPU_IMAGE and DEFAULT_GPU_IMAGE, in their
// current Ubuntu 22.04 line: public on Microsoft's registry, with Open MPI
// and miniconda installed, so a conda spec can be built inside them.
const (
	// DefaultCPUImage is the base image of Docker environments by default.
	DefaultCPUImage = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04"
	// DefaultGPUImage adds CUDA 11.8 and cuDNN 8; running it needs an
	// NVIDIA GPU and the NVIDIA container toolkit on the Docker host.
	DefaultGPUImage = "mcr.microsoft.com/azureml/openmpi4.1.0-cuda11.8-cudnn8-ubuntu22.04"
)

// DefaultInterpreterPath is the interpreter a user-managed environment uses
// when Python.InterpreterPath is empty: "python" looked up on PATH, as in
// the seed.
const DefaultInterpreterPath = "python"

// PythonSection says which Python a script runs with.
type PythonSection struct {
	// UserManagedDependencies true: run with InterpreterPath as it is.
	// False (the default): build an environment from CondaDependencies.
	UserManagedDependencies bool
	// InterpreterPath is the interpreter of a user-managed environment:
	// a path, or a name looked up on PATH. Empty means
	// DefaultInterpreterPath.
	InterpreterPath string
	// CondaDependencies is the spec of a system-managed environment; nil
	// is an empty spec (a bare Python with pip).
	CondaDependencies *CondaDependencies
}

// DockerSection says whether a script runs in a container, and from which
// image.
type DockerSection struct {
	// Enabled runs the script in a container of BaseImage (default false).
	Enabled bool
	// BaseImage is the image the container starts from (default
	// DefaultCPUImage).
	BaseImage string
}

// Environment is where a training script runs: the seed's environment
// section of a run configuration. Make one with [New] to get the seed's
// defaults.
type Environment struct {
	// Name is informational; it is not part of [Environment.Key].
	Name   string
	Python PythonSection
	Docker DockerSection
	// EnvironmentVariables are set for the script when it runs; they do
	// not change what is built and are not part of [Environment.Key].
	EnvironmentVariables map[string]string
}

// New returns an environment with the seed's defaults: system-managed,
// with an empty spec named name, Docker disabled, DefaultCPUImage as the
// base image should Docker be enabled, and DefaultInterpreterPath as the
// interpreter should it be made user-managed.
func New(name string) *Environment {
	return &Environment{
		Name: name,
		Python: PythonSection{
			InterpreterPath:   DefaultInterpreterPath,
			CondaDependencies: &CondaDependencies{Name: name},
		},
		Docker: DockerSection{BaseImage: DefaultCPUImage},
	}
}

// Validate checks the environment and names the first setting that is
// wrong.
func (e *Environment) Validate() error {
	for k := range e.EnvironmentVariables {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return fmt.Errorf("environment %q: variable name %q is not valid: use a non-empty name without = or NUL", e.Name, k)
		}
	}
	if e.Docker.Enabled && e.Docker.BaseImage == "" {
		return fmt.Errorf("environment %q: Docker.Enabled is set but Docker.BaseImage is empty: set it to DefaultCPUImage, DefaultGPUImage or an image of your own", e.Name)
	}
	if e.Python.UserManagedDependencies || e.Python.CondaDependencies == nil {
		return nil
	}
	if err := e.Python.CondaDependencies.Validate(); err != nil {
		return fmt.Errorf("environment %q: %w", e.Name, err)
	}
	return nil
}

// keySpec is what Key hashes: the spec in normal form, as JSON.
type keySpec struct {
	Version        int      `json:"v"`
	UserManaged    bool     `json:"user_managed,omitempty"`
	Interpreter    string   `json:"interpreter,omitempty"`
	Channels       []string `json:"channels,omitempty"`
	Conda          []string `json:"conda,omitempty"`
	Pip            []string `json:"pip,omitempty"`
	IndexURL       string   `json:"index_url,omitempty"`
	ExtraIndexURLs []string `json:"extra_index_urls,omitempty"`
	FindLinks      []string `json:"find_links,omitempty"`
	NoIndex        bool     `json:"no_index,omitempty"`
	DockerImage    string   `json:"docker_image,omitempty"`
}

// Key identifies what the environment contains: the hex SHA-256 of its
// normalised spec. Builds of a system-managed environment live under
// <root>/<Key>/ and are reused while the key is unchanged.
//
// The spec is normalised first: package lists are sorted and
// de-duplicated; conda package names are lower-cased; pip names are
// normalised as PEP 503 compares them (so "Scikit_Learn" equals
// "scikit-learn"), as are extras, and version clauses are sorted;
// whitespace is trimmed. Channel order is kept, since conda gives earlier
// channels priority. So reordering packages leaves the key unchanged, and
// changing any version, the pinned python, a channel, a pip option or
// (with Docker enabled) the base image changes it. Names and environment
// variables are not part of the key. A find-links directory is keyed by
// its path, not its contents.
//
// A user-managed environment's key is a hash of its interpreter path.
func (e *Environment) Key() string {
	ks := keySpec{Version: 1}
	if e.Python.UserManagedDependencies {
		ks.UserManaged = true
		ks.Interpreter = e.Python.InterpreterPath
		if ks.Interpreter == "" {
			ks.Interpreter = DefaultInterpreterPath
		}
	} else if c := e.Python.CondaDependencies; c != nil {
		for _, ch := range c.Channels {
			ks.Channels = append(ks.Channels, strings.TrimRight(strings.TrimSpace(ch), "/"))
		}
		ks.Conda = normalizeAll(c.CondaPackages, func(s string) (string, error) {
			cs, err := parseCondaSpec(s)
			return cs.String(), err
		})
		ks.Pip = normalizeAll(c.PipPackages, func(s string) (string, error) {
			ps, err := parsePipSpec(s)
			return ps.String(), err
		})
		o := c.PipOptions
		ks.IndexURL = strings.TrimRight(strings.TrimSpace(o.IndexURL), "/")
		ks.ExtraIndexURLs = normalizeAll(o.ExtraIndexURLs, func(s string) (string, error) {
			return strings.TrimRight(s, "/"), nil
		})
		ks.FindLinks = normalizeAll(o.FindLinks, func(s string) (string, error) { return s, nil })
		ks.NoIndex = o.NoIndex
	}
	if e.Docker.Enabled {
		ks.DockerImage = strings.TrimSpace(e.Docker.BaseImage)
	}
	b, err := json.Marshal(ks)
	if err != nil {
		panic("environment: encode key spec: " + err.Error()) // strings and bools only
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// normalizeAll normalises each entry with norm, then sorts and removes
// duplicates. An entry norm rejects is kept with its whitespace collapsed,
// so that Key works on invalid specs too (Build rejects them).
func normalizeAll(in []string, norm func(string) (string, error)) []string {
	out := make([]string, 0, len(in))
	for _, s := range in {
		s = strings.TrimSpace(s)
		n, err := norm(s)
		if err != nil {
			n = strings.Join(strings.Fields(s), " ")
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return slices.Compact(out)
}
