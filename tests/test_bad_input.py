"""Bad input, everywhere (DESIGN.md, "Contract other tools rely on"): every user mistake in
tests/bad_input_cases.py, across every `latent-lab` subcommand and every recipe, run as a user
would (its own working folder, a fresh interpreter), gives exit code 2, exactly one stderr line
naming the field, no traceback, and nothing new or changed on disk.

The cases share one interpreter (tests/bad_input_driver.py: the heavy imports once); a few run
as real processes: the console script, a recipe, and Ctrl-C during training. Ctrl-C in a recipe
exits 130 (128 + SIGINT, as shells and schedulers expect; 2 stays "fix your input") with one
last line naming the newest complete checkpoint and `--resume true`, or saying there is none.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from bad_input_cases import CASES as FIRST_CASES  # noqa: E402
from bad_input_commands import CASES as MORE_CASES  # noqa: E402
from bad_input_fixtures import prepare, unlock  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DRIVER = Path(__file__).with_name("bad_input_driver.py")
CASES = FIRST_CASES + MORE_CASES
BY_ID = {case.id: case for case in CASES}


def snapshot(folder: Path) -> dict:
    """Every path under folder with its kind, mode, size, modification time and content."""
    state = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = Path(root) / name
            info = path.lstat()
            digest = hashlib.sha256(path.read_bytes()).hexdigest() if name in files else None
            state[str(path.relative_to(folder))] = (
                info.st_mode,
                info.st_size,
                info.st_mtime_ns,
                digest,
            )
    return state


def is_unwritable(folder: Path) -> bool:
    probe = folder / "RO"
    probe.mkdir(exist_ok=True)
    probe.chmod(0o500)
    try:
        return not os.access(probe, os.W_OK)
    finally:
        probe.chmod(0o755)
        probe.rmdir()


def test_environment(tmp_path: Path) -> dict:
    """The driver's environment: offline, and the datasets cache outside every case folder (a
    cache hit may still take a lock file there)."""
    cache = tmp_path / "cache"
    return {
        **os.environ,
        "LATENT_LAB_DATA_CACHE": str(cache / "datasets"),
        "HF_DATASETS_CACHE": str(cache / "datasets"),
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "WANDB_MODE": "offline",
        "WANDB_DIR": str(cache),
        "PYTHONDONTWRITEBYTECODE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }


test_environment.__test__ = False  # a helper, not a test


@pytest.fixture(scope="module")
def outcomes(request, tmp_path_factory) -> dict:
    """Run every selected case once (one driver process); id -> (result, before, after)."""
    selected = {  # only the cases pytest was asked for (-k, a node id)
        item.callspec.params["case_id"]
        for item in request.session.items
        if hasattr(item, "callspec") and "case_id" in item.callspec.params
    }
    root = tmp_path_factory.mktemp("bad_input")
    writable_ro = not is_unwritable(root)
    cases, before = [], {}
    for case in CASES:
        if case.id not in selected or (case.unwritable and writable_ro):
            continue
        folder = root / "cases" / case.id
        prepare(folder, case.setup)
        before[case.id] = snapshot(folder)
        cases.append({**asdict(case), "cwd": str(folder)})
    cases_file, results_file = root / "cases.json", root / "results.json"
    cases_file.write_text(json.dumps(cases))
    driver = subprocess.run(
        [sys.executable, str(DRIVER), str(cases_file), str(results_file)],
        env=test_environment(root),
        cwd=root,
        timeout=600,
    )
    done = json.loads(results_file.read_text()) if results_file.is_file() else []
    results = {result["id"]: result for result in done}
    found = {}
    for case in cases:  # a case the driver never finished fails on its own
        folder = Path(case["cwd"])
        result = results.get(case["id"], {"code": f"driver exit {driver.returncode}", "stderr": ""})
        found[case["id"]] = (result, before[case["id"]], snapshot(folder), folder)
    yield found
    unlock(root)


CASE_PARAMS = list(BY_ID)


@pytest.mark.parametrize("case_id", CASE_PARAMS)
def test_bad_input(case_id: str, outcomes: dict):
    case = BY_ID[case_id]
    if case_id not in outcomes:
        pytest.skip("RO/ stays writable here (root): an unwritable folder cannot be made")
    result, before, after, folder = outcomes[case_id]
    where = f"`{' '.join(case.argv)}` in {folder}"
    assert "Traceback" not in result["stderr"], f"{where}:\n{result['stderr'][-3000:]}"
    assert result["code"] == case.code, f"{where}: exit {result['code']}\n{result['stderr']}"
    if case.code == 0:
        for path, mode in case.modes:  # created with the umask's modes (0o027 here)
            assert (folder / path).stat().st_mode & 0o777 == mode, path
        return
    lines = result["stderr"].strip().splitlines()
    assert len(lines) == 1, f"{where}: {len(lines)} stderr lines:\n{result['stderr'][-3000:]}"
    assert case.field in lines[0], f"{where}: the line does not name {case.field!r}: {lines[0]}"
    for word in case.absent:
        assert word not in lines[0], f"{where}: the line names {word!r}: {lines[0]}"
    changed = sorted(set(before.items()) ^ set(after.items()))
    assert not changed, f"{where}: written or changed: {sorted({p for p, _ in changed})}"


def test_enough_cases():
    assert len(CASES) >= 60


# Ctrl-C while training: a tiny FSM run that lasts until it is interrupted.
ENDLESS_FSM = (
    "--config",
    "quick",
    "--num_train",
    "16",
    "--num_validation",
    "8",
    "--num_test",
    "8",
    "--max_steps",
    "100000",
    "--hidden_size",
    "8",
    "--eval_strategy",
    "no",
    "--load_best_model_at_end",
    "false",
    "--position_record_points",
    "0",
    "--logging_steps",
    "1",
    "--report_to",
    "none",
    "--output_dir",
    "run",
)
WITH_CHECKPOINTS = ("--save_strategy", "steps", "--save_steps", "2")


def start_recipe(recipe: str, argv, cwd: Path):
    cwd.mkdir()
    out, err = (cwd / "stdout.txt").open("w"), (cwd / "stderr.txt").open("w")
    script = str(REPO / "recipes" / f"{recipe}.py")
    # SIGINT as a terminal delivers it, even where this test runs with SIGINT ignored (a
    # background job): Python turns it into KeyboardInterrupt only if it is not ignored.
    return subprocess.Popen(
        [sys.executable, script, *argv],
        cwd=cwd,
        stdout=out,
        stderr=err,
        env=test_environment(cwd.parent),
        preexec_fn=default_sigint,
    )


def default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def wait_for(condition, process, timeout: float = 240.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, "the recipe ended before it was interrupted"
        assert time.monotonic() < deadline, "the recipe never got there"
        time.sleep(0.2)


def interrupt(process) -> tuple[int, str]:
    process.send_signal(signal.SIGINT)
    code = process.wait(timeout=120)
    return code, (process.cwd / "stderr.txt").read_text()


def test_ctrl_c_in_a_recipe_names_the_checkpoint_to_resume(tmp_path: Path):
    """Interrupted after its first checkpoints: exit 130 and one last line naming the newest
    complete checkpoint and --resume true; interrupted before any: a line saying so."""
    saving = start_recipe("fsm_icl", [*ENDLESS_FSM, *WITH_CHECKPOINTS], tmp_path / "saving")
    bare = start_recipe("fsm_icl", [*ENDLESS_FSM, "--save_strategy", "no"], tmp_path / "bare")
    saving.cwd, bare.cwd = tmp_path / "saving", tmp_path / "bare"
    try:
        wait_for(lambda: any(saving.cwd.glob("run/checkpoint-*/trainer_state.json")), saving)
        wait_for(lambda: "'loss'" in (bare.cwd / "stdout.txt").read_text(), bare)
        (saving_code, saving_err), (bare_code, bare_err) = interrupt(saving), interrupt(bare)
    finally:
        for process in (saving, bare):
            if process.poll() is None:
                process.kill()
    for code, err in ((saving_code, saving_err), (bare_code, bare_err)):
        assert code == 130 and "Traceback" not in err, err[-3000:]
    last = saving_err.strip().splitlines()[-1]
    assert "checkpoint-" in last and "--resume true" in last, last
    named = Path(last.split("checkpoint is ")[1].split(":")[0])
    assert (saving.cwd / named / "trainer_state.json").is_file(), last
    assert "no complete checkpoint" in bare_err.strip().splitlines()[-1], bare_err[-2000:]


@pytest.mark.parametrize(
    "command",
    [
        [str(REPO / "recipes" / "fsm_icl.py"), "--config", "quick", "--max_steps", "-5"],
        [
            str(Path(sys.executable).with_name("latent-lab")),
            "build",
            "fsm_icl",
            "--output-dir",
            "F",
        ],
    ],
    ids=["recipe-max-steps", "console-script-output-is-file"],
)
def test_in_a_fresh_process(command, tmp_path: Path):
    """Two cases exactly as a user types them: a fresh process for each."""
    (tmp_path / "F").write_text("keep me\n")
    python = [sys.executable] if command[0].endswith(".py") else []
    before = snapshot(tmp_path)
    done = subprocess.run(
        [*python, *command],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=test_environment(tmp_path / ".."),
        timeout=300,
    )
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert ("max_steps" if python else "--output-dir") in lines[0]
    assert snapshot(tmp_path) == before
