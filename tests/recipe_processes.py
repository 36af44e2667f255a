"""Run a recipe script in a fresh Python process: one process, or several under torchrun
(gloo on CPU), as a user would launch it."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_recipe_process(recipe, argv, *, processes=1, cwd=REPO, timeout=900):
    launcher = [sys.executable]
    if processes > 1:
        launcher += ["-m", "torch.distributed.run", "--nproc_per_node", str(processes)]
    script = str(REPO / "recipes" / f"{recipe}.py")
    return subprocess.run(
        [*launcher, script, *argv], capture_output=True, text=True, cwd=cwd, timeout=timeout
    )
