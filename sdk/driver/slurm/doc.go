// Package slurm is the driver of managed clusters: compute targets that
// run on a Slurm cluster whose nodes are booted when runs need them and
// stopped when they have been idle, the way cloud HPC offerings autoscale
// Slurm.
//
// A Slurm instance is a directory (scripts/slurm.sh start DIR makes one on
// this machine): DIR/etc/slurm.conf includes DIR/etc/clusters.conf, which
// this package writes from one JSON file per managed cluster in
// DIR/etc/clusters.d. Each cluster NAME has CLOUD nodes name-1 ...
// name-MaxNodes of its VM size, and two partitions over them: NAME
// (dedicated, PriorityTier=10) and NAME-low (low priority, PriorityTier=1,
// PreemptMode=REQUEUE), so dedicated runs preempt low-priority ones, which
// Slurm requeues. Slurm's ResumeProgram and SuspendProgram call the
// instance's node provider to boot and stop nodes.
//
// A run's batch script runs `gantry agent` on the cluster's nodes; the
// workspace directory must be on a filesystem the nodes share. The agent
// records the run's states, exit code and restarts: Slurm's own job
// records are short-lived and its job IDs repeat after a controller
// restart, so a job ID is only a handle, never a key.
package slurm
