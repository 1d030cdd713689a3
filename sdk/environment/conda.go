package environment

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// CondaFileName is the name the seed gives a written spec.
const CondaFileName = "conda_dependencies.yml"

// PipOptions are the pip options a spec carries; in conda_dependencies.yml
// they are entries of the pip list ("--index-url URL", "--no-index").
type PipOptions struct {
	// IndexURL replaces PyPI as the package index (pip --index-url).
	IndexURL string
	// ExtraIndexURLs are searched besides the index (pip --extra-index-url).
	ExtraIndexURLs []string
	// FindLinks are directories or URLs of archives (pip --find-links),
	// such as an offline wheelhouse.
	FindLinks []string
	// NoIndex makes pip use FindLinks only (pip --no-index).
	NoIndex bool
}

// isZero reports whether no option is set.
func (o PipOptions) isZero() bool {
	return o.IndexURL == "" && len(o.ExtraIndexURLs) == 0 && len(o.FindLinks) == 0 && !o.NoIndex
}

// args returns the options as pip command-line arguments.
func (o PipOptions) args() []string {
	var a []string
	if o.IndexURL != "" {
		a = append(a, "--index-url", o.IndexURL)
	}
	for _, u := range o.ExtraIndexURLs {
		a = append(a, "--extra-index-url", u)
	}
	for _, f := range o.FindLinks {
		a = append(a, "--find-links", f)
	}
	if o.NoIndex {
		a = append(a, "--no-index")
	}
	return a
}

// CondaDependencies is the package spec of a system-managed environment:
// the seed's CondaDependencies, stored as conda_dependencies.yml.
//
// CondaPackages are conda match specs ("numpy", "python=3.11",
// "conda-forge::scikit-learn>=1.4"); PipPackages are pip requirements
// (PEP 508: "requests==2.31.0", "torch>=2.3; sys_platform=='linux'").
// Name is informational: it is written to the file but is not part of the
// environment's identity ([Environment.Key]).
type CondaDependencies struct {
	Name          string
	Channels      []string
	CondaPackages []string
	PipPackages   []string
	PipOptions    PipOptions
}

// AddCondaPackage appends a conda package after checking its spec.
func (c *CondaDependencies) AddCondaPackage(spec string) error {
	if _, err := parseCondaSpec(spec); err != nil {
		return err
	}
	c.CondaPackages = append(c.CondaPackages, strings.TrimSpace(spec))
	return nil
}

// AddPipPackage appends a pip package after checking its spec.
func (c *CondaDependencies) AddPipPackage(spec string) error {
	if _, err := parsePipSpec(spec); err != nil {
		return err
	}
	c.PipPackages = append(c.PipPackages, strings.TrimSpace(spec))
	return nil
}

// Validate checks every channel and package spec and names the first
// entry that is wrong.
func (c *CondaDependencies) Validate() error {
	for i, ch := range c.Channels {
		if err := checkChannel(ch); err != nil {
			return fmt.Errorf("channel %d: %w", i+1, err)
		}
	}
	for i, p := range c.CondaPackages {
		if _, err := parseCondaSpec(p); err != nil {
			return fmt.Errorf("conda package %d: %w", i+1, err)
		}
	}
	for i, p := range c.PipPackages {
		if _, err := parsePipSpec(p); err != nil {
			return fmt.Errorf("pip package %d: %w", i+1, err)
		}
	}
	o := c.PipOptions
	for _, u := range append(append([]string{o.IndexURL}, o.ExtraIndexURLs...), o.FindLinks...) {
		if strings.ContainsFunc(u, isControl) || strings.TrimSpace(u) != u || strings.ContainsAny(u, `'"`) {
			return fmt.Errorf("pip option value %q has quotes, surrounding spaces or control characters: give the bare URL or path", u)
		}
	}
	return nil
}

func checkChannel(ch string) error {
	if strings.TrimSpace(ch) == "" || strings.ContainsAny(ch, " \t") || strings.ContainsFunc(ch, isControl) {
		return fmt.Errorf("channel %q is not a channel name or URL: write e.g. conda-forge", ch)
	}
	return nil
}

// ReadCondaFile reads and parses a conda_dependencies.yml file. A relative
// --find-links directory in it is relative to the file's directory, as a
// path in a file is read by people: it is made absolute here, so that the
// build finds it wherever it runs on this machine.
func ReadCondaFile(path string) (*CondaDependencies, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read conda spec: %w", err)
	}
	c, err := ParseCondaYAML(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("read conda spec: %w", err)
	}
	for i, link := range c.PipOptions.FindLinks {
		if isLocalPath(link) && !filepath.IsAbs(link) {
			c.PipOptions.FindLinks[i] = filepath.Join(dir, link)
		}
	}
	return c, nil
}

// isLocalPath reports whether a --find-links value is a path rather than a
// URL (https://..., file:///...).
func isLocalPath(link string) bool {
	return !strings.Contains(link, "://") && !strings.HasPrefix(link, "file:")
}

// WriteFile writes the spec to path in the conda environment file format.
func (c *CondaDependencies) WriteFile(path string) error {
	if err := os.WriteFile(path, c.YAML(), 0o644); err != nil {
		return fmt.Errorf("write conda spec: %w", err)
	}
	return nil
}

// ParseCondaYAML parses a conda environment file (conda_dependencies.yml):
// a mapping with name, channels and dependencies, where dependencies lists
// conda packages and at most one {pip: [...]} entry of pip packages and
// pip options. A prefix key, which conda env export writes, is ignored.
// Errors name the line and the entry that is wrong.
func ParseCondaYAML(data []byte) (*CondaDependencies, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s is not valid YAML: %w", CondaFileName, err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, fmt.Errorf("%s is empty: write at least a dependencies: list", CondaFileName)
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, lineErr(root, "the top level must be a mapping with name, channels and dependencies")
	}
	c := &CondaDependencies{}
	seen := map[string]bool{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if seen[k.Value] {
			return nil, lineErr(k, "key %q appears twice: keep one", k.Value)
		}
		seen[k.Value] = true
		var err error
		switch k.Value {
		case "name":
			c.Name, err = scalar(v, "name")
		case "channels":
			err = c.parseChannels(v)
		case "dependencies":
			err = c.parseDependencies(v)
		case "prefix":
			// Where conda env export found the environment: machine-specific.
		default:
			err = lineErr(k, "key %q is not supported: %s holds name, channels and dependencies (set environment variables in Environment.EnvironmentVariables)", k.Value, CondaFileName)
		}
		if err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (c *CondaDependencies) parseChannels(v *yaml.Node) error {
	items, err := sequence(v, "channels")
	if err != nil {
		return err
	}
	for _, it := range items {
		ch, err := scalar(it, "channel")
		if err == nil {
			err = checkChannel(ch)
			if err != nil {
				err = lineErr(it, "%v", err)
			}
		}
		if err != nil {
			return err
		}
		c.Channels = append(c.Channels, ch)
	}
	return nil
}

func (c *CondaDependencies) parseDependencies(v *yaml.Node) error {
	items, err := sequence(v, "dependencies")
	if err != nil {
		return err
	}
	sawPip := false
	for _, it := range items {
		if it.Kind == yaml.MappingNode {
			if len(it.Content) != 2 || it.Content[0].Value != "pip" {
				return lineErr(it, "a mapping in dependencies must be the single key pip: with a list of pip packages")
			}
			if sawPip {
				return lineErr(it, "a second pip: list: merge the pip packages into one list")
			}
			sawPip = true
			if err := c.parsePip(it.Content[1]); err != nil {
				return err
			}
			continue
		}
		s, err := scalar(it, "conda package")
		if err != nil {
			return err
		}
		if _, err := parseCondaSpec(s); err != nil {
			return lineErr(it, "%v", err)
		}
		c.CondaPackages = append(c.CondaPackages, strings.TrimSpace(s))
	}
	return nil
}

func (c *CondaDependencies) parsePip(v *yaml.Node) error {
	items, err := sequence(v, "pip")
	if err != nil {
		return err
	}
	for _, it := range items {
		s, err := scalar(it, "pip package")
		if err != nil {
			return err
		}
		s = strings.TrimSpace(s)
		if strings.HasPrefix(s, "-") {
			err = c.PipOptions.set(s)
		} else {
			_, err = parsePipSpec(s)
			c.PipPackages = append(c.PipPackages, s)
		}
		if err != nil {
			return lineErr(it, "%v", err)
		}
	}
	return nil
}

// set parses one option entry of a pip list: "--index-url URL",
// "--index-url=URL", "-i URL", "--extra-index-url URL", "--find-links
// PATH", "-f PATH" or "--no-index".
func (o *PipOptions) set(entry string) error {
	name, val, _ := strings.Cut(entry, "=")
	if f := strings.Fields(entry); len(f) >= 2 && !strings.Contains(f[0], "=") {
		name, val = f[0], strings.TrimSpace(strings.TrimPrefix(entry, f[0]))
	}
	name, val = strings.TrimSpace(name), strings.TrimSpace(val)
	quoted := len(val) >= 2 && (val[0] == '\'' || val[0] == '"') && val[len(val)-1] == val[0]
	if quoted {
		val = val[1 : len(val)-1]
	}
	needVal := func() error {
		if val == "" || !quoted && strings.ContainsAny(val, " \t") {
			return fmt.Errorf("pip option %q needs exactly one value, as in %s https://example.org/simple", entry, name)
		}
		return nil
	}
	switch name {
	case "--index-url", "-i":
		if err := needVal(); err != nil {
			return err
		}
		if o.IndexURL != "" {
			return fmt.Errorf("pip option %q: the index URL is already %s; keep one --index-url and use --extra-index-url for more", entry, o.IndexURL)
		}
		o.IndexURL = val
	case "--extra-index-url":
		if err := needVal(); err != nil {
			return err
		}
		o.ExtraIndexURLs = append(o.ExtraIndexURLs, val)
	case "--find-links", "-f":
		if err := needVal(); err != nil {
			return err
		}
		o.FindLinks = append(o.FindLinks, val)
	case "--no-index":
		if val != "" {
			return fmt.Errorf("pip option %q takes no value: write --no-index", entry)
		}
		o.NoIndex = true
	default:
		return fmt.Errorf("pip option %q is not supported here: the supported options are --index-url, --extra-index-url, --find-links and --no-index (list packages one per entry instead of -r FILE)", entry)
	}
	return nil
}

// YAML returns the spec in the conda environment file format, which
// [ParseCondaYAML] reads back to an equal value. Pip options come first in
// the pip list, then the pip packages.
func (c *CondaDependencies) YAML() []byte {
	root := &yaml.Node{Kind: yaml.MappingNode}
	add := func(key string, v *yaml.Node) {
		root.Content = append(root.Content, str(key), v)
	}
	if c.Name != "" {
		add("name", str(c.Name))
	}
	if len(c.Channels) > 0 {
		add("channels", strs(c.Channels))
	}
	deps := strs(c.CondaPackages)
	pip := append(optionEntries(c.PipOptions), c.PipPackages...)
	if len(pip) > 0 {
		deps.Content = append(deps.Content, &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{str("pip"), strs(pip)}})
	}
	if len(deps.Content) == 0 {
		deps.Style = yaml.FlowStyle
	}
	add("dependencies", deps)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		// Encoding a tree of plain string nodes cannot fail.
		panic("environment: encode conda spec: " + err.Error())
	}
	enc.Close()
	return buf.Bytes()
}

func optionEntries(o PipOptions) []string {
	var e []string
	a := o.args()
	for i := 0; i < len(a); i++ {
		if a[i] == "--no-index" {
			e = append(e, a[i])
			continue
		}
		v := a[i+1]
		if strings.ContainsAny(v, " \t") {
			v = "'" + v + "'" // Validate keeps quotes out of values
		}
		e = append(e, a[i]+" "+v)
		i++
	}
	return e
}

func str(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}

func strs(ss []string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode}
	for _, s := range ss {
		n.Content = append(n.Content, str(s))
	}
	return n
}

// lineErr is an error that names the line of n in the spec file.
func lineErr(n *yaml.Node, format string, args ...any) error {
	return fmt.Errorf("%s line %d: %s", CondaFileName, n.Line, fmt.Sprintf(format, args...))
}

func scalar(n *yaml.Node, what string) (string, error) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return "", lineErr(n, "%s must be a single string", what)
	}
	return n.Value, nil
}

// sequence returns the items of a list; an empty value is an empty list.
func sequence(n *yaml.Node, what string) ([]*yaml.Node, error) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, lineErr(n, "%s must be a list (lines starting with -)", what)
	}
	return n.Content, nil
}
