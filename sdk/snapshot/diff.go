package snapshot

import (
	"cmp"
	"fmt"
	"slices"
)

// A ChangeKind says how an entry differs between two manifests.
type ChangeKind int

// The kinds of change that Diff reports.
const (
	Added ChangeKind = iota + 1
	Removed
	Modified
)

func (k ChangeKind) String() string {
	switch k {
	case Added:
		return "added"
	case Removed:
		return "removed"
	case Modified:
		return "modified"
	}
	return fmt.Sprintf("ChangeKind(%d)", int(k))
}

// A Change is one entry that differs between two manifests.
type Change struct {
	Path string
	Kind ChangeKind
	// OldSize and NewSize are the entry's sizes before and after; OldSize
	// is 0 for an added entry and NewSize for a removed one.
	OldSize, NewSize int64
}

func (c Change) String() string {
	switch c.Kind {
	case Added:
		return fmt.Sprintf("added    %s (%s)", c.Path, formatBytes(c.NewSize))
	case Removed:
		return fmt.Sprintf("removed  %s (%s)", c.Path, formatBytes(c.OldSize))
	}
	return fmt.Sprintf("modified %s (%s -> %s)", c.Path, formatBytes(c.OldSize), formatBytes(c.NewSize))
}

// Diff returns the entries added, removed or modified from a to b, sorted
// by path. An entry is modified when its content, mode, or symlink target
// differs, or when it changed between file and symlink. A nil manifest is
// an empty one.
func Diff(a, b *Manifest) []Change {
	ea, eb := sortedEntries(a), sortedEntries(b)
	var changes []Change
	i, j := 0, 0
	for i < len(ea) || j < len(eb) {
		switch {
		case j == len(eb) || (i < len(ea) && ea[i].Path < eb[j].Path):
			changes = append(changes, Change{Path: ea[i].Path, Kind: Removed, OldSize: ea[i].Size})
			i++
		case i == len(ea) || eb[j].Path < ea[i].Path:
			changes = append(changes, Change{Path: eb[j].Path, Kind: Added, NewSize: eb[j].Size})
			j++
		default:
			x, y := ea[i], eb[j]
			if x.SHA256 != y.SHA256 || x.Mode != y.Mode || x.Link != y.Link || x.Size != y.Size {
				changes = append(changes, Change{Path: x.Path, Kind: Modified, OldSize: x.Size, NewSize: y.Size})
			}
			i++
			j++
		}
	}
	return changes
}

// sortedEntries returns m's entries sorted by path, copying them only if
// they are not sorted already.
func sortedEntries(m *Manifest) []Entry {
	if m == nil {
		return nil
	}
	byPath := func(x, y Entry) int { return cmp.Compare(x.Path, y.Path) }
	if slices.IsSortedFunc(m.Entries, byPath) {
		return m.Entries
	}
	s := slices.Clone(m.Entries)
	slices.SortStableFunc(s, byPath)
	return s
}
