// Package gpu finds a machine's NVIDIA GPUs with nvidia-smi, samples how
// much of them a run uses, and hands devices out to runs: a run holds an
// flock(2) on one file per device it uses, so two runs never share a
// device, and a device whose run ended, however it ended, is free again.
//
// Everything comes from nvidia-smi's CSV queries (--format=csv): no NVML
// binding, no cgo. A machine without nvidia-smi has no GPUs.
package gpu

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// A Device is one GPU, as nvidia-smi reports it.
type Device struct {
	Index     int    `json:"index" msgpack:"index"`
	UUID      string `json:"uuid" msgpack:"uuid"`
	Name      string `json:"name" msgpack:"name"`
	MemoryMiB int    `json:"memory_mib" msgpack:"memory_mib"`
	Driver    string `json:"driver" msgpack:"driver"`
	// CUDA is the newest CUDA version the driver supports, from the
	// header of nvidia-smi's table ("" if it does not say).
	CUDA string `json:"cuda,omitempty" msgpack:"cuda,omitempty"`
}

func (d Device) String() string {
	s := fmt.Sprintf("GPU %d: %s, %d MiB, driver %s", d.Index, d.Name, d.MemoryMiB, d.Driver)
	if d.CUDA != "" {
		s += ", CUDA " + d.CUDA
	}
	return s
}

// queryFields are the fields Detect asks nvidia-smi for, in order.
const queryFields = "index,uuid,name,memory.total,driver_version"

// queryTimeout bounds one nvidia-smi call: a wedged driver makes it hang.
const queryTimeout = 20 * time.Second

// Detect returns the machine's GPUs: none, and no error, when nvidia-smi is
// not on PATH; an error when it is there and fails (a driver that is
// installed but broken is worth saying).
func Detect(ctx context.Context) ([]Device, error) {
	path, err := exec.LookPath("nvidia-smi")
	if err != nil {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--query-gpu="+queryFields, "--format=csv,noheader,nounits").Output()
	if err != nil {
		return nil, fmt.Errorf("nvidia-smi --query-gpu: %w%s", err, stderrOf(err))
	}
	devs, err := ParseQuery(string(out))
	if err != nil {
		return nil, err
	}
	if len(devs) > 0 {
		if table, err := exec.CommandContext(ctx, path).Output(); err == nil {
			cuda := ParseCUDA(string(table))
			for i := range devs {
				devs[i].CUDA = cuda
			}
		}
	}
	return devs, nil
}

func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) && len(ee.Stderr) > 0 {
		return ": " + strings.TrimSpace(string(ee.Stderr))
	}
	return ""
}

// ParseQuery parses nvidia-smi's answer to --query-gpu=index,uuid,name,
// memory.total,driver_version in CSV, with or without its header line and
// units ("81559 MiB").
func ParseQuery(out string) ([]Device, error) {
	var devs []Device
	err := eachRecord(out, 5, func(f []string) error {
		idx, err := strconv.Atoi(f[0])
		if err != nil {
			return fmt.Errorf("nvidia-smi: GPU index %q: %w", f[0], err)
		}
		mem, err := strconv.Atoi(strings.TrimSuffix(f[3], " MiB"))
		if err != nil {
			return fmt.Errorf("nvidia-smi: memory %q of GPU %d: %w", f[3], idx, err)
		}
		devs = append(devs, Device{Index: idx, UUID: f[1], Name: f[2], MemoryMiB: mem, Driver: f[4]})
		return nil
	})
	return devs, err
}

// eachRecord calls fn with the fields of each record of nvidia-smi's CSV
// answer out (its header line, if any, skipped), which must have n.
func eachRecord(out string, n int, fn func(fields []string) error) error {
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "index,") {
			continue
		}
		f := splitCSV(line)
		if len(f) != n {
			return fmt.Errorf("nvidia-smi: a line with %d fields, not the %d asked for: %q", len(f), n, line)
		}
		if err := fn(f); err != nil {
			return err
		}
	}
	return sc.Err()
}

// splitCSV splits a line of nvidia-smi's CSV, whose fields hold no commas
// and are separated by ", ".
func splitCSV(line string) []string {
	f := strings.Split(line, ",")
	for i := range f {
		f[i] = strings.TrimSpace(f[i])
	}
	return f
}

var cudaVersion = regexp.MustCompile(`CUDA Version:\s*([0-9][0-9.]*)`)

// ParseCUDA returns the CUDA version in the header of nvidia-smi's table
// ("| NVIDIA-SMI 580.65.06  Driver Version: 580.65.06  CUDA Version: 13.0 |"),
// or "".
func ParseCUDA(table string) string {
	if m := cudaVersion.FindStringSubmatch(table); m != nil {
		return m[1]
	}
	return ""
}

// Usage is how busy one GPU is now.
type Usage struct {
	Index         int
	UtilPercent   float64 // utilization.gpu
	MemoryUsedMiB float64 // memory.used
}

// Sample asks nvidia-smi how busy the GPUs of the given indices are.
func Sample(ctx context.Context, indices []int) ([]Usage, error) {
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	ids := make([]string, len(indices))
	for i, n := range indices {
		ids[i] = strconv.Itoa(n)
	}
	out, err := exec.CommandContext(ctx, "nvidia-smi", "--query-gpu=index,utilization.gpu,memory.used",
		"--format=csv,noheader,nounits", "-i", strings.Join(ids, ",")).Output()
	if err != nil {
		return nil, fmt.Errorf("nvidia-smi --query-gpu=utilization.gpu: %w%s", err, stderrOf(err))
	}
	return ParseUsage(string(out))
}

// ParseUsage parses nvidia-smi's answer to --query-gpu=index,
// utilization.gpu,memory.used in CSV.
func ParseUsage(out string) ([]Usage, error) {
	var us []Usage
	err := eachRecord(out, 3, func(f []string) error {
		idx, err := strconv.Atoi(f[0])
		if err != nil {
			return fmt.Errorf("nvidia-smi: GPU index %q: %w", f[0], err)
		}
		util, err := strconv.ParseFloat(strings.TrimSuffix(f[1], " %"), 64)
		if err != nil {
			return fmt.Errorf("nvidia-smi: utilization %q of GPU %d: %w", f[1], idx, err)
		}
		mem, err := strconv.ParseFloat(strings.TrimSuffix(f[2], " MiB"), 64)
		if err != nil {
			return fmt.Errorf("nvidia-smi: memory used %q of GPU %d: %w", f[2], idx, err)
		}
		us = append(us, Usage{Index: idx, UtilPercent: util, MemoryUsedMiB: mem})
		return nil
	})
	return us, err
}
