"""The exact per-character optimum of a character stream, position by position on token windows
(docs/spec/distance_to_optimum.md, "Exact references per character for char streams").

Lines are independent draws, so the best predictor of the next character knows only the line so
far: its predictive distribution is the conditional of a probability-weighted trie over the
stream's lines (each ending in "\\n"), and after a "\\n" the next line starts at the root. In a
window the characters before the first newline belong to a line whose start is unseen, so the
positions before it are not scored (NaN).

Alignment (Trainer's causal LM loss on `input_ids == labels` windows: logits[:, :-1] against
labels[:, 1:]): for windows of shape (N, T), CharReference.score returns arrays of shape
(N, T - 1) whose column t is the optimum's prediction of token t + 1 from tokens <= t:
`reference_nll` = -ln p(token t + 1), `reference_accuracy` = max_c p(c) (the optimum's
expected accuracy). Column t is scored iff a newline sits at some index <= t.

    reference = stream_reference("insert_spaces", {}, None, vocabulary_of(tokenizer))
    reference_nll, reference_accuracy = reference.score(input_ids)   # (N, T - 1) each
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Mapping, Sequence

import numpy as np

from latent_lab.errors import UserError
from latent_lab.tasks.char_stream.line_distribution import (
    MAX_LINES,
    LineDistribution,
    NoReference,
    line_distribution,
)

END_OF_LINE = "\n"
# Sorts after every character, so the lines that start with a prefix lie in
# [bisect(prefix), bisect(prefix + AFTER_ALL)).
AFTER_ALL = "\U0010ffff"


class LineTrie:
    """A probability-weighted trie over lines + "\\n", kept as the sorted distinct lines and
    their cumulative probability: the node of a prefix is the range of lines that start with
    it (two bisections), its weight that range's mass. No node objects, so a million lines
    cost one sort; identical lines are merged and their probabilities added."""

    def __init__(self, distribution: LineDistribution):
        if any(END_OF_LINE in line for line in distribution.lines):
            raise UserError(f"stream {distribution.stream!r}: a line contains a newline")
        keys = np.array([line + END_OF_LINE for line in distribution.lines], dtype=object)
        unique, inverse = np.unique(keys, return_inverse=True)
        weights = np.bincount(
            inverse.ravel(), weights=distribution.probabilities, minlength=len(unique)
        )
        cumulative = np.concatenate([[0.0], np.cumsum(weights)])
        self.stream = distribution.stream
        self.lines: list[str] = unique.tolist()
        self.cumulative = (cumulative / cumulative[-1]).tolist()

    def span(self, prefix: str, low: int = 0, high: int | None = None) -> tuple[int, int]:
        """[start, end) of the sorted lines that begin with prefix."""
        high = len(self.lines) if high is None else high
        start = bisect_left(self.lines, prefix, low, high)
        return start, bisect_left(self.lines, prefix + AFTER_ALL, start, high)

    def mass(self, prefix: str) -> float:
        """Probability that a line begins with prefix ("...\\n": that the line is exactly it)."""
        start, end = self.span(prefix)
        return self.cumulative[end] - self.cumulative[start]

    def children(self, prefix: str) -> dict[str, float]:
        """Mass of every next character after prefix ("\\n": the line ends there)."""
        start, end = self.span(prefix)
        depth, found = len(prefix), {}
        while start < end:
            character = self.lines[start][depth]
            _, stop = self.span(prefix + character, start, end)
            found[character] = self.cumulative[stop] - self.cumulative[start]
            start = stop
        return found

    def conditional(self, prefix: str) -> dict[str, float]:
        """The optimum's predictive distribution over the next character given the line so far."""
        children = self.children(prefix)
        total = sum(children.values())
        if total <= 0:
            raise UserError(f"stream {self.stream!r}: no line begins with {prefix!r}")
        return {character: mass / total for character, mass in children.items()}

    def entropy_per_character(self) -> float:
        """H(line) / E[characters per line, newline included]: the stream's entropy rate, nats."""
        probabilities = np.diff(np.asarray(self.cumulative))
        lengths = np.array([len(line) for line in self.lines], dtype=np.float64)
        positive = probabilities > 0
        entropy = -(probabilities[positive] * np.log(probabilities[positive])).sum()
        return float(entropy / (probabilities * lengths).sum())


class CharReference:
    """The optimum on windows of token ids, ids being indices into `vocabulary` (the char
    tokenizer's characters in id order). Conditionals are cached per line prefix, so scoring
    the same evaluation windows again costs a dictionary lookup per position."""

    def __init__(self, trie: LineTrie, vocabulary: Sequence[str]):
        self.trie = trie
        self.vocabulary = list(vocabulary)
        if END_OF_LINE not in self.vocabulary:
            raise ValueError("vocabulary: the character tokenizer's vocabulary has no newline")
        self.newline_id = self.vocabulary.index(END_OF_LINE)
        self._nodes: dict[str, tuple[float, dict[str, float], float]] = {}

    def node(self, prefix: str) -> tuple[float, dict[str, float], float]:
        """(mass, children's masses, largest child mass) of the line so far."""
        found = self._nodes.get(prefix)
        if found is None:
            children = self.trie.children(prefix)
            found = (sum(children.values()), children, max(children.values(), default=0.0))
            self._nodes[prefix] = found
        return found

    def score(self, input_ids) -> tuple[np.ndarray, np.ndarray]:
        """(reference_nll, reference_accuracy), each (N, T - 1) float64; column t predicts
        token t + 1 from tokens <= t; NaN before the window's first newline."""
        ids = np.atleast_2d(np.asarray(input_ids, dtype=np.int64))
        if ids.size and (ids.min() < 0 or ids.max() >= len(self.vocabulary)):
            raise ValueError(f"input_ids: ids outside the vocabulary of {len(self.vocabulary)}")
        count, length = ids.shape
        where = np.where(ids == self.newline_id, np.arange(length), -1)
        line_start = np.maximum.accumulate(where, axis=1)[:, :-1] + 1  # 0: no newline yet
        nll = np.full((count, max(length - 1, 0)), np.nan)
        accuracy = np.full_like(nll, np.nan)
        for row in range(count):
            text = "".join(self.vocabulary[i] for i in ids[row].tolist())
            starts = line_start[row]
            for t in np.flatnonzero(starts).tolist():
                prefix, following = text[starts[t] : t + 1], text[t + 1]
                mass, children, best = self.node(prefix)
                probability = children.get(following, 0.0)
                if probability <= 0:
                    raise self._unknown_line(row, prefix + following)
                nll[row, t] = math.log(mass) - math.log(probability)
                accuracy[row, t] = best / mass
        return nll, accuracy

    def _unknown_line(self, row: int, text: str) -> UserError:
        return UserError(
            f"window {row}: no line of stream {self.trie.stream!r} begins with {text!r}; the "
            "windows were not generated by this stream (or its line_distribution misses lines)"
        )


def vocabulary_of(tokenizer) -> list[str]:
    """The char tokenizer's characters in id order (id i is vocabulary[i])."""
    vocabulary = tokenizer.get_vocab()
    return sorted(vocabulary, key=vocabulary.get)


def stream_reference(
    stream: str,
    options: Mapping | None,
    separator: str | None,
    vocabulary: Sequence[str],
    max_lines: int = MAX_LINES,
) -> CharReference:
    """The optimum of stream X with options Y on windows encoded with `vocabulary`; raises
    NoReference (a UserError: exit 2 where a run needs it) when the lines cannot be enumerated."""
    distribution = line_distribution(stream, options, separator, max_lines)
    return CharReference(LineTrie(distribution), vocabulary)


def config_reference(config, vocabulary: Sequence[str]) -> CharReference:
    """The reference of a char-stream data config (its stream, stream_options and separator)."""
    return stream_reference(config.stream, config.stream_options, config.separator, vocabulary)


def window_matrix(windows) -> np.ndarray:
    """The (N, block_size) token ids of RandomWindows, in item order."""
    offsets = np.asarray(windows.offsets, dtype=np.int64)
    tokens = np.asarray(windows.tokens)
    return tokens[offsets[:, None] + np.arange(windows.block_size)]


def reference_scalars(config, vocabulary: Sequence[str], windows) -> tuple[dict, str | None]:
    """({reference_nll, reference_accuracy}: means over the windows' scored positions, reason)
    where reason is None, or, for a stream without a reference, the values are None and the
    reason says why."""
    try:
        reference = config_reference(config, vocabulary)
    except NoReference as error:
        return {"reference_nll": None, "reference_accuracy": None}, str(error)
    nll, accuracy = reference.score(window_matrix(windows))
    scored = ~np.isnan(nll)
    if not scored.any():
        return {"reference_nll": None, "reference_accuracy": None}, "no window has a newline"
    means = {"reference_nll": nll[scored].mean(), "reference_accuracy": accuracy[scored].mean()}
    return {name: float(value) for name, value in means.items()}, None
