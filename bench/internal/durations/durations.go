// Package durations summarises timings for the benchmark programs.
package durations

import (
	"slices"
	"time"
)

// Median returns the median of d (0 for none).
func Median(d []time.Duration) time.Duration { return Pct(d, 50) }

// Pct returns the p-th percentile of d by the nearest-rank method (0 for
// none).
func Pct(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[max(0, min(len(s)-1, i-1))]
}
