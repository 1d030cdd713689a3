package snapshot

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"unicode/utf8"
)

// manifestVersion is the version of the manifest encoding that Encode
// writes and Decode accepts.
const manifestVersion = 1

// ErrInvalidManifest means that a manifest breaks a rule of its format;
// the error that wraps it names the entry and the rule.
var ErrInvalidManifest = errors.New("invalid manifest")

// An Entry is one file or symlink of a snapshot.
type Entry struct {
	// Path is slash-separated and relative to the snapshot's root.
	Path string
	// Mode holds the permission bits of a file, or fs.ModeSymlink|0o777
	// for a symlink.
	Mode fs.FileMode
	// Size is the file's length in bytes; 0 for a symlink.
	Size int64
	// SHA256 is the hex digest of the file's content; empty for a symlink.
	SHA256 string
	// Link is a symlink's target, slash-separated, clean and relative to
	// the symlink's directory; empty for a file.
	Link string
}

// IsSymlink reports whether e is a symlink.
func (e Entry) IsSymlink() bool { return e.Mode&fs.ModeSymlink != 0 }

// A Manifest lists the entries of a snapshot, sorted by path.
type Manifest struct {
	Entries []Entry
}

// Size returns the total size of the manifest's files in bytes.
func (m *Manifest) Size() int64 {
	var n int64
	for _, e := range m.Entries {
		n += e.Size
	}
	return n
}

// ID returns the snapshot ID: the hex SHA-256 of the manifest's canonical
// encoding, the bytes Encode writes. Equal trees have equal IDs.
func (m *Manifest) ID() string {
	h := sha256.New()
	bw := bufio.NewWriter(h)
	m.encode(bw)
	bw.Flush()
	return hex.EncodeToString(h.Sum(nil))
}

// Encode writes the manifest's canonical encoding to w: JSON with one entry
// per line, in a fixed order of fields. It fails, writing nothing, if the
// manifest is not valid (see Validate).
func (m *Manifest) Encode(w io.Writer) error {
	if err := m.Validate(); err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	m.encode(bw)
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("encode manifest: %w", err)
	}
	return nil
}

func (m *Manifest) encode(w *bufio.Writer) {
	fmt.Fprintf(w, `{"version":%d,"entries":[`, manifestVersion)
	for i, e := range m.Entries {
		if i > 0 {
			w.WriteByte(',')
		}
		w.WriteString("\n{\"path\":")
		writeJSONString(w, e.Path)
		if e.IsSymlink() {
			w.WriteString(`,"link":`)
			writeJSONString(w, e.Link)
		} else {
			fmt.Fprintf(w, `,"mode":"%04o","size":%d,"sha256":`, uint32(e.Mode.Perm()), e.Size)
			writeJSONString(w, e.SHA256)
		}
		w.WriteByte('}')
	}
	w.WriteString("\n]}\n")
}

func writeJSONString(w *bufio.Writer, s string) {
	b, _ := json.Marshal(s) // a string always marshals
	w.Write(b)
}

type rawManifest struct {
	Version int        `json:"version"`
	Entries []rawEntry `json:"entries"`
}

type rawEntry struct {
	Path   string  `json:"path"`
	Mode   string  `json:"mode"`
	Size   int64   `json:"size"`
	SHA256 string  `json:"sha256"`
	Link   *string `json:"link"`
}

// Decode replaces m's entries with those read from r, which holds an
// encoding written by Encode, and checks them as Validate does.
func (m *Manifest) Decode(r io.Reader) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var raw rawManifest
	if err := dec.Decode(&raw); err != nil {
		return fmt.Errorf("%w: cannot decode it: %v", ErrInvalidManifest, err)
	}
	if raw.Version != manifestVersion {
		return fmt.Errorf("%w: version %d, but this Gantry reads version %d; use a Gantry of the same version as the one that wrote it",
			ErrInvalidManifest, raw.Version, manifestVersion)
	}
	entries := make([]Entry, len(raw.Entries))
	for i, re := range raw.Entries {
		e := Entry{Path: re.Path, Size: re.Size, SHA256: re.SHA256}
		if re.Link != nil {
			if re.Mode != "" || re.Size != 0 || re.SHA256 != "" {
				return fmt.Errorf("%w: entry %q has a link and also a mode, size or digest", ErrInvalidManifest, re.Path)
			}
			e.Mode = fs.ModeSymlink | 0o777
			e.Link = *re.Link
		} else {
			perm, err := strconv.ParseUint(re.Mode, 8, 32)
			if err != nil || perm > 0o777 {
				return fmt.Errorf("%w: entry %q has mode %q; want octal permission bits such as \"0644\"", ErrInvalidManifest, re.Path, re.Mode)
			}
			e.Mode = fs.FileMode(perm)
		}
		entries[i] = e
	}
	dm := Manifest{Entries: entries}
	if err := dm.Validate(); err != nil {
		return err
	}
	m.Entries = entries
	return nil
}

// Validate checks that the entries are sorted by path without duplicates;
// that every path is relative, clean, valid UTF-8 and has no other entry
// as an ancestor; that files have a SHA-256 digest and only permission
// bits; and that every symlink's target is relative, clean and stays
// inside the tree.
func (m *Manifest) Validate() error {
	var paths map[string]bool
	for i, e := range m.Entries {
		if err := e.validate(); err != nil {
			return fmt.Errorf("%w: entry %q: %s", ErrInvalidManifest, e.Path, err)
		}
		if i > 0 && m.Entries[i-1].Path >= e.Path {
			return fmt.Errorf("%w: entry %q comes after %q; entries must be sorted by path, without duplicates",
				ErrInvalidManifest, e.Path, m.Entries[i-1].Path)
		}
		if strings.Contains(e.Path, "/") {
			if paths == nil {
				paths = make(map[string]bool, len(m.Entries))
				for _, e := range m.Entries {
					paths[e.Path] = true
				}
			}
			for d := path.Dir(e.Path); d != "."; d = path.Dir(d) {
				if paths[d] {
					return fmt.Errorf("%w: entry %q lies under entry %q, which is a file or symlink, not a directory",
						ErrInvalidManifest, e.Path, d)
				}
			}
		}
	}
	return nil
}

func (e Entry) validate() error {
	if !utf8.ValidString(e.Path) || !fs.ValidPath(e.Path) || e.Path == "." || strings.ContainsRune(e.Path, 0) {
		return errors.New("path must be relative, slash-separated, clean and valid UTF-8")
	}
	if e.IsSymlink() {
		if e.Mode != fs.ModeSymlink|0o777 || e.Size != 0 || e.SHA256 != "" {
			return errors.New("a symlink has mode ModeSymlink|0777 and no size or digest")
		}
		return validLink(e.Path, e.Link)
	}
	if e.Mode&^fs.ModePerm != 0 {
		return fmt.Errorf("mode %v has more than permission bits", e.Mode)
	}
	if e.Link != "" {
		return errors.New("a file has no link target")
	}
	if e.Size < 0 {
		return fmt.Errorf("size %d is negative", e.Size)
	}
	if !validSum(e.SHA256) {
		return fmt.Errorf("digest %q is not 64 lowercase hex digits", e.SHA256)
	}
	return nil
}

// validLink checks a symlink's target: relative, clean, valid UTF-8, and
// with no more leading ".." than the symlink has parent directories, so
// that it resolves inside the tree. Clean targets have ".." only at the
// start, and the directories they pass through are real ones (no entry
// lies under a symlink), so the check holds for the resolved target too.
func validLink(p, link string) error {
	if link == "" || !utf8.ValidString(link) || strings.ContainsRune(link, 0) {
		return errors.New("symlink target must be a non-empty, valid UTF-8 path")
	}
	if path.IsAbs(link) || path.Clean(link) != link {
		return fmt.Errorf("symlink target %q must be relative and clean", link)
	}
	if t := path.Join(path.Dir(p), link); t == ".." || strings.HasPrefix(t, "../") {
		return fmt.Errorf("symlink target %q points outside the tree", link)
	}
	return nil
}
