"""Exact match of generated answers on held-out prompts, logged at every evaluation."""

from __future__ import annotations

from collections import Counter, defaultdict

import torch
from transformers import TrainerCallback

from latent_lab.generation import generate_continuations


def answer_accuracy(
    model, tokenizer, prompts, answers, *, context="\n", stop="\n"
) -> tuple[int, int]:
    """(correct, total): does the greedy continuation of context + prompt, cut at `stop`,
    equal the answer?"""
    if not prompts:
        return 0, 0
    longest = max(len(tokenizer(a, add_special_tokens=False)["input_ids"]) for a in answers)
    generated = generate_continuations(
        model, tokenizer, [context + p for p in prompts], max_new_tokens=longest + 1, stop=stop
    )
    return sum(g == a for g, a in zip(generated, answers, strict=True)), len(prompts)


def best_answer_accuracy(prompts, all_prompts, all_answers) -> float:
    """Expected exact match of the best possible answerer on `prompts`: answer the most frequent
    answer the data holds for each prompt. Exactly 1.0 when answers are a function of prompts."""
    counts: dict[str, Counter] = defaultdict(Counter)
    for prompt, answer in zip(all_prompts, all_answers, strict=True):
        counts[prompt][answer] += 1
    rates = [max(counts[p].values()) / sum(counts[p].values()) for p in prompts if counts[p]]
    return sum(rates) / len(rates) if rates else float("nan")


class AnswerAccuracyCallback(TrainerCallback):
    """At each evaluation: every process scores its share of the prompts, counts are summed
    across processes, and the accuracy is added to the evaluation metrics and logged once."""

    def __init__(self, trainer, tokenizer, prompts, answers, name="answer_accuracy"):
        self.trainer = trainer
        self.tokenizer = tokenizer
        self.prompts = list(prompts)
        self.answers = list(answers)
        self.name = name
        self._scored_step: int | None = None
        self._value: float | None = None

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if self._scored_step != state.global_step:  # skip repeat evaluations of one step
            self._value = self._score()
            self._scored_step = state.global_step
            self.trainer.log({self.name: self._value})
        if metrics is not None:
            metrics[self.name] = self._value

    def _score(self) -> float:
        accelerator = self.trainer.accelerator
        model = accelerator.unwrap_model(self.trainer.model)
        rank, world = accelerator.process_index, accelerator.num_processes
        correct, total = answer_accuracy(
            model, self.tokenizer, self.prompts[rank::world], self.answers[rank::world]
        )
        counts = torch.tensor([correct, total], dtype=torch.float64, device=accelerator.device)
        counts = accelerator.reduce(counts, reduction="sum")
        return float(counts[0] / counts[1]) if counts[1] > 0 else float("nan")
