package slurm

import (
	"fmt"
	"sort"
	"strings"
)

// A Size is a VM size: what one node of a cluster has.
type Size struct {
	Name     string `json:"name"`
	CPUs     int    `json:"cpus"`
	MemoryMB int    `json:"memory_mb"`
	GPUs     int    `json:"gpus,omitempty"` // declared to Slurm as gres gpu:N
}

// check reports what is wrong with s.
func (s Size) check() error {
	switch {
	case s.Name == "":
		return fmt.Errorf("VM size has no name")
	case strings.ContainsAny(s.Name, " \t\n=#"):
		return fmt.Errorf("VM size %q: the name has a space, '=' or '#'", s.Name)
	case s.CPUs < 1:
		return fmt.Errorf("VM size %q: %d CPUs: a size needs at least 1", s.Name, s.CPUs)
	case s.MemoryMB < 1:
		return fmt.Errorf("VM size %q: %d MB of memory: a size needs some", s.Name, s.MemoryMB)
	case s.GPUs < 0:
		return fmt.Errorf("VM size %q: %d GPUs: use 0 for none", s.Name, s.GPUs)
	}
	return nil
}

// A Catalogue holds the VM sizes clusters can be made of, by name
// (looked up regardless of case).
type Catalogue map[string]Size

// DefaultCatalogue returns a new catalogue of the standard sizes; add your
// own with Add.
func DefaultCatalogue() Catalogue {
	c := Catalogue{}
	for _, s := range []Size{
		{Name: "STANDARD_D1_V2", CPUs: 1, MemoryMB: 3584},
		{Name: "STANDARD_D2_V2", CPUs: 2, MemoryMB: 7168},
		{Name: "STANDARD_D3_V2", CPUs: 4, MemoryMB: 14336},
		{Name: "STANDARD_D4_V2", CPUs: 8, MemoryMB: 28672},
		{Name: "STANDARD_NC6", CPUs: 6, MemoryMB: 57344, GPUs: 1},
		{Name: "STANDARD_NC12", CPUs: 12, MemoryMB: 114688, GPUs: 2},
		{Name: "STANDARD_NC24", CPUs: 24, MemoryMB: 229376, GPUs: 4},
	} {
		c[strings.ToUpper(s.Name)] = s
	}
	return c
}

// Add puts s in the catalogue, replacing a size of the same name.
func (c Catalogue) Add(s Size) error {
	if err := s.check(); err != nil {
		return err
	}
	c[strings.ToUpper(s.Name)] = s
	return nil
}

// Lookup returns the size called name.
func (c Catalogue) Lookup(name string) (Size, error) {
	if s, ok := c[strings.ToUpper(name)]; ok {
		return s, nil
	}
	names := make([]string, 0, len(c))
	for _, s := range c {
		names = append(names, s.Name)
	}
	sort.Strings(names)
	return Size{}, fmt.Errorf("unknown VM size %q: use one of %s, or add yours to the catalogue", name, strings.Join(names, ", "))
}
