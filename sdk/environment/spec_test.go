package environment

import (
	"slices"
	"strings"
	"testing"
)

func TestNormalizePipName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"requests", "requests"},
		{"Scikit_Learn", "scikit-learn"},
		{"scikit-learn", "scikit-learn"},
		{"zope.interface", "zope-interface"},
		{"Foo__Bar..baz-_-Qux", "foo-bar-baz-qux"},
		{"  PyYAML ", "pyyaml"},
		{"a1", "a1"},
	}
	for _, tt := range tests {
		if got := NormalizePipName(tt.in); got != tt.want {
			t.Errorf("NormalizePipName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParsePipSpec(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"requests", "requests"},
		{"Requests == 2.31.0", "requests==2.31.0"},
		{"numpy<2, >=1.26", "numpy<2,>=1.26"},
		{"numpy>=1.26,<2", "numpy<2,>=1.26"},
		{"numpy (>=1.26)", "numpy>=1.26"},
		{"Requests[Socks, security]>=2", "requests[security,socks]>=2"},
		{"torch>=2.3 ;  sys_platform == 'linux'", "torch>=2.3; sys_platform == 'linux'"},
		{"My_Pkg @ https://example.org/my_pkg-1.0-py3-none-any.whl", "my-pkg @ https://example.org/my_pkg-1.0-py3-none-any.whl"},
		{"pkg~=1.4.2", "pkg~=1.4.2"},
		{"pkg===1.0+local", "pkg===1.0+local"},
		{"pkg==1.*", "pkg==1.*"},
	}
	for _, tt := range tests {
		p, err := parsePipSpec(tt.in)
		if err != nil {
			t.Errorf("parsePipSpec(%q): %v", tt.in, err)
			continue
		}
		if got := p.String(); got != tt.want {
			t.Errorf("parsePipSpec(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParsePipSpecErrors(t *testing.T) {
	tests := []struct {
		in   string
		want string // in the error
	}{
		{"", "empty pip package"},
		{"numpy=1.26", "pip needs numpy==1.26"},
		{"numpy>>1", `version clause ">>1" is not valid`},
		{"numpy==", `version clause "==" is not valid`},
		{"-r requirements.txt", "is an option"},
		{"./local/pkg", "name @ URL"},
		{"pkg[extra", "not closed"},
		{"pkg @ ", "one URL after @"},
		{"pkg;", "environment marker"},
		{"pkg\nother", "control characters"},
	}
	for _, tt := range tests {
		_, err := parsePipSpec(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parsePipSpec(%q) error = %v, want it to contain %q", tt.in, err, tt.want)
		}
	}
}

func TestParseCondaSpec(t *testing.T) {
	tests := []struct{ in, want string }{
		{"numpy", "numpy"},
		{"NumPy=1.26", "numpy=1.26"},
		{"numpy >= 1.26 , <2", "numpy>=1.26,<2"},
		{"numpy 1.26  py311_0", "numpy 1.26 py311_0"},
		{"conda-forge::scikit-learn=1.4", "conda-forge::scikit-learn=1.4"},
		{"python=3.11.*", "python=3.11.*"},
		{"numpy[version='>=1.8']", "numpy[version='>=1.8']"},
	}
	for _, tt := range tests {
		c, err := parseCondaSpec(tt.in)
		if err != nil {
			t.Errorf("parseCondaSpec(%q): %v", tt.in, err)
			continue
		}
		if got := c.String(); got != tt.want {
			t.Errorf("parseCondaSpec(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	bad := []struct{ in, want string }{
		{"", "empty conda package"},
		{"=1.2", "does not start with a package name"},
		{"numpy=", "no version after the operator"},
		{"numpy 1.2 py_0 extra", "one package per entry"},
		{"numpy@1.2", "characters conda does not accept"},
		{"::numpy", "channel before ::"},
		{"numpy[version='1'", "not closed"},
	}
	for _, tt := range bad {
		_, err := parseCondaSpec(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parseCondaSpec(%q) error = %v, want it to contain %q", tt.in, err, tt.want)
		}
	}
}

func TestPythonPin(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{"python", nil, false},
		{"python=3.11", []string{"3", "11"}, false},
		{"python==3.11.7", []string{"3", "11", "7"}, false},
		{"python 3.10", []string{"3", "10"}, false},
		{"python=3.12.*", []string{"3", "12"}, false},
		{"python>=3.9", nil, true},
		{"python=3.11=h123_0", nil, true},
		{"python 3.11 h123_0", nil, true},
		{"python=3.x", nil, true},
	}
	for _, tt := range tests {
		cs, err := parseCondaSpec(tt.in)
		if err != nil {
			t.Fatalf("parseCondaSpec(%q): %v", tt.in, err)
		}
		got, err := cs.pythonPin()
		if (err != nil) != tt.wantErr || !slices.Equal(got, tt.want) {
			t.Errorf("pythonPin(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestVersionMatches(t *testing.T) {
	tests := []struct {
		version string
		pin     []string
		want    bool
	}{
		{"3.11.7", nil, true},
		{"3.11.7", []string{"3", "11"}, true},
		{"3.11.7", []string{"3", "11", "7"}, true},
		{"3.11.7", []string{"3", "1"}, false},
		{"3.11.7", []string{"3", "12"}, false},
		{"3.11", []string{"3", "11", "0"}, false},
	}
	for _, tt := range tests {
		if got := versionMatches(tt.version, tt.pin); got != tt.want {
			t.Errorf("versionMatches(%q, %v) = %v, want %v", tt.version, tt.pin, got, tt.want)
		}
	}
}
