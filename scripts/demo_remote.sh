#!/usr/bin/env bash
# Run notebooks/02-remote-vm.ipynb against a real OpenSSH server on
# 127.0.0.1 (scripts/sshd.sh), stopped again at the end.
#
#   scripts/demo_remote.sh [OUT_DIR]     (make demo-remote calls it)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT=${1:-build/notebooks}
PY=${PY:-$ROOT/.venv/bin/python}
SSHD_DIR=$ROOT/build/sshd
port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
scripts/sshd.sh start "$SSHD_DIR" "$port" >/dev/null
trap 'scripts/sshd.sh stop "$SSHD_DIR"' EXIT
export GANTRY_SSH_ADDRESS=127.0.0.1 GANTRY_SSH_PORT=$port GANTRY_SSH_USER=$(id -un)
export GANTRY_SSH_KEY=$SSHD_DIR/id_ed25519 GANTRY_SSH_KNOWN_HOSTS=$SSHD_DIR/known_hosts
export GANTRY_SSH_REMOTE_ROOT=$SSHD_DIR/remote-root
export GANTRY_PYTHON=$PY GANTRY_WORKSPACE=
echo "sshd on 127.0.0.1:$port (keys and log in $SSHD_DIR)"
"$PY" scripts/run_notebook.py --out "$OUT" notebooks/02-remote-vm.ipynb
