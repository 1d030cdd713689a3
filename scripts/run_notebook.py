#!/usr/bin/env python3
"""Execute notebooks with nbclient on their own kernel and save the results.

    scripts/run_notebook.py [--out DIR] [--timeout S] NOTEBOOK...

Each notebook runs with its working directory set to its own folder; the
executed copy is written to DIR (default build/notebooks). Exits non-zero on
the first cell error (cells tagged raises-exception may fail).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("notebooks", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, default=Path("build/notebooks"))
    ap.add_argument("--timeout", type=int, default=300, help="per cell, seconds")
    ap.add_argument("--kernel", help="kernel name (default: the notebook's kernelspec)")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for path in args.notebooks:
        nb = nbformat.read(path, as_version=4)
        kernel = args.kernel or nb.metadata.get("kernelspec", {}).get("name", "gantry")
        # Each notebook runs in its own directory under --out, so what it
        # writes (scripts, its .gantry workspace) stays out of the checkout.
        workdir = args.out / path.stem
        workdir.mkdir(parents=True, exist_ok=True)
        client = NotebookClient(nb, kernel_name=kernel, timeout=args.timeout, startup_timeout=60,
                                allow_errors=False,
                                resources={"metadata": {"path": str(workdir.resolve())}})
        out = args.out / path.name
        t0 = time.monotonic()
        try:
            client.execute()
        except CellExecutionError as e:
            nbformat.write(nb, out)
            print(f"FAILED {path} (kernel {kernel}); partial output in {out}\n{e}", file=sys.stderr)
            return 1
        nbformat.write(nb, out)
        n = sum(1 for c in nb.cells if c.cell_type == "code")
        print(f"ok  {path}: {n} code cells on kernel {kernel} in {time.monotonic() - t0:.1f}s -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
