#!/usr/bin/env bash
# A private Apache Spark standalone cluster on this machine, from PyPI's
# pyspark (in the venv, pinned in requirements.txt) and Debian's JDK 17, for
# tests, CI, notebooks and development:
#
#   scripts/spark.sh start DIR    # a master and two workers on 127.0.0.1
#   scripts/spark.sh stop DIR     # every process of this instance
#   scripts/spark.sh status DIR   # daemons, and the master's view of workers and apps
#   scripts/spark.sh env DIR      # prints: export SPARK_MASTER_URL=... SPARK_SECRET=...
#   scripts/spark.sh worker DIR N # (re)start worker N (1 or 2) if it is not running
#
# Everything (configuration, the shared secret, logs, pid files, the
# workers' scratch space) lives under DIR. The daemons bind 127.0.0.1 only,
# on ports free at start, written to DIR/cluster.env.
#
# Authentication: the cluster runs with spark.authenticate=true and a shared
# secret made at the first start (DIR/secret, mode 0600). A standalone
# master has no users; whoever knows the secret may run applications, and
# a client that does not know it is refused at its first RPC. Gantry never
# stores the secret: a Spark target names an environment variable that
# holds it (or prompts for it), and hands it to spark-submit through
# Spark's own _SPARK_AUTH_SECRET variable, never on a command line.
#
# Memory is kept small for a shared 2-core machine: 256 MiB per daemon,
# 1 core and 1 GiB per worker.
set -euo pipefail

usage() { echo "usage: $0 start|stop|status|env DIR | worker DIR N" >&2; exit 2; }
[[ $# -ge 2 ]] || usage
cmd=$1
DIR=$(mkdir -p "$2" && cd "$2" && pwd)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${GANTRY_SPARK_PYTHON:-$ROOT/.venv/bin/python}

find_java() {
	if [[ -n ${JAVA_HOME:-} && -x $JAVA_HOME/bin/java ]]; then return; fi
	local d
	for d in /usr/lib/jvm/java-17-openjdk-* /usr/lib/jvm/java-21-openjdk-*; do
		if [[ -x $d/bin/java ]]; then export JAVA_HOME=$d; return; fi
	done
	echo "spark.sh: no JDK 17 or 21 found: install one (apt-get install openjdk-17-jre-headless; scripts/setup.sh does)" >&2
	exit 1
}

find_spark() {
	if [[ ! -x $PY ]]; then
		echo "spark.sh: no Python at $PY: run scripts/setup.sh first (or set GANTRY_SPARK_PYTHON)" >&2
		exit 1
	fi
	SPARK_HOME=$("$PY" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))' 2>/dev/null) || {
		echo "spark.sh: pyspark is not installed in $PY: pip install -r requirements.txt (scripts/setup.sh does)" >&2
		exit 1
	}
	export SPARK_HOME
}

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

running() { [[ -f $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# daemon NAME CLASS ARGS...: start a Spark daemon in the background.
daemon() {
	local name=$1 class=$2
	shift 2
	if running "$DIR/run/$name.pid"; then return; fi
	SPARK_CONF_DIR=$DIR/conf SPARK_LOG_DIR=$DIR/logs SPARK_LOCAL_IP=127.0.0.1 SPARK_DAEMON_MEMORY=256m \
		SPARK_WORKER_DIR=$DIR/work SPARK_NO_DAEMONIZE=1 \
		nohup setsid "$SPARK_HOME/bin/spark-class" "$class" "$@" >"$DIR/logs/$name.out" 2>&1 </dev/null &
	echo $! >"$DIR/run/$name.pid"
}

configure() {
	mkdir -p "$DIR"/{conf,logs,run,work}
	chmod 700 "$DIR/conf"
	if [[ ! -s $DIR/secret ]]; then
		(umask 077 && "$PY" -c 'import secrets; print(secrets.token_hex(24))' >"$DIR/secret")
	fi
	if [[ ! -f $DIR/cluster.env ]]; then
		local mp mw
		mp=$(free_port)
		mw=$(free_port)
		cat >"$DIR/cluster.env" <<EOF
SPARK_MASTER_URL=spark://127.0.0.1:$mp
SPARK_MASTER_PORT=$mp
SPARK_MASTER_WEBUI=http://127.0.0.1:$mw
SPARK_MASTER_WEBUI_PORT=$mw
EOF
	fi
	(umask 077 && cat >"$DIR/conf/spark-defaults.conf" <<EOF
# Written by scripts/spark.sh for the daemons of $DIR.
spark.authenticate          true
spark.authenticate.secret   $(cat "$DIR/secret")
spark.ui.reverseProxy       false
spark.worker.cleanup.enabled true
EOF
	)
}

wait_master() {
	local i
	for i in $(seq 1 240); do
		if "$PY" - "$SPARK_MASTER_WEBUI_PORT" <<'EOF' 2>/dev/null; then return 0; fi
import json, sys, urllib.request
json.load(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/json/", timeout=1))
EOF
		running "$DIR/run/master.pid" || break
		sleep 0.5
	done
	echo "spark.sh: the master did not come up; its log: $DIR/logs/master.out" >&2
	tail -n 20 "$DIR/logs/master.out" >&2 || true
	return 1
}

# alive_workers: how many workers the master lists as ALIVE.
alive_workers() {
	"$PY" - "$SPARK_MASTER_WEBUI_PORT" <<'EOF' 2>/dev/null || echo 0
import json, sys, urllib.request
d = json.load(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/json/", timeout=2))
print(sum(1 for w in d.get("workers", []) if w.get("state") == "ALIVE"))
EOF
}

start_worker() {
	local n=$1
	daemon "worker-$n" org.apache.spark.deploy.worker.Worker --host 127.0.0.1 --port "$(free_port)" \
		--webui-port "$(free_port)" --cores 1 --memory 1g --work-dir "$DIR/work/worker-$n" "$SPARK_MASTER_URL"
}

start() {
	find_java
	find_spark
	configure
	# shellcheck disable=SC1091
	source "$DIR/cluster.env"
	daemon master org.apache.spark.deploy.master.Master --host 127.0.0.1 --port "$SPARK_MASTER_PORT" \
		--webui-port "$SPARK_MASTER_WEBUI_PORT"
	wait_master
	start_worker 1
	start_worker 2
	local i
	for i in $(seq 1 240); do
		if [[ $(alive_workers) -ge 2 ]]; then
			echo "spark.sh: master $SPARK_MASTER_URL (web UI $SPARK_MASTER_WEBUI) with 2 workers; secret in $DIR/secret"
			return 0
		fi
		sleep 0.5
	done
	echo "spark.sh: the workers did not register; logs in $DIR/logs" >&2
	tail -n 20 "$DIR"/logs/worker-*.out >&2 || true
	return 1
}

stop() {
	local f pid
	for f in "$DIR"/run/worker-*.pid "$DIR"/run/master.pid; do
		[[ -f $f ]] || continue
		pid=$(cat "$f")
		# Each daemon leads a session of its own (setsid): its JVM, and the
		# executors a worker started, go with it.
		kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
	done
	for f in "$DIR"/run/worker-*.pid "$DIR"/run/master.pid; do
		[[ -f $f ]] || continue
		pid=$(cat "$f")
		for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
		rm -f "$f"
	done
	echo "spark.sh: stopped the instance in $DIR"
}

status() {
	[[ -f $DIR/cluster.env ]] || { echo "spark.sh: no instance in $DIR (start one with $0 start $DIR)"; return 1; }
	find_spark
	# shellcheck disable=SC1091
	source "$DIR/cluster.env"
	local f ok=0
	for f in "$DIR"/run/*.pid; do
		[[ -f $f ]] || continue
		if running "$f"; then echo "$(basename "$f" .pid): running (pid $(cat "$f"))"; else echo "$(basename "$f" .pid): stopped"; ok=1; fi
	done
	echo "master $SPARK_MASTER_URL: $(alive_workers) workers alive"
	return $ok
}

case $cmd in
start) start ;;
stop) stop ;;
status) status ;;
env)
	[[ -f $DIR/cluster.env ]] || { echo "spark.sh: no instance in $DIR" >&2; exit 1; }
	sed 's/^/export /' "$DIR/cluster.env"
	echo "export SPARK_SECRET=$(cat "$DIR/secret")"
	;;
worker)
	[[ $# -eq 3 ]] || usage
	find_java
	find_spark
	# shellcheck disable=SC1091
	source "$DIR/cluster.env"
	start_worker "$3"
	;;
*) usage ;;
esac
