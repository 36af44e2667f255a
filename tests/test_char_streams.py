"""Character streams: built-in streams, the builder and its fields, the character tokenizer,
reading a split's columns, the nanoGPT export and the dataset card (user streams:
test_char_stream_user_streams.py)."""

import pickle
import shlex
from pathlib import Path

import numpy as np
import pytest
import yaml

from data_builders.char_stream import CharStreamBuilder, CharStreamConfig
from latent_lab.config import parse_override
from latent_lab.errors import UserError
from latent_lab.hub.dataset_card import dataset_card
from latent_lab.tasks.builders import build_dataset
from latent_lab.tasks.char_stream.nanogpt_export import export_nanogpt
from latent_lab.tasks.char_stream.streams import generate_lines, make_stream, split_train_validation
from latent_lab.tasks.char_stream.tokenizer import (
    char_tokenizer,
    encode_checked,
    split_text,
    tokenizer_from_dataset,
)

SPANISH = "uno dos tres cuatro cinco seis siete ocho nueve diez once doce trece catorce quince"
SPANISH += " dieciseis diecisiete dieciocho diecinueve veinte"
ENGLISH = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen"
ENGLISH += " fifteen sixteen seventeen eighteen nineteen twenty"
EXPECTED_TRANSLATION = dict(zip(SPANISH.split(), ENGLISH.split(), strict=True))


def build(tmp_path, config_name="insert_spaces", **fields):
    builder = CharStreamBuilder(config_name=config_name, cache_dir=str(tmp_path), **fields)
    builder.download_and_prepare()
    return builder.as_dataset()


def lines_of(name, num_chars=3000, seed=0, **options):
    stream = make_stream(name, options)
    return stream, [line[:-1] for line in generate_lines(stream, num_chars, seed)]


@pytest.fixture(scope="module")
def insert_spaces_data(tmp_path_factory):
    return build(tmp_path_factory.mktemp("insert_spaces"), num_chars=3000)


@pytest.mark.parametrize("config", CharStreamBuilder.BUILDER_CONFIGS, ids=lambda c: c.name)
def test_every_builder_config_builds(tmp_path, config):
    dataset = build(tmp_path, config.name, num_chars=2000)
    assert set(dataset) == {"train", "validation"}
    rows = [row for split in dataset.values() for row in split]
    text = "".join(row["text"] for row in rows)
    vocabulary = sorted(set(text))
    assert len(text) >= 2000
    for row in rows:
        assert row["text"] == row["prompt"] + row["answer"] + "\n"
        assert row["prompt"] and row["answer"] and "\n" not in row["prompt"] + row["answer"]
        assert "".join(vocabulary[i] for i in row["input_ids"]) == row["text"]


def test_count_by_twos_lines():
    stream, lines = lines_of("count_by_twos")
    assert stream.separator == " "
    for line in lines:
        start, *rest = map(int, line.split(" "))
        assert 0 <= start < 100 and rest == [start + 2, start + 4, start + 6]
    _, lines = lines_of("count_by_twos", start_low=5, start_high=6, step=3, count=3)
    assert set(lines) == {"5 8 11"}


def test_translate_lines_default_and_custom_vocabulary():
    stream, lines = lines_of("translate")
    assert stream.separator == " "
    pairs = [line.split(" ") for line in lines]
    assert all(EXPECTED_TRANSLATION[spanish] == english for spanish, english in pairs)
    assert {spanish for spanish, _ in pairs} == set(EXPECTED_TRANSLATION)
    _, lines = lines_of("translate", vocabulary={"rojo": "red", "azul": "blue"})
    assert set(lines) == {"rojo red", "azul blue"}


def test_insert_spaces_lines_with_default_and_given_options():
    stream, lines = lines_of("insert_spaces")
    assert stream.separator == ": "
    for line in lines:
        word, spaced = line.split(": ")
        assert 1 <= len(word) <= 3 and set(word) <= set("abcde") and spaced == " ".join(word)
    _, lines = lines_of("insert_spaces", alphabet="xy", min_len=4, max_len=5)
    assert {len(line.split(": ")[0]) for line in lines} == {4, 5}
    stream = make_stream("insert_spaces", separator=" -> ")
    line = generate_lines(stream, 1, seed=0)[0]
    word, spaced = line[:-1].split(" -> ")
    assert spaced == " ".join(word)


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("insert_spaces", {"length": 3}),
        ("insert_spaces", {"min_len": 4, "max_len": 2}),
        ("count_by_twos", {"count": 1}),
        ("translate", {"vocabulary": ["uno", "one"]}),
    ],
)
def test_bad_builtin_options_are_user_errors(name, options):
    with pytest.raises(UserError, match="^stream_options: "):
        make_stream(name, options)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("num_chars", 0),
        ("train_fraction", 1.0),
        ("data_seed", -1),
        ("separator", "a\nb"),
        ("stream_options", ["min_len", 2]),
    ],
)
def test_bad_builder_fields_name_the_field(field, value):
    with pytest.raises(UserError, match=f"^{field}: "):
        CharStreamConfig(name="insert_spaces", **{field: value})


def test_same_seed_same_bytes_other_seed_other_data(tmp_path):
    first = build(tmp_path / "a", num_chars=1500, data_seed=7)
    again = build(tmp_path / "b", num_chars=1500, data_seed=7)
    other = build(tmp_path / "c", num_chars=1500, data_seed=8)
    for split in first:
        assert first[split]["text"] == again[split]["text"]
        files = [Path(d[split].cache_files[0]["filename"]).read_bytes() for d in (first, again)]
        assert files[0] == files[1]
    assert first["train"]["text"] != other["train"]["text"]
    stream = make_stream("insert_spaces")
    short, long = generate_lines(stream, 500, seed=7), generate_lines(stream, 20_000, seed=7)
    assert long[: len(short)] == short  # more characters extend the same stream


@pytest.mark.parametrize("fraction", [0.9, 0.75])
def test_split_by_lines_with_the_configured_fraction(tmp_path, fraction):
    lines = generate_lines(make_stream("count_by_twos"), 2000, seed=3)
    train, validation = split_train_validation(lines, fraction)
    assert train + validation == lines and len(train) == int(len(lines) * fraction)
    dataset = build(tmp_path, "count_by_twos", num_chars=2000, data_seed=3, train_fraction=fraction)
    assert dataset["train"]["text"] == train and dataset["validation"]["text"] == validation


def test_registry_build_dataset():
    dataset = build_dataset("char_stream", "insert_spaces", num_chars=5000)
    assert sum(len("".join(split["text"])) for split in dataset.values()) >= 5000


def test_tokenizer_round_trip(insert_spaces_data, tmp_path):
    from transformers import AutoTokenizer

    tokenizer = tokenizer_from_dataset(insert_spaces_data)
    text = "".join(insert_spaces_data["validation"]["text"])
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    expected = [i for row in insert_spaces_data["validation"]["input_ids"] for i in row]
    assert ids == expected and tokenizer.decode(ids) == text
    assert tokenizer.eos_token == tokenizer.pad_token == "\n"
    assert len(tokenizer) == len(set("".join(insert_spaces_data["train"]["text"]) + text))
    tokenizer.save_pretrained(tmp_path / "tok")
    loaded = AutoTokenizer.from_pretrained(tmp_path / "tok")
    assert loaded(text, add_special_tokens=False)["input_ids"] == ids
    assert loaded.decode(ids) == text and loaded.eos_token_id == tokenizer.eos_token_id
    assert char_tokenizer("ba\n ").get_vocab() == {"\n": 0, " ": 1, "a": 2, "b": 3}


def test_encode_checked_names_unknown_characters(insert_spaces_data):
    tokenizer = tokenizer_from_dataset(insert_spaces_data)
    assert encode_checked(tokenizer, "ab: ") == tokenizer("ab: ")["input_ids"]
    with pytest.raises(UserError) as caught:
        encode_checked(tokenizer, "abz!: ", field="--prompt")
    message = str(caught.value)
    assert message.startswith("--prompt: ") and "'!', 'z'" in message and "\n" not in message


def nanogpt_prepare(data: str, num_train_chars: int, folder: Path) -> None:
    """nanoGPT's shakespeare_char/prepare.py, split at our train/validation boundary."""
    chars = sorted(list(set(data)))
    stoi = {ch: i for i, ch in enumerate(chars)}
    itos = {i: ch for i, ch in enumerate(chars)}
    folder.mkdir()
    train_ids = np.array([stoi[c] for c in data[:num_train_chars]], dtype=np.uint16)
    val_ids = np.array([stoi[c] for c in data[num_train_chars:]], dtype=np.uint16)
    train_ids.tofile(folder / "train.bin")
    val_ids.tofile(folder / "val.bin")
    with open(folder / "meta.pkl", "wb") as f:
        pickle.dump({"vocab_size": len(chars), "itos": itos, "stoi": stoi}, f)


def test_nanogpt_export_decodes_to_the_text_and_matches_prepare_py(insert_spaces_data, tmp_path):
    out = tmp_path / "data" / "basic"
    summary = export_nanogpt(insert_spaces_data, out)
    train_text = "".join(insert_spaces_data["train"]["text"])
    val_text = "".join(insert_spaces_data["validation"]["text"])
    meta = pickle.loads((out / "meta.pkl").read_bytes())
    for name, text in (("train.bin", train_text), ("val.bin", val_text)):
        ids = np.fromfile(out / name, dtype=np.uint16)
        assert "".join(meta["itos"][int(i)] for i in ids) == text
    assert summary["train_tokens"] == len(train_text) and summary["vocab_size"] == len(meta["stoi"])
    nanogpt_prepare(train_text + val_text, len(train_text), tmp_path / "reference")
    for name in ("meta.pkl", "train.bin", "val.bin"):
        assert (out / name).read_bytes() == (tmp_path / "reference" / name).read_bytes()
    assert sorted(p.name for p in out.iterdir()) == ["meta.pkl", "train.bin", "val.bin"]


def test_dataset_card(insert_spaces_data):
    fields = {"stream": "insert_spaces", "stream_options": {"max_len": 3}, "separator": None}
    fields |= {"num_chars": 3000, "data_seed": 0}
    card = dataset_card("char_stream", "insert_spaces", fields, insert_spaces_data, "Spaces.")
    header = yaml.safe_load(card.split("---\n")[1])
    assert header["license"] == "mit" and "char_stream" in header["tags"]
    assert header["configs"][0]["config_name"] == "insert_spaces"
    splits = {s["name"]: s["num_examples"] for s in header["dataset_info"]["splits"]}
    assert splits == {name: len(split) for name, split in insert_spaces_data.items()}
    assert "Spaces." in card and insert_spaces_data["train"][0]["prompt"] in card
    command = next(line for line in card.splitlines() if line.startswith("latent-lab build"))
    words = shlex.split(command)
    assert words[:5] == ["latent-lab", "build", "char_stream", "--config", "insert_spaces"]
    assert words[5::2] == ["--set"] * len(words[6::2])
    overrides = dict(parse_override(item) for item in words[6::2])
    assert overrides == {k: v for k, v in fields.items() if v is not None}
    assert "latent_lab.build_dataset('char_stream', 'insert_spaces', stream=" in card


@pytest.mark.parametrize("view", ["whole", "select", "shuffle"])
def test_flat_tokens_and_text_read_the_rows_a_view_shows(insert_spaces_data, view):
    from latent_lab.tasks.char_stream.windows import flat_tokens

    split = insert_spaces_data["train"]
    if view == "select":
        split = split.select([5, 2, 9])
    elif view == "shuffle":
        split = split.shuffle(seed=0)
    rows = [split[i] for i in range(len(split))]
    assert flat_tokens(split).tolist() == [i for row in rows for i in row["input_ids"]]
    assert split_text(split) == "".join(row["text"] for row in rows)
