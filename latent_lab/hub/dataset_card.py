"""Dataset cards (README.md with a YAML header) for any task's DatasetDict."""

from __future__ import annotations

import json
import shlex

import yaml
from huggingface_hub import DatasetCard, DatasetCardData

# Hugging Face's size_categories buckets, by total number of rows.
SIZE_CATEGORIES = (
    (1_000, "n<1K"),
    (10_000, "1K<n<10K"),
    (100_000, "10K<n<100K"),
    (1_000_000, "100K<n<1M"),
    (10_000_000, "1M<n<10M"),
    (100_000_000, "10M<n<100M"),
)
MAX_SHOWN_CHARS = 300
MAX_SHOWN_ITEMS = 32


def size_category(num_rows: int) -> str:
    return next((name for limit, name in SIZE_CATEGORIES if num_rows < limit), "n>100M")


def card_data(task: str, hub_config: str, dataset_dict) -> DatasetCardData:
    """The card's YAML header: the layout push_to_hub uses (<config>/<split>-*) and the split
    sizes, under the config's Hub name (a --set variant has its own, config_names.py)."""
    splits = list(dataset_dict)
    num_rows = sum(len(dataset_dict[split]) for split in splits)
    split_sizes = [
        {
            "name": split,
            "num_bytes": int(dataset_dict[split].data.nbytes),
            "num_examples": len(dataset_dict[split]),
        }
        for split in splits
    ]
    data_files = [{"split": split, "path": f"{hub_config}/{split}-*"} for split in splits]
    return DatasetCardData(
        license="mit",
        pretty_name=f"latent_lab {task} ({hub_config})",
        task_categories=["text-generation"],
        tags=["latent-lab", "synthetic", task],
        size_categories=[size_category(num_rows)],
        configs=[{"config_name": hub_config, "data_files": data_files}],
        dataset_info={
            "config_name": hub_config,
            "splits": split_sizes,
            "dataset_size": sum(size["num_bytes"] for size in split_sizes),
        },
    )


def merge_into_hub_card(hub_card: DatasetCard, local_card: DatasetCard) -> DatasetCard:
    """The Hub card after push_to_hub (which lists every config pushed so far, with features
    and sizes) with our metadata and text: other configs' entries are kept."""
    ours = local_card.data.to_dict()
    for key, value in ours.items():
        if key not in ("configs", "dataset_info"):
            hub_card.data[key] = value
    hub_card.text = local_card.text
    return hub_card


def _shown(value) -> str:
    """A value as one readable line: long lists and text are cut, with the full length noted."""
    if isinstance(value, list) and len(value) > MAX_SHOWN_ITEMS:
        head = json.dumps(value[:MAX_SHOWN_ITEMS], ensure_ascii=False)[:-1]
        return f"{head}, ...] ({len(value)} items)"
    text = json.dumps(value, ensure_ascii=False, default=str)
    if len(text) > MAX_SHOWN_CHARS:
        return f"{text[:MAX_SHOWN_CHARS]}... ({len(text)} characters)"
    return text


def _fields_table(fields: dict) -> str:
    rows = ["| field | value |", "| --- | --- |"]
    for name, value in fields.items():
        cell = _shown(value).replace("|", "\\|")  # a bare | would end the table cell
        rows.append(f"| `{name}` | `{cell}` |")
    return "\n".join(rows)


def _splits_table(dataset_dict) -> str:
    rows = ["| split | rows |", "| --- | ---: |"]
    rows += [f"| {split} | {len(dataset)} |" for split, dataset in dataset_dict.items()]
    return "\n".join(rows)


def _example_row(dataset_dict) -> str:
    split = "train" if "train" in dataset_dict else next(iter(dataset_dict))
    dataset = dataset_dict[split]
    if len(dataset) == 0:
        return f"The {split} split is empty."
    lines = [f"{name}: {_shown(value)}" for name, value in dataset[0].items()]
    return f"The first row of `{split}`:\n\n```text\n" + "\n".join(lines) + "\n```"


def rebuild_instructions(task: str, config_name: str, fields: dict) -> str:
    """The CLI and Python calls that rebuild this data (same config and seed, same bytes).
    Fields set to None mean "the default" and are left out."""
    given = {name: value for name, value in fields.items() if value is not None}
    sets = ["--set " + shlex.quote(f"{name}={_yaml_value(value)}") for name, value in given.items()]
    command = " ".join(["latent-lab build", task, "--config", shlex.quote(config_name), *sets])
    arguments = [repr(task), repr(config_name)] + [f"{k}={v!r}" for k, v in given.items()]
    python = f"import latent_lab\n\ndataset = latent_lab.build_dataset({', '.join(arguments)})"
    return f"```bash\n{command}\n```\n\nor in Python:\n\n```python\n{python}\n```"


def _yaml_value(value) -> str:
    """A value as `--set` reads it (YAML), on one line."""
    text = yaml.safe_dump(value, default_flow_style=True, width=10**9).strip()
    return text.removesuffix("...").strip()  # the end-of-document marker after a scalar


def dataset_card(task: str, config_name: str, fields: dict, dataset_dict, description: str,
                 hub_config: str | None = None, repo_id: str | None = None) -> str:  # fmt: skip
    """A Hugging Face dataset card (README.md): YAML header, description, builder fields, split
    sizes, columns, an example row, how to load it from the Hub and how to rebuild it with
    latent_lab. config_name is the builder config; hub_config the name on the Hub (default:
    config_name); repo_id the Hub repo when it is pushed."""
    hub_config = hub_config or config_name
    # `name` repeats the config name (some callers pass every config field): show it once.
    fields = {k: v for k, v in fields.items() if not (k == "name" and v == config_name)}
    sections = [
        f"# latent_lab `{task}`: `{hub_config}`",
        description.strip() or f"Synthetic `{task}` data made by latent_lab.",
        f"## Builder fields\n\n{_fields_table(fields)}",
        f"## Splits\n\n{_splits_table(dataset_dict)}",
        f"## Columns\n\n{_columns_table(dataset_dict)}",
        f"## Example\n\n{_example_row(dataset_dict)}",
        _loading(hub_config, repo_id),
        "## Rebuild\n\nThe same fields and seed give byte-identical data:\n\n"
        + rebuild_instructions(task, config_name, fields),
    ]
    data = card_data(task, hub_config, dataset_dict)
    return str(DatasetCard(f"---\n{data.to_yaml()}\n---\n\n" + "\n\n".join(sections) + "\n"))


def _columns_table(dataset_dict) -> str:
    features = next(iter(dataset_dict.values())).features
    rows = ["| column | type |", "| --- | --- |"]
    rows += [f"| `{name}` | `{feature!r}` |" for name, feature in features.items()]
    return "\n".join(rows)


def _loading(hub_config: str, repo_id: str | None) -> str:
    repo = repo_id or "NAMESPACE/REPO"
    where = "" if repo_id else " (once pushed with `latent-lab build ... --push-to-hub REPO`)"
    return (
        f"## Load\n\nFrom the Hub{where}: each config, a `--set` variant included, is its "
        "own name in the repository.\n\n"
        f"```python\nfrom datasets import load_dataset\n\n"
        f"dataset = load_dataset({repo!r}, {hub_config!r})\n```"
    )
