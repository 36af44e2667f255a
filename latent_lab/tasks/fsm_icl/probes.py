"""Linear probes on a frozen model's hidden states at FSM query steps (the seed's phase 5).

At each scored query step `s a s'` the features are every layer's hidden state at the action
token `a`, where the model predicts s'. Targets:

- current_state: s, the token before; the action token itself does not carry it,
- next_state: s', what the model has to predict,
- seen: whether (s, a) occurred earlier in the sequence (the dataset's exact seen_mask).

Layer 0 is the token embedding: a baseline that sees only the action. A probe is multinomial
logistic regression (one torch linear layer, Adam on minibatches, `epochs` passes) on features
standardized with the training positions' mean and std, fit on one split's positions and scored
on another split's (distinct FSMs). Zero initialisation and a seeded shuffle make it
deterministic on CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from latent_lab.errors import UserError
from latent_lab.tasks.fsm_icl.generator import IGNORE_INDEX
from latent_lab.tasks.fsm_icl.probe_settings import ProbeSettings

PROBE_TARGETS = ("current_state", "next_state", "seen")


@dataclass
class ProbeData:
    """Features of every layer and the targets, one row per scored query step."""

    layers: list[np.ndarray]  # per layer (0: embeddings): [positions, hidden] float32
    targets: dict[str, np.ndarray]  # target name -> [positions] int64


def query_steps(row) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Feature positions (the action token of each scored step) and the targets there."""
    input_ids, labels = np.asarray(row["input_ids"]), np.asarray(row["labels"])
    scored = np.flatnonzero(labels != IGNORE_INDEX)
    targets = {
        "current_state": input_ids[scored - 2],
        "next_state": labels[scored],
        "seen": np.asarray(row["seen_mask"])[scored].astype(np.int64),
    }
    return scored - 1, targets


@torch.no_grad()
def collect_features(model, rows, pad_token_id: int, batch_size: int = 64) -> ProbeData:
    """Run the frozen model over `rows` (dicts with input_ids, labels, seen_mask) and keep every
    layer's hidden state at the query steps."""
    from latent_lab.tasks.fsm_icl.metrics import FSMCollator

    collate = FSMCollator(pad_token_id)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    layers: list[list[np.ndarray]] = []
    targets: dict[str, list[np.ndarray]] = {name: [] for name in PROBE_TARGETS}
    for start in range(0, len(rows), batch_size):
        chunk = rows[start : start + batch_size]
        batch = collate(chunk)
        hidden_states = model(
            input_ids=batch["input_ids"].to(device),
            attention_mask=batch["attention_mask"].to(device),
            output_hidden_states=True,
        ).hidden_states
        layers = layers or [[] for _ in hidden_states]
        for index, row in enumerate(chunk):
            positions, row_targets = query_steps(row)
            for layer, hidden in zip(layers, hidden_states, strict=True):
                layer.append(hidden[index, torch.as_tensor(positions)].float().cpu().numpy())
            for name, values in row_targets.items():
                targets[name].append(values)
    model.train(was_training)
    return ProbeData(
        layers=[np.concatenate(layer) for layer in layers],
        targets={name: np.concatenate(values) for name, values in targets.items()},
    )


def fit_linear_probe(train_x, train_y, test_x, test_y, settings: ProbeSettings) -> dict:
    """Train a linear classifier on (train_x, train_y); accuracy on both sets."""
    generator = torch.Generator().manual_seed(settings.seed)
    mean = train_x.mean(0, keepdims=True)
    scale = train_x.std(0, keepdims=True) + 1e-6  # constant features stay zero after centring
    train_x = torch.as_tensor((train_x - mean) / scale, dtype=torch.float32)
    test_x = torch.as_tensor((test_x - mean) / scale, dtype=torch.float32)
    train_y, test_y = torch.as_tensor(train_y), torch.as_tensor(test_y)
    num_classes = int(max(train_y.max(), test_y.max())) + 1
    probe = nn.Linear(train_x.shape[1], num_classes)
    nn.init.zeros_(probe.weight)
    nn.init.zeros_(probe.bias)
    optimizer = torch.optim.Adam(
        probe.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay
    )
    for _ in range(settings.epochs):
        order = torch.randperm(len(train_x), generator=generator)
        for start in range(0, len(order), settings.batch_size):
            index = order[start : start + settings.batch_size]
            loss = nn.functional.cross_entropy(probe(train_x[index]), train_y[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        return {
            "train_accuracy": float((probe(train_x).argmax(-1) == train_y).float().mean()),
            "test_accuracy": float((probe(test_x).argmax(-1) == test_y).float().mean()),
        }


def majority_baseline(train_y: np.ndarray, test_y: np.ndarray) -> float:
    """Test accuracy of always answering the most common training class."""
    most_common = np.bincount(train_y).argmax()
    return float((test_y == most_common).mean())


def probe_layers(train: ProbeData, test: ProbeData, settings: ProbeSettings) -> dict:
    """Probe every (layer, target): per target, lists over layers of train and test accuracy."""
    if not train.targets["next_state"].size or not test.targets["next_state"].size:
        raise UserError("probe: no scored query steps in the chosen rows; use more rows")
    result = {"num_layers": len(train.layers), "num_train_positions": len(train.layers[0]),
              "num_test_positions": len(test.layers[0]), "targets": {}}  # fmt: skip
    for name in PROBE_TARGETS:
        scores = [
            fit_linear_probe(train_x, train.targets[name], test_x, test.targets[name], settings)
            for train_x, test_x in zip(train.layers, test.layers, strict=True)
        ]
        result["targets"][name] = {
            "train_accuracy": [s["train_accuracy"] for s in scores],
            "test_accuracy": [s["test_accuracy"] for s in scores],
            "majority_baseline": majority_baseline(train.targets[name], test.targets[name]),
        }
    return result
