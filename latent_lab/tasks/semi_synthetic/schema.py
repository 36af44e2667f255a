"""Schema of the two-hop source tables (one JSON file per e2 type), checked on load.

A table: {"type", "kind", "person_question" (with {person}), "person_reference" (the noun phrase
of the same relation, e.g. "{person}'s favorite national park"), "attributes": {attr: {"question":
the two-hop question about "it", "entity_questions": [... {entity} ...], "statements": [...
{entity} ... {value} ...]}}, "entities": [{"name": ..., attr: "value", ...}] x 20}. The attributes
of each type are fixed by TYPE_ATTRIBUTES (the table of docs/spec/two_hop.md). Every error is
one UserError line naming the file, entity and attribute.
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from latent_lab.errors import UserError

TYPE_ATTRIBUTES = {
    "parks": ("state", "established", "code"),
    "chemical_elements": ("atomic_number", "symbol", "discovery_year", "discoverer_last_name"),
    "programming_languages": (
        "release_year", "file_extension", "creator_last_name", "home_country"
    ),
    "world_heritage_sites": ("year_inscribed", "country", "city", "continent"),
    "video_game_consoles": ("release_year", "manufacturer", "home_country", "generation"),
    "famous_paintings": ("creation_year", "artist_last_name", "museum", "city"),
    "cathedrals": ("completion_year", "city", "country", "architectural_style"),
    "bridges": ("completion_year", "length_meters", "city", "country"),
    "operas": ("premiere_year", "composer_last_name", "language", "premiere_city"),
    "telescopes": ("first_light_year", "continent", "location", "country"),
    "observatories": ("founding_year", "altitude_meters", "city", "country"),
    "ancient_cities": ("founding_century_bc", "modern_country", "continent"),
    "mountain_peaks": ("height_meters", "first_ascent_year", "country", "continent"),
    "universities": ("founding_year", "city", "country", "continent"),
    "constellations": ("best_viewing_month", "hemisphere", "brightest_star"),
    "ships": ("launch_year", "first_captain_last_name", "home_port", "country"),
    "newspapers": ("founding_year", "language", "city", "country"),
    "subway_systems": ("opening_year", "station_count", "city", "country"),
}  # fmt: skip
TYPES = tuple(TYPE_ATTRIBUTES)
NUM_ENTITIES = 20
TABLE_KEYS = ("type", "kind", "person_question", "person_reference", "attributes", "entities")
TEMPLATE_KEYS = ("question", "entity_questions", "statements")


@dataclass(frozen=True)
class AttributeTemplates:
    question: str
    entity_questions: tuple[str, ...]
    statements: tuple[str, ...]


@dataclass(frozen=True)
class E2Table:
    type: str
    kind: str
    person_question: str
    person_reference: str
    attributes: MappingProxyType  # attribute -> AttributeTemplates, in the spec's order
    entities: tuple  # of read-only {"name": ..., attribute: value} mappings


def unknown_type_error(e2_type) -> UserError:
    return UserError(f"type: unknown e2 type {e2_type!r}; choose one of {', '.join(TYPES)}")


def _check_keys(where: str, found, expected) -> None:
    missing = [key for key in expected if key not in found]
    extra = sorted(set(found) - set(expected))
    if missing:
        raise UserError(f"{where}: missing key {missing[0]!r}")
    if extra:
        raise UserError(f"{where}: unknown key {extra[0]!r}; expected {', '.join(expected)}")


def _check_template(where: str, text, allowed: set[str], required: set[str]) -> str:
    if not isinstance(text, str) or not text.strip():
        raise UserError(f"{where}: expected a non-empty string, got {text!r}")
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as error:
        raise UserError(f"{where}: bad template {text!r} ({error})") from None
    if fields - allowed or required - fields:
        names = ", ".join("{" + name + "}" for name in sorted(required))
        raise UserError(f"{where}: template {text!r} must use exactly {names or 'no fields'}")
    return text


def _check_template_list(where: str, texts, allowed: set[str]) -> tuple[str, ...]:
    if not isinstance(texts, list) or not texts:
        raise UserError(f"{where}: expected a non-empty list of templates, got {texts!r}")
    return tuple(_check_template(f"{where}[{i}]", t, allowed, allowed) for i, t in enumerate(texts))


def _check_attributes(source: str, attributes, names: tuple[str, ...]) -> dict:
    if not isinstance(attributes, dict):
        raise UserError(f"{source}: 'attributes' must be a mapping of attribute -> templates")
    _check_keys(f"{source}: attributes", attributes, names)
    checked = {}
    for name in names:
        where = f"{source}: attribute {name!r}"
        spec = attributes[name]
        if not isinstance(spec, dict):
            raise UserError(f"{where}: expected a mapping with {', '.join(TEMPLATE_KEYS)}")
        _check_keys(where, spec, TEMPLATE_KEYS)
        checked[name] = AttributeTemplates(
            question=_check_template(f"{where} question", spec["question"], set(), set()),
            entity_questions=_check_template_list(
                f"{where} entity_questions", spec["entity_questions"], {"entity"}
            ),
            statements=_check_template_list(
                f"{where} statements", spec["statements"], {"entity", "value"}
            ),
        )
    return checked


def _check_entities(source: str, entities, names: tuple[str, ...]) -> tuple:
    if not isinstance(entities, list) or len(entities) != NUM_ENTITIES:
        found = len(entities) if isinstance(entities, list) else type(entities).__name__
        raise UserError(f"{source}: expected a list of {NUM_ENTITIES} entities, found {found}")
    checked, seen = [], set()
    for index, entity in enumerate(entities):
        if not isinstance(entity, dict):
            raise UserError(f"{source}: entity #{index} must be a mapping, got {entity!r}")
        label = entity.get("name", f"#{index}")
        where = f"{source}: entity {label!r}"
        for key in ("name", *names):
            if key not in entity:
                raise UserError(f"{where}: missing attribute {key!r}")
            value = entity[key]
            if not isinstance(value, str) or not value.strip():
                kind = type(value).__name__
                raise UserError(
                    f"{where}: attribute {key!r} must be a non-empty string, got {kind}"
                )
        extra = sorted(set(entity) - {"name", *names})
        if extra:
            raise UserError(f"{where}: unknown attribute {extra[0]!r}; expected {', '.join(names)}")
        if entity["name"] in seen:
            raise UserError(f"{where}: duplicate entity name")
        seen.add(entity["name"])
        checked.append(MappingProxyType({key: entity[key] for key in ("name", *names)}))
    return tuple(checked)


def read_table(path) -> E2Table:
    """Load and schema-check one table file; every error is a one-line UserError."""
    path = path if hasattr(path, "read_text") else Path(path)  # a Path or a package resource
    source = path.name
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise UserError(f"{source}: cannot read a JSON table ({error})") from None
    if not isinstance(data, dict):
        raise UserError(f"{source}: expected a JSON object with keys {', '.join(TABLE_KEYS)}")
    _check_keys(source, data, TABLE_KEYS)
    if data["type"] not in TYPE_ATTRIBUTES:
        raise UserError(f"{source}: 'type' must be one of {', '.join(TYPES)}, got {data['type']!r}")
    names = TYPE_ATTRIBUTES[data["type"]]
    person = {"person"}
    return E2Table(
        type=data["type"],
        kind=_check_template(f"{source}: kind", data["kind"], set(), set()),
        person_question=_check_template(
            f"{source}: person_question", data["person_question"], person, person
        ),
        person_reference=_check_template(
            f"{source}: person_reference", data["person_reference"], person, person
        ),
        attributes=MappingProxyType(_check_attributes(source, data["attributes"], names)),
        entities=_check_entities(source, data["entities"], names),
    )
