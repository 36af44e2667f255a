"""`latent-lab push RUN_DIR REPO_ID [--private] [--dataset-repo ID]`: upload a finished run
folder (model, results.json, report, plots) to the Hub with its model card (README.md), the
same upload `--push_to_hub` makes at the end of a run."""

from __future__ import annotations

import sys
from pathlib import Path


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "push",
        help="push a finished run (model + model card with exact references) to the Hub",
        description=(
            "Upload RUN_DIR to the Hub model repo REPO_ID: the saved model, results.json, "
            "report.md, the plots and the model card (README.md; rebuilt for REPO_ID, keeping "
            "the training command and W&B link). Checkpoints are left out. The token comes "
            "from HF_TOKEN or `hf auth login`."
        ),
    )
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a finished run folder")
    parser.add_argument("repo_id", metavar="REPO_ID", help="NAME or NAMESPACE/NAME")
    parser.add_argument("--private", action="store_true", help="create the repo private")
    parser.add_argument(
        "--dataset-repo",
        metavar="ID",
        help="the Hub id of the dataset it was trained on (latent-lab build --push-to-hub ID)",
    )
    parser.set_defaults(func=push_command)


def push_command(args) -> dict:
    from latent_lab.hub.push import check_finished_run, check_repo_id, create_repo, hub_token

    # Every check before anything is written or sent; the Hub may still refuse the name.
    results = check_finished_run(args.run_dir)
    check_repo_id(args.repo_id, "REPO_ID")
    if args.dataset_repo:
        check_repo_id(args.dataset_repo, "--dataset-repo")
    token = hub_token("REPO_ID")
    repo_id = create_repo(args.repo_id, private=args.private or None, token=token, field="REPO_ID")
    pushed = upload_with_card(Path(args.run_dir), results, repo_id, args.dataset_repo, token)
    print(f"pushed {args.run_dir} to {pushed['url']}", file=sys.stderr)
    card = str(Path(args.run_dir) / "README.md")
    return {"run_dir": str(args.run_dir), "private": args.private, "model_card": card, **pushed}


def upload_with_card(run_dir: Path, results: dict, repo_id: str, dataset_repo, token) -> dict:
    """Write the card for repo_id, keeping what only the run knew (its command line, its W&B
    run) from the card the run wrote, and upload; the old card comes back if the upload fails."""
    from latent_lab.errors import UserError
    from latent_lab.files import write_text_atomic
    from latent_lab.hub.model_card import CARD_FILE, previous_run_info
    from latent_lab.hub.publish import write_run_card
    from latent_lab.hub.push import upload_run_folder

    card = run_dir / CARD_FILE
    previous = card.read_text() if card.is_file() else None
    run_info = {**previous_run_info(run_dir), "repo_id": repo_id}
    if dataset_repo:
        run_info["dataset_repo"] = dataset_repo
    write_run_card(run_dir, results, **run_info)
    try:
        return upload_run_folder(run_dir, repo_id, token=token, field="REPO_ID")
    except UserError:
        if previous is None:
            card.unlink()
        else:
            write_text_atomic(card, previous)
        raise
