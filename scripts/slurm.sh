#!/usr/bin/env bash
# A private Slurm cluster on this machine, from Debian's packages (slurm-wlm,
# munge), for tests, CI, notebooks and development:
#
#   scripts/slurm.sh start DIR    # munged + slurmctld; nodes boot on demand
#   scripts/slurm.sh stop DIR     # every process of this instance, then gone
#   scripts/slurm.sh status DIR   # daemons and sinfo
#   scripts/slurm.sh env DIR      # prints: export SLURM_CONF=...
#
# Everything (config, munge key and socket, state, spool, logs, pid files)
# lives under DIR. Ports are derived from DIR, so several instances can run
# side by side. Gantry finds the instance through $GANTRY_SLURM_DIR=DIR (or
# the managed cluster's slurm_dir).
#
# Nodes are CLOUD nodes, defined by Gantry in DIR/etc/clusters.conf (this
# script writes an empty one). Slurm's ResumeProgram/SuspendProgram call the
# node provider DIR/bin/provider (GANTRY_NODE_PROVIDER, default "local":
# a `slurmd -b -N NODE` process of this machine that starts after
# GANTRY_BOOT_DELAY seconds, default 2). A cloud provider implements the
# same two verbs: `provider resume HOSTLIST` creates the machines and makes
# their slurmd register; `provider suspend HOSTLIST` deletes them.
#
# Settings follow ../shared/docs/findings-slurm-ssh.md.
set -euo pipefail

usage() { echo "usage: $0 start|stop|status|env DIR" >&2; exit 2; }
[[ $# -eq 2 ]] || usage
cmd=$1
DIR=$(mkdir -p "$2" && cd "$2" && pwd)
CONF=$DIR/etc/slurm.conf
export SLURM_CONF=$CONF
export PATH=$PATH:/usr/sbin:/sbin
MUNGE_SOCKET=$DIR/munge/socket

need() {
	local missing=()
	for p in munged mungekey slurmctld slurmd sbatch scontrol; do
		command -v "$p" >/dev/null 2>&1 || [[ -x /usr/sbin/$p ]] || missing+=("$p")
	done
	if ((${#missing[@]})); then
		echo "slurm.sh: ${missing[*]} not found: install Slurm and munge (apt-get install slurm-wlm munge)" >&2
		exit 1
	fi
}

# ports: a block of 200 derived from DIR; slurmctld at the base, node slurmds
# from base+10 (Gantry gives each cluster its own block of 64). All below
# Linux's ephemeral range (32768 up): a port there can be held by any
# outgoing connection (sbatch, squeue, ssh), and a slurmd that cannot bind
# its port never registers, so its jobs end NODE_FAIL.
port_base() {
	local h
	h=$(printf '%s' "$DIR" | cksum | cut -d' ' -f1)
	echo $((20000 + (h % 55) * 200))
}

write_conf() {
	local base host
	base=$(port_base)
	host=$(hostname -s)
	mkdir -p "$DIR"/{etc,state,spool,log,run,bin,munge}
	chmod 700 "$DIR/munge"
	echo $((base + 10)) >"$DIR/etc/node_port_base"
	[[ -f $DIR/etc/clusters.conf ]] || echo "# Gantry managed clusters: written by Gantry" >"$DIR/etc/clusters.conf"
	[[ -f $DIR/etc/gres.conf ]] || echo "# Gantry managed clusters' GPUs: written by Gantry" >"$DIR/etc/gres.conf"
	# The nodes of this instance are processes of this machine, which has
	# no GPU: GPU sizes get stand-in devices (character devices like
	# /dev/null, which Slurm accepts as gres files) so Slurm hands them out
	# and sets CUDA_VISIBLE_DEVICES as it would for real ones.
	if [[ $(id -u) -eq 0 ]]; then
		mkdir -p "$DIR/dev"
		for i in 0 1 2 3 4 5 6 7; do
			[[ -e $DIR/dev/gpu$i ]] || mknod "$DIR/dev/gpu$i" c 1 3
		done
		echo "$DIR/dev/gpu%d" >"$DIR/etc/gpu_devices"
	fi
	cat >"$CONF" <<EOF
# Written by scripts/slurm.sh for the instance in $DIR.
ClusterName=gantry
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$base
SlurmdPort=$((base + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCKET,cred_expire=10
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool/%n
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd-%n.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/log/jobcomp.txt
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
# Node sizes are what Gantry declares, not what this machine has.
SlurmdParameters=config_overrides
GresTypes=gpu
MpiDefault=none
SwitchType=switch/none
SchedulerParameters=batch_sched_delay=0,sched_interval=2,bf_interval=1
SlurmdTimeout=10
KillWait=15
MinJobAge=300
PreemptType=preempt/partition_prio
PreemptMode=REQUEUE
# Power saving: CLOUD nodes booted and stopped by the node provider.
ResumeProgram=$DIR/bin/resume
SuspendProgram=$DIR/bin/suspend
PrologSlurmctld=$DIR/bin/prolog
ResumeTimeout=60
SuspendTimeout=5
ResumeRate=0
SuspendRate=0
SuspendTime=INFINITE
SlurmctldParameters=power_save_interval=1,idle_on_node_suspend
PrivateData=cloud
TreeWidth=65533
# slurmctld needs a node and a partition even before Gantry defines clusters.
NodeName=gantry-none NodeHostname=localhost NodeAddr=127.0.0.1 Port=$((base + 2)) State=FUTURE
PartitionName=gantry-none Nodes=gantry-none State=INACTIVE Hidden=YES Default=YES
Include $DIR/etc/clusters.conf
EOF
	write_programs
}

# write_programs writes the ResumeProgram, SuspendProgram and
# PrologSlurmctld, and the node provider they call.
write_programs() {
	local provider=${GANTRY_NODE_PROVIDER:-local} delay=${GANTRY_BOOT_DELAY:-2}
	local here
	here=$(cd "$(dirname "$0")" && pwd)
	cat >"$DIR/bin/resume" <<EOF
#!/bin/sh
export SLURM_CONF=$CONF
exec $DIR/bin/provider resume "\$1" >>$DIR/log/provider.log 2>&1
EOF
	cat >"$DIR/bin/suspend" <<EOF
#!/bin/sh
export SLURM_CONF=$CONF
exec $DIR/bin/provider suspend "\$1" >>$DIR/log/provider.log 2>&1
EOF
	# PrologSlurmctld: hold the job until its resumed nodes have registered,
	# so it starts at once rather than on slurmctld's 30 s timer.
	cat >"$DIR/bin/prolog" <<EOF
#!/bin/sh
export SLURM_CONF=$CONF
i=0
while [ \$i -lt 600 ]; do
	if ! scontrol show node "\$SLURM_JOB_NODELIST" 2>/dev/null | grep -q 'State=[^ ]*\(POWERING_UP\|NOT_RESPONDING\|POWERED_DOWN\)'; then
		exit 0
	fi
	sleep 0.1
	i=\$((i + 1))
done
exit 0
EOF
	case $provider in
	local)
		sed -e "s|@DIR@|$DIR|g" -e "s|@DELAY@|$delay|g" -e "s|@SLURMD@|$(command -v slurmd || echo /usr/sbin/slurmd)|g" "$here/slurm-provider-local.sh" >"$DIR/bin/provider"
		;;
	*)
		# Any program that implements `resume HOSTLIST` and `suspend HOSTLIST`.
		cp "$provider" "$DIR/bin/provider"
		;;
	esac
	chmod 755 "$DIR/bin/resume" "$DIR/bin/suspend" "$DIR/bin/prolog" "$DIR/bin/provider"
}

# pids_of_instance lists every process whose environment names this
# instance's slurm.conf: the daemons, job steps and the jobs' processes.
pids_of_instance() {
	local f p
	for f in $(grep -lzxF "SLURM_CONF=$CONF" /proc/[0-9]*/environ 2>/dev/null); do
		p=${f#/proc/}
		p=${p%/environ}
		[[ $p == "$$" || $p == "$BASHPID" ]] || echo "$p"
	done
}

pid_alive() { [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null; }

start() {
	need
	if [[ -f $DIR/run/slurmctld.pid ]] && pid_alive "$(cat "$DIR/run/slurmctld.pid")"; then
		echo "slurm.sh: already running in $DIR" >&2
		return 0
	fi
	write_conf
	# munge: a key and a daemon of our own.
	[[ -f $DIR/munge/key ]] || mungekey --create --keyfile="$DIR/munge/key" >/dev/null 2>&1 || mungekey -c -k "$DIR/munge/key"
	chmod 600 "$DIR/munge/key"
	munged --socket="$MUNGE_SOCKET" --key-file="$DIR/munge/key" --log-file="$DIR/log/munged.log" \
		--pid-file="$DIR/run/munged.pid" --seed-file="$DIR/munge/seed" --force
	local i
	for i in $(seq 100); do
		munge -S "$MUNGE_SOCKET" -n 2>/dev/null | unmunge -S "$MUNGE_SOCKET" >/dev/null 2>&1 && break
		sleep 0.05
	done
	# slurmctld; -i ignores state it cannot recover (a fresh DIR has none).
	slurmctld -f "$CONF" -i
	for i in $(seq 200); do
		scontrol ping 2>/dev/null | grep -q UP && break
		sleep 0.05
	done
	if ! scontrol ping 2>/dev/null | grep -q UP; then
		echo "slurm.sh: slurmctld did not come up; see $DIR/log/slurmctld.log" >&2
		grep -E 'fatal|error' "$DIR/log/slurmctld.log" | tail -3 >&2 || true
		stop >/dev/null
		exit 1
	fi
	echo "slurm.sh: Slurm up in $DIR (SLURM_CONF=$CONF)"
}

stop() {
	[[ -f $CONF ]] || { echo "slurm.sh: no instance in $DIR"; return 0; }
	if [[ -f $DIR/run/slurmctld.pid ]] && pid_alive "$(cat "$DIR/run/slurmctld.pid")"; then
		scancel --full $(squeue -h -o %i 2>/dev/null) 2>/dev/null || true
	fi
	local pids i
	pids=$(pids_of_instance)
	[[ -n $pids ]] && kill -TERM $pids 2>/dev/null || true
	for i in $(seq 100); do
		pids=$(pids_of_instance)
		[[ -z $pids ]] && break
		sleep 0.05
	done
	pids=$(pids_of_instance)
	[[ -n $pids ]] && kill -KILL $pids 2>/dev/null || true
	# munged has SLURM_CONF in its environment too; its pid file makes sure.
	if [[ -f $DIR/run/munged.pid ]] && pid_alive "$(cat "$DIR/run/munged.pid")"; then
		kill -TERM "$(cat "$DIR/run/munged.pid")" 2>/dev/null || true
	fi
	rm -f "$DIR"/run/*.pid
	echo "slurm.sh: stopped $DIR"
}

status() {
	local f
	for f in "$DIR"/run/*.pid; do
		[[ -e $f ]] || continue
		if pid_alive "$(cat "$f")"; then echo "$(basename "$f" .pid): running (pid $(cat "$f"))"; else echo "$(basename "$f" .pid): not running"; fi
	done
	if scontrol ping 2>/dev/null | grep -q UP; then
		sinfo -N -o '%N %P %T' 2>/dev/null || true
		squeue 2>/dev/null || true
	else
		echo "slurmctld: not answering"
		return 1
	fi
}

case $cmd in
start) start ;;
stop) stop ;;
status) status ;;
env) echo "export SLURM_CONF=$CONF GANTRY_SLURM_DIR=$DIR" ;;
*) usage ;;
esac
