"""latent_lab: synthetic-task experiments on small language models, the Hugging Face way."""

__version__ = "0.1.0"

from latent_lab import models as _models  # noqa: E402,F401  registers lstm/rnn with the Auto classes


def build_dataset(task: str, config_name: str | None = None, **fields):
    """The DatasetDict that `latent-lab build TASK --config NAME` saves (same cache, same seeds)."""
    from data_builders.registry import build_dataset as _build

    return _build(task, config_name, **fields)


__all__ = ["__version__", "build_dataset"]
