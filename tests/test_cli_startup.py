"""The CLI answers at once: `--help` of every command and the mistakes the arguments alone
reveal exit without importing the heavy libraries (each case runs in a fresh process and
reports sys.modules), while `import latent_lab` still registers lstm/rnn with transformers'
Auto classes in either import order (latent_lab/auto_registration.py)."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from latent_lab.cli import COMMAND_MODULES

REPO = Path(__file__).resolve().parents[1]
HEAVY = (
    "torch",
    "transformers",
    "datasets",
    "numba",
    "trl",
    "accelerate",
    "peft",
    "matplotlib",
    "scipy",
    "pandas",
    "numpy",
)
# Runs the CLI as the console script does, then reports its exit code and the heavy modules.
CLI_WRAPPER = textwrap.dedent(
    """
    import json, os, sys
    from latent_lab.cli import main
    try:
        code = main(sys.argv[1:])
    except SystemExit as exit:
        code = exit.code
    heavy = sorted(name for name in json.loads(os.environ["HEAVY"]) if name in sys.modules)
    with open(os.environ["REPORT"], "w") as report:
        json.dump({"code": code, "heavy": heavy}, report)
    """
)
NESTED = (("gssm", "sample"), ("gssm", "difficulty"), ("export", "nanogpt"))


def run_cli_process(argv, cwd: Path, tmp_path: Path):
    """(exit code, heavy modules imported, stdout, stderr) of `latent-lab ARGV` in cwd."""
    report = tmp_path / "report.json"
    env = {**os.environ, "HEAVY": json.dumps(HEAVY), "REPORT": str(report)}
    done = subprocess.run(
        [sys.executable, "-c", CLI_WRAPPER, *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert report.is_file(), done.stderr
    result = json.loads(report.read_text())
    return result["code"], result["heavy"], done.stdout, done.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        *([name, "--help"] for name in COMMAND_MODULES),
        *([*n, "--help"] for n in NESTED),
    ],
    ids=lambda argv: " ".join(argv),
)
def test_help_answers_without_heavy_imports(argv, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    code, heavy, out, err = run_cli_process(argv, work, tmp_path)
    assert code == 0, err
    assert out.startswith("usage: latent-lab")
    assert heavy == [], f"`latent-lab {' '.join(argv)}` imported {heavy}"


MISSING = "no_such_file.yaml"
# name -> the arguments (split on spaces); each is a mistake that the arguments alone reveal
ERRORS = {
    "unknown command": "nosuch",
    "unknown flag": "build gssm --no-such-flag",
    "build unknown task": "build nosuch",
    **{
        f"build {task} unknown config": f"build {task} --config no_such_config"
        for task in ("gssm", "fsm_icl", "char_stream", "semi_synthetic")
    },
    "build missing config file": f"build gssm --config {MISSING}",
    "build --set without =": "build gssm --set num_train",
    "build --set unknown field": "build fsm_icl --set num_trian=5",
    "export unknown config": "export nanogpt --config nosuch --output-dir o",
    "export --set without =": "export nanogpt --set seed --output-dir o",
    "sample missing model": "sample --model no_such_run",
    "sample bad count": "sample --model no_such_run --num-samples 0",
    "probe missing model": "probe --model no_such_run",
    "probe unknown config": "probe --model no_such_run --config nosuch",
    "probe --set without =": "probe --model no_such_run --set epochs",
    "probe bad setting": "probe --model no_such_run --set epochs=0",
    "report missing run": "report no_such_run",
    "aggregate missing folder": "aggregate no_such_folder",
    "launch missing grid": f"launch {MISSING}",
    "init unknown task": "init nosuch experiment",
    "quickstart unknown task": "quickstart --task nosuch",
    "gssm sample unknown config": "gssm sample --config nosuch --num-sequences 2 --output x.npz",
    "gssm sample bad count": "gssm sample --config experiment1 --num-sequences 0 --output x.npz",
    "gssm difficulty unknown config": "gssm difficulty --config nosuch",
    "gssm difficulty missing file": f"gssm difficulty --config {MISSING}",
    "gssm difficulty missing merge folder": "gssm difficulty --merge no_such_dir",
}


@pytest.mark.parametrize("command", ERRORS.values(), ids=ERRORS.keys())
def test_argument_errors_answer_without_heavy_imports(command, tmp_path):
    argv = command.split()
    work = tmp_path / "work"
    work.mkdir()
    code, heavy, out, err = run_cli_process(argv, work, tmp_path)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "error:" in lines[0] and "Traceback" not in err, err
    assert heavy == [], f"`latent-lab {' '.join(argv)}` imported {heavy}: {lines[0]}"
    assert list(work.iterdir()) == []  # nothing written


def test_light_config_tables_match_the_builders():
    """latent_lab.tasks.builders lists each builder's config names and fields so that a wrong
    --config or --set key is answered without importing `datasets`; they must not drift."""
    from latent_lab.tasks import builders
    from latent_lab.tasks.registry import task_names

    for task in task_names():
        builder = builders.builder_class(task)
        assert builders.config_names(task) == [c.name for c in builder.BUILDER_CONFIGS], task
        assert builders.config_names(task)[0] == builder.DEFAULT_CONFIG_NAME, task
        assert builders.field_names(task) == tuple(builders.config_fields(task)), task


# The user's snippet; PRE runs before it (transformers imported first, or nothing).
REGISTRATION = textwrap.dedent(
    """
    import sys
    {pre}
    import latent_lab
    {light_check}
    {post}
    from transformers import AutoConfig, AutoModelForCausalLM
    for model_type in ("lstm", "rnn"):
        model = AutoModelForCausalLM.from_config(AutoConfig.for_model(model_type, vocab_size=21))
        assert model.config.model_type == model_type, type(model)
    print("registered", type(model).__name__)
    """
)
LIGHT_CHECK = (
    "loaded = [m for m in ('torch', 'transformers') if m in sys.modules]\n"
    "assert not loaded, f'import latent_lab imported {loaded}'"
)
ORDERS = {
    # import latent_lab first; transformers' auto modules load afterwards
    "latent_lab first": ("", LIGHT_CHECK, ""),
    # modeling_auto's own import loads configuration_auto: registration must wait for it
    "then AutoModelForCausalLM": ("", LIGHT_CHECK, "from transformers import AutoModelForCausalLM"),
    # modeling_utils (half initialized) loads configuration_auto
    "then PreTrainedModel": ("", LIGHT_CHECK, "from transformers import PreTrainedModel"),
    # transformers' auto classes already imported: import latent_lab registers at once
    "transformers first": ("from transformers import AutoConfig, AutoModelForCausalLM", "", ""),
}


@pytest.mark.parametrize("pre, light_check, post", ORDERS.values(), ids=ORDERS.keys())
def test_import_latent_lab_registers_auto_classes_in_either_order(pre, light_check, post):
    code = REGISTRATION.format(pre=pre, light_check=light_check, post=post)
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "registered RNNForCausalLM" in done.stdout
