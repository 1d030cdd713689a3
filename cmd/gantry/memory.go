package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// executorMemory returns the executor's address-space limit: the value of
// GANTRY_EXECUTOR_MEMORY ("512MiB", "4GiB", "0" for none), or by default
// half of the machine's memory, at least 2 GiB.
func executorMemory() (int64, string, error) {
	v := strings.TrimSpace(os.Getenv("GANTRY_EXECUTOR_MEMORY"))
	if v == "" {
		total := physicalMemory()
		n := total / 2
		if n < 2<<30 {
			n = 2 << 30
		}
		return n, formatBytes(n), nil
	}
	n, err := parseBytes(v)
	if err != nil {
		return 0, "", fmt.Errorf("GANTRY_EXECUTOR_MEMORY=%q: %w (write it like 512MiB, 4GiB or 0 for no limit)", v, err)
	}
	if n == 0 {
		return 0, "no limit", nil
	}
	if n < 256<<20 {
		return 0, "", fmt.Errorf("GANTRY_EXECUTOR_MEMORY=%q: at least 256MiB is needed to start the interpreter", v)
	}
	return n, formatBytes(n), nil
}

func parseBytes(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("not a size")
	}
	return int64(f * float64(mult)), nil
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n >= 1<<30:
		return fmt.Sprintf("%.1fGiB", float64(n)/(1<<30))
	default:
		return fmt.Sprintf("%dMiB", n>>20)
	}
}

// physicalMemory reads MemTotal from /proc/meminfo; 8 GiB when unknown.
func physicalMemory() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 8 << 30
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 8 << 30
}
