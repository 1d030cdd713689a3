package environment

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// This file parses and normalises single package specs: conda match specs
// ("numpy", "numpy=1.26", "conda-forge::numpy>=1.26,<2", "numpy 1.26
// py311_0") and pip requirements in PEP 508 form ("requests[socks]>=2.31;
// python_version>'3.8'", "pkg @ https://example.org/pkg.whl").

var (
	condaNameRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.+-]*`)
	condaRestRE = regexp.MustCompile(`^[A-Za-z0-9_.*+!<>=,|~ \[\]'"-]*$`)
	pipNameRE   = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?`)
	pipExtraRE  = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$`)
	pipVerRE    = regexp.MustCompile(`^(===|~=|==|!=|<=|>=|<|>)\s*([A-Za-z0-9_.*+!-]+)$`)
	pep503RE    = regexp.MustCompile(`[-_.]+`)
)

// condaSpec is a parsed conda match spec.
type condaSpec struct {
	channel string // "" when the spec names none
	name    string // lower-cased
	rest    string // version and build constraints, normalised; "" for none
	spaced  bool   // rest is in the space form ("1.26 py311_0")
}

// String returns the normalised spec.
func (s condaSpec) String() string {
	var b strings.Builder
	if s.channel != "" {
		b.WriteString(s.channel + "::")
	}
	b.WriteString(s.name)
	if s.spaced {
		b.WriteByte(' ')
	}
	b.WriteString(s.rest)
	return b.String()
}

// parseCondaSpec parses one conda match spec. Errors say what is wrong and
// show a valid form.
func parseCondaSpec(spec string) (condaSpec, error) {
	s := strings.TrimSpace(spec)
	if s == "" {
		return condaSpec{}, fmt.Errorf("empty conda package: write a package name such as numpy or numpy=1.26")
	}
	if strings.ContainsFunc(s, isControl) {
		return condaSpec{}, fmt.Errorf("conda package %q contains control characters: write one package per entry", spec)
	}
	var cs condaSpec
	if i := strings.LastIndex(s, "::"); i >= 0 {
		cs.channel = strings.TrimSpace(s[:i])
		s = strings.TrimSpace(s[i+2:])
		if cs.channel == "" || strings.ContainsAny(cs.channel, " \t") {
			return condaSpec{}, fmt.Errorf("conda package %q: the channel before :: must be a non-empty name without spaces, as in conda-forge::numpy", spec)
		}
	}
	name := condaNameRE.FindString(s)
	if name == "" {
		return condaSpec{}, fmt.Errorf("conda package %q does not start with a package name: write e.g. numpy or numpy>=1.26", spec)
	}
	cs.name = strings.ToLower(name)
	rest := strings.TrimSpace(s[len(name):])
	if !condaRestRE.MatchString(rest) {
		return condaSpec{}, fmt.Errorf("conda package %q: version constraint %q has characters conda does not accept: write e.g. %s=1.2 or %s>=1.2,<2", spec, rest, cs.name, cs.name)
	}
	switch {
	case rest == "":
	case strings.ContainsRune("=<>!~", rune(rest[0])):
		cs.rest = strings.Join(strings.Fields(rest), "")
		if !strings.ContainsFunc(cs.rest, isAlnumOrStar) {
			return condaSpec{}, fmt.Errorf("conda package %q: %q has no version after the operator: write e.g. %s=1.2", spec, rest, cs.name)
		}
	case rest[0] == '[':
		if !strings.HasSuffix(rest, "]") {
			return condaSpec{}, fmt.Errorf("conda package %q: bracket constraint %q is not closed with ]", spec, rest)
		}
		cs.rest = rest
	default:
		f := strings.Fields(rest)
		if len(f) > 2 {
			return condaSpec{}, fmt.Errorf("conda package %q: expected NAME [VERSION [BUILD]] but found %d words after the name; write one package per entry", spec, len(f))
		}
		cs.rest, cs.spaced = strings.Join(f, " "), true
	}
	return cs, nil
}

// pythonPin returns the version components a spec of the python package
// pins ("python=3.11" pins [3 11]), nil for an unpinned "python", or an
// error for constraints that a venv build cannot check (ranges, builds).
func (s condaSpec) pythonPin() ([]string, error) {
	v := s.rest
	switch {
	case v == "":
		return nil, nil
	case s.spaced:
		if strings.Contains(v, " ") {
			return nil, fmt.Errorf("python %q names a build: only conda can honour it", v)
		}
	case strings.HasPrefix(v, "=="):
		v = v[2:]
	case strings.HasPrefix(v, "=") && !strings.Contains(v[1:], "="):
		v = v[1:]
	default:
		return nil, fmt.Errorf("python%s is a range or build constraint: without conda only an exact pin such as python=3.11 can be checked", v)
	}
	v = strings.TrimSuffix(strings.TrimSuffix(v, "*"), ".")
	parts := strings.Split(v, ".")
	for _, p := range parts {
		if p == "" || strings.Trim(p, "0123456789") != "" {
			return nil, fmt.Errorf("python version %q is not of the form 3.11 or 3.11.7", s.rest)
		}
	}
	return parts, nil
}

// pipSpec is a parsed PEP 508 requirement.
type pipSpec struct {
	name    string   // PEP 503 normalised
	extras  []string // normalised, sorted, unique
	clauses []string // version clauses without spaces, sorted
	url     string   // for "name @ url"
	marker  string   // environment marker, whitespace collapsed
}

// String returns the normalised requirement.
func (p pipSpec) String() string {
	var b strings.Builder
	b.WriteString(p.name)
	if len(p.extras) > 0 {
		b.WriteString("[" + strings.Join(p.extras, ",") + "]")
	}
	if p.url != "" {
		b.WriteString(" @ " + p.url)
	}
	b.WriteString(strings.Join(p.clauses, ","))
	if p.marker != "" {
		b.WriteString("; " + p.marker)
	}
	return b.String()
}

// NormalizePipName returns a pip project name in the form PEP 503 compares
// names in: lower case, with every run of "-", "_" and "." replaced by a
// single "-". "Scikit_Learn" and "scikit-learn" name the same project.
func NormalizePipName(name string) string {
	return strings.ToLower(pep503RE.ReplaceAllString(strings.TrimSpace(name), "-"))
}

// parsePipSpec parses one pip requirement. Errors say what is wrong and
// show a valid form.
func parsePipSpec(spec string) (pipSpec, error) {
	s := strings.TrimSpace(spec)
	if s == "" {
		return pipSpec{}, fmt.Errorf("empty pip package: write a requirement such as requests==2.31.0")
	}
	if strings.ContainsFunc(s, isControl) {
		return pipSpec{}, fmt.Errorf("pip package %q contains control characters: write one requirement per entry", spec)
	}
	if strings.HasPrefix(s, "-") {
		return pipSpec{}, fmt.Errorf("pip entry %q is an option, not a package: the supported options are --index-url, --extra-index-url, --find-links and --no-index", spec)
	}
	name := pipNameRE.FindString(s)
	if name == "" {
		return pipSpec{}, fmt.Errorf("pip package %q does not start with a project name: write e.g. requests or requests>=2.31 (a local path or bare URL needs the form name @ URL)", spec)
	}
	p := pipSpec{name: NormalizePipName(name)}
	rest := strings.TrimSpace(s[len(name):])
	if strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return pipSpec{}, fmt.Errorf("pip package %q: extras are not closed with ]", spec)
		}
		for e := range strings.SplitSeq(rest[1:end], ",") {
			e = strings.TrimSpace(e)
			if !pipExtraRE.MatchString(e) {
				return pipSpec{}, fmt.Errorf("pip package %q: extra %q is not a valid name", spec, e)
			}
			p.extras = append(p.extras, NormalizePipName(e))
		}
		slices.Sort(p.extras)
		p.extras = slices.Compact(p.extras)
		rest = strings.TrimSpace(rest[end+1:])
	}
	if i := strings.IndexByte(rest, ';'); i >= 0 {
		p.marker = strings.Join(strings.Fields(rest[i+1:]), " ")
		if p.marker == "" {
			return pipSpec{}, fmt.Errorf("pip package %q: nothing follows the ; that starts an environment marker", spec)
		}
		rest = strings.TrimSpace(rest[:i])
	}
	if strings.HasPrefix(rest, "@") {
		p.url = strings.TrimSpace(rest[1:])
		if p.url == "" || strings.ContainsAny(p.url, " \t") {
			return pipSpec{}, fmt.Errorf("pip package %q: expected one URL after @, as in name @ https://example.org/name-1.0-py3-none-any.whl", spec)
		}
		return p, nil
	}
	if strings.HasPrefix(rest, "(") && strings.HasSuffix(rest, ")") {
		rest = rest[1 : len(rest)-1]
	}
	if strings.TrimSpace(rest) == "" {
		return p, nil
	}
	for c := range strings.SplitSeq(rest, ",") {
		c = strings.TrimSpace(c)
		m := pipVerRE.FindStringSubmatch(c)
		if m == nil {
			hint := fmt.Sprintf("write e.g. %s==1.2 or %s>=1.2,<2", name, name)
			if strings.HasPrefix(c, "=") && !strings.HasPrefix(c, "==") {
				hint = fmt.Sprintf("a single = is conda syntax; pip needs %s==%s", name, strings.TrimSpace(c[1:]))
			}
			return pipSpec{}, fmt.Errorf("pip package %q: version clause %q is not valid: %s", spec, c, hint)
		}
		p.clauses = append(p.clauses, m[1]+m[2])
	}
	slices.Sort(p.clauses)
	p.clauses = slices.Compact(p.clauses)
	return p, nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

func isAlnumOrStar(r rune) bool {
	return r == '*' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
}
