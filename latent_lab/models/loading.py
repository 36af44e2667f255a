"""Load a saved run's model and tokenizer, with one-line errors for a wrong folder."""

from __future__ import annotations

from pathlib import Path

from latent_lab.errors import UserError


def load_tokenizer(model_dir: str, field: str = "--model"):
    from transformers import AutoTokenizer

    path = check_model_dir(model_dir, field)
    try:
        return AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError) as error:
        raise UserError(f"{field}: no tokenizer saved in {model_dir!r} ({error})") from None


def load_model(model_dir: str, field: str = "--model"):
    from transformers import AutoModelForCausalLM

    import latent_lab  # noqa: F401  registers lstm/rnn with the Auto classes

    model = AutoModelForCausalLM.from_pretrained(check_model_dir(model_dir, field))
    model.eval()
    return model


def check_model_dir(model_dir: str, field: str) -> Path:
    path = Path(model_dir)
    if not path.is_dir():
        raise UserError(f"{field}: folder {model_dir!r} does not exist; give a run's output_dir")
    if not (path / "config.json").is_file():
        raise UserError(
            f"{field}: {model_dir!r} holds no saved model (config.json); give a finished run's "
            "output_dir or one of its checkpoint-* folders"
        )
    return path
