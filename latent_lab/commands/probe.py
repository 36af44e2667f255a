"""`latent-lab probe --model RUN_DIR [--target NAME] [--config NAME|FILE] [--set k=v]`:
linear probes of a trained model's hidden states, every layer, for what the run's task says
can be probed (its registry entry's `probe_targets`: classes, or exact posteriors). Writes
probes.json (figures per layer and target, the embedding and random-init controls) and
probes.png into --output-dir (default RUN_DIR/probes), both or neither."""

from __future__ import annotations

import json
from pathlib import Path

from latent_lab.commands.output import emit
from latent_lab.errors import UserError
from latent_lab.files import check_model_dir, check_output_path, staged_dir

# Probe settings (not training configs) live in recipes/probes/<task>/.
PROBE_SETTINGS_FOLDER = "probes"


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "probe",
        help="linear probes of a trained model's hidden states, per layer (JSON + plot)",
        description=(
            "Freeze a trained model, collect every layer's hidden state where its task has a "
            "probe target, fit a linear probe per layer (L-BFGS to convergence) on one split "
            "and score it on another, beside the best constant prediction, the embedding "
            "layer and a random-init model of the same config. The targets are the run's "
            "task's (e.g. posterior: the exact posterior, scored by KL); the data is the "
            "run's own (from its results.json) unless the settings name a dataset."
        ),
    )
    parser.add_argument("--model", required=True, help="a finished run's output_dir")
    parser.add_argument("--target", help="one of the task's probe targets (default: all)")
    parser.add_argument(
        "--config",
        help="probe settings: a YAML file, or a name in recipes/probes/<task>/",
    )
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a setting"
    )
    parser.add_argument("--epochs", type=int, help="the L-BFGS iteration cap (max_iterations)")
    parser.add_argument("--seed", type=int, help="seed of the random-init control")
    parser.add_argument("--output-dir", help="where to write (default: MODEL/probes)")
    parser.set_defaults(func=run)


def load_settings(args, task: str | None):
    """--config, --set, --epochs and --seed, checked (without importing numpy or torch)."""
    from latent_lab.analysis.probe_settings import ProbeSettings
    from latent_lab.config import load_yaml, parse_override

    values = load_yaml(probe_config_path(args.config, task)) if args.config else {}
    values.update(parse_override(text) for text in args.set)
    if args.epochs is not None:
        values.pop("epochs", None)  # the settings' old name: the flag wins over it too
        values["max_iterations"] = args.epochs
    if args.seed is not None:
        values["seed"] = args.seed
    return ProbeSettings.from_mapping(values)


def probe_config_path(value: str, task: str | None = None) -> Path:
    """A settings file as given, else a name in recipes/probes/<task>/ (any task's folder
    when the run's task is not known)."""
    from latent_lab.config import recipes_dir

    given = Path(value)
    if given.is_file():
        return given
    root = recipes_dir() / PROBE_SETTINGS_FOLDER
    folders = [root / task] if task else sorted(p for p in root.iterdir() if p.is_dir())
    for folder in folders:
        for candidate in (folder / given, folder / f"{given}.yaml"):
            if candidate.is_file():
                return candidate
    names = ", ".join(sorted(p.stem for f in folders for p in f.glob("*.yaml"))) or "none"
    where = f"recipes/{PROBE_SETTINGS_FOLDER}/{task or '<task>'}/"
    raise UserError(f"--config: {value!r} is neither a file nor probe settings in {where} "
                    f"(available: {names})")  # fmt: skip


def find_run(model_dir: Path) -> tuple[Path, dict | None]:
    """The model folder to load and the run's results.json (in the folder, or its parent for a
    checkpoint-* folder); a curriculum folder points at its final stage."""
    for folder in (model_dir, model_dir.parent):
        results = folder / "results.json"
        if results.is_file():
            record = read_results(results)
            final = record.get("final_model_dir")
            if folder == model_dir and final and not (model_dir / "config.json").is_file():
                return find_run(Path(final))
            return model_dir, record
    return model_dir, None


def read_results(path: Path) -> dict:
    """A run's results.json, or one line saying why it cannot be read."""
    try:
        record = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UserError(
            f"--model: cannot read {str(path)!r} ({error}); the run's results.json is cut off "
            "or damaged: rerun the run or restore the file"
        ) from None
    if not isinstance(record, dict):
        raise UserError(f"--model: {str(path)!r} is not a run's results.json (not a mapping)")
    return record


def chosen_targets(task: str, target: str | None) -> dict:
    """name -> ProbeTarget of the task's targets: --target, or all of them."""
    from latent_lab.tasks.registry import get_task, load

    reference = get_task(task).probe_targets
    if reference is None:
        raise UserError(f"--model: task {task!r} has no probe targets; nothing to probe")
    targets = load(reference)()
    if target is None:
        return targets
    if target not in targets:
        raise UserError(f"--target: task {task!r} has no target {target!r}; "
                        f"its targets: {', '.join(targets)}")  # fmt: skip
    return {target: targets[target]}


def run(args) -> dict:
    model_dir, record = find_run(Path(args.model))
    task = record.get("task") if record else None
    settings = load_settings(args, task)
    if record is None:
        check_model_dir(str(model_dir), "--model")
        raise UserError(f"--model: no results.json in {str(model_dir)!r} or its parent, so its "
                        "task and data are unknown; give a finished run's output_dir")  # fmt: skip
    targets = chosen_targets(task, args.target)
    if settings.dataset is None and not isinstance(record.get("config"), dict):
        raise UserError("--model: its results.json has no `config`, so the run's data is "
                        "unknown; name the data to probe on with --set dataset=CONFIG")  # fmt: skip
    splits = settings.splits(next(iter(targets.values())))
    check_model_dir(str(model_dir), "--model")
    output_dir = Path(args.output_dir) if args.output_dir else model_dir / "probes"
    check_output_path(output_dir, "--output-dir")

    # numpy, torch and the plotting stack only after the checks above: a mistake is answered
    # at once, and nothing is written before the probes are done.
    result = probe_run(model_dir, record, settings, splits, targets)
    result.update(task=task, model=str(model_dir), settings=vars(settings))
    from latent_lab.analysis.probe_plot import plot_probes

    with staged_dir(output_dir) as staging:  # both files appear together or not at all
        (staging / "probes.json").write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
        plot_probes(result, staging / "probes.png", f"linear probes: {model_dir} ({task})")
    emit(markdown_table(result))
    return summary(result, output_dir)


def probe_run(model_dir: Path, record: dict, settings, splits, targets: dict) -> dict:
    """Probe data from the task (once per collect function), then every layer's probes."""
    import torch

    from latent_lab.analysis.probes import probe_model
    from latent_lab.models.loading import load_model
    from latent_lab.tasks.registry import load

    try:
        model = load_model(str(model_dir))
    except OSError as error:  # config.json without weights, or unreadable weights
        raise UserError(f"--model: cannot load the model in {str(model_dir)!r}: "
                        f"{' '.join(str(error).split())}") from None  # fmt: skip
    model.to("cuda" if torch.cuda.is_available() else "cpu")  # features only; probes fit on CPU
    result = {"targets": {}, "controls": {"embedding": {}, "random_init": {}}, "data": {}}
    for collect in dict.fromkeys(target.collect for target in targets.values()):
        names = {name: t.kind for name, t in targets.items() if t.collect == collect}
        train, test, about = load(collect)(record, settings, splits, tuple(names))
        part = probe_model(model, train, test, names, settings)
        result["targets"].update(part["targets"])
        result["data"].update(about)
        for control in ("embedding", "random_init"):
            result["controls"][control].update(part["controls"][control])
        for key in ("layers", "num_layers", "num_train_positions", "num_test_positions"):
            result[key] = part[key]
    return result


def summary(result: dict, output_dir: Path) -> dict:
    """The last stdout line: where the files are and each target's headline per layer."""
    figures = {"test_accuracy": {}, "train_accuracy": {}, "kl_to_posterior": {}, "baseline_kl": {}}
    for name, target in result["targets"].items():
        for key in figures:
            if key in target:
                figures[key][name] = target[key]
    return {
        "model": result["model"],
        "output_dir": str(output_dir),
        "probes_json": str(output_dir / "probes.json"),
        "plot": str(output_dir / "probes.png"),
        **{key: value for key, value in figures.items() if value},
    }


def markdown_table(result: dict) -> str:
    layers = ["emb"] + result["layers"][1:]
    header = "| target | " + " | ".join(f"layer {layer}" for layer in layers)
    lines = [header + " | constant | random init (best) |", "|---" * (len(layers) + 3) + "|"]
    for name, target in result["targets"].items():
        soft = target["kind"] == "soft"
        key, base = (
            ("kl_to_posterior", "baseline_kl") if soft else ("test_accuracy", "majority_baseline")
        )
        control = result["controls"]["random_init"][name][key]
        best = min(control) if soft else max(control)
        cells = " | ".join(f"{value:.3f}" for value in target[key])
        lines.append(f"| {name} | {cells} | {target[base]:.3f} | {best:.3f} |")
    note = ("soft targets: held-out KL(posterior || probe) in nats; hard targets: test accuracy "
            "of a linear probe\n\n")  # fmt: skip
    return note + "\n".join(lines) + "\n"
