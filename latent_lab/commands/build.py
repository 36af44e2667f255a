"""`latent-lab build TASK`: build a task's DatasetDict, save it with a dataset card, push it."""

from __future__ import annotations

import os
from pathlib import Path

from latent_lab.config import parse_override
from latent_lab.errors import UserError
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


def prepare(task: str, config: str | None, overrides: list[str]):
    """Build (or reuse from cache) the dataset; returns (builder, dataset_dict)."""
    from latent_lab.tasks.builders import make_builder

    fields = dict(parse_override(item) for item in overrides)
    builder = make_builder(task, config, **fields)
    builder.download_and_prepare()
    return builder, builder.as_dataset()


def run(args) -> dict:
    builder, dataset = prepare(args.task, args.config, args.set)

    from latent_lab.files import staged_dir, write_text_atomic
    from latent_lab.hub.dataset_card import dataset_card

    config_name = builder.config.name
    fields = builder_fields(builder, args.task)
    output_dir = Path(args.output_dir or Path("data") / args.task / config_name)
    description = getattr(builder, "card_description", lambda: "")()
    card = dataset_card(args.task, config_name, fields, dataset, description)
    with staged_dir(output_dir) as staging:
        dataset.save_to_disk(str(staging))
        write_text_atomic(staging / "README.md", card)
        if hasattr(builder, "write_extras"):
            builder.write_extras(dataset, staging)
    summary = {
        "task": args.task,
        "config_name": config_name,
        "fields": fields,
        "output_dir": str(output_dir),
        "splits": {name: len(split) for name, split in dataset.items()},
        "pushed_to": None,
    }
    if args.push_to_hub:
        push(dataset, args.push_to_hub, config_name, card, args.private)
        summary["pushed_to"] = args.push_to_hub
    return summary


def builder_fields(builder, task: str) -> dict:
    from latent_lab.tasks.builders import config_fields

    return {name: getattr(builder.config, name) for name in config_fields(task)}


def push(dataset, repo_id: str, config_name: str, card: str, private: bool) -> None:
    """Upload Parquet shards and the card. The token comes from HF_TOKEN or the saved login."""
    from huggingface_hub import DatasetCard
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    if os.environ.get("HF_HUB_OFFLINE") == "1":
        raise UserError("--push-to-hub: HF_HUB_OFFLINE=1 is set; unset it to upload")
    try:
        dataset.push_to_hub(repo_id, config_name=config_name, private=private)
        # push_to_hub wrote the card's metadata (configs, sizes); keep it, use our text.
        hub_card = DatasetCard.load(repo_id, repo_type="dataset")
        hub_card.text = DatasetCard(card).text
        hub_card.push_to_hub(repo_id, repo_type="dataset")
    except OfflineModeIsEnabled:
        raise UserError("--push-to-hub: the Hub is offline; unset HF_HUB_OFFLINE") from None
    except (HfHubHTTPError, OSError) as error:
        raise UserError(
            f"--push-to-hub {repo_id}: {type(error).__name__}: check the repo id, "
            "your login (huggingface-cli login) and the network"
        ) from None
