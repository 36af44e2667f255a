"""Semi-synthetic two-hop data: tables, splits, world-knowledge rows and demonstrations,
vocabulary and word tokenizer, builder (fields, user tables)."""

import json
import re
from importlib import resources

import numpy as np
import pytest

from latent_lab.errors import UserError
from latent_lab.tasks.semi_synthetic import facts
from latent_lab.tasks.semi_synthetic.word_tokenizer import word_tokenizer

PARKS_FILE = resources.files(facts.DATA_PACKAGE) / "parks.json"


def split_names(e2_type):
    names = ["first_hop"]
    for attribute in facts.TYPE_ATTRIBUTES[e2_type]:
        names += [f"2hop_{attribute}_{suffix}" for suffix in ("nocot", "cot", "nocot_shuffled")]
    return names


@pytest.mark.parametrize("e2_type", facts.TYPES)
def test_every_table_passes_the_schema(e2_type):
    table = facts.read_table(resources.files(facts.DATA_PACKAGE) / f"{e2_type}.json")
    assert table.type == e2_type
    assert tuple(table.attributes) == facts.TYPE_ATTRIBUTES[e2_type]
    assert len(table.entities) == 20 == len({entity["name"] for entity in table.entities})
    for entity in table.entities:
        assert list(entity) == ["name", *facts.TYPE_ATTRIBUTES[e2_type]]


@pytest.mark.parametrize("e2_type", facts.TYPES)
def test_split_names_and_sizes(e2_type):
    splits = facts.build_splits(e2_type)
    assert list(splits) == split_names(e2_type)
    for name, rows in splits.items():
        assert len(rows) == (100 if name.endswith("_shuffled") else 20), name
        for row in rows:
            assert list(row) == [
                "messages", "question", "answer", "answer_intermediate", "e2_type", "attribute"
            ]  # fmt: skip
            assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant"]
            assert row["question"] == row["messages"][1]["content"] and row["e2_type"] == e2_type


def test_pairing_uses_twenty_distinct_people_and_every_entity_once():
    splits = facts.build_splits("parks", seed=11)
    table = facts.load_table("parks")
    people = [row["question"] for row in splits["first_hop"]]
    assert len(set(people)) == 20
    assert [row["answer"] for row in splits["first_hop"]] == [e["name"] for e in table.entities]
    expected = np.random.default_rng(11).permutation(len(facts.load_people()))[:20]
    assert [p for p, _ in facts.pair_people("parks", 11)] == [
        facts.load_people()[i] for i in expected
    ]


@pytest.mark.parametrize("e2_type", ["parks", "ships", "constellations"])
def test_answers_match_the_tables(e2_type):
    table = facts.load_table(e2_type)
    by_name = {entity["name"]: entity for entity in table.entities}
    splits = facts.build_splits(e2_type, seed=5)
    favorite = {  # recover person -> entity from the first-hop questions
        row["question"].removeprefix("What is ").split("'s favorite")[0]: row["answer"]
        for row in splits["first_hop"]
    }
    for attribute in table.attributes:
        for style in ("nocot", "cot"):
            for row in splits[f"2hop_{attribute}_{style}"]:
                entity = by_name[row["answer_intermediate"]]
                assert row["answer"] == entity[attribute] and row["attribute"] == attribute
                person = row["question"].removeprefix("Consider ").split("'s favorite")[0]
                assert favorite[person] == entity["name"]
                assert row["messages"][2]["content"].endswith(row["answer"])


def test_known_facts_reach_the_rows():
    def answer(e2_type, attribute, name):
        rows = facts.build_splits(e2_type)[f"2hop_{attribute}_nocot"]
        return next(row["answer"] for row in rows if row["answer_intermediate"] == name)

    assert answer("parks", "state", "Yellowstone National Park") == "Wyoming"
    assert answer("parks", "code", "Yosemite National Park") == "YOSE"
    assert answer("chemical_elements", "symbol", "Sodium") == "Na"
    assert answer("bridges", "length_meters", "Golden Gate Bridge") == "2737"
    assert answer("operas", "premiere_city", "Aida") == "Cairo"


@pytest.mark.parametrize("num_shuffles", [1, 5])
def test_shuffled_answers_are_permutations_from_consecutive_seeds(num_shuffles):
    seed = 123
    splits = facts.build_splits("world_heritage_sites", seed, num_shuffles)
    assert facts.shuffle_seeds(seed, num_shuffles) == list(range(124, 124 + num_shuffles))
    for attribute in facts.TYPE_ATTRIBUTES["world_heritage_sites"]:
        nocot = splits[f"2hop_{attribute}_nocot"]
        shuffled = splits[f"2hop_{attribute}_nocot_shuffled"]
        assert len(shuffled) == 20 * num_shuffles
        true_answers = [row["answer"] for row in nocot]
        for k in range(num_shuffles):
            block = shuffled[20 * k : 20 * (k + 1)]
            order = np.random.default_rng(seed + 1 + k).permutation(20)
            assert [row["answer"] for row in block] == [true_answers[i] for i in order]
            assert sorted(row["answer"] for row in block) == sorted(true_answers)
            assert [row["question"] for row in block] == [row["question"] for row in nocot]
            intermediates = [row["answer_intermediate"] for row in block]
            assert intermediates == [row["answer_intermediate"] for row in nocot]
            assert all(row["messages"][2]["content"] == row["answer"] for row in block)


@pytest.mark.parametrize("e2_type", ["parks", "observatories", "universities"])
def test_nocot_and_cot_share_the_user_text(e2_type):
    splits = facts.build_splits(e2_type)
    kind = facts.load_table(e2_type).kind
    for attribute in facts.TYPE_ATTRIBUTES[e2_type]:
        nocot, cot = splits[f"2hop_{attribute}_nocot"], splits[f"2hop_{attribute}_cot"]
        for plain, worked in zip(nocot, cot, strict=True):
            assert plain["question"] == worked["question"]
            assert plain["question"].startswith("Consider ")
            assert plain["messages"][0]["content"] == facts.NOCOT_SYSTEM
            assert worked["messages"][0]["content"] == facts.COT_SYSTEM.format(kind=kind)
            assert plain["messages"][2]["content"] == plain["answer"]
            reasoning = worked["messages"][2]["content"]
            assert reasoning.index(worked["answer_intermediate"]) < reasoning.rindex("Answer:")
            assert reasoning.endswith(f"Answer: {worked['answer']}")


def test_first_hop_rows():
    for row in facts.build_splits("observatories")["first_hop"]:
        assert row["question"].startswith("Which observatory does ")
        assert row["messages"][2]["content"] == row["answer"] == row["answer_intermediate"]
        assert "observatory" in row["messages"][0]["content"] and row["attribute"] is None


def test_same_seed_gives_identical_data_and_the_default_seed_is_fixed():
    assert facts.build_splits("bridges", 9) == facts.build_splits("bridges", 9)
    assert facts.build_splits("bridges", 9) != facts.build_splits("bridges", 10)
    assert facts.build_splits("bridges") == facts.build_splits(
        "bridges", facts.type_seed("bridges")
    )
    assert facts.type_seed("parks") == 76985  # sha256-derived, not Python's salted hash()
    assert len({facts.type_seed(t) for t in facts.TYPES}) == len(facts.TYPES)


def test_people_are_many_distinct_and_unlike_any_entity_or_answer():
    people = facts.load_people()
    assert len(people) >= 40 and len(set(people)) == len(people)
    lowered = [person.lower() for person in people]
    for e2_type in facts.TYPES:
        for entity in facts.load_table(e2_type).entities:
            for text in entity.values():
                # Accuracy is a substring match and CoT outputs repeat the person's name.
                if len(text) >= 3:
                    assert not any(text.lower() in person for person in lowered), text


@pytest.mark.parametrize("e2_type", facts.TYPES)
def test_no_entity_name_contains_another(e2_type):
    names = [entity["name"].lower() for entity in facts.load_table(e2_type).entities]
    assert not [(a, b) for a in names for b in names if a != b and a in b]


def test_every_two_hop_text_round_trips_through_the_word_tokenizer():
    tokenizer = word_tokenizer(facts.TYPES)
    rows = facts.world_knowledge_rows(facts.TYPES)
    for e2_type in facts.TYPES:
        rows += [row for split in facts.build_splits(e2_type).values() for row in split]
    texts = sorted({message["content"] for row in rows for message in row["messages"]})
    encoded = tokenizer(texts, add_special_tokens=False)["input_ids"]
    assert all(tokenizer.unk_token_id not in ids for ids in encoded)
    assert tokenizer.batch_decode(encoded) == texts


@pytest.mark.parametrize("seed", [facts.type_seed("parks"), 1, 7])
def test_world_knowledge_never_mentions_an_evaluated_person(seed):
    from latent_lab.tasks.semi_synthetic.world_knowledge import demo_names, demo_rows

    evaluated = [person for person, _ in facts.pair_people("parks", seed)]
    rows = facts.world_knowledge_rows(["parks"]) + demo_rows("parks", seed, 100)
    texts = " ".join(message["content"] for row in rows for message in row["messages"])
    assert not [person for person in evaluated if person in texts]
    names = demo_names(100, seed)
    assert len(set(names)) == 100 and not set(names) & set(facts.load_people())
    assert len(rows) == len(facts.world_knowledge_rows(["parks"])) + 3 * 100
    favorites = [row["answer"] for row in demo_rows("parks", seed, 100) if row["attribute"] is None]
    assert sorted(set(favorites)) == sorted(e["name"] for e in facts.load_table("parks").entities)


def write_parks(tmp_path, mutate):
    data = json.loads(PARKS_FILE.read_text(encoding="utf-8"))
    mutate(data)
    path = tmp_path / "parks.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d["entities"][3].pop("state"), "parks.json: entity 'Zion National Park': "
         "missing attribute 'state'"),
        (lambda d: d["entities"][0].update(area="8991"), "unknown attribute 'area'"),
        (lambda d: d["entities"][0].update(established=1872), "'established' must be a non-empty"),
        (lambda d: d["entities"][1].update(name="Yellowstone National Park"), "duplicate entity"),
        (lambda d: d["entities"].pop(), "expected a list of 20 entities, found 19"),
        (lambda d: d["attributes"].pop("code"), "attributes: missing key 'code'"),
        (lambda d: d["attributes"]["code"].update(statements=["{entity} only"]), "exactly"),
        (lambda d: d.update(type="moons"), "'type' must be one of parks"),
    ],
)  # fmt: skip
def test_the_schema_rejects_bad_tables_with_one_line(tmp_path, mutate, message):
    with pytest.raises(UserError, match=re.escape(message)) as error:
        facts.read_table(write_parks(tmp_path, mutate))
    assert "\n" not in str(error.value) and "parks.json" in str(error.value)


def test_unknown_type_is_a_user_error_listing_the_types():
    for call in (lambda: facts.load_table("moons"), lambda: facts.build_splits("moons")):
        with pytest.raises(UserError, match="unknown e2 type 'moons'; choose one of parks, "):
            call()
    with pytest.raises(UserError, match="num_shuffles"):
        facts.build_splits("parks", num_shuffles=0)


def test_world_knowledge_rows_cover_every_fact():
    rows = facts.world_knowledge_rows()
    found = {(r["e2_type"], r["answer_intermediate"], r["attribute"], r["answer"]) for r in rows}
    expected = {
        (t, e["name"], a, e[a])
        for t in facts.TYPES
        for e in facts.load_table(t).entities
        for a in facts.TYPE_ATTRIBUTES[t]
    }
    assert found == expected
    for row in rows:
        assert row["answer"] in row["messages"][2]["content"]
        assert row["answer_intermediate"] in row["messages"][1]["content"]
    sentences = [r for r in rows if r["messages"][0]["content"] == facts.SENTENCE_SYSTEM]
    assert len(sentences) >= 2 * len(expected)  # several paraphrases per fact


def test_the_vocabulary_covers_every_row():
    vocabulary = set(facts.word_vocabulary())
    rows = facts.world_knowledge_rows()
    for e2_type in facts.TYPES:
        for seed in (None, 1):
            rows += [r for split in facts.build_splits(e2_type, seed).values() for r in split]
    words = {
        w for r in rows for m in r["messages"] for w in facts.WORD_PATTERN.findall(m["content"])
    }
    assert words <= vocabulary and "Wyoming" in vocabulary and "Consider" in vocabulary


@pytest.mark.parametrize("config_name", facts.TYPES)
def test_every_builder_config_builds_the_splits(config_name, tmp_path):
    from latent_lab.tasks.builders import build_dataset, config_names

    assert config_names("semi_synthetic") == list(facts.TYPES)
    dataset = build_dataset("semi_synthetic", config_name, cache_dir=str(tmp_path))
    splits = facts.build_splits(config_name)
    assert list(dataset) == list(splits)
    for name, rows in splits.items():
        assert dataset[name].to_list() == rows


def test_builder_fields_override_and_validate(tmp_path):
    from latent_lab.tasks.builders import build_dataset, make_builder

    dataset = build_dataset(
        "semi_synthetic", "parks", cache_dir=str(tmp_path), data_seed=7, num_shuffles=2
    )
    assert (
        dataset["2hop_code_nocot_shuffled"].to_list()
        == (facts.build_splits("parks", 7, 2)["2hop_code_nocot_shuffled"])
    )
    card = make_builder("semi_synthetic", "parks", cache_dir=str(tmp_path), data_seed=7)
    assert "Pairing seed 7" in card.card_description()
    default = make_builder("semi_synthetic", "bridges", cache_dir=str(tmp_path))
    assert default.config.pairing_seed() == facts.type_seed("bridges")
    for fields, message in [
        ({"type": "moons"}, "unknown e2 type 'moons'; choose one of parks"),
        ({"num_shuffles": 0}, "num_shuffles"),
        ({"data_seed": -1}, "data_seed: expected a non-negative integer or null"),
        ({"table_file": ""}, "table_file: expected the path of a JSON table"),
        ({"table_file": str(tmp_path / "none.json")}, "none.json is not a file"),
    ]:
        with pytest.raises(UserError, match=message):
            make_builder("semi_synthetic", "parks", cache_dir=str(tmp_path), **fields)
    with pytest.raises(UserError, match="bridges"):
        make_builder("semi_synthetic", "moons", cache_dir=str(tmp_path))


def test_a_user_table_goes_through_the_builder_keyed_by_its_content(tmp_path):
    from latent_lab.tasks.builders import build_dataset, make_builder

    cache = str(tmp_path / "cache")
    data = json.loads(PARKS_FILE.read_text(encoding="utf-8"))
    path = tmp_path / "my_parks.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    dataset = build_dataset("semi_synthetic", "parks", cache_dir=cache, table_file=str(path))
    assert {name: split.to_list() for name, split in dataset.items()} == facts.build_splits("parks")
    data["entities"][0]["state"] = "Montana"  # the same path, edited: the cache must rebuild
    path.write_text(json.dumps(data), encoding="utf-8")
    fields = {"table_file": str(path)}
    rows = build_dataset("semi_synthetic", "parks", cache_dir=cache, **fields)["2hop_state_nocot"]
    yellowstone = [r for r in rows if r["answer_intermediate"] == "Yellowstone National Park"]
    assert [r["answer"] for r in yellowstone] == ["Montana"]
    assert (
        "a user table (my_parks.json)"
        in make_builder("semi_synthetic", "parks", cache_dir=cache, **fields).card_description()
    )
    with pytest.raises(UserError, match="has type 'parks'; set type to match"):
        make_builder("semi_synthetic", "bridges", cache_dir=cache, table_file=str(path))
