package remote

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestProbeSlurm checks what a probe says of Slurm's tools: on this
// machine's real sbatch when it has no configuration (Debian's slurm-wlm
// without a slurm.conf), and on stand-ins for a working and a half-broken
// login node.
func TestProbeSlurm(t *testing.T) {
	ctx := context.Background()
	t.Run("unconfigured", func(t *testing.T) {
		sbatch, err := exec.LookPath("sbatch")
		if err != nil {
			t.Skip("needs Debian's slurm-wlm (scripts/setup.sh installs it)")
		}
		if os.Getenv("SLURM_CONF") != "" {
			t.Skip("SLURM_CONF is set: Slurm is configured here")
		}
		if out, err := exec.Command(sbatch, "--version").CombinedOutput(); err == nil {
			t.Skipf("sbatch works here (%s): Slurm is configured", bytes.TrimSpace(out))
		}
		var p Probe
		probeSlurm(ctx, &p, sbatch)
		if p.Slurm != "" || len(p.Partitions) != 0 {
			t.Errorf("Slurm %q, partitions %q: want none", p.Slurm, p.Partitions)
		}
		if !strings.HasPrefix(p.SlurmNote, "sbatch is installed but Slurm is not configured here: ") || strings.Contains(p.SlurmNote, "\n") {
			t.Errorf("note %q", p.SlurmNote)
		}
		var b bytes.Buffer
		p.Describe(&b)
		if !strings.Contains(b.String(), "Slurm:   none usable (sbatch is installed but Slurm is not configured here") {
			t.Errorf("Describe:\n%s", b.String())
		}
	})
	for _, tt := range []struct {
		name, sbatch, sinfo string
		slurm, note         string
		partitions          []string
	}{
		{"working", "echo 'slurm 23.02.1'", "echo 'debug* up 3 idle'; echo 'gpu up 1 mix'", "slurm 23.02.1", "", []string{"debug* up 3 idle", "gpu up 1 mix"}},
		{"Debian's version", "echo 'slurm-wlm 22.05.8'", "echo 'debug* up 3 idle'", "slurm-wlm 22.05.8", "", []string{"debug* up 3 idle"}},
		{"sinfo fails", "echo 'slurm 23.02.1'", "echo 'sinfo: error: Unable to contact slurm controller' >&2; echo 'sinfo: fatal: no controller' >&2; exit 1",
			"slurm 23.02.1", "sinfo failed: sinfo: fatal: no controller", nil},
		{"sbatch complains but exits 0", "echo 'sbatch: error: resolve_ctls_from_dns_srv: res_nsearch error: Unknown host' >&2", "exit 0",
			"", "sbatch is installed but Slurm is not configured here: sbatch: error: resolve_ctls_from_dns_srv: res_nsearch error: Unknown host", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			write := func(name, body string) {
				if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			write("sbatch", tt.sbatch)
			write("sinfo", tt.sinfo)
			t.Setenv("PATH", dir+":"+os.Getenv("PATH"))
			var p Probe
			probeSlurm(ctx, &p, filepath.Join(dir, "sbatch"))
			if p.Slurm != tt.slurm || p.SlurmNote != tt.note || strings.Join(p.Partitions, "|") != strings.Join(tt.partitions, "|") {
				t.Errorf("got %q %q %q; want %q %q %q", p.Slurm, p.SlurmNote, p.Partitions, tt.slurm, tt.note, tt.partitions)
			}
		})
	}
}
