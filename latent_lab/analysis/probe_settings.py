"""What `latent-lab probe` reads before it loads anything: the probe settings (--config, --set)
and the `ProbeTarget` entries a task lists through the registry (`Task.probe_targets`).
Checked without importing numpy or torch, so a mistake is answered at once; the probes
themselves are in probes.py."""

from __future__ import annotations

from dataclasses import dataclass, fields

from latent_lab.errors import UserError

SPLITS = ("train", "validation", "test")
KINDS = ("hard", "soft")
# The settings' old name for the iteration cap (probes were Adam epochs): one full-batch
# L-BFGS iteration is one pass over the training positions, so the count carries over.
ALIASES = {"epochs": "max_iterations"}


@dataclass(frozen=True)
class ProbeTarget:
    """One thing a task can probe for. kind: "hard" (a class per position: accuracy) or "soft"
    (a probability vector per position: KL from it). `collect` ("module:function") makes the
    task's probe data; targets sharing it are collected in one pass over the model."""

    kind: str
    about: str
    collect: str
    # The splits this task's probe data can come from, and the (train, test) default.
    splits: tuple[str, ...] = ("train", "validation", "test")
    default_splits: tuple[str, str] = ("train", "test")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass
class ProbeSettings:
    """What `latent-lab probe --config` reads (every key optional).

    A probe is a multinomial logistic regression on standardised features, fitted full batch
    by L-BFGS until the largest gradient entry is below `tolerance` (or `max_iterations`);
    `weight_decay` is its L2 penalty, small enough to leave a well-determined fit alone."""

    max_iterations: int = 500
    tolerance: float = 1e-5
    weight_decay: float = 1e-4
    # Splits to fit on and to score on; None: the task's default pair (fsm_icl: train, test).
    train_split: str | None = None
    test_split: str | None = None
    max_train_rows: int = 2000
    max_test_rows: int = 1000
    # Caps on positions (long sequences give many): the first rows up to the cap are used.
    max_train_positions: int = 20_000
    max_test_positions: int = 20_000
    batch_size: int = 32  # sequences per forward pass of the frozen model
    seed: int = 0  # the random-init control's weights
    # Builder config to probe on; default: the run's own data.
    dataset: str | None = None

    def __post_init__(self):
        for name in ("max_iterations", "max_train_rows", "max_test_rows",
                     "max_train_positions", "max_test_positions", "batch_size"):  # fmt: skip
            value = getattr(self, name)
            if not _is_int(value) or value < 1:
                raise UserError(f"{_named(name)}: expected an integer >= 1, got {value!r}")
        if not _is_int(self.seed) or self.seed < 0:
            raise UserError(f"seed: expected an integer >= 0, got {self.seed!r}")
        for name in ("tolerance", "weight_decay"):
            value = getattr(self, name)
            if not _is_number(value) or value < 0:
                raise UserError(f"{name}: expected a number >= 0, got {value!r}")
        if self.tolerance <= 0:
            raise UserError(f"tolerance: must be positive, got {self.tolerance}")
        for name in ("train_split", "test_split"):
            value = getattr(self, name)
            if value is not None and value not in SPLITS:
                raise UserError(f"{name}: {value!r} is not one of {SPLITS}")
        if self.dataset is not None and not isinstance(self.dataset, str):
            raise UserError(f"dataset: expected a builder config name, got {self.dataset!r}")

    @property
    def epochs(self) -> int:
        """The old name of max_iterations (recipes/probes/*/ files may still use it)."""
        return self.max_iterations

    @classmethod
    def from_mapping(cls, values: dict) -> ProbeSettings:
        values = dict(values)
        for old, new in ALIASES.items():
            if old in values:
                if new in values:
                    raise UserError(f"probe settings: {old!r} and {new!r} are the same; set one")
                values[new] = values.pop(old)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise UserError(f"probe settings: unknown key {unknown[0]!r}; known: {sorted(known)}")
        return cls(**values)

    def splits(self, target: ProbeTarget) -> tuple[str, str]:
        """(train split, test split) for this task's data, checked against its splits."""
        chosen = (
            self.train_split or target.default_splits[0],
            self.test_split or target.default_splits[1],
        )
        for name, split in zip(("train_split", "test_split"), chosen, strict=True):
            if split not in target.splits:
                raise UserError(
                    f"{name}: this task's probe data has no {split!r} split; "
                    f"choose one of {', '.join(target.splits)}"
                )
        return chosen


def _named(name: str) -> str:
    """A field's name as the user may have written it (max_iterations was `epochs`)."""
    old = [key for key, value in ALIASES.items() if value == name]
    return f"{name} (or {old[0]})" if old else name
