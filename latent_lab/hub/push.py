"""Uploading a finished run folder to the Hub with huggingface_hub's HfApi (create_repo, then
upload_folder), and the checks made before anything is written or sent: a valid repo id, the
Hub reachable (not HF_HUB_OFFLINE), a token. Errors are one line naming the field; a token is
never printed."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from latent_lab.errors import UserError

# Not uploaded: intermediate checkpoints (optimizer states) and local tool folders.
IGNORED = ["checkpoint-*", "checkpoint-*/**", ".*", ".*/**", "wandb/**"]
MODEL_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
               "adapter_model.safetensors", "adapter_model.bin")  # fmt: skip


def check_repo_id(repo_id: str, field: str) -> None:
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError as error:
        reason = " ".join(str(error).split())
        raise UserError(
            f"{field}: {repo_id!r} is not a valid Hub repo id ({reason}); use NAME or "
            "NAMESPACE/NAME with letters, digits, '-', '_' and '.'"
        ) from None


def hub_token(field: str, token: str | None = None) -> str:
    """The token to push with (given, HF_TOKEN, or the saved login), after checking the Hub is
    not switched off. Refuses offline mode first: no token helps there."""
    from huggingface_hub import get_token, is_offline_mode

    if is_offline_mode():
        raise UserError(
            f"{field}: the Hub is offline (HF_HUB_OFFLINE=1); unset HF_HUB_OFFLINE to upload"
        )
    token = token or get_token()
    if not token:
        raise UserError(
            f"{field}: no Hugging Face token; run `hf auth login` or set HF_TOKEN (a token "
            "with write access)"
        )
    return token


def check_finished_run(run_dir: str | Path, field: str = "RUN_DIR") -> dict:
    """results.json (with metrics) and a saved model: what a finished run folder holds."""
    folder = Path(run_dir)
    fix = "give the folder of a finished run (results.json and the saved model)"
    try:
        results = json.loads((folder / "results.json").read_text())
    except FileNotFoundError:
        raise UserError(
            f"{field}: {folder} is not a finished run (no results.json); {fix}"
        ) from None
    except (OSError, ValueError) as error:
        reason = " ".join(str(error).split())
        raise UserError(
            f"{field}: {folder}/results.json cannot be read ({reason}); {fix}"
        ) from None
    if not isinstance(results, dict) or "metrics" not in results or "task" not in results:
        raise UserError(f"{field}: {folder}/results.json has no metrics; {fix}")
    if not any((folder / name).is_file() for name in MODEL_FILES):
        raise UserError(f"{field}: {folder} holds no saved model ({MODEL_FILES[0]}); {fix}")
    return results


def create_repo(repo_id: str, *, private: bool | None, token: str, field: str,
                repo_type: str = "model") -> str:  # fmt: skip
    """Create the repo (kept if it exists); returns its full id (namespace/name). The Hub
    refuses a bad name here, before anything is written."""
    from huggingface_hub import HfApi

    with hub_errors(repo_id, field):
        repo = HfApi(token=token).create_repo(
            repo_id, private=private, exist_ok=True, repo_type=repo_type
        )
    return repo.repo_id


def upload_run_folder(run_dir: str | Path, repo_id: str, *, token: str, field: str) -> dict:
    """Upload the run folder (no checkpoints) as one commit; returns where it went."""
    from huggingface_hub import HfApi

    with hub_errors(repo_id, field):
        commit = HfApi(token=token).upload_folder(
            repo_id=repo_id,
            folder_path=str(run_dir),
            repo_type="model",
            commit_message="latent_lab: finished run, model card with exact references",
            ignore_patterns=IGNORED,
        )
    return {
        "repo_id": repo_id,
        "url": f"https://huggingface.co/{repo_id}",
        "commit_url": getattr(commit, "commit_url", None),
    }


@contextlib.contextmanager
def hub_errors(repo_id: str, field: str):
    """Turn the Hub's refusals and network failures into one-line UserErrors."""
    from huggingface_hub.errors import HfHubHTTPError, HFValidationError, OfflineModeIsEnabled

    prefix = f"{field} {repo_id}"
    try:
        yield
    except OfflineModeIsEnabled:
        raise UserError(f"{prefix}: the Hub is offline; unset HF_HUB_OFFLINE") from None
    except HFValidationError as error:
        raise UserError(f"{prefix}: the repo id is not valid ({_first_line(error)})") from None
    except HfHubHTTPError as error:
        status = getattr(getattr(error, "response", None), "status_code", None)
        raise UserError(
            f"{prefix}: the Hub refused it (HTTP {status}: {_first_line(error)}); check the "
            "repo id and that your token may write to it"
        ) from None
    except Exception as error:
        if isinstance(error, OSError) or type(error).__module__.startswith(("httpx", "httpcore")):
            raise UserError(
                f"{prefix}: cannot reach the Hub ({type(error).__name__}); check the network"
            ) from None
        raise


def _first_line(error: Exception) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0][:200] if lines else type(error).__name__
