package gpu_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"gantry/internal/gantrytest"
	"gantry/sdk/gpu"
)

func TestParseQuery(t *testing.T) {
	for _, tc := range []struct {
		name, out string
		want      []gpu.Device
	}{
		{"noheader nounits", "0, GPU-aa, NVIDIA H100 80GB HBM3, 81559, 580.65.06\n1, GPU-bb, NVIDIA H100 80GB HBM3, 81559, 580.65.06\n",
			[]gpu.Device{{0, "GPU-aa", "NVIDIA H100 80GB HBM3", 81559, "580.65.06", ""}, {1, "GPU-bb", "NVIDIA H100 80GB HBM3", 81559, "580.65.06", ""}}},
		{"header and units", "index, uuid, name, memory.total [MiB], driver_version\n0, GPU-cc, NVIDIA L40S, 46068 MiB, 580.178.04\n",
			[]gpu.Device{{0, "GPU-cc", "NVIDIA L40S", 46068, "580.178.04", ""}}},
		{"none", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := gpu.ParseQuery(tc.out)
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ParseQuery = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
	for _, bad := range []string{"0, GPU-aa, NVIDIA H100\n", "x, GPU-aa, H100, 1, 2\n", "0, GPU-aa, H100, lots, 2\n"} {
		if _, err := gpu.ParseQuery(bad); err == nil {
			t.Errorf("ParseQuery(%q) took it", bad)
		}
	}
}

func TestParseCUDAAndUsage(t *testing.T) {
	table := "| NVIDIA-SMI 580.65.06              Driver Version: 580.65.06      CUDA Version: 13.0     |\n"
	if got := gpu.ParseCUDA(table); got != "13.0" {
		t.Errorf("ParseCUDA = %q", got)
	}
	if got := gpu.ParseCUDA("no table"); got != "" {
		t.Errorf("ParseCUDA of nothing = %q", got)
	}
	us, err := gpu.ParseUsage("0, 97, 70123\n1, 3 %, 512 MiB\n")
	want := []gpu.Usage{{0, 97, 70123}, {1, 3, 512}}
	if err != nil || !reflect.DeepEqual(us, want) {
		t.Errorf("ParseUsage = %+v, %v", us, err)
	}
}

// Detect and Sample against the stand-in nvidia-smi, and nothing without
// one.
func TestDetectAndSample(t *testing.T) {
	path := os.Getenv("PATH")
	t.Setenv("PATH", t.TempDir())
	if devs, err := gpu.Detect(context.Background()); err != nil || devs != nil {
		t.Fatalf("without nvidia-smi: %v %v", devs, err)
	}
	t.Setenv("PATH", path)
	util := gantrytest.FakeGPUs(t, 2)
	devs, err := gpu.Detect(context.Background())
	if err != nil || len(devs) != 2 || devs[1].Name != "NVIDIA H100 80GB HBM3" || devs[1].CUDA != "12.4" || devs[1].MemoryMiB != 81559 {
		t.Fatalf("Detect = %+v, %v", devs, err)
	}
	os.WriteFile(filepath.Join(util, "1"), []byte("42"), 0o600)
	us, err := gpu.Sample(context.Background(), []int{1})
	if err != nil || len(us) != 1 || us[0].UtilPercent != 42 {
		t.Fatalf("Sample = %+v, %v", us, err)
	}
}

func TestLeases(t *testing.T) {
	dir := t.TempDir()
	devs := []gpu.Device{{Index: 0}, {Index: 1}, {Index: 2}}
	a, err := gpu.TryLease(dir, devs, 2)
	if err != nil || a == nil || a.Visible() != "0,1" {
		t.Fatalf("first lease: %+v %v", a, err)
	}
	if b, err := gpu.TryLease(dir, devs, 2); err != nil || b != nil {
		t.Fatalf("two of three taken, a second lease of 2 got %+v %v", b, err)
	}
	c, err := gpu.TryLease(dir, devs, 1)
	if err != nil || c == nil || c.Visible() != "2" {
		t.Fatalf("the third device: %+v %v", c, err)
	}
	a.Release()
	b, err := gpu.TryLease(dir, devs, 2)
	if err != nil || b == nil || b.Visible() != "0,1" {
		t.Fatalf("after release: %+v %v", b, err)
	}
	if _, err := gpu.TryLease(dir, devs, 4); err == nil {
		t.Error("a lease of more devices than exist was taken")
	}
	if got := gpu.ParseVisible("0, 2,GPU-aa"); !reflect.DeepEqual(got, []int{0, 2}) {
		t.Errorf("ParseVisible = %v", got)
	}
}
