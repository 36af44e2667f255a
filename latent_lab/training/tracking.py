"""Run bookkeeping: W&B grouping (project, group and tags go into WANDB_* variables before the
run starts, which is where the HF W&B integration reads them), one W&B run per run (finished
when the run ends), and the log levels of the main and the other processes."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from latent_lab.config import recipes_dir


def config_label(config_path: str | os.PathLike | None) -> str | None:
    """The config path as a stable label: relative to the repository when it is a recipe config."""
    if config_path is None:
        return None
    path = Path(config_path).resolve()
    root = recipes_dir().resolve().parent
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(config_path)


def configure_wandb(args, config_path) -> dict[str, str]:
    """Set WANDB_PROJECT / WANDB_RUN_GROUP / WANDB_TAGS from the config when W&B is a target.
    Explicit config values win over the environment; the group defaults to the config path."""
    if "wandb" not in (args.report_to or []):
        return {}
    chosen = {
        "WANDB_PROJECT": args.wandb_project or os.environ.get("WANDB_PROJECT") or "latent_lab",
        "WANDB_RUN_GROUP": args.wandb_group
        or os.environ.get("WANDB_RUN_GROUP")
        or config_label(config_path)
        or "default",
    }
    tags = args.wandb_tags or os.environ.get("WANDB_TAGS")
    if tags:
        chosen["WANDB_TAGS"] = ",".join(t.strip() for t in tags.split(",") if t.strip())
    os.environ.update(chosen)
    return chosen


def wandb_run_url() -> str | None:
    """The live W&B run's page (None: no run, or an offline one)."""
    wandb = sys.modules.get("wandb")  # never imported just to ask
    run = getattr(wandb, "run", None) if wandb is not None else None
    return getattr(run, "url", None) if run is not None else None


def finish_wandb_run(args) -> None:
    """End this run's W&B run: the HF integration leaves it open until the process exits, so the
    next run in the same process (a curriculum stage) would log into it. teardown() too: wandb
    reads WANDB_* once per setup, so the next run's group and tags would be this one's."""
    wandb = sys.modules.get("wandb")
    if "wandb" in (args.report_to or []) and wandb is not None and wandb.run is not None:
        wandb.finish()
        wandb.teardown()


def set_log_levels(args) -> None:
    """transformers' and datasets' verbosity for this process: the main process keeps
    log_level, the others use log_level_replica (warning by default), as HF scripts do."""
    import datasets
    import transformers

    level = args.get_process_log_level()
    transformers.utils.logging.set_verbosity(level)
    datasets.utils.logging.set_verbosity(level)
