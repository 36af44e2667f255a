"""The generation-accuracy callback on a scripted toy model: substring match, left padding,
one log per evaluation step, shards that add up to the one-process counts, counts summed across
two ranks (a fake accelerator whose reduce exchanges tensors between two threads); the prompt
check. Line sets (the char-stream answer accuracy): tests/test_char_stream_answers.py."""

import copy
import threading
from types import SimpleNamespace

import pytest
import torch

from latent_lab.errors import UserError
from latent_lab.generation import check_prompt, cut_at_stop
from latent_lab.tasks.char_stream.tokenizer import char_tokenizer
from latent_lab.tasks.semi_synthetic import facts
from latent_lab.tasks.semi_synthetic.word_tokenizer import word_tokenizer
from latent_lab.training.generation_accuracy import (
    GenerationAccuracyCallback,
    GenerationSet,
    fixed_batches,
    generation_accuracies,
    prompt_ids,
    score_shard,
)
from latent_lab.training.scorers import score

TEMPLATE = (
    "{% for m in messages %}{{ m['role'] + ': ' + m['content'] + '\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ 'assistant: ' }}{% endif %}"
)


@pytest.fixture(scope="module")
def tokenizer():
    characters = [chr(c) for c in range(32, 127)] + ["\n"]
    tokenizer = char_tokenizer(characters)  # newline: eos and pad
    tokenizer.chat_template = TEMPLATE
    return tokenizer


class ScriptedModel(torch.nn.Module):
    """Greedy 'generation' that replies with a fixed text per prompt, checking that prompts come
    left-padded with an attention mask that covers exactly the prompt."""

    is_gradient_checkpointing = False
    device = torch.device("cpu")

    def __init__(self, tokenizer, replies: dict[str, str]):
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(1))
        self.tokenizer = tokenizer
        self.replies = replies
        self.generation_config = SimpleNamespace(eos_token_id=tokenizer.eos_token_id)
        self.batches: list[int] = []
        self.masks: list[list[list[int]]] = []

    def generate(self, input_ids, attention_mask, max_new_tokens, pad_token_id, **kwargs):
        assert kwargs["do_sample"] is False
        self.batches.append(len(input_ids))
        self.masks.append(attention_mask.tolist())
        new_rows = []
        for ids, mask in zip(input_ids.tolist(), attention_mask.tolist(), strict=True):
            start = mask.index(1)
            assert all(mask[start:]) and all(i == pad_token_id for i in ids[:start])  # left pad
            prompt = self.tokenizer.decode(ids[start:])
            reply = self.tokenizer(self.replies[prompt] + "\n")["input_ids"][:max_new_tokens]
            new_rows.append(reply)
        width = max(len(row) for row in new_rows)
        padded = [row + [pad_token_id] * (width - len(row)) for row in new_rows]
        return torch.cat([input_ids, torch.tensor(padded)], dim=1)


def rows_and_replies(tokenizer, count=7):
    """first_hop rows of parks; every third reply is wrong, the others hold the answer in
    another case inside a sentence."""
    rows = facts.build_splits("parks")["first_hop"][:count]
    replies, expected = {}, 0
    for index, row in enumerate(rows):
        text = tokenizer.apply_chat_template(
            row["messages"][:-1], tokenize=False, add_generation_prompt=True
        )
        right = index % 3 != 2
        replies[text] = f"I think {row['answer'].upper()}." if right else "No idea at all."
        expected += right
    generation_set = GenerationSet(
        "acc_a",
        [row["messages"][:-1] for row in rows],
        [row["answer"] for row in rows],
        80,
        scorer=("semi_synthetic", "two_hop_match"),
    )
    return generation_set, replies, expected


def test_two_hop_grading_is_a_case_insensitive_substring():
    replies = ["It is in WYOMING, I think", "the code is yell", "Wyo ming", "187"]
    answers = ["Wyoming", "YELL", "Wyoming", "1872"]
    graded = score("semi_synthetic", "two_hop_match", predictions=replies, references=answers)
    assert graded == {"accuracy": 0.5, "matches": [True, True, False, False]}


def test_fixed_batches_sort_by_length_and_cover_every_row_once():
    batches = fixed_batches([5, 3, 5, 1, 4], batch_size=2)
    assert batches == [[3, 1], [4, 0], [2]]


def test_callback_scores_logs_once_per_step_and_fills_metrics(tokenizer):
    from accelerate import Accelerator

    generation_set, replies, expected = rows_and_replies(tokenizer)
    model = ScriptedModel(tokenizer, replies)
    logged = []
    trainer = SimpleNamespace(accelerator=Accelerator(cpu=True), model_wrapped=model)
    trainer.log = logged.append
    callback = GenerationAccuracyCallback(trainer, tokenizer, [generation_set], batch_size=3)
    args = SimpleNamespace(report_to=[])
    state = SimpleNamespace(global_step=0, is_world_process_zero=True)
    first, second = {}, {}
    callback.on_evaluate(args, state, None, metrics=first)
    callback.on_evaluate(args, state, None, metrics=second)  # another eval split, same step
    assert model.batches == [3, 3, 1]  # generated once: 7 rows in batches of 3
    assert first == second == {"acc_a": expected / 7}
    assert logged == [{"acc_a": expected / 7}]
    assert [s["correct"] for s in callback.samples] == [i % 3 != 2 for i in range(5)]
    state.global_step = 4
    callback.on_evaluate(args, state, None, metrics={})
    assert len(model.batches) == 6 and len(logged) == 2


@pytest.mark.parametrize(("count", "batch_size"), [(7, 2), (5, 2), (7, 3)])
def test_two_shards_add_up_to_one_process(tokenizer, count, batch_size):
    generation_set, replies, expected = rows_and_replies(tokenizer, count)
    single = score_shard(
        ScriptedModel(tokenizer, replies), tokenizer, generation_set, 0, 1, batch_size
    )
    shards = []
    for rank in (0, 1):
        model = ScriptedModel(tokenizer, replies)
        shards.append((score_shard(model, tokenizer, generation_set, rank, 2, batch_size), model))
    num_batches = -(-count // batch_size)
    for _, model in shards:  # equal generate calls on both processes (FSDP needs it)
        assert len(model.batches) == -(-num_batches // 2)
    (correct_0, total_0, samples_0), (correct_1, total_1, samples_1) = [s for s, _ in shards]
    assert (correct_0 + correct_1, total_0 + total_1) == (expected, count) == single[:2]
    assert sorted(samples_0 + samples_1) == single[2]  # same rows, same generated text


def test_prompt_ids_apply_the_chat_template_with_the_generation_prompt():
    tokenizer = word_tokenizer(["parks"])
    messages = facts.build_splits("parks")["first_hop"][0]["messages"][:-1]
    ids = prompt_ids(tokenizer, messages)
    assert tokenizer.convert_ids_to_tokens(ids)[-1] == "<|assistant|>"
    assert tokenizer.decode(ids).startswith("<|system|> Answer the question")


def test_check_prompt_word_char_and_round_trip(tokenizer):
    words = word_tokenizer(["parks"])
    text = "Which state is Yellowstone National Park in?"
    assert check_prompt(words, text) == words(text, add_special_tokens=False)["input_ids"]
    with pytest.raises(UserError, match="--prompt: .* does not know .*' Gotham'"):
        check_prompt(words, "Which state is Gotham in?")
    with pytest.raises(UserError, match="characters outside the vocabulary: 'é'"):
        check_prompt(tokenizer, "café")
    assert check_prompt(tokenizer, "cafe") == tokenizer("cafe")["input_ids"]
    lowercasing = word_tokenizer(["parks"])
    from tokenizers import normalizers

    lowercasing.backend_tokenizer.normalizer = normalizers.Lowercase()
    with pytest.raises(UserError, match="round trip"):
        check_prompt(lowercasing, " STATE is")


# ------------------------------------------------------------- counts summed across 2 ranks


class TwoRankAccelerator:
    """An Accelerator as rank `rank` of 2 sees it: reduce and gather exchange tensors with the
    other rank (another thread) through a barrier, as torch.distributed does between processes;
    everything else is a one-process CPU Accelerator's."""

    def __init__(self, rank, exchange):
        from accelerate import Accelerator

        self._accelerator = Accelerator(cpu=True)
        self._exchange = exchange
        self.process_index, self.num_processes = rank, 2
        self.is_main_process = self.is_local_main_process = rank == 0

    def __getattr__(self, name):
        return getattr(self._accelerator, name)

    def _all_ranks(self, tensor):
        slots, barrier = self._exchange
        slots[self.process_index] = tensor.detach().clone()
        barrier.wait()
        tensors = list(slots)
        barrier.wait()  # both ranks have read the slots before either writes again
        return tensors

    def gather(self, tensor):
        return torch.cat([t.reshape(-1, *t.shape[1:]) for t in self._all_ranks(tensor)])

    def reduce(self, tensor, reduction="sum"):
        total = torch.stack(self._all_ranks(tensor)).sum(0)
        return total / 2 if reduction == "mean" else total


def run_on_two_ranks(work):
    """work(rank, accelerator) on ranks 0 and 1 at once; returns both results."""
    exchange = ([None, None], threading.Barrier(2, timeout=60))
    accelerators = [TwoRankAccelerator(rank, exchange) for rank in (0, 1)]  # made here, not racing
    results, errors = [None, None], []

    def target(rank):
        try:
            results[rank] = work(rank, accelerators[rank])
        except BaseException as error:  # noqa: B036  re-raised in the main thread below
            errors.append(error)
            exchange[1].abort()  # the other rank must not wait forever

    threads = [threading.Thread(target=target, args=(rank,)) for rank in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


def test_fake_two_rank_accelerator_sums_and_gathers():
    def work(rank, accelerator):
        local = torch.tensor([1.0, 10.0]) * (rank + 1)
        return accelerator.reduce(local, reduction="sum"), accelerator.gather(local)

    for reduced, gathered in run_on_two_ranks(work):
        assert reduced.tolist() == [3.0, 30.0]
        assert gathered.tolist() == [1.0, 10.0, 2.0, 20.0]


def test_generation_accuracies_sum_counts_over_two_ranks(tokenizer):
    """Each rank scores its own batches (7 rows in batches of 2: 4 and 3 rows; 4 rows: 2 and 2)
    and must report the accuracy over every row: rank-local counts would give k/4, k/3 or k/2,
    never 5/7 or 3/4."""
    seven, replies, correct_seven = rows_and_replies(tokenizer, 7)
    four, _, correct_four = rows_and_replies(tokenizer, 4)
    four = GenerationSet("acc_b", four.prompts, four.answers, four.max_new_tokens,
                         scorer=four.scorer)  # fmt: skip
    assert (correct_seven, correct_four) == (5, 3)  # every third reply is wrong

    def work(rank, accelerator):
        own_tokenizer = copy.deepcopy(tokenizer)  # no Rust tokenizer shared between threads
        model = ScriptedModel(own_tokenizer, replies)
        trainer = SimpleNamespace(accelerator=accelerator, model_wrapped=model)
        values, samples = generation_accuracies(trainer, own_tokenizer, [seven, four], 2)
        return values, {name: [row for row, *_ in rows] for name, rows in samples.items()}

    (values_0, rows_0), (values_1, rows_1) = run_on_two_ranks(work)
    assert values_0 == values_1 == {"acc_a": 5 / 7, "acc_b": 3 / 4}
    for name, count in (("acc_a", 7), ("acc_b", 4)):
        assert sorted(rows_0[name] + rows_1[name]) == list(range(count))  # each row once


def test_cut_at_stop():
    assert cut_at_stop("12\n34\n", "\n") == "12"
    assert cut_at_stop("\n12", "\n") == ""
    assert cut_at_stop("123", "\n") == "123"
    assert cut_at_stop("a; b; c", "; ") == "a"
    assert cut_at_stop("12\n", None) == "12\n"
