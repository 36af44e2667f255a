"""`latent-lab build TASK`: build a task's DatasetDict, save it with a dataset card, push it."""

from __future__ import annotations

from pathlib import Path

from latent_lab.config import parse_override
from latent_lab.tasks.registry import task_names


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("build", help="build a task dataset (save_to_disk, Hub)")
    names = task_names()
    parser.add_argument("task", choices=names, metavar="TASK", help=" | ".join(names))
    add_dataset_arguments(parser)
    parser.add_argument("--output-dir", help="save_to_disk root (default: data/<task>/<config>)")
    parser.add_argument("--push-to-hub", metavar="REPO_ID", help="also upload Parquet shards")
    parser.add_argument("--private", action="store_true", help="make the Hub dataset private")
    parser.set_defaults(func=run)


def add_dataset_arguments(parser) -> None:
    parser.add_argument("--config", help="builder config name or YAML file of builder fields")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a builder field"
    )


def make(task: str, config: str | None, overrides: list[str]):
    """The builder, every field validated (sizes included); no data made yet."""
    from latent_lab.tasks.builders import make_builder

    fields = dict(parse_override(item) for item in overrides)
    return make_builder(task, config, **fields)


def prepare(builder):
    """Build (or reuse from cache) the dataset; returns (builder, dataset_dict)."""
    from latent_lab.tasks.builders import prepare_dataset

    return builder, prepare_dataset(builder)


def run(args) -> dict:
    if args.push_to_hub:  # refused before anything is built or written
        from latent_lab.hub.push import check_repo_id, create_repo, hub_token

        field = "--push-to-hub"
        check_repo_id(args.push_to_hub, field)
        token = hub_token(field)
        create_repo(args.push_to_hub, private=args.private, token=token, field=field,
                    repo_type="dataset")  # fmt: skip
    from latent_lab.files import check_output_path, staged_dir, write_text_atomic

    builder = make(args.task, args.config, args.set)
    hub_config = hub_config_name(args.task, builder, args.config, args.set)
    output_dir = Path(args.output_dir or Path("data") / args.task / hub_config)
    check_output_path(output_dir, "--output-dir")  # before any data is made
    builder, dataset = prepare(builder)

    from latent_lab.hub.dataset_card import dataset_card

    config_name = builder.config.name
    fields = builder_fields(builder, args.task)
    description = getattr(builder, "card_description", lambda: "")()
    card = dataset_card(
        args.task, config_name, fields, dataset, description, hub_config, args.push_to_hub
    )
    with staged_dir(output_dir) as staging:
        dataset.save_to_disk(str(staging))
        write_text_atomic(staging / "README.md", card)
        if hasattr(builder, "write_extras"):
            builder.write_extras(dataset, staging)
    summary = {
        "task": args.task,
        "config_name": config_name,
        "hub_config": hub_config,
        "fields": fields,
        "output_dir": str(output_dir),
        "splits": {name: len(split) for name, split in dataset.items()},
        "pushed_to": None,
    }
    if args.push_to_hub:
        push(dataset, args.push_to_hub, hub_config, card, args.private, token)
        summary["pushed_to"] = args.push_to_hub
    return summary


def builder_fields(builder, task: str) -> dict:
    from latent_lab.tasks.builders import config_fields

    return {name: getattr(builder.config, name) for name in config_fields(task)}


def hub_config_name(task: str, builder, config: str | None, overrides: list[str]) -> str:
    """The builder config's name, or for a variant (--set, or a YAML file of fields) a name of
    its own derived from the fields that differ (`5s5a-num_train-100`)."""
    from latent_lab.hub.config_names import changed_fields, variant_config_name
    from latent_lab.tasks.builders import resolve_builder_fields

    name, fields = resolve_builder_fields(task, config, dict(map(parse_override, overrides)))
    base = next((c for c in type(builder).BUILDER_CONFIGS if c.name == name), None)
    return variant_config_name(name, changed_fields(base, fields))


def push(dataset, repo_id: str, hub_config: str, card: str, private: bool, token: str) -> None:
    """Upload Parquet shards under the config's Hub name, then the card: push_to_hub's card
    metadata (every config pushed so far, features, sizes) with our metadata and text."""
    from huggingface_hub import DatasetCard

    from latent_lab.hub.dataset_card import merge_into_hub_card
    from latent_lab.hub.push import hub_errors

    with hub_errors(repo_id, "--push-to-hub"):
        dataset.push_to_hub(repo_id, config_name=hub_config, private=private, token=token)
        hub_card = DatasetCard.load(repo_id, repo_type="dataset", token=token)
        merged = merge_into_hub_card(hub_card, DatasetCard(card))
        merged.push_to_hub(repo_id, repo_type="dataset", token=token)
