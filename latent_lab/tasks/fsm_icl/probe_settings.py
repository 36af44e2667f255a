"""What `latent-lab probe --config` reads, checked without importing torch (the command checks
the settings before it loads anything); the probes themselves are in probes.py."""

from __future__ import annotations

from dataclasses import dataclass, fields

from latent_lab.errors import UserError

SPLITS = ("train", "validation", "test")


@dataclass
class ProbeSettings:
    """What `latent-lab probe --config` reads (every key optional)."""

    epochs: int = 16
    learning_rate: float = 1e-2
    batch_size: int = 256
    weight_decay: float = 0.0
    train_split: str = "train"
    test_split: str = "test"
    max_train_rows: int = 2000
    max_test_rows: int = 1000
    seed: int = 0
    # Builder config (or YAML of builder fields) to probe on; default: the run's own dataset.
    dataset: str | None = None

    def __post_init__(self):
        for name in ("epochs", "batch_size", "max_train_rows", "max_test_rows"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UserError(f"{name}: expected an integer >= 1, got {value!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise UserError(f"seed: expected an integer >= 0, got {self.seed!r}")
        for name in ("learning_rate", "weight_decay"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise UserError(f"{name}: expected a number >= 0, got {value!r}")
        if self.learning_rate <= 0:
            raise UserError(f"learning_rate: must be positive, got {self.learning_rate}")
        for name in ("train_split", "test_split"):
            if getattr(self, name) not in SPLITS:
                raise UserError(f"{name}: {getattr(self, name)!r} is not one of {SPLITS}")

    @classmethod
    def from_mapping(cls, values: dict) -> ProbeSettings:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise UserError(f"probe settings: unknown key {unknown[0]!r}; known: {sorted(known)}")
        return cls(**values)
