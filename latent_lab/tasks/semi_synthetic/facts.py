"""Semi-synthetic two-hop reasoning: invented people -> real entities (e2) -> real attributes (e3).

The source tables live in latent_lab/tasks/semi_synthetic/tables/<type>.json (format and checks
in schema.py); tables/people.json lists the invented people. Splits of one type (seeded, pure
numpy; docs/spec/two_hop.md):

- first_hop: "What is {person}'s favorite <kind>?" -> the entity (the fact to fine-tune on);
- 2hop_<attr>_nocot / _cot: "Consider {person}'s favorite <kind>. <attribute question>" answered
  immediately / after naming the entity; the cot assistant text is a reference completion;
- 2hop_<attr>_nocot_shuffled: the nocot rows with answers permuted across people, once per
  shuffle seed (seed + 1, seed + 2, ...): the loss of a model that knows the answer
  distribution but not the person -> entity link. answer_intermediate stays the person's entity.

world_knowledge_rows() and vocabulary_texts() serve the self-contained mode (a small model
trained from scratch on the e2 facts, with a word-level tokenizer). No Hugging Face imports:
data_builders/semi_synthetic.py turns these rows into a DatasetDict.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from importlib import resources
from types import MappingProxyType

import numpy as np

from latent_lab.errors import UserError
from latent_lab.tasks.semi_synthetic.schema import (
    NUM_ENTITIES,
    TYPE_ATTRIBUTES,
    TYPES,
    AttributeTemplates,
    E2Table,
    read_table,
    unknown_type_error,
)

# Re-exported: the schema is part of this module's API.
__all__ = [
    "AttributeTemplates",
    "E2Table",
    "NUM_ENTITIES",
    "TYPES",
    "TYPE_ATTRIBUTES",
    "read_table",
]

FULL_RUN_TYPES = tuple(name for name in TYPES if name != "observatories")
MIN_PEOPLE = 40
DEFAULT_NUM_SHUFFLES = 5
DATA_PACKAGE = "latent_lab.tasks.semi_synthetic.tables"

FIRST_HOP_SYSTEM = "Answer the question immediately with only the name of the {kind}."
NOCOT_SYSTEM = "Answer the question immediately, with only the answer and no explanation."
COT_SYSTEM = (
    "Think step by step: first work out which {kind} the question is about, then answer. "
    "End with a line of the form 'Answer: <answer>'."
)
SENTENCE_SYSTEM = "Answer the question in one complete sentence."
# A word-level tokenizer must split like this: the fragments of vocabulary_texts() are joined
# at placeholder boundaries ("{person}'s" -> "Ada Lark", "'", "s").
WORD_PATTERN = re.compile(r"\w+|[^\w\s]")


@functools.cache
def load_table(e2_type: str) -> E2Table:
    """The shipped table of one e2 type (cached; read-only)."""
    if e2_type not in TYPE_ATTRIBUTES:
        raise unknown_type_error(e2_type)
    table = read_table(resources.files(DATA_PACKAGE) / f"{e2_type}.json")
    if table.type != e2_type:
        raise UserError(f"{e2_type}.json: 'type' is {table.type!r}, expected {e2_type!r}")
    return table


@functools.cache
def load_people() -> tuple[str, ...]:
    """The invented people (>= 40 distinct names)."""
    people = json.loads((resources.files(DATA_PACKAGE) / "people.json").read_text("utf-8"))
    names = people.get("people") if isinstance(people, dict) else None
    if not isinstance(names, list) or not all(isinstance(n, str) and n.strip() for n in names):
        raise UserError("people.json: expected {'people': [non-empty names, ...]}")
    if len(set(names)) != len(names) or len(names) < MIN_PEOPLE:
        raise UserError(f"people.json: expected at least {MIN_PEOPLE} distinct names")
    return tuple(names)


def type_seed(e2_type: str) -> int:
    """The default data seed of a type: fixed, derived from its name (not Python's hash)."""
    digest = hashlib.sha256(f"two_hop:{e2_type}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 1_000_000


def shuffle_seeds(seed: int, num_shuffles: int = DEFAULT_NUM_SHUFFLES) -> list[int]:
    """Consecutive seeds of the shuffled-answer permutations (after the pairing seed)."""
    return [seed + 1 + k for k in range(num_shuffles)]


def pair_people(
    e2_type: str, seed: int, table: E2Table | None = None
) -> list[tuple[str, MappingProxyType]]:
    """20 people drawn and ordered by a permutation seeded with `seed`, paired with the
    entities in table order (`table`: a user's table of this type instead of the shipped one)."""
    table, people = table or load_table(e2_type), load_people()
    order = np.random.default_rng(seed).permutation(len(people))[:NUM_ENTITIES]
    return [(people[int(i)], entity) for i, entity in zip(order, table.entities, strict=True)]


def chat_row(system, user, assistant, answer, entity, e2_type, attribute) -> dict:
    messages = [("system", system), ("user", user), ("assistant", assistant)]
    return {
        "messages": [{"role": role, "content": content} for role, content in messages],
        "question": user,
        "answer": answer,
        "answer_intermediate": entity,
        "e2_type": e2_type,
        "attribute": attribute,
    }


def _capitalized(text: str) -> str:
    return text[:1].upper() + text[1:]


def first_hop_row(table: E2Table, person: str, entity: str) -> dict:
    system = FIRST_HOP_SYSTEM.format(kind=table.kind)
    user = table.person_question.format(person=person)
    return chat_row(system, user, entity, entity, entity, table.type, None)


def two_hop_rows(table: E2Table, attribute: str, person: str, entity: str, value: str):
    """(nocot row, cot row) for one person and attribute; both share the user text."""
    templates = table.attributes[attribute]
    reference = table.person_reference.format(person=person)
    user = f"Consider {reference}. {templates.question}"
    statement = templates.statements[0].format(entity=entity, value=value)
    reasoning = f"{_capitalized(reference)} is {entity}. {statement}\nAnswer: {value}"
    nocot = chat_row(NOCOT_SYSTEM, user, value, value, entity, table.type, attribute)
    cot_system = COT_SYSTEM.format(kind=table.kind)
    cot = chat_row(cot_system, user, reasoning, value, entity, table.type, attribute)
    return nocot, cot


def build_splits(
    e2_type: str,
    seed: int | None = None,
    num_shuffles: int = DEFAULT_NUM_SHUFFLES,
    table: E2Table | None = None,
):
    """{split name: rows} of one type: first_hop, then per attribute 2hop_<attr>_nocot,
    2hop_<attr>_cot, 2hop_<attr>_nocot_shuffled (num_shuffles x 20 rows). `table`: a user's
    table of this type (already schema-checked) instead of the shipped one."""
    seed = type_seed(e2_type) if seed is None else seed
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise UserError(f"seed: expected a non-negative integer, got {seed!r}")
    if isinstance(num_shuffles, bool) or not isinstance(num_shuffles, int) or num_shuffles < 1:
        raise UserError(f"num_shuffles: expected a positive integer, got {num_shuffles!r}")
    table = table or load_table(e2_type)
    pairs = pair_people(e2_type, seed, table)
    splits = {"first_hop": [first_hop_row(table, p, e["name"]) for p, e in pairs]}
    permutations = [
        np.random.default_rng(s).permutation(len(pairs)) for s in shuffle_seeds(seed, num_shuffles)
    ]
    for attribute in table.attributes:
        rows = [two_hop_rows(table, attribute, p, e["name"], e[attribute]) for p, e in pairs]
        splits[f"2hop_{attribute}_nocot"] = [nocot for nocot, _ in rows]
        splits[f"2hop_{attribute}_cot"] = [cot for _, cot in rows]
        values = [entity[attribute] for _, entity in pairs]
        splits[f"2hop_{attribute}_nocot_shuffled"] = [
            two_hop_rows(table, attribute, person, entity["name"], values[int(order[i])])[0]
            for order in permutations
            for i, (person, entity) in enumerate(pairs)
        ]
    return splits


def fact_rows(table: E2Table, attribute: str, entity: str, value: str) -> list[dict]:
    """Natural-language knowledge of one fact: questions answered immediately, the two-hop
    question asked about the entity itself, full-sentence paraphrases and a worked answer."""
    templates, e2_type = table.attributes[attribute], table.type
    questions = [q.format(entity=entity) for q in templates.entity_questions]
    statements = [s.format(entity=entity, value=value) for s in templates.statements]
    direct = f"Consider {entity}. {templates.question}"
    rows = [chat_row(NOCOT_SYSTEM, q, value, value, entity, e2_type, attribute) for q in questions]
    rows.append(chat_row(NOCOT_SYSTEM, direct, value, value, entity, e2_type, attribute))
    rows += [
        chat_row(SENTENCE_SYSTEM, questions[0], s, value, entity, e2_type, attribute)
        for s in statements
    ]
    cot_system = COT_SYSTEM.format(kind=table.kind)
    worked = f"{statements[0]}\nAnswer: {value}"
    rows.append(chat_row(cot_system, direct, worked, value, entity, e2_type, attribute))
    return rows


def world_knowledge_rows(types=TYPES) -> list[dict]:
    """Rows (same chat schema) teaching every attribute of every entity of `types`, for
    training a small model from scratch before the first-hop fine-tune."""
    rows = []
    for e2_type in types:
        table = load_table(e2_type)
        for entity in table.entities:
            for attribute in table.attributes:
                rows += fact_rows(table, attribute, entity["name"], entity[attribute])
    return rows


def vocabulary_texts(types=TYPES) -> list[str]:
    """Every string that may appear in a row, as fragments: names, values, and the fixed text of
    every rendered template cut at its placeholders. Split them with WORD_PATTERN."""
    marker = "\x00"
    texts = set(load_people())
    for e2_type in types:
        table = load_table(e2_type)
        rendered = first_hop_row(table, marker, marker)["messages"]
        for attribute in table.attributes:
            rendered += [m for row in two_hop_rows(table, attribute, marker, marker, marker)
                         for m in row["messages"]]  # fmt: skip
            rendered += [m for row in fact_rows(table, attribute, marker, marker)
                         for m in row["messages"]]  # fmt: skip
        texts.update(part for m in rendered for part in m["content"].split(marker))
        texts.update(value for entity in table.entities for value in entity.values())
    return sorted(text for text in texts if text)


def word_vocabulary(types=TYPES) -> list[str]:
    """The words (WORD_PATTERN tokens) of every string that may appear in a row."""
    return sorted({word for text in vocabulary_texts(types) for word in WORD_PATTERN.findall(text)})
