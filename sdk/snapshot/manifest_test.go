package snapshot

import (
	"bytes"
	"errors"
	"io/fs"
	"slices"
	"strings"
	"testing"
)

var (
	sumA = hexSum("a")
	sumB = hexSum("b")
)

func TestManifestEncodeDecode(t *testing.T) {
	m := &Manifest{Entries: []Entry{
		{Path: "bin/run.sh", Mode: 0o755, Size: 1, SHA256: sumA},
		{Path: "data", Mode: fs.ModeSymlink | 0o777, Link: "shared"},
		{Path: "dir/link", Mode: fs.ModeSymlink | 0o777, Link: "../bin/run.sh"},
		{Path: "naïve \"quoted\" <name>\n", Mode: 0o600, Size: 1, SHA256: sumB},
	}}
	var buf bytes.Buffer
	if err := m.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	var got Manifest
	if err := got.Decode(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatalf("Decode: %v\n%s", err, buf.Bytes())
	}
	if !slices.Equal(got.Entries, m.Entries) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got.Entries, m.Entries)
	}
	if got.ID() != m.ID() {
		t.Errorf("ID changed in a round trip")
	}
	// The encoding is fixed: a change to it changes every snapshot ID.
	wantText := `{"version":1,"entries":[
{"path":"bin/run.sh","mode":"0755","size":1,"sha256":"` + sumA + `"},
{"path":"data","link":"shared"},
`
	if !strings.HasPrefix(buf.String(), wantText) {
		t.Errorf("encoding starts\n%s\nwant\n%s", buf.String(), wantText)
	}
	changed := &Manifest{Entries: slices.Clone(m.Entries)}
	changed.Entries[0].Mode = 0o644
	if changed.ID() == m.ID() {
		t.Error("a mode change did not change the ID")
	}
}

func TestManifestInvalid(t *testing.T) {
	file := func(p string) Entry { return Entry{Path: p, Mode: 0o644, SHA256: sumA, Size: 1} }
	link := func(p, to string) Entry { return Entry{Path: p, Mode: fs.ModeSymlink | 0o777, Link: to} }
	tests := []struct {
		name    string
		entries []Entry
		want    string
	}{
		{"parent path", []Entry{file("../x")}, "must be relative"},
		{"absolute path", []Entry{file("/etc/passwd")}, "must be relative"},
		{"unclean path", []Entry{file("a//b")}, "must be relative"},
		{"dot", []Entry{file(".")}, "must be relative"},
		{"not UTF-8", []Entry{file("a\xff")}, "UTF-8"},
		{"unsorted", []Entry{file("b"), file("a")}, "must be sorted"},
		{"duplicate", []Entry{file("a"), file("a")}, "must be sorted"},
		{"entry under a file", []Entry{file("a"), file("a/b")}, "lies under entry \"a\""},
		{"entry under a symlink", []Entry{link("a", "b"), file("a/x"), file("b")}, "lies under entry \"a\""},
		{"bad digest", []Entry{{Path: "a", Mode: 0o644, SHA256: "xyz"}}, "not 64 lowercase hex"},
		{"mode with type bits", []Entry{{Path: "a", Mode: fs.ModeDir | 0o755, SHA256: sumA}}, "more than permission bits"},
		{"absolute link", []Entry{link("a", "/etc")}, "must be relative and clean"},
		{"unclean link", []Entry{link("a", "x/../y")}, "must be relative and clean"},
		{"escaping link", []Entry{link("a", "..")}, "points outside"},
		{"escaping deeper link", []Entry{link("d/a", "../../x")}, "points outside"},
		{"empty link", []Entry{link("a", "")}, "non-empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &Manifest{Entries: tt.entries}
			err := m.Validate()
			if err == nil || !errors.Is(err, ErrInvalidManifest) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %v, want ErrInvalidManifest mentioning %q", err, tt.want)
			}
			if err := m.Encode(&bytes.Buffer{}); err == nil {
				t.Error("Encode accepted an invalid manifest")
			}
		})
	}
	valid := &Manifest{Entries: []Entry{link("d/a", "../x"), link("d/b", "."), file("x")}}
	if err := valid.Validate(); err != nil {
		t.Errorf("valid manifest: %v", err)
	}
}

func TestManifestDecodeRejects(t *testing.T) {
	tests := []struct{ name, text, want string }{
		{"not JSON", "nope", "cannot decode"},
		{"other version", `{"version":2,"entries":[]}`, "version 2"},
		{"unknown field", `{"version":1,"entries":[{"path":"a","mode":"0644","size":1,"sha256":"` + sumA + `","x":1}]}`, "unknown field"},
		{"bad mode", `{"version":1,"entries":[{"path":"a","mode":"rw","size":1,"sha256":"` + sumA + `"}]}`, "mode"},
		{"link with digest", `{"version":1,"entries":[{"path":"a","link":"b","sha256":"` + sumA + `"}]}`, "has a link and also"},
		{"escaping path", `{"version":1,"entries":[{"path":"../a","mode":"0644","size":1,"sha256":"` + sumA + `"}]}`, "must be relative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := Manifest{Entries: []Entry{{Path: "keep"}}}
			err := m.Decode(strings.NewReader(tt.text))
			if err == nil || !errors.Is(err, ErrInvalidManifest) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Decode = %v, want ErrInvalidManifest mentioning %q", err, tt.want)
			}
			if len(m.Entries) != 1 || m.Entries[0].Path != "keep" {
				t.Errorf("a failed Decode changed the manifest: %+v", m.Entries)
			}
		})
	}
}

func TestDiff(t *testing.T) {
	f := func(p, sum string, size int64) Entry { return Entry{Path: p, Mode: 0o644, SHA256: sum, Size: size} }
	old := &Manifest{Entries: []Entry{
		f("a.py", sumA, 10), f("b.py", sumA, 10), f("c.py", sumA, 10), f("d.py", sumA, 10),
		{Path: "l", Mode: fs.ModeSymlink | 0o777, Link: "a.py"},
	}}
	exec := f("c.py", sumA, 10)
	exec.Mode = 0o755
	tests := []struct {
		name string
		a, b *Manifest
		want []Change
	}{
		{"same", old, old, nil},
		{"both nil", nil, nil, nil},
		{"from nothing", nil, &Manifest{Entries: []Entry{f("x", sumA, 3)}}, []Change{{Path: "x", Kind: Added, NewSize: 3}}},
		{"to nothing", &Manifest{Entries: []Entry{f("x", sumA, 3)}}, &Manifest{}, []Change{{Path: "x", Kind: Removed, OldSize: 3}}},
		{"mixed", old, &Manifest{Entries: []Entry{
			f("a.py", sumA, 10), // same
			f("b.py", sumB, 12), // content
			exec,                // mode
			f("e.py", sumB, 7),  // added; d.py removed
			{Path: "l", Mode: fs.ModeSymlink | 0o777, Link: "b.py"}, // target
		}}, []Change{
			{Path: "b.py", Kind: Modified, OldSize: 10, NewSize: 12},
			{Path: "c.py", Kind: Modified, OldSize: 10, NewSize: 10},
			{Path: "d.py", Kind: Removed, OldSize: 10},
			{Path: "e.py", Kind: Added, NewSize: 7},
			{Path: "l", Kind: Modified},
		}},
		{"unsorted input", &Manifest{Entries: []Entry{f("z", sumA, 1), f("a", sumA, 1)}}, &Manifest{Entries: []Entry{f("a", sumA, 1)}},
			[]Change{{Path: "z", Kind: Removed, OldSize: 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Diff(tt.a, tt.b); !slices.Equal(got, tt.want) {
				t.Errorf("Diff:\n got %v\nwant %v", got, tt.want)
			}
		})
	}
	if s := (Change{Path: "b.py", Kind: Modified, OldSize: 10, NewSize: 1200}).String(); s != "modified b.py (10 B -> 1.2 kB)" {
		t.Errorf("String = %q", s)
	}
}
