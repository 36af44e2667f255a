"""Load a saved run's model and tokenizer, with one-line errors for a wrong folder
(check_model_dir, in latent_lab.files so commands can run it before importing torch)."""

from __future__ import annotations

from latent_lab.errors import UserError
from latent_lab.files import check_model_dir


def load_tokenizer(model_dir: str, field: str = "--model"):
    from transformers import AutoTokenizer

    path = check_model_dir(model_dir, field)
    try:
        return AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError) as error:
        raise UserError(f"{field}: no tokenizer saved in {model_dir!r} ({error})") from None


def load_model(model_dir: str, field: str = "--model"):
    from transformers import AutoModelForCausalLM

    import latent_lab.models  # noqa: F401  registers lstm/rnn with the Auto classes

    model = AutoModelForCausalLM.from_pretrained(check_model_dir(model_dir, field))
    model.eval()
    return model
