"""Char-stream answer accuracy through the shared generation-accuracy callback (match "line"):
exact match of the generated line (prefix, budget, strip, case, order by prompt), prompts of one
length per batch (nothing padded), the same number of generate calls on every rank, counts
summed across two ranks, a short context window cropped as samples are."""

import copy
from types import SimpleNamespace

import pytest
import torch
from test_generation_accuracy import ScriptedModel, run_on_two_ranks

from latent_lab.generation import generate_continuations
from latent_lab.tasks.char_stream.answer_accuracy import answer_set
from latent_lab.tasks.char_stream.tokenizer import char_tokenizer
from latent_lab.training.generation_accuracy import GenerationAccuracyCallback, score_shard


@pytest.fixture(scope="module")
def tokenizer():
    return char_tokenizer([chr(c) for c in range(32, 127)] + ["\n"])  # newline: eos and pad


class ScriptedLineModel(ScriptedModel):
    """ScriptedModel with the config a causal LM carries (no context window, so
    generate_continuations calls generate with the newline as eos)."""

    config = SimpleNamespace(model_type="scripted")


def test_answer_accuracy_callback_sums_counts_over_two_ranks(tokenizer):
    """The char-stream answers through the shared callback: 7 prompts of one length in batches of
    2 (rows 0-1, 2-3, 4-5, 6); rank 0 owns batches 0 and 2 (1 of 4 right), rank 1 batches 1 and 3
    (3 of 3): rank-local counts would give 1/4 or 3/3, never 4/7."""
    answers = ["12", "34", "56", "78", "90", "21", "43"]
    prompts = [f"{index}=" for index in range(7)]
    right = [True, False, True, True, False, False, True]
    replies = {
        f"\n{p}": a if ok else "00" for p, a, ok in zip(prompts, answers, right, strict=True)
    }

    def work(rank, accelerator):
        own_tokenizer = copy.deepcopy(tokenizer)
        model = ScriptedLineModel(own_tokenizer, replies)
        logged = []
        trainer = SimpleNamespace(accelerator=accelerator, model_wrapped=model, log=logged.append)
        scored = answer_set(prompts, answers, own_tokenizer)
        callback = GenerationAccuracyCallback(trainer, own_tokenizer, [scored], batch_size=2)
        metrics = {}
        state = SimpleNamespace(global_step=2, is_world_process_zero=rank == 0)
        callback.on_evaluate(SimpleNamespace(report_to=[]), state, None, metrics=metrics)
        return metrics, logged, model.batches

    for rank, (metrics, logged, batches) in enumerate(run_on_two_ranks(work)):
        assert metrics == {"answer_accuracy": 4 / 7} and logged == [metrics]
        assert batches == [[2, 2], [2, 1]][rank]  # its own batches, one call each
    # the same number from the task's evaluate module, loaded by path as a user would
    import evaluate

    from latent_lab.training.scorers import scorer_path

    scorer = evaluate.load(str(scorer_path("char_stream", "exact_match")))
    generated = [replies[f"\n{prompt}"] for prompt in prompts]
    assert scorer.compute(predictions=generated, references=answers)["exact_match"] == 4 / 7


def test_line_sets_batch_one_length_and_call_generate_alike_on_every_rank(tokenizer):
    """Line prompts of mixed lengths: no batch mixes lengths (nothing padded, every mask all
    ones: recurrent models cannot skip a pad), and both ranks make the same number of calls."""
    prompts, answers, replies, _ = zip(*EXACT_CASES, strict=True)
    scripted = {f"\n{p}": r for p, r in zip(prompts, replies, strict=True)}
    scored = answer_set(prompts, answers, tokenizer)
    calls = []
    for rank in (0, 1):
        model = ScriptedLineModel(tokenizer, scripted)
        score_shard(model, tokenizer, scored, rank, 2, batch_size=3)
        assert all(all(all(row) for row in mask) for mask in model.masks)
        calls.append(model.batches)
    # lengths 3 (a=, c=, e=, g=), 4, 5, 6 -> batches [3], [1], [1], [1], [1]; rank 1 repeats
    # batch 0 in a spare call so that both make 3 calls
    assert calls == [[3, 1, 1], [1, 1, 3]]


def test_line_sets_crop_a_short_context_window_as_samples_do(tokenizer):
    """prompt + budget longer than a transformer's window: generated nanoGPT-style with the
    context cropped (as generate_continuations does for samples) instead of failing."""
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=8, n_embd=16, n_layer=1, n_head=2)
    model = GPT2LMHeadModel(config).eval()
    scored = answer_set(["abcdef=", "ghijkl="], ["xyz", "uvw"], tokenizer)  # 8 tokens + 4
    correct, total, samples = score_shard(model, tokenizer, scored, 0, 1, batch_size=64)
    expected = generate_continuations(model, tokenizer, scored.prompts, max_new_tokens=4, stop="\n")
    assert total == 2 and [text for *_, text, _ in samples] == expected
    assert correct == sum(
        text == answer for text, answer in zip(expected, scored.answers, strict=True)
    )


# ------------------------------------------------------- char-stream answer exact match


EXACT_CASES = [  # (prompt, answer, the model's text before its newline, exact match?)
    ("a=", "12", "12", True),
    ("bb=", "34", "345", False),  # longer: a prefix match, or a 2-token budget, passes it
    ("dddd=", "56", "5", False),  # shorter: a prefix of the answer
    ("c=", "78", " 78", False),  # spaces are data in these streams: no stripping
    ("e=", "ab", "AB", False),  # case counts
    ("fff=", "90", "90", True),
    ("g=", "xy", "xyxyxy", False),  # no newline within the budget
]  # fmt: skip


def answer_accuracy(model, tokenizer, prompts, answers, batch_size=64):
    """(correct, total) of the char-stream answer set on one process."""
    scored = answer_set(prompts, answers, tokenizer)
    correct, total, _ = score_shard(model, tokenizer, scored, 0, 1, batch_size)
    return correct, total


@pytest.mark.parametrize("case", EXACT_CASES, ids=lambda case: repr(case[2]))
def test_answer_accuracy_is_an_exact_match_of_the_line(tokenizer, case):
    prompt, answer, reply, expected = case
    model = ScriptedLineModel(tokenizer, {f"\n{prompt}": reply})
    assert answer_accuracy(model, tokenizer, [prompt], [answer]) == (int(expected), 1)


def test_answer_set_scores_newline_prompts_with_one_token_past_the_longest_answer(tokenizer):
    scored = answer_set(["a=", "bb="], ["12", "3456"], tokenizer)
    assert scored.prompts == ["\na=", "\nbb="] and scored.answers == ["12", "3456"]
    assert (scored.name, scored.match, scored.max_new_tokens) == ("answer_accuracy", "line", 5)


def test_answer_accuracy_keeps_answers_with_their_prompts(tokenizer):
    """Prompts of mixed lengths are generated in length groups; each continuation must come
    back to its own prompt. The budget is the longest answer + 1 = 3 tokens: "345" stays whole,
    "xyxyxy" is cut to "xyx"."""
    prompts, answers, replies, expected = zip(*EXACT_CASES, strict=True)
    scripted = {f"\n{p}": r for p, r in zip(prompts, replies, strict=True)}
    model = ScriptedLineModel(tokenizer, scripted)
    continuations = generate_continuations(
        model, tokenizer, [f"\n{p}" for p in prompts], max_new_tokens=3, stop="\n"
    )
    assert continuations == ["12", "345", "5", " 78", "AB", "90", "xyx"]
    model.batches.clear()
    assert answer_accuracy(model, tokenizer, list(prompts), list(answers)) == (sum(expected), 7)
    assert sorted(model.batches) == [1, 1, 1, 4]  # prompt lengths 3 (four prompts), 4, 5, 6
    scored = answer_set(prompts, answers, tokenizer)
    samples = score_shard(model, tokenizer, scored, 0, 1, batch_size=64)[2]
    shown = [(question, answer, text) for _, question, answer, text, _ in samples]
    assert shown == list(zip(prompts, answers, continuations, strict=True))
