"""The semi-synthetic data fields: what a builder config holds and a recipe may set (one definition
for both: data_builders/semi_synthetic.py and arguments.py derive from it), checked without
reading data. A user's table file is read when the builder is made (`table()`).

One builder config per e2 type, named by the type (`parks`, ...): a config *is* its type, with
the default pairing seed and 5 shuffles. The splits are docs/spec/two_hop.md's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from latent_lab.errors import UserError
from latent_lab.tasks.semi_synthetic import facts
from latent_lab.tasks.semi_synthetic.schema import E2Table, unknown_type_error
from latent_lab.tasks.sizes import check_at_most

DEFAULT_TYPE = "parks"
# Every shuffle is another set of shuffled-answer rows evaluated at every evaluation; the
# shuffled-answer loss is a mean over them, settled long before this many.
MAX_SHUFFLES = 1_000


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _field(default, help_text: str):
    return field(default=default, metadata={"help": help_text})


@dataclass
class SemiSyntheticDataConfig:
    """type: the e2 type (its shipped table, or `table_file` of that type); data_seed: the seed
    pairing people with entities, None for the type's fixed default (facts.type_seed);
    num_shuffles: shuffled-answer permutations (seeds data_seed + 1, data_seed + 2, ...)."""

    type: str = _field(DEFAULT_TYPE, f"e2 type: {', '.join(facts.TYPES)}")
    data_seed: int | None = _field(None, "seed pairing people with entities (null: the type's)")
    num_shuffles: int = _field(facts.DEFAULT_NUM_SHUFFLES, "permutations of shuffled answers")
    table_file: str | None = _field(
        None, "your own JSON table of this type (the shipped schema) instead of the shipped one"
    )

    def validate(self) -> None:
        """Checks without I/O; a table file is read when the builder is made."""
        if self.type not in facts.TYPES:
            raise unknown_type_error(self.type)
        if self.data_seed is not None and (not _is_int(self.data_seed) or self.data_seed < 0):
            raise UserError(
                f"data_seed: expected a non-negative integer or null, got {self.data_seed!r}"
            )
        if not _is_int(self.num_shuffles) or self.num_shuffles < 1:
            raise UserError(f"num_shuffles: expected a positive integer, got {self.num_shuffles!r}")
        check_at_most("num_shuffles", self.num_shuffles, MAX_SHUFFLES, "shuffles")
        if isinstance(self.table_file, os.PathLike):
            self.table_file = os.fspath(self.table_file)
        table_file = self.table_file
        if table_file is not None and (not isinstance(table_file, str) or not table_file.strip()):
            raise UserError(f"table_file: expected the path of a JSON table, got {table_file!r}")

    def pairing_seed(self) -> int:
        """The seed in effect: data_seed, or the type's fixed default when it is None."""
        return facts.type_seed(self.type) if self.data_seed is None else self.data_seed

    def table(self) -> E2Table:
        """The e2 table: the user's table_file (schema-checked, of this type) or the shipped one."""
        if self.table_file is None:
            return facts.load_table(self.type)
        path = Path(self.table_file).expanduser()
        if not path.is_file():
            raise UserError(
                f"table_file: {self.table_file} is not a file; give a JSON table in the shipped "
                "schema (latent_lab/tasks/semi_synthetic/tables/<type>.json)"
            )
        table = facts.read_table(path)
        if table.type != self.type:
            raise UserError(
                f"table_file: {self.table_file} has type {table.type!r}; set type to match"
            )
        return table
