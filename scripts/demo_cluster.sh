#!/usr/bin/env bash
# Run notebooks/03-cluster.ipynb against a private Slurm on this machine
# (scripts/slurm.sh in build/slurm, started afresh and stopped at the end).
#
#   scripts/demo_cluster.sh [OUT_DIR]     (make demo-cluster calls it)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT=${1:-build/notebooks}
PY=${PY:-$ROOT/.venv/bin/python}
SLURM_DIR=$ROOT/build/slurm
scripts/slurm.sh stop "$SLURM_DIR" >/dev/null 2>&1 || true
rm -rf "$SLURM_DIR" # a fresh instance: no clusters left from an earlier demo
scripts/slurm.sh start "$SLURM_DIR" >/dev/null
trap 'scripts/slurm.sh stop "$SLURM_DIR"' EXIT
export GANTRY_SLURM_DIR=$SLURM_DIR GANTRY_PYTHON=$PY GANTRY_WORKSPACE=
echo "Slurm in $SLURM_DIR (logs in $SLURM_DIR/log)"
"$PY" scripts/run_notebook.py --out "$OUT" notebooks/03-cluster.ipynb
