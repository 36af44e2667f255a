"""Model cards (README.md) for finished runs, built with huggingface_hub's ModelCard and
ModelCardData: the task, the dataset, the base model, every metric and exact reference of
results.json as model-index eval_results, the command line, the W&B run and the loss plot.

Every finished run folder holds its card, so what `--push_to_hub` or `latent-lab push` would
upload can be read first. Metrics and references are separate eval_results: a reference carries
metric_config "exact_reference" and names the metric it bounds (results.json's reference_for).
"""

from __future__ import annotations

import json
import math
import re
import shlex
from pathlib import Path

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from latent_lab.analysis.run_report import format_number, markdown_table

CARD_FILE = "README.md"
REFERENCE_CONFIG = "exact_reference"
# Our own models: transformers lacks their classes, so the repository carries their code.
REMOTE_CODE_TYPES = ("lstm", "rnn")
SPLIT_PREFIXES = {
    "eval": "validation",
    "validation": "validation",
    "test": "test",
    "train": "train",
}
# Kept in the card's metadata so `latent-lab push` can rebuild the card for another repo id.
RUN_INFO_KEY = "latent_lab"


def is_reported(value) -> bool:
    """A number model-index can carry (not a bool, not NaN or infinite)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def eval_results(results: dict, dataset_repo: str | None = None) -> list[EvalResult]:
    """One EvalResult per numeric metric of results.json, then one per exact reference."""
    config = results.get("config", {})
    task = results["task"]
    dataset = {
        "task_type": "text-generation",
        "dataset_type": dataset_repo or task,
        "dataset_name": f"latent_lab {task} ({config.get('dataset') or results['config_name']})",
        "dataset_config": config.get("dataset"),
    }
    entries = []
    for name, value in results.get("metrics", {}).items():
        if is_reported(value):
            split = SPLIT_PREFIXES.get(name.partition("_")[0])
            entries.append(
                EvalResult(**dataset, dataset_split=split, metric_type=name, metric_name=name,
                           metric_value=value)
            )  # fmt: skip
    bounded = _bounded_metrics(results)
    for name, value in results.get("reference", {}).items():
        if is_reported(value):
            label = f"{name} (exact reference for {', '.join(bounded.get(name, [])) or '-'})"
            split = SPLIT_PREFIXES.get(name.partition("_")[0])
            entries.append(
                EvalResult(**dataset, dataset_split=split, metric_type=name, metric_name=label,
                           metric_value=value, metric_config=REFERENCE_CONFIG)
            )  # fmt: skip
    return entries


def _bounded_metrics(results: dict) -> dict[str, list[str]]:
    """reference name -> the metrics it is the exact best value of."""
    bounded: dict[str, list[str]] = {}
    for metric, reference in results.get("reference_for", {}).items():
        bounded.setdefault(reference, []).append(metric)
    return bounded


def card_data(results: dict, run_info: dict) -> ModelCardData:
    config = results.get("config", {})
    base_model = config.get("model_name_or_path")
    dataset_repo = run_info.get("dataset_repo")
    return ModelCardData(
        model_name=results.get("run_name") or results["config_name"],
        base_model=base_model if base_model and not Path(base_model).exists() else None,
        datasets=[dataset_repo] if dataset_repo else None,
        library_name="transformers",
        pipeline_tag="text-generation",
        tags=["latent-lab", "synthetic", results["task"], results.get("model_type", "model")],
        eval_results=eval_results(results, dataset_repo),
        **{RUN_INFO_KEY: {key: value for key, value in run_info.items() if value is not None}},
    )


def build_model_card(run_dir: str | Path, results: dict, **run_info) -> ModelCard:
    """The card of a finished run. run_info: repo_id (where it is or will be pushed),
    dataset_repo (the dataset's Hub id), command (the training command line), wandb_url."""
    data = card_data(results, run_info)
    sections = [
        f"# {data.model_name}",
        _summary(results),
        _facts(results, run_info),
        "## Results\n\nEvery metric beside its exact best achievable value (results.json's "
        "`reference`); the same numbers are in this card's model-index.\n\n"
        + _results_table(results),
        _plots(Path(run_dir)),
        _reproduce(results, run_info),
        _loading(results, run_info.get("repo_id") or str(Path(run_dir).resolve())),
    ]
    text = "\n\n".join(section for section in sections if section)
    return ModelCard(f"---\n{data.to_yaml()}\n---\n\n{text}\n")


def _summary(results: dict) -> str:
    parameters = results.get("num_parameters")
    size = f"{parameters:,} parameters" if isinstance(parameters, int) else "a model"
    state = results.get("state_size")
    state_text = f", {state:,} floats of recurrent state" if isinstance(state, int) else ""
    return (
        f"A `{results.get('model_type', 'model')}` causal LM ({size}{state_text}) trained with "
        f"latent_lab on the synthetic `{results['task']}` task, config "
        f"`{results['config_name']}`, seed {results.get('seed')}."
    )


def _facts(results: dict, run_info: dict) -> str:
    config = results.get("config", {})
    dataset_repo = run_info.get("dataset_repo")
    dataset = f"`{config.get('dataset', results['config_name'])}`, built by latent_lab"
    if dataset_repo:
        dataset += f" ([{dataset_repo}](https://huggingface.co/datasets/{dataset_repo}))"
    base = config.get("model_name_or_path") or config.get("init_from")
    facts = [
        ("Task", f"`{results['task']}`"),
        ("Dataset", dataset),
        ("Base model", f"`{base}`" if base else "none (trained from scratch)"),
        ("W&B run", run_info.get("wandb_url")),
    ]
    return "\n".join(f"- **{name}:** {value}" for name, value in facts if value)


def _results_table(results: dict) -> str:
    metrics, reference = results.get("metrics", {}), results.get("reference", {})
    rows = []
    for name, value in metrics.items():
        bound = results.get("reference_for", {}).get(name)
        exact = reference.get(bound) if bound else None
        gap = value - exact if is_reported(value) and is_reported(exact) else None
        exact_text = f"{format_number(exact)} ({bound})" if bound in reference else "-"
        gap_text = "-" if gap is None else format_number(gap)
        rows.append([name, format_number(value), exact_text, gap_text])
    if not rows:
        return "No metrics in results.json."
    return markdown_table(["metric", "value", "exact reference", "gap (value - reference)"], rows)


def _plots(run_dir: Path) -> str:
    """The images report.md shows (the loss/excess plots), when they are in the folder."""
    report = run_dir / "report.md"
    text = report.read_text() if report.is_file() else ""
    images = re.findall(r"!\[([^\]]*)\]\(([^)\s]+\.png)\)", text)
    shown = [f"![{alt}]({name})" for alt, name in images if (run_dir / name).is_file()]
    return "## Training curves\n\n" + "\n\n".join(shown) if shown else ""


def _reproduce(results: dict, run_info: dict) -> str:
    lines = ["## Reproduce", ""]
    command = run_info.get("command")
    if command:
        lines += ["The command that trained this model (from a latent_lab checkout):", "",
                  f"```bash\n{command}\n```", ""]  # fmt: skip
    config_json = json.dumps(results.get("config", {}), sort_keys=True)
    lines.append(
        f"Its full configuration ({len(config_json):,} characters) is `config` in results.json, "
        "next to the metrics, the references and the package versions."
    )
    return "\n".join(lines)


def _loading(results: dict, location: str) -> str:
    remote = results.get("model_type") in REMOTE_CODE_TYPES
    argument = ", trust_remote_code=True" if remote else ""
    note = (
        "\n\nThe modeling code ships in this repository (`trust_remote_code=True`): latent_lab "
        "need not be installed."
        if remote
        else ""
    )
    code = (
        "from transformers import AutoModelForCausalLM\n\n"
        f"model = AutoModelForCausalLM.from_pretrained({location!r}{argument})"
    )
    return f"## Load\n\n```python\n{code}\n```{note}"


def command_line(argv: list[str]) -> str:
    """How the run was started, as one shell line: `python recipes/x.py --config ...` for a
    script, `latent-lab ...` for a console command."""
    if not argv:
        return ""
    program = argv[0]
    words = ["python", program] if program.endswith(".py") else [Path(program).name]
    return shlex.join([*words, *argv[1:]])


def previous_run_info(run_dir: str | Path) -> dict:
    """What the run's own card recorded (command line, W&B link, dataset repo), or nothing."""
    path = Path(run_dir) / CARD_FILE
    if not path.is_file():
        return {}
    info = ModelCard.load(path).data.to_dict().get(RUN_INFO_KEY)
    return dict(info) if isinstance(info, dict) else {}
