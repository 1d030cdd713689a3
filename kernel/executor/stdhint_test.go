package executor

import (
	"strings"
	"testing"
)

func TestStdHint(t *testing.T) {
	cases := []struct {
		msg, want string // want: a substring of the hinted message; "" for unchanged
	}{
		{`cell[3]:2:5: package unsafe "unsafe" has no symbol Slice`, "convert to an array pointer"},
		{`cell[3]:2:6: undefined selector math/rand/v2.N`, "rand.N is generic"},
		{`cell[3]:2:6: undefined selector: sync.OnceValue`, "use sync.Once"},
		{`cell[3]:2:6: undefined selector: strings.NoSuchThing`, ""},
		{`cell[3]:1:1: undefined: x`, ""},
	}
	for _, c := range cases {
		got := stdHint(c.msg)
		if c.want == "" {
			if got != c.msg {
				t.Errorf("stdHint(%q) = %q, want it unchanged", c.msg, got)
			}
			continue
		}
		if !strings.HasPrefix(got, c.msg) || !strings.Contains(got, c.want) {
			t.Errorf("stdHint(%q) = %q, want the message followed by %q", c.msg, got, c.want)
		}
	}
}
