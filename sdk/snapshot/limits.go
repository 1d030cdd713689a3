package snapshot

import (
	"cmp"
	"fmt"
	"path"
	"slices"
	"strings"
)

// Default limits of a snapshot; see Options.
const (
	DefaultMaxBytes int64 = 300_000_000 // 300 MB
	DefaultMaxFiles       = 2000
)

// offenders is how many of the largest files and of the directories with
// the most files a LimitError lists.
const offenders = 10

// A LimitError reports a tree with more files or bytes than the snapshot's
// limits allow. Nothing was read or stored.
type LimitError struct {
	Root     string // the source directory
	Files    int    // files and symlinks that the ignore rules kept
	Bytes    int64  // their total size
	MaxFiles int    // the limits in force; negative means none
	MaxBytes int64
	// Largest lists up to ten of the largest files, largest first.
	Largest []FileSize
	// Crowded lists up to ten directories holding the most files, counted
	// through all their subdirectories, most first. A directory whose count
	// equals its parent's is left out, since the parent says it already.
	Crowded []DirCount
	// IgnoreFile is the ignore file that the root uses, or .gantryignore
	// if it has none.
	IgnoreFile string
}

// A FileSize is a file and its size in bytes.
type FileSize struct {
	Path string
	Size int64
}

// A DirCount is a directory and how many files it holds.
type DirCount struct {
	Path  string
	Files int
}

func (e *LimitError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "snapshot of %s is too large: %d files", e.Root, e.Files)
	if e.MaxFiles >= 0 && e.Files > e.MaxFiles {
		fmt.Fprintf(&b, " (limit %d)", e.MaxFiles)
	}
	fmt.Fprintf(&b, ", %s", formatBytes(e.Bytes))
	if e.MaxBytes >= 0 && e.Bytes > e.MaxBytes {
		fmt.Fprintf(&b, " (limit %s)", formatBytes(e.MaxBytes))
	}
	if len(e.Largest) > 0 {
		b.WriteString("\nlargest files:")
		for _, f := range e.Largest {
			fmt.Fprintf(&b, "\n  %10s  %s", formatBytes(f.Size), f.Path)
		}
	}
	if len(e.Crowded) > 0 {
		b.WriteString("\ndirectories with the most files:")
		for _, d := range e.Crowded {
			fmt.Fprintf(&b, "\n  %6d files  %s/", d.Files, d.Path)
		}
	}
	fmt.Fprintf(&b, "\nadd what the run does not need to %s in %s, or raise Options.MaxFiles and Options.MaxBytes",
		e.IgnoreFile, e.Root)
	return b.String()
}

// checkLimits returns a *LimitError if the files (with their sizes) exceed
// maxFiles or maxBytes; a negative limit is none.
func checkLimits(root, ignoreFile string, files []FileSize, maxFiles int, maxBytes int64) error {
	var total int64
	for _, f := range files {
		total += f.Size
	}
	if (maxFiles < 0 || len(files) <= maxFiles) && (maxBytes < 0 || total <= maxBytes) {
		return nil
	}
	if ignoreFile == "" {
		ignoreFile = ".gantryignore"
	}
	return &LimitError{
		Root:       root,
		Files:      len(files),
		Bytes:      total,
		MaxFiles:   maxFiles,
		MaxBytes:   maxBytes,
		Largest:    largest(files, offenders),
		Crowded:    crowded(files, offenders),
		IgnoreFile: ignoreFile,
	}
}

// largest returns the n largest files, largest first, ties by path.
func largest(files []FileSize, n int) []FileSize {
	s := slices.Clone(files)
	slices.SortFunc(s, func(a, b FileSize) int {
		return cmp.Or(cmp.Compare(b.Size, a.Size), cmp.Compare(a.Path, b.Path))
	})
	return s[:min(n, len(s))]
}

// crowded returns up to n directories below the root with the most files
// in their subtrees, most first, ties by path, leaving out a directory
// whose count equals its parent's.
func crowded(files []FileSize, n int) []DirCount {
	counts := make(map[string]int)
	for _, f := range files {
		for d := path.Dir(f.Path); d != "."; d = path.Dir(d) {
			counts[d]++
		}
	}
	var dirs []DirCount
	for d, c := range counts {
		if parent := path.Dir(d); parent != "." && counts[parent] == c {
			continue
		}
		dirs = append(dirs, DirCount{Path: d, Files: c})
	}
	slices.SortFunc(dirs, func(a, b DirCount) int {
		return cmp.Or(cmp.Compare(b.Files, a.Files), cmp.Compare(a.Path, b.Path))
	})
	return dirs[:min(n, len(dirs))]
}

// formatBytes formats n in decimal units: "512 B", "1.5 kB", "300.0 MB".
func formatBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}
