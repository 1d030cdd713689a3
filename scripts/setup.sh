#!/usr/bin/env bash
# Set up a Gantry checkout: system packages, the Python venv, the kernel
# binary and its kernelspec. Idempotent: run it as often as you like; every
# step that is already done is skipped (the Go build is incremental).
#
#   scripts/setup.sh            # everything
#   SKIP_APT=1 scripts/setup.sh # never call apt-get (just report what's missing)
#
# Result:
#   .venv/                                     Python env (requirements.txt)
#   bin/gantry                                 the kernel
#   .venv/share/jupyter/kernels/gantry/        kernelspec, found by .venv/bin/jupyter
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV=${VENV:-$ROOT/.venv}
PY=${PYTHON:-python3}

say() { printf '[setup] %s\n' "$*"; }

# --- 1. system packages -----------------------------------------------------
missing=()
if ! command -v "$PY" >/dev/null 2>&1; then missing+=(python3); fi
# `python3 -m venv` needs ensurepip (Debian ships it in python3-venv).
if command -v "$PY" >/dev/null 2>&1 && ! "$PY" -c 'import ensurepip, venv' >/dev/null 2>&1; then
    missing+=(python3-venv)
fi
# go-sqlite3 (history) needs cgo, which needs a C compiler.
if ! command -v gcc >/dev/null 2>&1; then missing+=(gcc libc6-dev); fi
if ! command -v make >/dev/null 2>&1; then missing+=(make); fi
# Real peers for the remote targets' tests: an OpenSSH server (the "remote
# VM") and a Slurm cluster with munge and slurmrestd (the managed cluster).
if [[ ! -x /usr/sbin/sshd ]]; then missing+=(openssh-server); fi
if ! command -v slurmctld >/dev/null 2>&1 || ! command -v slurmd >/dev/null 2>&1; then missing+=(slurm-wlm); fi
if ! command -v slurmrestd >/dev/null 2>&1; then missing+=(slurmrestd); fi
if ! command -v munged >/dev/null 2>&1; then missing+=(munge); fi
# A JDK for Spark 4 (scripts/spark.sh, Spark targets): 17 or newer.
if ! ls /usr/lib/jvm/java-1[7-9]-openjdk-*/bin/java /usr/lib/jvm/java-2[0-9]-openjdk-*/bin/java >/dev/null 2>&1; then
    missing+=(openjdk-17-jre-headless)
fi
# pkill, which scripts/sshd.sh uses to drop and stop the server's sessions.
if ! command -v pkill >/dev/null 2>&1; then missing+=(procps); fi
if ((${#missing[@]})); then
    if [[ -n "${SKIP_APT:-}" ]]; then
        say "missing system packages: ${missing[*]} (SKIP_APT set, not installing)"
        exit 1
    fi
    if [[ $(id -u) -ne 0 ]] && command -v sudo >/dev/null 2>&1; then SUDO=sudo; else SUDO=; fi
    say "installing system packages: ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
    say "system packages: ok (python3, venv, gcc, make, sshd, slurm, munge present)"
fi

# --- 2. Go toolchain ------------------------------------------------------------
if ! command -v go >/dev/null 2>&1; then
    for d in /usr/local/go/bin "$HOME/go/bin" /usr/lib/go/bin; do
        if [[ -x $d/go ]]; then export PATH=$d:$PATH; break; fi
    done
fi
if ! command -v go >/dev/null 2>&1; then
    say "ERROR: no Go toolchain on PATH; install Go $(sed -n 's/^go //p' go.mod) or newer"
    exit 1
fi
say "go: $(go version)"

# --- 3. Python venv -------------------------------------------------------------
if [[ ! -x $VENV/bin/python ]]; then
    say "creating venv $VENV"
    "$PY" -m venv "$VENV"
else
    say "venv: $VENV exists"
fi
stamp=$VENV/.requirements.sha256
want=$(sha256sum requirements.txt | cut -d' ' -f1)
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
    say "pip install -r requirements.txt"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r requirements.txt
    echo "$want" >"$stamp"
else
    say "python packages: up to date with requirements.txt"
fi

# --- 4. the kernel binary -------------------------------------------------------
say "go build -o bin/gantry ./cmd/gantry"
mkdir -p bin
CGO_ENABLED=${CGO_ENABLED:-1} go build -o bin/gantry ./cmd/gantry

# --- 5. kernelspec into the venv ------------------------------------------------
say "installing kernelspec 'gantry' into $VENV"
VIRTUAL_ENV=$VENV "$ROOT/bin/gantry" install --sys-prefix
"$VENV/bin/jupyter" kernelspec list 2>/dev/null | sed 's/^/[setup]   /' || true
say "done: activate with 'source .venv/bin/activate'; run 'make demo' or 'make test'"
