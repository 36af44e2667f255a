"""latent_lab: synthetic-task experiments on small language models, the Hugging Face way."""

__version__ = "0.1.0"

from latent_lab import auto_registration as _auto_registration  # noqa: E402

# lstm/rnn join AutoConfig / AutoModelForCausalLM once transformers loads; torch and
# transformers are not imported here, so `latent-lab --help` answers at once.
_auto_registration.install()


def build_dataset(task: str, config_name: str | None = None, **fields):
    """The DatasetDict that `latent-lab build TASK --config NAME` saves (same cache, same seeds)."""
    from latent_lab.tasks.builders import build_dataset as _build

    return _build(task, config_name, **fields)


__all__ = ["__version__", "build_dataset"]
