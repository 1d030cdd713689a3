package gpu

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// A Lease is the devices a run holds: an exclusive flock on dir/gpu-N.lock
// for each, dropped by the kernel when the holder exits.
type Lease struct {
	Devices []Device
	files   []*os.File
}

// Visible returns the value of CUDA_VISIBLE_DEVICES for the lease: the
// devices' indices, comma-separated ("" for none).
func (l *Lease) Visible() string {
	if l == nil {
		return ""
	}
	ids := make([]string, len(l.Devices))
	for i, d := range l.Devices {
		ids[i] = strconv.Itoa(d.Index)
	}
	return strings.Join(ids, ",")
}

// Indices returns the devices' indices.
func (l *Lease) Indices() []int {
	if l == nil {
		return nil
	}
	ids := make([]int, len(l.Devices))
	for i, d := range l.Devices {
		ids[i] = d.Index
	}
	return ids
}

// Release gives the devices back.
func (l *Lease) Release() {
	if l == nil {
		return
	}
	for _, f := range l.files {
		f.Close()
	}
	l.files = nil
}

// TryLease takes n of devices, all or none, without waiting: the lowest
// indices free in dir (created if need be). It returns nil and no error
// when fewer than n are free now.
func TryLease(dir string, devices []Device, n int) (*Lease, error) {
	if n <= 0 {
		return &Lease{}, nil
	}
	if n > len(devices) {
		return nil, fmt.Errorf("%d GPUs asked for, and the machine has %d", n, len(devices))
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("GPU locks: %w", err)
	}
	l := &Lease{}
	for _, d := range devices {
		if len(l.Devices) == n {
			break
		}
		f, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("gpu-%d.lock", d.Index)), os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			l.Release()
			return nil, fmt.Errorf("GPU %d lock: %w", d.Index, err)
		}
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			continue
		}
		if err != nil {
			f.Close()
			l.Release()
			return nil, fmt.Errorf("GPU %d lock: %w", d.Index, err)
		}
		l.Devices = append(l.Devices, d)
		l.files = append(l.files, f)
	}
	if len(l.Devices) < n {
		l.Release()
		return nil, nil
	}
	return l, nil
}

// ParseVisible parses a CUDA_VISIBLE_DEVICES value of device indices
// ("0,2"); entries that are not indices (UUIDs, MIG names) are skipped.
func ParseVisible(v string) []int {
	var ids []int
	for _, s := range strings.Split(v, ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil {
			ids = append(ids, n)
		}
	}
	return ids
}
