"""`latent-lab init task NAME` in a temporary copy of the repository: the new task trains
(results.json), builds (`latent-lab build NAME`) and passes its own test, unchanged; a bad or
taken name is one line, exit 2, nothing written."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from latent_lab.cli import main as cli_main

REPO = Path(__file__).resolve().parents[1]
COPIED = ("latent_lab", "data_builders", "recipes", "pyproject.toml", "tests/conftest.py")


@pytest.fixture(scope="module")
def repo_copy(tmp_path_factory):
    root = tmp_path_factory.mktemp("repo")
    for name in COPIED:
        source, target = REPO / name, root / name
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, target)
    return root


def run(root: Path, *argv: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root), "LATENT_LAB_DATA_CACHE": str(root / ".cache")}
    env.pop("LATENT_LAB_RECIPES", None)
    return subprocess.run([sys.executable, *argv], cwd=root, env=env, capture_output=True,
                          text=True, timeout=600)  # fmt: skip


def test_new_task_trains_builds_and_passes_its_own_test(repo_copy):
    cli = ["-c", "import sys; from latent_lab.cli import main; sys.exit(main(sys.argv[1:]))"]
    made = run(repo_copy, *cli, "init", "task", "toy")
    assert made.returncode == 0, made.stderr[-2000:]
    files = json.loads(made.stdout.strip().splitlines()[-1])["files"]
    assert len(files) == 9 and all(Path(f).is_file() for f in files)
    trained = run(repo_copy, "recipes/toy.py", "--config", "quick", "--max_steps", "3",
                  "--output_dir", str(repo_copy / "run"))  # fmt: skip
    assert trained.returncode == 0, trained.stderr[-2000:]
    results = json.loads((repo_copy / "run" / "results.json").read_text())
    assert results["task"] == "toy" and results["reference"]["reference_loss"] > 0
    built = run(repo_copy, *cli, "build", "toy", "--output-dir", str(repo_copy / "data"))
    assert built.returncode == 0, built.stderr[-2000:]
    assert json.loads(built.stdout.strip().splitlines()[-1])["splits"]["train"] == 2000
    tested = run(repo_copy, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_toy.py")
    assert tested.returncode == 0, tested.stdout[-2000:]


@pytest.mark.parametrize("name", ["Bad-Name", "gssm", "class", "task"])
def test_bad_or_taken_task_names_are_refused(name, tmp_path, capsys):
    assert cli_main(["init", "task", name, "--dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "NAME" in err[0]
    assert list(tmp_path.iterdir()) == []
