"""The end of every run, after results.json and report.md exist: the model card (README.md) on
the main process, the push to the Hub when `--push_to_hub` asked for it, and the end of this
run's W&B run (so the next run in the same process, e.g. a curriculum stage, gets its own).

Trainer would push on its own (at every save, with its generic card, before results.json
exists): start_run hands the request over to us (`defer_hub_push`) before any Trainer is made,
and checks the repo id and the token there, so a bad one fails before training.
"""

from __future__ import annotations

import sys
from pathlib import Path

from latent_lab.hub.push import check_repo_id, hub_token

# Set on the training arguments by defer_hub_push: {"repo_id", "private"}.
PUSH_REQUEST = "latent_lab_hub_push"


def default_repo_id(training_args) -> str:
    """Trainer's choice: hub_model_id, else the output folder's name (in the user's namespace)."""
    return training_args.hub_model_id or Path(training_args.output_dir).absolute().name


def defer_hub_push(training_args) -> None:
    """Take `--push_to_hub` away from Trainer and keep it for publish_run; check the repo id,
    the Hub and the token now (one line, exit 2, before any data or folder)."""
    if not getattr(training_args, "push_to_hub", False):
        return
    repo_id = default_repo_id(training_args)
    check_repo_id(repo_id, "--hub_model_id")
    hub_token("--push_to_hub", training_args.hub_token)
    training_args.push_to_hub = False
    request = {"repo_id": repo_id, "private": training_args.hub_private_repo}
    object.__setattr__(training_args, PUSH_REQUEST, request)


def hub_push_request(training_args) -> dict | None:
    return getattr(training_args, PUSH_REQUEST, None)


def carry_hub_push(training_args) -> dict:
    """Fields that re-ask a copy of these arguments (dataclasses.replace drops the request) to
    push to the same repo: for runs made from one set of arguments, e.g. curriculum stages."""
    request = hub_push_request(training_args)
    return {"push_to_hub": True, "hub_model_id": request["repo_id"]} if request else {}


def publish_run(trainer, results: dict | None, training_args) -> dict | None:
    """Write the run's model card, push it when asked, finish its W&B run. `results` is the
    results.json record on the main process, None elsewhere. Returns the push summary."""
    from latent_lab.training.tracking import finish_wandb_run, wandb_run_url

    pushed = None
    if results is not None:
        write_run_card(
            training_args.output_dir,
            results,
            repo_id=(hub_push_request(training_args) or {}).get("repo_id"),
            command=_command(),
            wandb_url=wandb_run_url(),
        )
        pushed = push_requested_run(training_args)
    finish_wandb_run(training_args)
    return pushed


def write_run_card(run_dir, results: dict, **run_info) -> Path:
    from latent_lab.files import write_text_atomic
    from latent_lab.hub.model_card import CARD_FILE, build_model_card

    card = build_model_card(run_dir, results, **run_info)
    return write_text_atomic(Path(run_dir) / CARD_FILE, str(card))


def push_requested_run(training_args) -> dict | None:
    from latent_lab.hub.push import create_repo, upload_run_folder

    request = hub_push_request(training_args)
    if request is None:
        return None
    field = "--push_to_hub"
    token = hub_token(field, training_args.hub_token)
    repo_id = create_repo(request["repo_id"], private=request["private"], token=token, field=field)
    pushed = upload_run_folder(training_args.output_dir, repo_id, token=token, field=field)
    print(f"pushed {training_args.output_dir} to {pushed['url']}", file=sys.stderr, flush=True)
    return pushed


def _command() -> str:
    from latent_lab.hub.model_card import command_line

    return command_line(sys.argv)
