"""User streams: YAML templates (answers as functions of prompts, mistakes named, an edit
rebuilds) and `module:function` streams (separator, options, a missing module named before the
separator, a failing function as one line naming it)."""

import sys

import pytest

from data_builders.char_stream import CharStreamBuilder
from latent_lab.errors import UserError
from latent_lab.tasks.builders import make_builder
from latent_lab.tasks.char_stream.streams import generate_lines, make_stream

TEMPLATE = """\
template: "{w}: {w|spaced} {n|add:3} {c|upper} {w|reverse|len}{{}}"
separator: ": "
fields:
  w: {word: {alphabet: xyz, min_len: 2, max_len: 4}}
  n: {range: [10, 20]}
  c: {choices: [red, green]}
"""
USER_MODULE = """
def mirror(rng, length=3):
    word = "".join("pqr"[i] for i in rng.integers(3, size=length))
    return word + "= " + word[::-1]

def no_separator(rng):
    return "pq qp"

def two_lines(rng):
    return "p= p\\nq= q"

def broken(rng):
    return "p= " + {}["missing"]
"""


def build(tmp_path, config_name="insert_spaces", **fields):
    builder = CharStreamBuilder(config_name=config_name, cache_dir=str(tmp_path), **fields)
    builder.download_and_prepare()
    return builder.as_dataset()


def lines_of(name, num_chars=3000, seed=0, **options):
    stream = make_stream(name, options)
    return stream, [line[:-1] for line in generate_lines(stream, num_chars, seed)]


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    (tmp_path / "latent_lab_user_streams.py").write_text(USER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "latent_lab_user_streams", raising=False)
    return "latent_lab_user_streams"


def test_template_stream_answers_are_functions_of_prompts(tmp_path):
    path = tmp_path / "stream.yaml"
    path.write_text(TEMPLATE)
    stream, lines = lines_of(str(path))
    assert stream.separator == ": "
    colours = set()
    for line in lines:
        word, answer = line.split(": ", 1)
        spaced_word, number, colour, length = answer.rsplit(" ", 3)
        assert 2 <= len(word) <= 4 and set(word) <= set("xyz")
        assert spaced_word == " ".join(word) and 13 <= int(number) < 23
        assert length == f"{len(word)}{{}}"
        colours.add(colour)
    assert colours == {"RED", "GREEN"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("{c|upper}", "{c|shout}"), "unknown filter 'shout'"),
        (("{c|upper}", "{colour}"), "colour} is not a field"),
        (("{c|upper}", "{c|add:1}"), "add:K needs a number"),
        (("{c|upper}", "{c"), "unbalanced"),
        (("{c|upper}", "c"), "field 'c' is not used"),
        (('separator: ": "', "seperator: x"), "unknown key 'seperator'"),
        (("[10, 20]", "[20, 10]"), "range is \\[low, high\\]"),
        (("word:", "letters:"), "expected one of word, range, choices"),
    ],
)
def test_template_mistakes_are_user_errors(tmp_path, change, message):
    path = tmp_path / "stream.yaml"
    path.write_text(TEMPLATE.replace(*change))
    with pytest.raises(UserError, match=message):
        make_stream(str(path))


def test_template_stream_through_builder_rebuilds_after_an_edit(tmp_path):
    path = tmp_path / "stream.yaml"
    path.write_text(TEMPLATE)
    first = build(tmp_path / "cache", stream=str(path), num_chars=500)
    assert first["train"][0]["prompt"].endswith(": ")
    path.write_text(TEMPLATE.replace("alphabet: xyz", "alphabet: uv"))
    second = build(tmp_path / "cache", stream=str(path), num_chars=500)
    assert set(second["train"][0]["prompt"][:-2]) <= set("uv")


def test_function_stream(user_module, tmp_path):
    stream = make_stream(f"{user_module}:mirror", {"length": 4}, separator="= ")
    for line in generate_lines(stream, 500, seed=1):
        word, answer = line[:-1].split("= ")
        assert len(word) == 4 and answer == word[::-1]
    dataset = build(tmp_path, stream=f"{user_module}:mirror", separator="= ", num_chars=300)
    assert all(row["answer"] == row["prompt"][-3::-1] for row in dataset["train"])


@pytest.mark.parametrize(
    ("function", "options", "separator", "message"),
    [
        ("mirror", {}, None, "^separator: .*set `separator`"),
        ("mirror", {"size": 2}, "= ", "^stream_options: got size; this stream accepts length"),
        ("no_separator", {}, "= ", "lacks the separator"),
        ("two_lines", {}, "= ", "must be one line"),
        ("missing", {}, "= ", "has no function 'missing'"),
    ],
)
def test_function_stream_mistakes(user_module, function, options, separator, message):
    with pytest.raises(UserError, match=message):
        stream = make_stream(f"{user_module}:{function}", options, separator)
        generate_lines(stream, 100, seed=0)


def test_unknown_stream_is_a_user_error_listing_the_forms(tmp_path):
    with pytest.raises(UserError) as caught:
        make_stream("count_by_threes")
    message = str(caught.value)
    assert message.startswith("stream: ") and "\n" not in message
    for expected in ("count_by_twos", "translate", "insert_spaces", "module:function", ".yaml"):
        assert expected in message
    with pytest.raises(UserError, match="^stream: unknown stream"):
        make_builder("char_stream", "insert_spaces", cache_dir=str(tmp_path), stream="nope")
    with pytest.raises(UserError, match="^stream: cannot import 'no_such_module_xyz'"):
        make_stream("no_such_module_xyz:lines", separator=" ")


def test_missing_module_is_named_before_the_separator(tmp_path, monkeypatch):
    """Issue 10: a module that is not on the path was reported as a missing separator."""
    with pytest.raises(UserError) as caught:
        make_stream("no_such_module_xyz:lines")  # no separator either
    message = str(caught.value)
    assert message.startswith("stream: cannot import 'no_such_module_xyz'")
    assert "PYTHONPATH" in message and "separator" not in message and "\n" not in message
    (tmp_path / "latent_lab_bad_import.py").write_text("import no_such_dependency_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(UserError, match="^stream: cannot import 'latent_lab_bad_import': No mod"):
        make_stream("latent_lab_bad_import:lines", separator="=")


def test_a_failing_user_function_is_one_line_naming_it(user_module):
    stream = make_stream(f"{user_module}:broken", separator="= ")
    with pytest.raises(UserError) as caught:
        generate_lines(stream, 100, seed=0)
    assert str(caught.value) == (
        f"stream: {user_module}:broken raised KeyError: 'missing' ({user_module}.py:13); "
        "fix the function"
    )
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
