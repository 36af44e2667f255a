"""Per-position records of the two-hop evaluation: every scored (answer) token of every split,
the model's NLL and whether its argmax was the token, with the slices attribute, cot and
shuffled read off the split's name. There is no exact optimum per token (reference NaN): the
shuffled-answer split is the control a loss is compared with (loss_advantage_<attr>)."""

from __future__ import annotations

import numpy as np

IGNORE_INDEX = -100


def preprocess_logits_for_metrics(logits, labels):
    """(NLL of each label, argmax == label) aligned with labels[:, 1:]; 0 where not scored."""
    import torch

    if isinstance(logits, (tuple, list)):
        logits = logits[0]
    targets = labels[:, 1:]
    scored = targets != IGNORE_INDEX
    log_probs = logits[:, :-1].float().log_softmax(-1)
    nll = -log_probs.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    correct = log_probs.argmax(-1) == targets
    return torch.where(scored, nll, 0.0), correct & scored


def split_slices(split: str) -> tuple[str, bool, bool]:
    """(attribute, cot, shuffled) of a split name: 2hop_<attr>_nocot[_shuffled], _cot, ..."""
    if not split.startswith("2hop_"):
        return "", False, False
    name = split.removeprefix("2hop_")
    shuffled = name.endswith("_shuffled")
    name = name.removesuffix("_shuffled")
    cot = name.endswith("_cot")
    return name.removesuffix("_cot").removesuffix("_nocot"), cot, shuffled


class TwoHopPositions:
    """compute_metrics: the records (self.positions) and their means (accuracy: the answer
    tokens the model's argmax gets right; the loss is set from the records by the runner)."""

    def __init__(self):
        self.positions, self.split = None, "validation"

    def __call__(self, prediction) -> dict:
        from latent_lab.training.positions import Positions

        nll, correct = (np.asarray(array) for array in prediction.predictions)
        labels = np.asarray(prediction.label_ids)[:, 1:]
        example, position = np.nonzero(labels != IGNORE_INDEX)
        attribute, cot, shuffled = split_slices(self.split)
        count = len(example)
        self.positions = Positions(
            example, position + 1, nll[example, position], correct[example, position],
            slices={"attribute": np.full(count, attribute, dtype=object),
                    "cot": np.full(count, cot), "shuffled": np.full(count, shuffled)},
        )  # fmt: skip
        return {"token_accuracy": self.positions.means()["accuracy"]}
