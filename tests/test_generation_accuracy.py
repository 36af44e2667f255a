"""The generation-accuracy callback on a scripted toy model: substring match, left padding,
one log per evaluation step, shards that add up to the one-process counts; the prompt check."""

from types import SimpleNamespace

import pytest
import torch

from data_builders.char_tokenizer import char_tokenizer
from data_builders.word_tokenizer import word_tokenizer
from latent_lab.errors import UserError
from latent_lab.generation import check_prompt
from latent_lab.metrics.generation_accuracy import (
    GenerationAccuracyCallback,
    GenerationSet,
    answer_matches,
    fixed_batches,
    prompt_ids,
    score_shard,
)
from latent_lab.tasks import two_hop

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

    def generate(self, input_ids, attention_mask, max_new_tokens, pad_token_id, **kwargs):
        assert kwargs["do_sample"] is False
        self.batches.append(len(input_ids))
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
    rows = two_hop.build_splits("parks")["first_hop"][:count]
    replies, expected = {}, 0
    for index, row in enumerate(rows):
        text = tokenizer.apply_chat_template(
            row["messages"][:-1], tokenize=False, add_generation_prompt=True
        )
        right = index % 3 != 2
        replies[text] = f"I think {row['answer'].upper()}." if right else "No idea at all."
        expected += right
    generation_set = GenerationSet(
        "acc_a", [row["messages"][:-1] for row in rows], [row["answer"] for row in rows], 80
    )
    return generation_set, replies, expected


def test_answer_matches_is_a_case_insensitive_substring():
    assert answer_matches("Wyoming", "It is in WYOMING, I think")
    assert answer_matches("YELL", "the code is yell")
    assert not answer_matches("Wyoming", "Wyo ming")
    assert not answer_matches("1872", "187")


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
    messages = two_hop.build_splits("parks")["first_hop"][0]["messages"][:-1]
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
