package agent

// GPUs for a run. On the local and SSH targets the agent leases the
// devices a run asks for (GPUCount) from the machine, a flock per device
// under the target's directory, holding the run in Queued while too few
// are free; the script sees them through CUDA_VISIBLE_DEVICES, a run that
// asks for none sees none, and a Docker run gets them with --gpus. Under
// Slurm, Slurm gives the job its devices (--gres=gpu:N) and sets
// CUDA_VISIBLE_DEVICES itself. While the script runs, the agent samples
// the utilisation and memory of its devices into the metrics gpu_util (%,
// the mean over the devices) and gpu_mem (MiB, the sum).

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"gantry/sdk/gpu"
	"gantry/sdk/workspace"
)

// gpuSampleEvery is how often a run's GPUs are sampled.
const gpuSampleEvery = 5 * time.Second

// gpuPlan is what the agent does about GPUs for the script.
type gpuPlan struct {
	env     *string // CUDA_VISIBLE_DEVICES for the script; nil: leave it as it is
	indices []int   // the devices the run uses, to sample and to give Docker
	lease   *gpu.Lease
}

func (p gpuPlan) release() { p.lease.Release() }

// planGPUs finds the run's devices, waiting in Queued until enough are
// free; it fails when the machine cannot ever satisfy the request.
func (a *agent) planGPUs(ctx context.Context) (gpuPlan, error) {
	n := a.job.GPUCount
	if underSlurm() {
		return gpuPlan{indices: gpu.ParseVisible(os.Getenv("CUDA_VISIBLE_DEVICES"))}, nil
	}
	devs, err := gpu.Detect(ctx)
	if err != nil {
		if n == 0 {
			a.logger.Printf("GPUs: %v", err)
			return gpuPlan{}, nil
		}
		return gpuPlan{}, fmt.Errorf("the run asks for %d GPUs, and this machine's nvidia-smi fails: %w", n, err)
	}
	if n == 0 {
		if len(devs) == 0 {
			return gpuPlan{}, nil
		}
		none := "" // GPUs are leased: a run that asked for none must not take one another run holds
		return gpuPlan{env: &none}, nil
	}
	if n > len(devs) {
		have := "no GPUs (no nvidia-smi here)"
		if len(devs) > 0 {
			have = fmt.Sprintf("%d GPUs (%s)", len(devs), devs[0].Name)
		}
		return gpuPlan{}, fmt.Errorf("the run asks for %d GPUs, and target %s has %s: ask for at most %d, or submit to a target with more",
			n, a.job.Target, have, len(devs))
	}
	dir := filepath.Join(a.paths.SlotsDir, a.job.Target, "gpus")
	logged := false
	for {
		lease, err := gpu.TryLease(dir, devs, n)
		if err != nil {
			return gpuPlan{}, err
		}
		if lease != nil {
			v := lease.Visible()
			a.logger.Printf("GPUs: holding %s", v)
			return gpuPlan{env: &v, indices: lease.Indices(), lease: lease}, nil
		}
		if !logged {
			a.logger.Printf("queued: %d of the machine's %d GPUs asked for, not that many free", n, len(devs))
			logged = true
		}
		if a.canceled(ctx) {
			return gpuPlan{}, fmt.Errorf("canceled while queued")
		}
		select {
		case <-ctx.Done():
			return gpuPlan{}, fmt.Errorf("the agent was stopped while the run waited for GPUs")
		case <-time.After(a.set.CancelPoll):
		}
	}
}

// sampleGPUs records the run's GPU use every gpuSampleEvery until ctx
// ends.
func (a *agent) sampleGPUs(ctx context.Context, indices []int) {
	if len(indices) == 0 {
		return
	}
	t := time.NewTicker(gpuSampleEvery)
	defer t.Stop()
	step := int64(0)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		us, err := gpu.Sample(ctx, indices)
		if err != nil || len(us) == 0 {
			if ctx.Err() == nil {
				a.logger.Printf("sample GPUs %v: %v", indices, err)
			}
			continue
		}
		var util, mem float64
		for _, u := range us {
			util += u.UtilPercent
			mem += u.MemoryUsedMiB
		}
		now := time.Now()
		ms := []workspace.Metric{
			{Name: "gpu_util", Step: step, Value: util / float64(len(us)), Time: now},
			{Name: "gpu_mem", Step: step, Value: mem, Time: now},
		}
		if err := a.rec.LogMetrics(context.WithoutCancel(ctx), a.job.RunID, ms); err != nil {
			a.logger.Printf("record GPU use: %v", err)
		}
		step++
	}
}
