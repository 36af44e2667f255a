"""`latent-lab probe --model DIR [--config NAME|FILE]`: linear probes of a trained FSM model's
hidden states, per layer, for the current state, the next state and whether (s, a) was seen.
Writes probes.json and probes.png (accuracy against layer) into --output-dir."""

from __future__ import annotations

import json
from pathlib import Path

from latent_lab.commands.output import emit
from latent_lab.errors import UserError
from latent_lab.files import check_model_dir, staged_dir

# Probe settings (not training configs) live in recipes/probes/<task>/.
PROBE_SETTINGS_FOLDER = Path("probes") / "fsm_icl"


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "probe",
        help="linear probes of a trained FSM model's hidden states, per layer (JSON + plot)",
        description=(
            "Freeze a trained fsm_icl model, collect every layer's hidden state at the query "
            "steps, fit logistic probes for current_state, next_state and seen on one split "
            "and score them on another. The dataset is the run's own (from its results.json) "
            "unless the settings name one."
        ),
    )
    parser.add_argument("--model", required=True, help="a finished run's output_dir")
    parser.add_argument(
        "--config",
        help="probe settings: a YAML file, or a name in recipes/probes/fsm_icl/",
    )
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a setting"
    )
    parser.add_argument("--epochs", type=int, help="probe training epochs (overrides settings)")
    parser.add_argument("--seed", type=int, help="probe seed (overrides settings)")
    parser.add_argument("--output-dir", help="where to write (default: MODEL/probes)")
    parser.set_defaults(func=run)


def load_settings(args):
    """--config, --set, --epochs and --seed, checked (without importing torch)."""
    from latent_lab.config import load_yaml, parse_override
    from latent_lab.tasks.fsm_icl.probe_settings import ProbeSettings

    values = load_yaml(probe_config_path(args.config)) if args.config else {}
    values.update(parse_override(text) for text in args.set)
    for name in ("epochs", "seed"):
        if getattr(args, name) is not None:
            values[name] = getattr(args, name)
    return ProbeSettings.from_mapping(values)


def probe_config_path(value: str) -> Path:
    from latent_lab.config import recipes_dir

    given = Path(value)
    if given.is_file():
        return given
    folder = recipes_dir() / PROBE_SETTINGS_FOLDER
    for candidate in (folder / given, folder / f"{given}.yaml"):
        if candidate.is_file():
            return candidate
    names = ", ".join(sorted(p.stem for p in folder.glob("*.yaml"))) or "none"
    raise UserError(
        f"--config: {value!r} is neither a file nor probe settings in "
        f"recipes/{PROBE_SETTINGS_FOLDER.as_posix()}/ (available: {names})"
    )


def find_run(model_dir: Path) -> tuple[Path, dict | None]:
    """The model folder to load and the run's results.json (in the folder, or its parent for a
    checkpoint-* folder); a curriculum folder points at its final stage."""
    for folder in (model_dir, model_dir.parent):
        results = folder / "results.json"
        if results.is_file():
            record = json.loads(results.read_text())
            final = record.get("final_model_dir")
            if folder == model_dir and final and not (model_dir / "config.json").is_file():
                return find_run(Path(final))
            return model_dir, record
    return model_dir, None


def dataset_fields(record: dict | None, settings) -> tuple[str, dict]:
    """Builder config name and field overrides of the data to probe on."""
    if settings.dataset is not None:
        return settings.dataset, {}
    if record is None:
        raise UserError(
            "--model: no results.json beside the model, so its dataset is unknown; name one "
            "with --set dataset=5s5a"
        )
    if record.get("task") != "fsm_icl":
        raise UserError(f"--model: probes read FSM runs (task fsm_icl), not {record.get('task')!r}")
    from latent_lab.tasks.fsm_icl.arguments import recorded_data_arguments

    data_args = recorded_data_arguments(record["config"])
    return data_args.dataset, data_args.builder_fields()


def run(args) -> dict:
    settings = load_settings(args)
    model_dir, record = find_run(Path(args.model))
    check_model_dir(str(model_dir), "--model")

    # torch and the plotting stack only after the checks above, so a mistake is answered at once
    from latent_lab.models.loading import load_model
    from latent_lab.tasks.fsm_icl.probe_plot import plot_probes

    name, builder_fields = dataset_fields(record, settings)
    result = probe_model(load_model(str(model_dir)), name, builder_fields, settings)
    result.update(
        model=str(model_dir), dataset=name, builder_fields=builder_fields, settings=vars(settings)
    )
    output_dir = Path(args.output_dir) if args.output_dir else model_dir / "probes"
    with staged_dir(output_dir) as staging:  # both files appear together or not at all
        (staging / "probes.json").write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
        plot_probes(result, staging / "probes.png", f"linear probes: {model_dir} on {name}")
    emit(markdown_table(result))
    return {
        "model": str(model_dir),
        "output_dir": str(output_dir),
        "probes_json": str(output_dir / "probes.json"),
        "plot": str(output_dir / "probes.png"),
        "test_accuracy": {t: s["test_accuracy"] for t, s in result["targets"].items()},
        "train_accuracy": {t: s["train_accuracy"] for t, s in result["targets"].items()},
    }


def probe_model(model, name: str, builder_fields: dict, settings) -> dict:
    """Hidden states at the query steps of the settings' splits, then a probe per layer."""
    import torch

    from latent_lab.tasks.builders import build_dataset
    from latent_lab.tasks.fsm_icl.generator import FSMVocab
    from latent_lab.tasks.fsm_icl.probes import collect_features, probe_layers

    dataset = build_dataset("fsm_icl", name, **builder_fields)
    vocab = FSMVocab(dataset["train"][0]["s_max"], dataset["train"][0]["a_max"])
    if model.config.vocab_size != vocab.size:
        raise UserError(
            f"--model: vocab_size {model.config.vocab_size} does not match the dataset's "
            f"{vocab.size} tokens; probe on the vocabulary it was trained with"
        )
    torch.manual_seed(settings.seed)
    model.to("cuda" if torch.cuda.is_available() else "cpu")  # features only; probes fit on CPU
    features = {}
    for role, split, limit in (
        ("train", settings.train_split, settings.max_train_rows),
        ("test", settings.test_split, settings.max_test_rows),
    ):
        rows = dataset[split].select_columns(["input_ids", "labels", "seen_mask"])
        rows = list(rows.select(range(min(limit, len(rows)))))
        features[role] = collect_features(model, rows, vocab.pad)
    return probe_layers(features["train"], features["test"], settings)


def markdown_table(result: dict) -> str:
    layers = ["emb"] + [str(layer) for layer in range(1, result["num_layers"])]
    header = "| target | " + " | ".join(f"layer {layer}" for layer in layers) + " | majority |\n"
    rows = "".join(
        f"| {name} | "
        + " | ".join(
            f"{te:.3f} ({tr:.3f})"
            for te, tr in zip(s["test_accuracy"], s["train_accuracy"], strict=True)
        )
        + f" | {s['majority_baseline']:.3f} |\n"
        for name, s in result["targets"].items()
    )
    note = "test accuracy (train accuracy) of a linear probe at the query steps\n\n"
    return note + header + "|---" * (len(layers) + 2) + "|\n" + rows
