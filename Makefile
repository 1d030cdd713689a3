# Gantry: `make demo` runs the tour notebook, `make test` runs every test.
SHELL := /bin/bash
VENV  ?= .venv
PY    := $(VENV)/bin/python
BUILD ?= build
GO    ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
PYTEST_ARGS ?=

.PHONY: all setup build ui demo demo-remote demo-cluster test go-test py-test go-next-test ui-test bench bench-sdk bench-ssh bench-slurm bench-faults bench-pipeline bench-ui bench-nb conformance clean

all: test

# apt packages if missing, .venv from requirements.txt, bin/gantry, kernelspec in .venv.
setup:
	scripts/setup.sh

build:
	$(GO) build -o bin/gantry ./cmd/gantry

# The JupyterLab panel and the page of gantry ui (TypeScript, npm), which
# go build embeds: build them before building gantry.
ui:
	cd ui && npm ci --no-audit --no-fund --loglevel=error && \
		JUPYTERLAB_STAGING="$$($(abspath $(PY)) -c 'import jupyterlab, os; print(os.path.join(os.path.dirname(jupyterlab.__file__), "staging"))')" npm run build

# Execute the tour notebook on the gantry kernel; the executed copy goes to $(BUILD)/notebooks.
# The kernel tour, then the training workflow on the local target with the
# notebook's own .gantry workspace (under $(BUILD)/notebooks/01-local-training/);
# scripts run with the venv's python, which has scikit-learn.
demo: setup
	GANTRY_PYTHON="$(abspath $(PY))" GANTRY_WORKSPACE= $(PY) scripts/run_notebook.py --out $(BUILD)/notebooks \
		notebooks/00-kernel-tour.ipynb notebooks/01-local-training.ipynb

# The same training script on an SSH target: a real sshd on 127.0.0.1
# (scripts/sshd.sh) stands in for the remote machine.
demo-remote: setup
	scripts/demo_remote.sh $(BUILD)/notebooks

# Managed clusters: a private Slurm on this machine (scripts/slurm.sh in
# build/slurm) whose nodes boot on demand, scale from zero and back.
demo-cluster: setup
	scripts/demo_cluster.sh $(BUILD)/notebooks

# One Spark standalone cluster (scripts/spark.sh) serves every package's
# tests ($GANTRY_SPARK_DIR) and is stopped at the end.
test: setup
	@scripts/spark.sh start $(BUILD)/spark
	@GANTRY_SPARK_DIR="$(abspath $(BUILD)/spark)" $(MAKE) --no-print-directory -k go-test py-test go-next-test ui-test; \
		rc=$$?; scripts/spark.sh stop $(BUILD)/spark; exit $$rc

# The Slurm tests run agents with the binary setup built (else they build one).
go-test:
	GANTRY_AGENT_BINARY="$(CURDIR)/bin/gantry" $(GO) test -count=1 ./...

py-test:
	$(PY) -m pytest $(PYTEST_ARGS) tests/

# The newest Go too: the standard library tables and the kernel built by
# $(GO_NEXT) (fetched from the Go module proxy on first use) into
# $(BUILD)/$(GO_NEXT), then the protocol (jupyter_kernel_test too), standard
# library and conformance subset tests against that kernel.
GO_NEXT ?= go1.27.3
go-next-test:
	GOTOOLCHAIN=$(GO_NEXT) $(GO) test -count=1 ./kernel/gostd/...
	GOTOOLCHAIN=$(GO_NEXT) $(GO) build -o $(BUILD)/$(GO_NEXT)/gantry ./cmd/gantry
	GANTRY_BIN="$(abspath $(BUILD)/$(GO_NEXT)/gantry)" $(PY) -m pytest $(PYTEST_ARGS) \
		tests/test_protocol.py tests/test_conformance.py tests/test_stdlib.py tests/test_conformance_subset.py

# The panel, the run card and gantry ui in headless Chromium (playwright-core)
# against a real JupyterLab and Notebook 7; screenshots in $(BUILD)/ui.
ui-test:
	GANTRY_VENV="$(abspath $(VENV))" GANTRY_BINARY="$(CURDIR)/bin/gantry" UI_SHOTS="$(abspath $(BUILD))/ui" \
		node --test ui/test/ui.test.mjs

# Gantry and ipykernel side by side; writes bench/results/latest.md.
bench: setup
	$(PY) bench/bench.py

# The training SDK on the local target (submit latency, snapshot, metric
# ingestion, output latency); writes bench/results/sdk.md.
bench-sdk: build
	PATH="$(CURDIR)/bin:$$PATH" $(GO) run ./bench/sdkbench -python "$(abspath $(PY))" -out bench/results/sdk.md

# The SSH target against a real sshd: submit -> started beside ssh -S,
# resubmit bytes, log latency; writes bench/results/ssh.md.
bench-ssh: build
	PATH="$(CURDIR)/bin:$$PATH" $(GO) run ./bench/sshbench -python "$(abspath $(PY))" -out bench/results/ssh.md

# Managed clusters on a private Slurm (scripts/slurm.sh) beside raw sbatch:
# submit -> RUNNING, scale-up from zero, throughput; writes bench/results/slurm.md.
bench-slurm: build
	PATH="$(CURDIR)/bin:$$PATH" $(GO) run ./bench/slurmbench -python "$(abspath $(PY))" -out bench/results/slurm.md

# The panel's API, its first paint and its latencies with 10,000 runs and
# 1,000,000 metric points; writes bench/results/ui.md.
bench-ui: setup
	GANTRY_VENV="$(abspath $(VENV))" GANTRY_BINARY="$(CURDIR)/bin/gantry" \
		node ui/bench/bench.mjs --out bench/results/ui.md

# Notebook runs against script runs doing the same work on the local target,
# and gantry nbrun against papermill; writes bench/results/nb.md.
bench-nb: setup
	PATH="$(CURDIR)/bin:$$PATH" $(GO) run ./bench/nbbench -python "$(abspath $(PY))" -out bench/results/nb.md

# Kill kernels, agents, submitters and sshd at random moments of 100 runs
# (local and SSH targets) and count runs lost or stranded, lines lost and
# duplicates; writes bench/results/faults.md.
bench-faults: setup
	$(PY) bench/faults.py --runs 100

# Pipelines on the local target beside submits by hand (a chain of 10
# steps, a fully reused pipeline); writes bench/results/pipeline.md.
bench-pipeline: build
	GANTRY_AGENT_BINARY="$(CURDIR)/bin/gantry" $(GO) run ./bench/pipelinebench -out bench/results/pipeline.md

# Go's own run programs (GOROOT/test) through the kernel beside the yaegi
# v0.16.1 CLI; writes bench/results/conformance.md and .json. ~10 minutes.
conformance: build
	$(PY) bench/conformance/conformance.py

clean:
	rm -rf bin $(BUILD) bench/results .pytest_cache
