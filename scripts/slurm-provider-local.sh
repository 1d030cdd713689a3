#!/bin/sh
# The `local` node provider, installed by scripts/slurm.sh as DIR/bin/provider
# (@DIR@ and @DELAY@ are filled in there). Slurm's ResumeProgram and
# SuspendProgram call it:
#
#   provider resume HOSTLIST    boot the nodes: after a simulated boot delay,
#                               start `slurmd -b -N NODE` on this machine
#   provider suspend HOSTLIST   stop the nodes' slurmd
#
# A cloud provider (an Azure VM scale set, EC2) implements the same two
# verbs: resume creates one VM per node from an image whose slurmd is
# configured with the node's name (and `scontrol update nodename=NODE
# nodeaddr=IP` once the VM has an address); suspend deletes the VMs. It must
# return quickly and do the slow part in the background, as here.
DIR=@DIR@
DELAY=${GANTRY_BOOT_DELAY:-@DELAY@}
export SLURM_CONF=$DIR/etc/slurm.conf
export PATH=$PATH:/usr/sbin:/usr/bin:/sbin:/bin
SLURMD=@SLURMD@
verb=$1
nodes=$(scontrol show hostnames "$2")
for node in $nodes; do
	case $verb in
	resume)
		echo "$(date '+%F %T.%N') resume $node (boot delay ${DELAY}s)"
		# Programs run by slurmctld inherit a blocked signal mask; a slurmd
		# started with it would ignore SIGTERM. Clear it before exec.
		(sleep "$DELAY"; exec python3 -c 'import os, signal, sys
signal.pthread_sigmask(signal.SIG_SETMASK, [])
for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(s, signal.SIG_DFL)
os.execv(sys.argv[3], [sys.argv[3], "-f", sys.argv[1], "-b", "-N", sys.argv[2]])' "$SLURM_CONF" "$node" "$SLURMD") \
			</dev/null >>"$DIR/log/provider.log" 2>&1 &
		;;
	suspend)
		echo "$(date '+%F %T.%N') suspend $node"
		pidf=$DIR/run/slurmd-$node.pid
		if [ -f "$pidf" ]; then kill -TERM "$(cat "$pidf")" 2>/dev/null; fi
		;;
	*)
		echo "usage: provider resume|suspend HOSTLIST" >&2
		exit 2
		;;
	esac
done
exit 0
