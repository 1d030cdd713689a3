package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// chooseIgnoreFile returns the name of the ignore files that the tree at
// root uses: the first of .gantryignore, .amlignore and .gitignore that the
// root holds, or .gitignore if it holds none, so that nested .gitignore
// files still apply. found reports whether the root holds it.
func chooseIgnoreFile(root string) (name string, found bool, err error) {
	for _, name := range []string{".gantryignore", ".amlignore", ".gitignore"} {
		_, err := os.Lstat(filepath.Join(root, name))
		if err == nil {
			return name, true, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", false, err
		}
	}
	return ".gitignore", false, nil
}

// A walker lists the tree under root that the ignore rules keep.
type walker struct {
	ctx        context.Context
	root       string // real absolute path of the tree
	display    string // the root as the caller named it, for messages
	ignoreName string
	rules      ignoreRules     // from the ignore files, growing as the walk descends
	forced     ignoreRules     // from Options.Exclude
	skip       map[string]bool // slash paths always excluded: the store and the stat cache
	strict     bool

	files    []walkFile
	links    []Entry
	ignored  int
	warnings []Warning
}

type walkFile struct {
	rel  string
	meta fileMeta
}

func (w *walker) abs(rel string) string {
	return filepath.Join(w.root, filepath.FromSlash(rel))
}

// shown returns rel as a path under the root the caller named.
func (w *walker) shown(rel string) string {
	return filepath.Join(w.display, filepath.FromSlash(rel))
}

func (w *walker) warn(rel, format string, args ...any) {
	w.warnings = append(w.warnings, Warning{Path: rel, Message: fmt.Sprintf(format, args...)})
}

// walk lists the directory rel ("" for the root) and its subdirectories.
func (w *walker) walk(rel string) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	ents, err := os.ReadDir(w.abs(rel))
	if err != nil {
		return w.readError(rel, err)
	}
	if err := w.loadIgnore(rel); err != nil {
		return err
	}
	for _, de := range ents {
		r := de.Name()
		if rel != "" {
			r = rel + "/" + r
		}
		typ := de.Type()
		if de.Name() == ".git" || w.skip[r] || w.excluded(r, typ.IsDir()) {
			w.ignored++
			continue
		}
		if !utf8.ValidString(r) {
			return fmt.Errorf("snapshot of %s: the name %q is not valid UTF-8, which a manifest cannot hold; rename it, or add it to %s",
				w.display, w.shown(r), w.ignoreName)
		}
		switch {
		case typ.IsDir():
			if err := w.walk(r); err != nil {
				return err
			}
		case typ&fs.ModeSymlink != 0:
			if err := w.symlink(r); err != nil {
				return err
			}
		case typ.IsRegular():
			fi, err := de.Info()
			if errors.Is(err, fs.ErrNotExist) {
				continue // removed since the directory was listed
			}
			if err != nil {
				return w.readError(r, err)
			}
			w.files = append(w.files, walkFile{rel: r, meta: metaOf(fi)})
		default:
			w.warn(r, "skipped: a %s is neither a regular file, a directory nor a symlink", typeName(typ))
		}
	}
	return nil
}

func (w *walker) excluded(rel string, isDir bool) bool {
	return w.forced.excluded(rel, isDir) || w.rules.excluded(rel, isDir)
}

// loadIgnore adds the rules of the ignore file in directory rel, if any.
func (w *walker) loadIgnore(rel string) error {
	name := w.ignoreName
	if rel != "" {
		name = rel + "/" + name
	}
	fi, err := os.Lstat(w.abs(name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return w.readError(name, err)
	}
	if !fi.Mode().IsRegular() {
		w.warn(name, "not read: an ignore file must be a regular file, and this is a %s", typeName(fi.Mode().Type()))
		return nil
	}
	data, err := os.ReadFile(w.abs(name))
	if err != nil {
		return w.readError(name, err)
	}
	w.rules.add(data, rel)
	return nil
}

// symlink records the symlink rel if its target stays inside the tree.
func (w *walker) symlink(rel string) error {
	abs := w.abs(rel)
	target, err := os.Readlink(abs)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return w.readError(rel, err)
	}
	if !utf8.ValidString(target) {
		return fmt.Errorf("snapshot of %s: the target of symlink %s is not valid UTF-8, which a manifest cannot hold; change it, or add the symlink to %s",
			w.display, w.shown(rel), w.ignoreName)
	}
	if filepath.IsAbs(target) {
		return w.outside(rel, target, "its target is an absolute path")
	}
	if lex := filepath.Join(filepath.Dir(filepath.FromSlash(rel)), target); escapes(lex) {
		return w.outside(rel, target, "its target is outside the source directory")
	}
	resolved, err := filepath.EvalSymlinks(abs)
	switch {
	case err == nil:
		if r, ok := inside(w.root, resolved); !ok {
			return w.outside(rel, target, fmt.Sprintf("it resolves to %s, outside the source directory", r))
		}
	case errors.Is(err, fs.ErrNotExist):
		w.warn(rel, "kept, although its target %s does not exist", target)
	default:
		return w.outside(rel, target, fmt.Sprintf("its target cannot be resolved (%v)", err))
	}
	w.links = append(w.links, Entry{
		Path: rel,
		Mode: fs.ModeSymlink | 0o777,
		Link: filepath.ToSlash(filepath.Clean(target)),
	})
	return nil
}

// outside skips a symlink that leaves the tree, or fails if the walk is
// strict about symlinks.
func (w *walker) outside(rel, target, why string) error {
	if w.strict {
		return fmt.Errorf("snapshot of %s: symlink %s -> %s is not allowed: %s; remove it, add it to %s, or clear Options.StrictSymlinks to skip it",
			w.display, w.shown(rel), target, why, w.ignoreName)
	}
	w.warn(rel, "skipped symlink to %s: %s", target, why)
	return nil
}

// readError reports that rel could not be read, and what to do about it.
func (w *walker) readError(rel string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("snapshot of %s: cannot read %s: %w; make it readable, or add it to %s",
		w.display, w.shown(rel), err, w.ignoreName)
}

// escapes reports whether the clean relative path p leaves its root.
func escapes(p string) bool {
	return p == ".." || strings.HasPrefix(p, ".."+string(filepath.Separator))
}

// inside returns p relative to root and whether it lies within root;
// both must be absolute and clean.
func inside(root, p string) (string, bool) {
	r, err := filepath.Rel(root, p)
	if err != nil || escapes(r) {
		return p, false
	}
	return r, true
}

func typeName(t fs.FileMode) string {
	switch {
	case t&fs.ModeNamedPipe != 0:
		return "named pipe"
	case t&fs.ModeSocket != 0:
		return "socket"
	case t&fs.ModeCharDevice != 0:
		return "character device"
	case t&fs.ModeDevice != 0:
		return "device"
	case t&fs.ModeSymlink != 0:
		return "symlink"
	case t.IsDir():
		return "directory"
	}
	return "file of mode " + t.String()
}
