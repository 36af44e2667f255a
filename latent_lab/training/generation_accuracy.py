"""Generation accuracy, the one exact-match callback of every task: greedy answers to held-out
prompts (chat questions or plain-text lines), each reply graded by the `evaluate` module its
task names (two-hop: the answer anywhere in the reply, case-insensitive; char streams: the
generated line equals the answer exactly).

Every process scores whole batches of a fixed batching (rows ordered by prompt length, cut
into batches of `batch_size`, batch i going to process i mod world), so each batch is padded
and computed exactly as on one process: the same checkpoint gives the same accuracies on any
number of processes, and every process makes the same number of generate calls (sharded FSDP
models need that). Counts are summed across processes in one reduce; the callback logs them
once per evaluation step through the trainer (the main process reaches W&B) and, when W&B is
active, the main process's samples as a W&B table.
"""

from __future__ import annotations

import contextlib
import itertools
from dataclasses import dataclass, field

import torch
from transformers import TrainerCallback

SAMPLE_COLUMNS = ("step", "metric", "question", "answer", "generated", "correct")
MATCH_MODES = ("substring", "line")
END_OF_LINE = "\n"


@dataclass
class GenerationSet:
    """Questions scored under one metric name. How they are asked:

    match="substring" (chat questions): prompts are messages without the answer, given through
    the chat template with the generation prompt.
    match="line" (text lines, e.g. a char stream's "\\n" + prompt): prompts are plain text, given
    without a template, and the reply is cut at the first newline. Each batch holds prompts of
    one length, so nothing is padded: recurrent models cannot skip a pad token.

    scorer: (task, module) of the `evaluate` module that grades the replies (its compute takes
    predictions and references and returns one flag per reply as "matches").
    """

    name: str
    prompts: list
    answers: list[str]
    max_new_tokens: int = 50
    match: str = "substring"
    scorer: tuple[str, str] = field(kw_only=True)

    def __post_init__(self):
        if self.match not in MATCH_MODES:
            raise ValueError(f"match: expected one of {MATCH_MODES}, got {self.match!r}")

    def grade(self, replies: list[str], rows: list[int]) -> list[bool]:
        from latent_lab.training.scorers import score

        answers = [self.answers[row] for row in rows]
        return score(*self.scorer, predictions=replies, references=answers)["matches"]


def prompt_ids(tokenizer, messages: list[dict]) -> list[int]:
    """The chat template applied with the generation prompt, as token ids."""
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def fixed_batches(lengths: list[int], batch_size: int, same_length=False) -> list[list[int]]:
    """Row indices ordered by (length, index) and cut into batches: independent of processes.
    same_length: each length's rows are cut on their own, so no batch mixes lengths."""
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    groups = [list(g) for _, g in itertools.groupby(order, lengths.__getitem__)]
    if not same_length:
        groups = [order]
    return [g[start : start + batch_size] for g in groups for start in range(0, len(g), batch_size)]


def stop_token_ids(model, tokenizer) -> list[int]:
    """eos of the tokenizer and of the generation config (e.g. Llama 3's <|eot_id|>)."""
    ids = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    ids += configured if isinstance(configured, list) else [configured]
    return list(dict.fromkeys(i for i in ids if i is not None))


@torch.no_grad()
def generate_batch(model, tokenizer, batch: list[list[int]], max_new_tokens: int) -> list[str]:
    """Greedy continuations of left-padded prompts, decoded without special tokens."""
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    width = max(len(ids) for ids in batch)
    input_ids = torch.tensor([[pad] * (width - len(ids)) + ids for ids in batch])
    attention_mask = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids in batch])
    output = model.generate(
        input_ids=input_ids.to(model.device),
        attention_mask=attention_mask.to(model.device),
        max_new_tokens=max_new_tokens,
        do_sample=False,
        eos_token_id=stop_token_ids(model, tokenizer),
        pad_token_id=pad,
        use_cache=True,
    )
    return tokenizer.batch_decode(output[:, width:], skip_special_tokens=True)


def generate_line_batch(model, tokenizer, texts: list[str], max_new_tokens: int) -> list[str]:
    """Greedy continuations of plain-text prompts of one length, each cut at its first newline
    (one generate call; a transformer's window is cropped nanoGPT-style when too short)."""
    from latent_lab.generation import generate_continuations

    return generate_continuations(
        model, tokenizer, texts, max_new_tokens=max_new_tokens, stop=END_OF_LINE,
        batch_size=len(texts),
    )  # fmt: skip


def _question(prompt) -> str:
    """What a sample shows of a prompt: a chat's last message, a line without its newline."""
    return prompt.lstrip(END_OF_LINE) if isinstance(prompt, str) else prompt[-1]["content"]


def score_shard(model, tokenizer, generation_set, rank, world, batch_size):
    """(correct, total, samples) over the batches this process owns. With several processes each
    makes the same number of generate calls (a spare one repeats batch 0, unscored), which
    sharded (FSDP) models need."""
    lines = generation_set.match == "line"
    prompts = generation_set.prompts
    if lines:
        encoded = [tokenizer(text, add_special_tokens=False)["input_ids"] for text in prompts]
    else:
        encoded = [prompt_ids(tokenizer, prompt) for prompt in prompts]
    batches = fixed_batches([len(ids) for ids in encoded], batch_size, same_length=lines)
    calls = -(-len(batches) // world) if world > 1 else len(batches)
    correct, total, samples = 0, 0, []
    for call in range(calls):
        index = rank + call * world
        batch = batches[index] if index < len(batches) else batches[0]
        budget = generation_set.max_new_tokens
        if lines:
            texts = generate_line_batch(model, tokenizer, [prompts[i] for i in batch], budget)
        else:
            texts = generate_batch(model, tokenizer, [encoded[i] for i in batch], budget)
        if index >= len(batches):
            continue
        hits = generation_set.grade(texts, batch)
        for row, text, hit in zip(batch, texts, hits, strict=True):
            correct, total = correct + hit, total + 1
            samples.append((row, _question(prompts[row]), generation_set.answers[row], text, hit))
    return correct, total, sorted(samples)


def generation_accuracies(trainer, tokenizer, generation_sets, batch_size=16):
    """{set name: accuracy} over all processes, and this process's samples per set."""
    from trl.distributed import DistributedBackend
    from trl.models.utils import unwrap_model_for_generation

    accelerator = trainer.accelerator
    rank, world = accelerator.process_index, accelerator.num_processes
    wrapped = trainer.model_wrapped
    counts, samples = [], {}
    with (
        unwrap_model_for_generation(wrapped, accelerator) as model,
        DistributedBackend(accelerator).summon_full_params(wrapped, recurse=False),
        _eval_mode(model),
    ):
        for generation_set in generation_sets:
            correct, total, shard_samples = score_shard(
                model, tokenizer, generation_set, rank, world, batch_size
            )
            counts += [correct, total]
            samples[generation_set.name] = shard_samples
    summed = torch.tensor(counts, dtype=torch.float64, device=accelerator.device)
    if world > 1:
        summed = accelerator.reduce(summed, reduction="sum")
    values = {}
    for index, generation_set in enumerate(generation_sets):
        correct, total = summed[2 * index].item(), summed[2 * index + 1].item()
        values[generation_set.name] = correct / total if total else float("nan")
    return values, samples


@contextlib.contextmanager
def _eval_mode(model):
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


class GenerationAccuracyCallback(TrainerCallback):
    """At each evaluation step (once, however many eval splits report): score every generation
    set, log {name: accuracy} through the trainer and add them to the evaluation metrics."""

    def __init__(self, trainer, tokenizer, generation_sets, batch_size=16, num_samples=5):
        self.trainer = trainer
        self.tokenizer = tokenizer
        self.generation_sets = list(generation_sets)
        self.batch_size = batch_size
        self.num_samples = num_samples
        self.values: dict[str, float] = {}
        self.samples: list[dict] = []  # the last evaluation's samples (main process's shard)
        self._scored_step: int | None = None

    def on_train_end(self, args, state, control, **kwargs):
        # With the best checkpoint reloaded, the evaluations after training see another model
        # at the same step: score them again.
        if args.load_best_model_at_end and state.best_model_checkpoint:
            self._scored_step = None

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if getattr(self.trainer, "extra_evaluation", False):
            return  # a log-spaced records point, not a configured evaluation: no generation
        if self._scored_step != state.global_step:  # skip the other splits of this step
            self._scored_step = state.global_step
            self.values, shard_samples = generation_accuracies(
                self.trainer, self.tokenizer, self.generation_sets, self.batch_size
            )
            self.samples = [
                dict(zip(SAMPLE_COLUMNS, (state.global_step, name, *row[1:]), strict=True))
                for name, rows in shard_samples.items()
                for row in rows[: self.num_samples]
            ]
            self.trainer.log(dict(self.values))
            if state.is_world_process_zero and "wandb" in (args.report_to or []):
                _log_wandb_table(self.samples, state.global_step)
        if metrics is not None:
            metrics.update(self.values)


def _log_wandb_table(samples: list[dict], step: int) -> None:
    import wandb

    if wandb.run is None:
        return
    table = wandb.Table(columns=list(SAMPLE_COLUMNS))
    for sample in samples:
        table.add_data(*(sample[column] for column in SAMPLE_COLUMNS))
    wandb.log({"generation_samples": table, "train/global_step": step})
