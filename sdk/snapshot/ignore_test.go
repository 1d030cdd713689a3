package snapshot

import (
	"bytes"
	"os"
	"os/exec"
	"slices"
	"testing"
)

func TestIgnoreRules(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		opts  Options
		want  []string
		found string // Stats.IgnoreFile
	}{
		{
			name: "nested ignore files with negation",
			files: map[string]string{
				".gitignore":        "*.log\nbuild/\n",
				"a.py":              "",
				"x.log":             "",
				"build/out.bin":     "",
				"sub/.gitignore":    "!keep.log\n",
				"sub/keep.log":      "",
				"sub/drop.log":      "",
				"sub/build/o.bin":   "",
				"other/keep.log":    "", // sub's rule does not reach here
				"sub/deep/keep.log": "",
			},
			want:  []string{".gitignore", "a.py", "sub/.gitignore", "sub/deep/keep.log", "sub/keep.log"},
			found: ".gitignore",
		},
		{
			name: "a nested file overrides its parent, not the reverse",
			files: map[string]string{
				".gitignore":           "!*.tmp\n",
				"lib/.gitignore":       "*.tmp\n",
				"a.tmp":                "",
				"lib/b.tmp":            "",
				"lib/inner/c.tmp":      "",
				"lib/inner/.gitignore": "!c.tmp\n",
			},
			want: []string{".gitignore", "a.tmp", "lib/.gitignore", "lib/inner/.gitignore", "lib/inner/c.tmp"},
		},
		{
			name: "an excluded directory's files cannot be re-included",
			files: map[string]string{
				".gitignore":      "data/\n!data/keep.txt\n",
				"data/keep.txt":   "",
				"data/.gitignore": "!keep.txt\n",
				"main.py":         "",
			},
			want: []string{".gitignore", "main.py"},
		},
		{
			name: "trailing /** excludes the contents, so a file can come back",
			files: map[string]string{
				".gitignore":     "data/**\n!data/README.md\n",
				"data/README.md": "",
				"data/x.bin":     "",
				"data/sub/y.bin": "",
			},
			want: []string{".gitignore", "data/README.md"},
		},
		{
			name: "a re-included directory does not re-include its excluded files",
			files: map[string]string{
				".gitignore": "*.log\nlogs/\n!logs/\n",
				"logs/a.log": "",
				"logs/a.txt": "",
			},
			want: []string{".gitignore", "logs/a.txt"},
		},
		{
			name: "whitelist: everything out, directories and .py back in",
			files: map[string]string{
				".gitignore": "*\n!*/\n!*.py\n!.gitignore\n",
				"a.py":       "",
				"a.txt":      "",
				"pkg/b.py":   "",
				"pkg/b.txt":  "",
			},
			want: []string{".gitignore", "a.py", "pkg/b.py"},
		},
		{
			name: "anchored patterns and patterns with a slash",
			files: map[string]string{
				".gitignore":   "/top.txt\ndoc/*.md\n",
				"top.txt":      "",
				"sub/top.txt":  "",
				"doc/a.md":     "",
				"doc/sub/b.md": "",
				"x/doc/a.md":   "",
			},
			want: []string{".gitignore", "doc/sub/b.md", "sub/top.txt", "x/doc/a.md"},
		},
		{
			name: "double star",
			files: map[string]string{
				".gitignore":      "**/cache\na/**/z.txt\n",
				"cache/1":         "",
				"deep/er/cache/2": "",
				"a/z.txt":         "",
				"a/b/c/z.txt":     "",
				"b/z.txt":         "",
			},
			want: []string{".gitignore", "b/z.txt"},
		},
		{
			name: "a directory-only pattern spares a file of that name",
			files: map[string]string{
				".gitignore": "data/\n",
				"data":       "a file",
				"sub/data/x": "",
			},
			want: []string{".gitignore", "data"},
		},
		{
			name: ".gantryignore takes precedence over .gitignore, nested too",
			files: map[string]string{
				".gantryignore":     "*.bin\n",
				".gitignore":        "*.py\n",
				"a.py":              "",
				"a.bin":             "",
				"sub/.gitignore":    "*.txt\n",
				"sub/.gantryignore": "*.csv\n",
				"sub/b.txt":         "",
				"sub/b.csv":         "",
			},
			want:  []string{".gantryignore", ".gitignore", "a.py", "sub/.gantryignore", "sub/.gitignore", "sub/b.txt"},
			found: ".gantryignore",
		},
		{
			name: ".amlignore takes precedence over .gitignore",
			files: map[string]string{
				".amlignore": "*.bin\n",
				".gitignore": "*.py\n",
				"a.py":       "",
				"a.bin":      "",
			},
			want:  []string{".amlignore", ".gitignore", "a.py"},
			found: ".amlignore",
		},
		{
			name: "without a root ignore file, nested .gitignore files apply",
			files: map[string]string{
				"sub/.gitignore": "*.o\n",
				"sub/a.o":        "",
				"sub/a.c":        "",
			},
			want:  []string{"sub/.gitignore", "sub/a.c"},
			found: ".gitignore",
		},
		{
			name: ".git is always excluded",
			files: map[string]string{
				".gitignore":     "!.git\n!.git/\n",
				".git/config":    "",
				"sub/.git":       "gitdir: elsewhere",
				"sub/x":          "",
				".gitattributes": "",
			},
			want: []string{".gitattributes", ".gitignore", "sub/x"},
		},
		{
			name: "Options.Exclude wins over a negation",
			files: map[string]string{
				".gitignore":  "!secrets/\n",
				"secrets/key": "",
				"train.py":    "",
			},
			opts: Options{Exclude: []string{"secrets/"}},
			want: []string{".gitignore", "train.py"},
		},
		{
			name: "comments, escapes, trailing spaces and sets",
			files: map[string]string{
				".gitignore": "# comment\n\\#hash\n\\!bang\nspace\\ \ntrail  \n[!a]*.tmp\nfile[0-9].txt\n",
				"#hash":      "",
				"!bang":      "",
				"space ":     "",
				"trail":      "",
				"a1.tmp":     "",
				"b1.tmp":     "",
				"file7.txt":  "",
				"filex.txt":  "",
				"# comment":  "",
			},
			want: []string{"# comment", ".gitignore", "a1.tmp", "filex.txt"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			makeTree(t, root, tt.files)
			m, st := take(t, root, newStore(t), tt.opts)
			if got := paths(m); !slices.Equal(got, tt.want) {
				t.Errorf("paths:\n got %q\nwant %q", got, tt.want)
			}
			if tt.found != "" && st.IgnoreFile != tt.found {
				t.Errorf("IgnoreFile = %q, want %q", st.IgnoreFile, tt.found)
			}
		})
	}
}

func TestMatchGlob(t *testing.T) {
	tests := []struct {
		glob, name string
		want       bool
	}{
		{"*.py", "a.py", true},
		{"*.py", "a.pyc", false},
		{"a*b*c", "aXbYbZc", true},
		{"a*b*c", "aXbYbZ", false},
		{"?.txt", "a.txt", true},
		{"?.txt", "ab.txt", false},
		{"[abc]x", "bx", true},
		{"[abc]x", "dx", false},
		{"[!abc]x", "dx", true},
		{"[^abc]x", "ax", false},
		{"[a-c]", "b", true},
		{"[a-c]", "d", false},
		{"[]a]", "]", true},
		{"[!]a]", "]", false},
		{"[a-]", "-", true},
		{"[[:digit:]]x", "7x", true},
		{"[[:digit:][:upper:]]", "Q", true},
		{"[[:digit:]]", "a", false},
		{"[[:nope:]]", "a", false},
		{"[[:alpha]", "[", true}, // no ":]": "[" and "alpha" are members, "[:alpha" is literal
		{"[abc", "a", false},     // unclosed: matches nothing
		{`\*`, "*", true},
		{`\*`, "a", false},
		{`a\?`, "a?", true},
		{"a**b", "aXYb", true},
		{"*", "", true},
		{"", "", true},
		{"x", "", false},
	}
	for _, tt := range tests {
		if got := matchGlob(tt.glob, tt.name); got != tt.want {
			t.Errorf("matchGlob(%q, %q) = %v, want %v", tt.glob, tt.name, got, tt.want)
		}
	}
}

// TestIgnoreMatchesGit compares Take's choice of files with git's, for a
// tree whose ignore rules exercise every feature: `git ls-files --others`
// lists the untracked files that the .gitignore files keep.
func TestIgnoreMatchesGit(t *testing.T) {
	gitBin, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git is not installed")
	}
	root := t.TempDir()
	makeTree(t, root, map[string]string{
		".gitignore": "*.log\n!important.log\n/build/\nnode_modules\n**/tmp/**\n!**/tmp/keep\n" +
			"docs/*.html\ndata/**\n!data/*.csv\n!data/sub/\n*.py[co]\n[Tt]humbs.db\nout?/\n\\#*\n",
		"wl/.gitignore": "*\n!*/\n!*.py\n!Makefile\n", "wl/a.py": "", "wl/a.txt": "", "wl/Makefile": "",
		"wl/p/b.py": "", "wl/p/b.txt": "", "wl/p/.gitignore": "!*.txt\n",
		"a.log": "", "important.log": "", "sub/important.log": "", "sub/b.log": "",
		"build/x": "", "src/build/y.c": "", "node_modules/m.js": "", "src/node_modules": "",
		"tmp/a": "", "tmp/keep": "", "x/tmp/b": "", "x/tmp/keep": "", "x/tmp/deeper/keep": "",
		"docs/a.html": "", "docs/api/b.html": "", "data/a.csv": "", "data/a.bin": "",
		"data/sub/c.csv": "", "data/sub/c.bin": "", "m.pyc": "", "m.py": "", "Thumbs.db": "",
		"thumbs.db": "", "out1/x.txt": "", "out12/x.txt": "", "#notes": "", "Makefile": "",
		"LICENSE": "", "src/README": "", "src/main.go": "",
		"sub/.gitignore": "!b.log\n/local.txt\nnested/\n", "sub/local.txt": "",
		"sub/deeper/local.txt": "", "sub/nested/x.txt": "", "sub/x/nested": "",
		"space .txt": "", "link.txt": "->src/main.go",
	})
	run := func(args ...string) []byte {
		cmd := exec.Command(gitBin, args...)
		cmd.Dir = root
		cmd.Env = []string{"HOME=" + root, "GIT_CONFIG_NOSYSTEM=1", "PATH=" + os.Getenv("PATH")}
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("git %v: %v", args, err)
		}
		return out
	}
	run("init", "-q")
	var want []string
	for _, p := range bytes.Split(run("ls-files", "-z", "--others", "--exclude-per-directory=.gitignore"), []byte{0}) {
		if len(p) > 0 {
			want = append(want, string(p))
		}
	}
	slices.Sort(want)
	m, _ := take(t, root, newStore(t), Options{})
	if got := paths(m); !slices.Equal(got, want) {
		t.Errorf("Take and git disagree\nTake: %q\n git: %q", got, want)
		for _, p := range got {
			if !slices.Contains(want, p) {
				t.Errorf("only Take keeps %s", p)
			}
		}
		for _, p := range want {
			if !slices.Contains(got, p) {
				t.Errorf("only git keeps %s", p)
			}
		}
	}
	if len(want) < 10 || !slices.Contains(want, "data/a.csv") || slices.Contains(want, "a.log") {
		t.Errorf("git's list %q looks wrong; the test tree is not what it should be", want)
	}
}
