"""The exact per-character optimum of char streams (docs/spec/distance_to_optimum.md): the trie
against brute force (tests/oracles.py) on a tiny template, insert_spaces in closed form, nothing
scored before a window's first newline, generated lines scored at the stream's entropy rate,
the eval-shift examples (long_words, beyond_range), and the streams without a reference."""

import itertools
import math
from collections import Counter

import numpy as np
import pytest
from oracles import char_stream_next_character, char_stream_window_reference

from latent_lab.errors import UserError, exit_on_user_error
from latent_lab.tasks.char_stream.line_distribution import NoReference, line_distribution
from latent_lab.tasks.char_stream.reference import (
    CharReference,
    LineTrie,
    reference_scalars,
    stream_reference,
    window_matrix,
)
from latent_lab.tasks.char_stream.streams import generate_lines, make_stream
from latent_lab.tasks.char_stream.windows import RandomWindows

# "x" is drawn twice as often as "xz", and "...x" is a line and a prefix of another line.
TINY_TEMPLATE = """\
template: "{n}{w}={w|reverse}{c}"
separator: "="
fields:
  n: {range: [8, 12]}
  w: {word: {alphabet: ab, min_len: 1, max_len: 2}}
  c: {choices: [x, xz, x]}
"""
LONG_WORDS = ("insert_spaces", {"min_len": 4, "max_len": 6})  # the spec's eval shifts
BEYOND_RANGE = ("count_by_twos", {"start_low": 100, "start_high": 200})


def tiny_template_lines():
    """The tiny template's (line, probability) pairs, enumerated by hand."""
    pairs = []
    for n, length in itertools.product(range(8, 12), (1, 2)):
        for letters in itertools.product("ab", repeat=length):
            word = "".join(letters)
            for c in ("x", "xz", "x"):
                pairs.append((f"{n}{word}={word[::-1]}{c}", 1 / 4 * 1 / 2 * 2**-length * 1 / 3))
    return pairs


def generated(stream, options=None, num_chars=20_000, seed=0) -> str:
    return "".join(generate_lines(make_stream(stream, options), num_chars, seed))


def encode(texts, vocabulary):
    index = {character: i for i, character in enumerate(vocabulary)}
    return np.array([[index[c] for c in text] for text in texts])


class _Config:
    """The data fields reference_scalars reads (a CharStreamDataConfig's)."""

    def __init__(self, stream, stream_options, separator):
        self.stream, self.stream_options, self.separator = stream, stream_options, separator


@pytest.fixture
def tiny_template(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY_TEMPLATE)
    return str(path)


def test_tiny_template_lines_and_conditionals_equal_brute_force(tiny_template):
    pairs = tiny_template_lines()
    distribution = line_distribution(tiny_template)
    merged = Counter()
    for line, probability in zip(distribution.lines, distribution.probabilities, strict=True):
        merged[line] += probability
    expected = Counter()
    for line, probability in pairs:
        expected[line] += probability
    assert merged.keys() == expected.keys() and len(expected) == 48
    assert all(math.isclose(merged[k], expected[k]) for k in expected)
    trie = LineTrie(distribution)
    prefixes = {line[:i] for line, _ in pairs for i in range(len(line) + 1)}
    for prefix in prefixes:
        brute = char_stream_next_character(pairs, prefix)
        found = trie.conditional(prefix)
        assert found.keys() == brute.keys(), prefix
        assert all(math.isclose(found[c], brute[c], abs_tol=1e-12) for c in brute), prefix
    assert trie.conditional("10ab=bax") == pytest.approx({"\n": 2 / 3, "z": 1 / 3})


def test_tiny_template_window_nll_equals_brute_force(tiny_template):
    text = generated(tiny_template, num_chars=3000, seed=5)
    vocabulary = sorted(set(text))
    stream = RandomWindows(encode([text], vocabulary)[0], 24, 40, seed=1)
    windows = window_matrix(stream)
    reference = stream_reference(tiny_template, None, None, vocabulary)
    nll, accuracy = reference.score(windows)
    assert nll.shape == accuracy.shape == (40, 23)
    pairs = tiny_template_lines()
    for row, ids in enumerate(windows):
        window_text = "".join(vocabulary[i] for i in ids)
        brute_nll, brute_accuracy = char_stream_window_reference(pairs, window_text)
        np.testing.assert_allclose(nll[row], brute_nll, atol=1e-12)
        np.testing.assert_allclose(accuracy[row], brute_accuracy, atol=1e-12)
    scalars, missing = reference_scalars(_Config(tiny_template, {}, None), vocabulary, stream)
    assert missing is None
    assert scalars["reference_nll"] == pytest.approx(np.nanmean(nll), abs=1e-12)
    assert scalars["reference_accuracy"] == pytest.approx(np.nanmean(accuracy), abs=1e-12)


def insert_spaces_closed_form(prefix: str, low: int, high: int) -> dict[str, float]:
    """p(next | prefix) for insert_spaces over abcde: a length uniform in [low, high], uniform
    letters. After k letters the word ends with probability P(L = k | L >= k) = 1 / (high - k
    + 1); everything after the word is determined by it."""
    letters, _, rest = prefix.partition(":")
    if ":" not in prefix:
        k = len(letters)
        ends = 1 / (high - k + 1) if k >= low else 0.0
        distribution = {c: (1 - ends) / 5 for c in "abcde"} if k < high else {}
        return {**distribution, **({":": ends} if ends else {})}
    line = f"{letters}: {' '.join(letters)}\n"
    return {line[len(prefix)]: 1.0}


@pytest.mark.parametrize(("low", "high"), [(1, 3), (4, 6)])  # the default and long_words
def test_insert_spaces_optimum_per_character_in_closed_form(low, high):
    trie = LineTrie(line_distribution("insert_spaces", {"min_len": low, "max_len": high}))
    for word in ("c", "cd", "cde", "cdea", "cdeab", "cdeabe")[:high]:
        line = f"{word}: {' '.join(word)}"
        if len(word) < low:
            line = word  # not a line; only its prefixes are checked
        for end in range(len(line) + 1):
            expected = insert_spaces_closed_form(line[:end], low, high)
            assert trie.conditional(line[:end]) == pytest.approx(expected, abs=1e-12), line[:end]
    # the per-line NLLs add up to -ln p(line) = ln(3 * 5^L), so the rate is (ln 3 + E[L] ln 5)
    # over the mean line length 3 E[L] + 2
    mean_length = (low + high) / 2
    rate = (math.log(3) + mean_length * math.log(5)) / (3 * mean_length + 2)
    assert trie.entropy_per_character() == pytest.approx(rate, abs=1e-12)


def test_insert_spaces_window_in_closed_form():
    vocabulary = sorted("\n :abcde")
    text = "d\ncd: c d\na: a\nbbe: b b e\nab"
    nll, accuracy = stream_reference("insert_spaces", {}, None, vocabulary).score(
        encode([text], vocabulary)
    )
    expected = [math.log(5), math.log(15 / 2), math.log(2)] + [0.0] * 5  # "cd: c d\n"
    expected += [math.log(5), math.log(3)] + [0.0] * 3  # "a: a\n"
    expected += [math.log(5), math.log(15 / 2), math.log(10)] + [0.0] * 8  # "bbe: b b e\n"
    expected += [math.log(5), math.log(15 / 2)]  # "ab"
    np.testing.assert_allclose(nll[0, 1:], expected, atol=1e-12)
    assert math.isnan(nll[0, 0]) and math.isnan(accuracy[0, 0])
    assert accuracy[0, 1:4] == pytest.approx([1 / 5, 1 / 3, 1 / 2])


def test_no_position_is_scored_before_the_first_newline():
    vocabulary = sorted("\n :abcde")
    rng = np.random.default_rng(0)
    text = generated("insert_spaces", num_chars=5000, seed=2)
    starts = rng.integers(0, len(text) - 33, size=64)
    windows = encode([text[s : s + 33] for s in starts] + ["abc: a b c" * 3 + "abc"], vocabulary)
    nll, accuracy = stream_reference("insert_spaces", {}, None, vocabulary).score(windows)
    assert nll.shape == (65, 32)  # column t predicts token t + 1 (logits[:, :-1], labels[:, 1:])
    for row, ids in enumerate(windows):
        newlines = np.flatnonzero(ids == vocabulary.index("\n"))
        first = int(newlines[0]) if len(newlines) else 32
        assert np.isnan(nll[row, :first]).all() and np.isnan(accuracy[row, :first]).all()
        assert np.isfinite(nll[row, first:]).all() and np.isfinite(accuracy[row, first:]).all()
    assert np.isnan(nll[-1]).all()  # a window without a newline has no scored position


@pytest.mark.parametrize(
    ("stream", "options"),
    [("insert_spaces", {}), ("count_by_twos", {}), ("translate", {}), LONG_WORDS, BEYOND_RANGE],
)
def test_generated_lines_score_at_the_entropy_rate(stream, options):
    """Model-free: the optimum's NLL on generated lines averages to H(line) / E[line length]
    (within 4 standard errors of the ratio over lines), and every generated line is in the
    enumerated support (else scoring raises)."""
    text = "\n" + generated(stream, options, num_chars=60_000, seed=11)
    vocabulary = sorted(set(text))
    reference = stream_reference(stream, options, None, vocabulary)
    nll, _ = reference.score(encode([text], vocabulary))
    ends = np.flatnonzero(np.array(list(text[1:])) == "\n")
    per_line = np.add.reduceat(nll[0], np.concatenate([[0], ends[:-1] + 1]))
    lengths = np.diff(np.concatenate([[-1], ends]))
    rate = per_line.sum() / lengths.sum()
    error = np.std(per_line - rate * lengths) / (lengths.mean() * math.sqrt(len(lengths)))
    expected = reference.trie.entropy_per_character()
    assert abs(rate - expected) < 4 * error + 1e-12, (rate, expected, error)


@pytest.mark.parametrize(
    ("stream", "options"), [("insert_spaces", {}), ("translate", {}), BEYOND_RANGE, ("tiny", None)]
)
def test_enumerated_probabilities_match_generated_frequencies(stream, options, request):
    """The enumeration mirrors the generator: every generated line is enumerated, and each
    line's frequency is within 5 standard deviations of its probability."""
    stream = request.getfixturevalue("tiny_template") if stream == "tiny" else stream
    lines = [line[:-1] for line in generate_lines(make_stream(stream, options), 200_000, 3)]
    counts = Counter(lines)
    distribution = line_distribution(stream, options)
    expected = Counter()
    for line, probability in zip(distribution.lines, distribution.probabilities, strict=True):
        expected[line] += probability
    assert set(counts) <= set(expected)
    for line, probability in expected.items():
        spread = math.sqrt(probability * (1 - probability) / len(lines))
        assert abs(counts[line] / len(lines) - probability) < 5 * spread, line


def test_eval_shift_references_in_closed_form():
    beyond = LineTrie(line_distribution(*BEYOND_RANGE))
    assert len(beyond.lines) == 100
    assert beyond.conditional("") == pytest.approx({"1": 1.0})
    assert beyond.conditional("1") == pytest.approx({str(d): 0.1 for d in range(10)})
    assert beyond.conditional("13") == pytest.approx({str(d): 0.1 for d in range(10)})
    assert beyond.conditional("137 139 141") == pytest.approx({" ": 1.0})
    assert beyond.conditional("137 139 141 143") == pytest.approx({"\n": 1.0})
    assert beyond.entropy_per_character() == pytest.approx(math.log(100) / 16)
    assert len(line_distribution(*LONG_WORDS)) == 5**4 + 5**5 + 5**6


def test_a_reference_too_large_to_enumerate_is_one_line_exit_2(capsys):
    with pytest.raises(NoReference, match=r"can write 2,441,405 lines, more than the 1,000,000"):
        line_distribution("insert_spaces", {"max_len": 9})
    with pytest.raises(SystemExit) as stopped, exit_on_user_error("latent-lab"):
        stream_reference("insert_spaces", {"alphabet": "abcdefghij", "max_len": 6}, None, ["\n"])
    assert stopped.value.code == 2
    message = capsys.readouterr().err
    assert message.count("\n") == 1 and "no exact per-character reference" in message


HOOKED = """
import itertools

def mirror(rng, length=2):
    word = "".join("pq"[i] for i in rng.integers(2, size=length))
    return word + "=" + word[::-1]

def mirror_lines(length=2):
    words = ("".join(w) for w in itertools.product("pq", repeat=length))
    return [(word + "=" + word[::-1], 0.5**length) for word in words]

mirror.line_distribution = mirror_lines

def plain(rng):
    return "p=p"

def wrong(rng):
    return "p=" + "pq"[rng.integers(2)]

wrong.line_distribution = lambda: [("p=p", 1.0)]
"""


def test_function_streams_need_the_line_distribution_hook(tmp_path, monkeypatch):
    (tmp_path / "hooked_streams.py").write_text(HOOKED)
    monkeypatch.syspath_prepend(str(tmp_path))
    vocabulary = sorted("\n=pq")
    reference = stream_reference("hooked_streams:mirror", {"length": 3}, "=", vocabulary)
    assert reference.trie.conditional("pq") == pytest.approx({"p": 0.5, "q": 0.5})
    assert reference.trie.conditional("pqq=") == pytest.approx({"q": 1.0})
    with pytest.raises(NoReference, match="without a line_distribution hook"):
        stream_reference("hooked_streams:plain", {}, "=", vocabulary)
    wrong = stream_reference("hooked_streams:wrong", {}, "=", vocabulary)
    with pytest.raises(UserError, match=r"no line of stream .* begins with 'p=q'"):
        wrong.score(encode(["\np=p\np=q\n"], vocabulary))
    scalars, missing = reference_scalars(_Config("hooked_streams:plain", {}, "="), vocabulary, None)
    assert scalars == {"reference_nll": None, "reference_accuracy": None}
    assert "hooked_streams:plain" in missing


def test_scores_are_cached_per_prefix_and_ids_are_checked():
    vocabulary = sorted("\n :abcde")
    reference = stream_reference("insert_spaces", {}, None, vocabulary)
    assert isinstance(reference, CharReference)
    windows = encode(["\nab: a b\nc", "e: e\nab: a"], vocabulary)
    first = reference.score(windows)
    np.testing.assert_array_equal(reference.score(windows)[0], first[0])
    with pytest.raises(ValueError, match="outside the vocabulary"):
        reference.score(np.array([[0, len(vocabulary)]]))
