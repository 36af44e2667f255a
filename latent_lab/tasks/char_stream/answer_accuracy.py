"""Answer exact match on held-out prompts (`answer_accuracy`) and its exact ceiling.

The model is given `"\\n" + prompt` (the start of a line, as in the training stream) and its
greedy continuation up to the first newline must be exactly the answer. The scoring itself is
the shared generation-accuracy callback's (latent_lab/training/generation_accuracy.py, match
"line"), which every process runs in step; this module says what a char stream asks of it.
"""

from __future__ import annotations

from collections import Counter, defaultdict

METRIC = "answer_accuracy"


def answer_set(prompts, answers, tokenizer):
    """The GenerationSet of held-out prompts: each is scored on `"\\n" + prompt`, with room for
    the longest answer and one token more, so that a line running past its answer is seen to
    (cut at the answer's length, it would pass)."""
    from latent_lab.training.generation_accuracy import END_OF_LINE, GenerationSet

    answers = list(answers)
    lengths = [len(tokenizer(a, add_special_tokens=False)["input_ids"]) for a in answers]
    return GenerationSet(
        name=METRIC,
        prompts=[END_OF_LINE + prompt for prompt in prompts],
        answers=answers,
        max_new_tokens=max(lengths, default=0) + 1,
        match="line",
        scorer=("char_stream", "exact_match"),
    )


def best_answer_accuracy(prompts, all_prompts, all_answers) -> float:
    """Expected exact match of the best possible answerer on `prompts`: answer the most frequent
    answer the data holds for each prompt. Exactly 1.0 when answers are a function of prompts."""
    counts: dict[str, Counter] = defaultdict(Counter)
    for prompt, answer in zip(all_prompts, all_answers, strict=True):
        counts[prompt][answer] += 1
    rates = [max(counts[p].values()) / sum(counts[p].values()) for p in prompts if counts[p]]
    return sum(rates) / len(rates) if rates else float("nan")
