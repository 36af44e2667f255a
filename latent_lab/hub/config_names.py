"""Config names for datasets built with overrides (`latent-lab build TASK --config 5s5a --set
num_train=100`): each variant gets its own name, derived from the fields that differ from its
base config (`5s5a-num_train-100`), so pushing it adds a config to the Hub repo instead of
overwriting the base's. Deterministic (fields in name order) and Hub-valid (letters, digits,
'.', '_', '-'; long names end in a hash of the overrides instead)."""

from __future__ import annotations

import hashlib
import json
import re

MAX_NAME_LENGTH = 64
HASH_LENGTH = 10


def changed_fields(base_config, fields: dict) -> dict:
    """The overrides whose value differs from the named base config's."""
    missing = object()
    return {
        name: value
        for name, value in sorted(fields.items())
        if getattr(base_config, name, missing) != value
    }


def variant_config_name(base_name: str, overrides: dict) -> str:
    """`base-field-value-...` for the changed fields; the base name when nothing changed. A
    name that would be too long, or whose values do not survive as name characters (text with
    spaces, mappings), ends in a hash of the overrides instead."""
    if not overrides:
        return base_name
    parts, lossless = [base_name], True
    for name, value in sorted(overrides.items()):
        text = value_text(value)
        token = re.sub(r"[^A-Za-z0-9._-]+", "_", text)
        lossless = lossless and token == text
        parts += [name, token]
    name = "-".join(parts)
    if lossless and len(name) <= MAX_NAME_LENGTH:
        return name
    canonical = json.dumps(overrides, sort_keys=True, default=str, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:HASH_LENGTH]
    return f"{base_name[: MAX_NAME_LENGTH - HASH_LENGTH - 1]}-{digest}"


def value_text(value) -> str:
    """A value as short text: 0.001 -> 1e-3, 1e-05 -> 1e-5, True -> true."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, float):
        mantissa, _, exponent = f"{value:.6g}".partition("e")
        return f"{mantissa}e{int(exponent)}" if exponent else mantissa
    if isinstance(value, (int, str)):
        return str(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
