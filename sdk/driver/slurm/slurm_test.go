package slurm

import (
	"strings"
	"testing"
)

func TestClassifyNode(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want NodeState
	}{
		{"idle~", PoweredDown},
		{"idle#", Booting},
		{"allocated#", Booting},
		{"idle", Idle},
		{"allocated", Busy},
		{"mixed", Busy},
		{"completing", Busy},
		{"draining", Draining},
		{"drained", Draining},
		{"idle%", PoweringDown},
		{"idle!", PoweringDown},
		{"down*", Down},
		{"down~", PoweredDown},
		{"IDLE", Idle},
	} {
		if got := ClassifyNode(tc.in); got != tc.want {
			t.Errorf("ClassifyNode(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestConfigCheck(t *testing.T) {
	size := DefaultCatalogue()["STANDARD_D1_V2"]
	ok := Config{Pool: "c1", VMSize: size, MinNodes: 0, MaxNodes: 2, VMPriority: Dedicated}
	for _, tc := range []struct {
		name    string
		edit    func(*Config)
		wantErr string
	}{
		{"valid", func(c *Config) {}, ""},
		{"lowpriority", func(c *Config) { c.VMPriority = LowPriority }, ""},
		{"bad priority", func(c *Config) { c.VMPriority = "spot" }, "vm_priority"},
		{"max below 1", func(c *Config) { c.MaxNodes = 0 }, "max_nodes is 0"},
		{"min above max", func(c *Config) { c.MinNodes = 3 }, "min_nodes (3) is more than max_nodes (2)"},
		{"negative min", func(c *Config) { c.MinNodes = -1 }, "min_nodes is -1"},
		{"negative idle", func(c *Config) { c.IdleSecondsBeforeScaledown = -5 }, "idle_seconds_before_scaledown is -5"},
		{"too many", func(c *Config) { c.MaxNodes = 65 }, "at most 64"},
		{"no size", func(c *Config) { c.VMSize = Size{} }, "no name"},
		{"bad pool", func(c *Config) { c.Pool = "a_b" }, "pool name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			err := c.Check()
			if tc.wantErr == "" && err != nil {
				t.Fatalf("Check: %v", err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("Check = %v, want an error with %q", err, tc.wantErr)
			}
		})
	}
}

func TestCatalogue(t *testing.T) {
	c := DefaultCatalogue()
	if s, err := c.Lookup("standard_nc6"); err != nil || s.GPUs != 1 {
		t.Fatalf("Lookup(standard_nc6) = %+v, %v", s, err)
	}
	if _, err := c.Lookup("huge"); err == nil || !strings.Contains(err.Error(), "STANDARD_D1_V2") {
		t.Fatalf("Lookup(huge) = %v, want an error that lists the sizes", err)
	}
	if err := c.Add(Size{Name: "tiny", CPUs: 1, MemoryMB: 256}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Lookup("TINY"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []Size{{Name: "x", CPUs: 0, MemoryMB: 1}, {Name: "x", CPUs: 1}, {Name: "a b", CPUs: 1, MemoryMB: 1}, {Name: "g", CPUs: 1, MemoryMB: 1, GPUs: -1}} {
		if err := c.Add(bad); err == nil {
			t.Errorf("Add(%+v) accepted a bad size", bad)
		}
	}
	if _, ok := DefaultCatalogue()["TINY"]; ok {
		t.Fatal("Add changed the default catalogue")
	}
}

func TestGenerateConf(t *testing.T) {
	pools := []Pool{
		{Name: "gpu", Size: Size{Name: "NC6", CPUs: 6, MemoryMB: 1000, GPUs: 1}, MinNodes: 1, MaxNodes: 2, IdleSeconds: 30, PortBlock: 1},
		{Name: "cpu", Size: Size{Name: "D1", CPUs: 1, MemoryMB: 500}, MinNodes: 0, MaxNodes: 1, IdleSeconds: 120},
	}
	conf := GenerateConf(pools, 30000)
	for _, want := range []string{
		"NodeName=cpu-1 NodeHostname=localhost NodeAddr=127.0.0.1 Port=30000 CPUs=1 RealMemory=500 State=CLOUD\n",
		"NodeName=gpu-1 NodeHostname=localhost NodeAddr=127.0.0.1 Port=30064 CPUs=6 RealMemory=1000 Gres=gpu:1 State=CLOUD\n",
		"NodeName=gpu-2 NodeHostname=localhost NodeAddr=127.0.0.1 Port=30065 ",
		"PartitionName=cpu Nodes=cpu-1 OverSubscribe=EXCLUSIVE MaxTime=INFINITE SuspendTime=120 State=UP PriorityTier=10 PreemptMode=OFF\n",
		"PartitionName=gpu_low Nodes=gpu-[1-2] OverSubscribe=EXCLUSIVE MaxTime=INFINITE SuspendTime=30 State=UP PriorityTier=1 PreemptMode=REQUEUE\n",
		"SuspendExcNodes=gpu-[1-2]:1\n",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("conf lacks %q:\n%s", want, conf)
		}
	}
	if strings.Index(conf, "cpu-1") > strings.Index(conf, "gpu-1") {
		t.Error("pools are not in name order")
	}
	if strings.Contains(GenerateConf(pools[1:], 30000), "SuspendExcNodes") {
		t.Error("SuspendExcNodes without a pool that keeps nodes up")
	}
	if nodeSet(conf) == nodeSet(GenerateConf(pools[1:], 30000)) {
		t.Error("nodeSet misses a removed pool")
	}
	p := pools[0]
	p.IdleSeconds = 99
	if nodeSet(conf) != nodeSet(GenerateConf([]Pool{p, pools[1]}, 30000)) {
		t.Error("nodeSet changes with the idle time")
	}
	if freeBlock(pools) != 2 || freeBlock(nil) != 0 || freeBlock(pools[:1]) != 0 {
		t.Error("freeBlock")
	}
}

func TestBatchScript(t *testing.T) {
	one := BatchScript("/bin/gantry", "/ws", "r1", 1, false)
	if !strings.Contains(one, "exec '/bin/gantry' agent --workspace '/ws' --run 'r1'\n") || strings.Contains(one, "srun") || strings.Contains(one, "REQUEUE") {
		t.Errorf("one node:\n%s", one)
	}
	two := BatchScript("/bin/gantry", "/w s'x", "r1", 2, true)
	for _, want := range []string{"GANTRY_SLURM_REQUEUE=1", "exec srun --ntasks-per-node=1", "GANTRY_NODE_RANK=$SLURM_PROCID", "GANTRY_MASTER_ADDR", "GANTRY_MASTER_PORT", `'\''`} {
		if !strings.Contains(two, want) {
			t.Errorf("two nodes lacks %q:\n%s", want, two)
		}
	}
	args := strings.Join(SbatchArgs(Config{Pool: "c1", VMPriority: LowPriority}, "r1", "/runs/r1", 2, "/runs/r1/s.sh"), " ")
	for _, want := range []string{"--partition=c1_low", "--requeue", "--nodes=2", "--job-name=gantry-r1", "--exclusive"} {
		if !strings.Contains(args, want) {
			t.Errorf("sbatch args lack %q: %s", want, args)
		}
	}
	if a := strings.Join(SbatchArgs(Config{Pool: "c1", VMPriority: Dedicated}, "r1", "/r", 1, "/s"), " "); !strings.Contains(a, "--partition=c1 ") || !strings.Contains(a, "--no-requeue") {
		t.Errorf("dedicated sbatch args: %s", a)
	}
}

func TestParseNodes(t *testing.T) {
	ns := parseNodes("c-1|idle~\nc-2|allocated\n\n")
	if len(ns) != 2 || ns[0].State != PoweredDown || ns[1].State != Busy || ns[1].Name != "c-2" {
		t.Fatalf("parseNodes = %+v", ns)
	}
}

func TestGenerateGres(t *testing.T) {
	pools := []Pool{
		{Name: "gpu", Size: Size{Name: "NC12", CPUs: 12, MemoryMB: 1000, GPUs: 2}, MaxNodes: 3},
		{Name: "cpu", Size: Size{Name: "D1", CPUs: 1, MemoryMB: 1000}, MaxNodes: 2},
	}
	got := GenerateGres(pools, "/srv/dev/gpu%d")
	want := "# Gantry managed clusters' GPUs: written by Gantry from clusters.d; do not edit.\n" +
		"NodeName=gpu-[1-3] Name=gpu File=/srv/dev/gpu0\n" +
		"NodeName=gpu-[1-3] Name=gpu File=/srv/dev/gpu1\n"
	if got != want {
		t.Errorf("GenerateGres =\n%s\nwant\n%s", got, want)
	}
	c := Config{Pool: "cpu", VMSize: pools[1].Size}
	if err := c.CheckGPUs(1, nil); err == nil || !strings.Contains(err.Error(), "STANDARD_NC6 (1 GPUs)") {
		t.Errorf("CheckGPUs on a CPU cluster: %v", err)
	}
	if err := (Config{Pool: "gpu", VMSize: pools[0].Size}).CheckGPUs(2, nil); err != nil {
		t.Errorf("CheckGPUs(2) on 2-GPU nodes: %v", err)
	}
}
