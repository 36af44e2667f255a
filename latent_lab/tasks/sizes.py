"""Upper bounds on dataset sizes, checked by every task's data config (validate()) before any
data is made: past them a build would run for hours or exhaust memory before failing, so the
user is told at once, with the limit. Each task states its limits beside its fields."""

from __future__ import annotations

from latent_lab.errors import UserError


def check_at_most(name: str, value: int, limit: int, unit: str) -> None:
    """`name` holds at most `limit` (`unit`: what is counted, e.g. "sequences per split")."""
    if value > limit:
        raise UserError(f"{name}: at most {limit:,} {unit}, got {value:,}; lower it")


def check_product(names: tuple[str, ...], values: tuple[int, ...], limit: int, unit: str) -> None:
    """The product of several fields (e.g. num_train x seq_len tokens) is at most `limit`."""
    total = 1
    for value in values:
        total *= value
    if total > limit:
        product = " x ".join(f"{name} {value:,}" for name, value in zip(names, values, strict=True))
        fix = " or ".join(names)
        raise UserError(f"{names[0]}: {product} = {total:,} {unit}; at most {limit:,}: lower {fix}")
