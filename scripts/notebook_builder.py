"""What the notebook generators (make_remote_notebook.py,
make_cluster_notebook.py) share: notebook 01's training script, and a
builder that collects cells and writes a Gantry notebook."""
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TRAINING = json.load(open(ROOT / "notebooks" / "01-local-training.ipynb"))


def train_py() -> str:
    """The %%writefile training/train.py cell of notebook 01."""
    return "".join(TRAINING["cells"][8]["source"])


class Notebook:
    def __init__(self):
        self.cells = []

    def md(self, s):
        self.cells.append({"cell_type": "markdown", "metadata": {}, "source": s.strip("\n")})

    def code(self, s):
        self.cells.append({"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": s.strip("\n")})

    def write(self, name):
        """Writes notebooks/NAME with notebook 01's metadata (the Gantry kernel)."""
        nb = {"cells": self.cells, "metadata": TRAINING["metadata"], "nbformat": 4, "nbformat_minor": 5}
        for i, c in enumerate(nb["cells"]):
            c["id"] = f"cell-{i:02d}"
        (ROOT / "notebooks" / name).write_text(json.dumps(nb, indent=1) + "\n")
        print(f"wrote notebooks/{name}")
