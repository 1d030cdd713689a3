package lower

import (
	"sort"
	"strings"
)

// An edit replaces src[from:to] with text; from == to inserts.
type edit struct {
	from, to int
	text     string
	seq      int // order among edits at one offset
}

// An editor collects edits to one source text. Edits must not overlap,
// except insertions, which keep the order they were made in.
type editor struct {
	src   string
	edits []*edit
}

func (e *editor) replace(from, to int, text string) *edit {
	ed := &edit{from: from, to: to, text: text, seq: len(e.edits)}
	e.edits = append(e.edits, ed)
	return ed
}

func (e *editor) insert(at int, text string) *edit { return e.replace(at, at, text) }

// A span says that out[Out:Out+N] came from src[In:In+N] (N == 0 for
// generated text, which maps to In).
type span struct{ Out, In, N int }

// apply returns the edited text and where each part of it came from.
func (e *editor) apply() (string, []span) {
	edits := append([]*edit(nil), e.edits...)
	sort.SliceStable(edits, func(i, j int) bool {
		a, b := edits[i], edits[j]
		if a.from != b.from {
			return a.from < b.from
		}
		// Insertions before a replacement starting at the same offset.
		if (a.from == a.to) != (b.from == b.to) {
			return a.from == a.to
		}
		return a.seq < b.seq
	})
	var b strings.Builder
	var spans []span
	at := 0
	for _, ed := range edits {
		if ed.from < at {
			continue // overlaps an earlier edit: dropped
		}
		if ed.from > at {
			spans = append(spans, span{Out: b.Len(), In: at, N: ed.from - at})
			b.WriteString(e.src[at:ed.from])
		}
		spans = append(spans, span{Out: b.Len(), In: ed.from})
		b.WriteString(ed.text)
		at = ed.to
	}
	if at < len(e.src) {
		spans = append(spans, span{Out: b.Len(), In: at, N: len(e.src) - at})
		b.WriteString(e.src[at:])
	}
	return b.String(), spans
}

// origin maps an offset in edited text back to the source.
func origin(spans []span, off int) int {
	i := sort.Search(len(spans), func(i int) bool { return spans[i].Out > off }) - 1
	if i < 0 {
		return off
	}
	s := spans[i]
	if off-s.Out < s.N {
		return s.In + off - s.Out
	}
	return s.In + s.N
}

// lineCol returns the offset of a 1-based line and column in src.
func offsetOf(src string, line, col int) int {
	off := 0
	for l := 1; l < line; l++ {
		i := strings.IndexByte(src[off:], '\n')
		if i < 0 {
			return len(src)
		}
		off += i + 1
	}
	return min(off+col-1, len(src))
}

// lineColOf returns the 1-based line and column of an offset in src.
func lineColOf(src string, off int) (int, int) {
	off = min(max(off, 0), len(src))
	line := strings.Count(src[:off], "\n") + 1
	return line, off - strings.LastIndexByte(src[:off], '\n')
}
