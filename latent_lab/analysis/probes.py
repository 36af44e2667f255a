"""Linear probes of a frozen model's hidden states, per layer, for any model type the factory
builds (transformers and recurrent alike: every layer comes from output_hidden_states, whose
first entry is the input embedding and whose last is what the LM head reads).

A task hands over a `ProbeSet` per split (tasks/<task>/probes*.py): the model inputs, the
positions to read, and per target the value there. A target has one or more groups (GSSM: one
per latent node) and is either
- hard: a class per position (int, -1 where undefined): accuracy, beside the majority class;
- soft: a probability vector per position (a NaN row where undefined): the probe is a softmax
  whose `kl_to_posterior` is the mean KL(target || probe) on the test positions, beside
  `baseline_kl`, the same KL for the best constant prediction (the mean training target).
A probe is a multinomial logistic regression on features standardised with the training
positions' mean and std, fitted full batch in float64 by L-BFGS (strong Wolfe line search)
from zero until its largest gradient entry is below the tolerance: a converged, deterministic
fit, so differences between layers are the features', not the optimiser's. Each fit reports
its iterations and whether its final gradient is below the tolerance (`converged`).

Controls (`controls` in probes.json): `embedding`, the probes on the embedding layer (the
token alone, before any mixing), and `random_init`, the same probes on every layer of a
randomly initialised model of the same config: what the architecture gives without training.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np
import torch

from latent_lab.analysis.probe_settings import ProbeSettings
from latent_lab.errors import UserError

SMOOTHING = 1e-12  # floor of the constant baseline's probabilities (a class unseen in training)


@dataclass
class ProbeSet:
    """One split's probe data, made by a task."""

    sequences: list[np.ndarray]  # model input ids, one 1-D array per sequence
    positions: list[np.ndarray]  # per sequence: the input positions read (hidden state there)
    # target -> group -> per sequence, at those positions: [P] int64 (hard; -1: undefined) or
    # [P, K] float64 (soft; a NaN row: undefined)
    targets: dict[str, dict[str, list[np.ndarray]]]
    pad_token_id: int
    vocab_size: int  # the vocabulary the model must have


@dataclass
class Features:
    """Every layer's hidden state at the probed positions, and the targets there."""

    layers: list[np.ndarray]  # per layer (0: embedding): [positions, hidden] float32
    targets: dict[str, dict[str, np.ndarray]]


def _padded(sequences: list[np.ndarray], pad_token_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded input_ids and attention_mask: a causal model's states at a position do not
    depend on what follows, so padding changes no probed feature."""
    longest = max(len(sequence) for sequence in sequences)
    input_ids = torch.full((len(sequences), longest), pad_token_id, dtype=torch.long)
    attention_mask = torch.zeros((len(sequences), longest), dtype=torch.long)
    for row, sequence in enumerate(sequences):
        input_ids[row, : len(sequence)] = torch.as_tensor(sequence, dtype=torch.long)
        attention_mask[row, : len(sequence)] = 1
    return input_ids, attention_mask


@torch.no_grad()
def collect_features(model, data: ProbeSet, batch_size: int, max_positions: int) -> Features:
    """Run the frozen model over the sequences, batch by batch, until `max_positions` probed
    positions are gathered (the first ones, in order); keep every layer's state there."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    layers: list[list[np.ndarray]] = []
    used, gathered = 0, 0
    while used < len(data.sequences) and gathered < max_positions:
        chunk = range(used, min(used + batch_size, len(data.sequences)))
        input_ids, attention_mask = _padded([data.sequences[i] for i in chunk], data.pad_token_id)
        hidden_states = model(
            input_ids=input_ids.to(device),
            attention_mask=attention_mask.to(device),
            output_hidden_states=True,
        ).hidden_states
        layers = layers or [[] for _ in hidden_states]
        for row, index in enumerate(chunk):
            positions = torch.as_tensor(data.positions[index], dtype=torch.long, device=device)
            for layer, hidden in zip(layers, hidden_states, strict=True):
                layer.append(hidden[row, positions].float().cpu().numpy())
            gathered += len(positions)
        used = chunk.stop
    model.train(was_training)
    if not gathered:
        raise UserError("probe: no probed positions in the chosen rows; use more rows")

    def first(values: list[np.ndarray]) -> np.ndarray:
        return np.concatenate(values[:used])[:max_positions]

    targets = {
        name: {group: first(values) for group, values in groups.items()}
        for name, groups in data.targets.items()
    }
    return Features([first(layer) for layer in layers], targets)


def defined_rows(values: np.ndarray, kind: str) -> np.ndarray:
    """Positions where a target is defined (hard: class >= 0; soft: no NaN)."""
    return values >= 0 if kind == "hard" else ~np.isnan(values).any(axis=1)


def kl_divergence(target: torch.Tensor, log_probe: torch.Tensor) -> torch.Tensor:
    """Mean over positions of KL(target || probe) in nats (0 log 0 = 0)."""
    return (torch.xlogy(target, target) - target * log_probe).sum(-1).mean()


def _objective(kind: str, log_probs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross entropy with the classes (hard) or the target distributions (soft: KL + const)."""
    if kind == "hard":
        return torch.nn.functional.nll_loss(log_probs, targets)
    return -(targets * log_probs).sum(-1).mean()


@contextlib.contextmanager
def one_thread():
    """Probe fits run on one CPU thread: the same floating-point sums whatever the thread
    count, and faster at these sizes (threads synchronising per small product cost more than
    they add: 30x slower on a busy two-core machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@one_thread()
def fit_probe(train_x, train_y, test_x, test_y, kind: str, settings: ProbeSettings) -> dict:
    """Fit one probe on the train positions where the target is defined; score both sets."""
    train_keep, test_keep = defined_rows(train_y, kind), defined_rows(test_y, kind)
    mean = train_x[train_keep].mean(0, keepdims=True, dtype=np.float64)
    scale = train_x[train_keep].std(0, keepdims=True, dtype=np.float64) + 1e-6
    x = torch.as_tensor((train_x[train_keep] - mean) / scale)
    x_test = torch.as_tensor((test_x[test_keep] - mean) / scale)
    y, y_test = torch.as_tensor(train_y[train_keep]), torch.as_tensor(test_y[test_keep])
    classes = int(max(y.max(), y_test.max())) + 1 if kind == "hard" else y.shape[1]
    weight = torch.zeros((x.shape[1], classes), dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(classes, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS(
        [weight, bias], lr=1.0, max_iter=settings.max_iterations,
        max_eval=4 * settings.max_iterations, history_size=20, tolerance_grad=settings.tolerance,
        tolerance_change=1e-12, line_search_fn="strong_wolfe",
    )  # fmt: skip

    def closure():
        optimizer.zero_grad()
        log_probs = torch.log_softmax(x @ weight + bias, dim=-1)
        loss = _objective(kind, log_probs, y) + 0.5 * settings.weight_decay * weight.square().sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    closure()  # the gradient where the fit stopped
    gradient = max(float(weight.grad.abs().max()), float(bias.grad.abs().max()))
    with torch.no_grad():
        log_train = torch.log_softmax(x @ weight + bias, dim=-1)
        log_test = torch.log_softmax(x_test @ weight + bias, dim=-1)
    fit = {
        "iterations": int(optimizer.state[weight]["n_iter"]),
        "converged": gradient <= settings.tolerance,
    }
    if kind == "hard":
        fit["train_accuracy"] = float((log_train.argmax(-1) == y).double().mean())
        fit["test_accuracy"] = float((log_test.argmax(-1) == y_test).double().mean())
    else:
        fit["train_kl_to_posterior"] = float(kl_divergence(y, log_train))
        fit["kl_to_posterior"] = float(kl_divergence(y_test, log_test))
    return fit


def baseline(train_y: np.ndarray, test_y: np.ndarray, kind: str) -> dict:
    """The best constant prediction, scored on the test positions: the majority training class
    (hard) or the mean training distribution (soft: the constant minimising the mean KL)."""
    train_y, test_y = train_y[defined_rows(train_y, kind)], test_y[defined_rows(test_y, kind)]
    if kind == "hard":
        return {"majority_baseline": float((test_y == np.bincount(train_y).argmax()).mean())}
    constant = np.maximum(train_y.mean(0), SMOOTHING)
    log_constant = torch.as_tensor(np.log(constant / constant.sum()))
    return {"baseline_kl": float(kl_divergence(torch.as_tensor(test_y), log_constant))}


def probe_group(train: Features, test: Features, name: str, group: str, kind: str, settings):
    """One group of one target, every layer: per-layer lists, the baseline and the counts."""
    train_y, test_y = train.targets[name][group], test.targets[name][group]
    if not defined_rows(train_y, kind).any() or not defined_rows(test_y, kind).any():
        raise UserError(f"probe {name}: no positions where it is defined; use more rows")
    fits = [
        fit_probe(train_x, train_y, test_x, test_y, kind, settings)
        for train_x, test_x in zip(train.layers, test.layers, strict=True)
    ]
    figures = {key: [fit[key] for fit in fits] for key in fits[0]}
    figures.update(baseline(train_y, test_y, kind))
    figures["num_train_positions"] = int(defined_rows(train_y, kind).sum())
    figures["num_test_positions"] = int(defined_rows(test_y, kind).sum())
    return figures


def mean_over_groups(groups: dict[str, dict]) -> dict:
    """A target's headline figures: per layer (and for the baseline) the mean over its groups;
    converged only if every group's fit did, iterations the most any took."""
    first = next(iter(groups.values()))
    combined = {}
    for key, value in first.items():
        values = [figures[key] for figures in groups.values()]
        if key == "converged":
            combined[key] = [all(layer) for layer in zip(*values, strict=True)]
        elif key == "iterations":
            combined[key] = [max(layer) for layer in zip(*values, strict=True)]
        elif isinstance(value, list):
            combined[key] = [float(np.mean(layer)) for layer in zip(*values, strict=True)]
        else:
            combined[key] = value if key.startswith("num_") else float(np.mean(values))
    return combined


def probe_targets(train: Features, test: Features, kinds: dict, settings) -> dict:
    """target -> its figures (per layer), with `groups` when it has several."""
    result = {}
    for name, kind in kinds.items():
        groups = {
            group: probe_group(train, test, name, group, kind, settings)
            for group in train.targets[name]
        }
        result[name] = {"kind": kind, **mean_over_groups(groups)}
        if len(groups) > 1:
            result[name]["groups"] = groups
    return result


def at_layer(figures, layer: int):
    """The same figures at one layer: every per-layer list replaced by its entry there."""
    if isinstance(figures, dict):
        return {key: at_layer(value, layer) for key, value in figures.items()}
    return figures[layer] if isinstance(figures, list) else figures


def random_init_model(model, seed: int):
    """A model of the same config with freshly initialised weights (seeded), on the same
    device: the random_init control."""
    from transformers import AutoModelForCausalLM

    import latent_lab.models  # noqa: F401  registers lstm/rnn with the Auto classes

    torch.manual_seed(seed)
    fresh = AutoModelForCausalLM.from_config(model.config)
    return fresh.to(next(model.parameters()).device).eval()


def probe_model(model, train_set: ProbeSet, test_set: ProbeSet, kinds: dict, settings) -> dict:
    """Probes on every layer of `model` and of its random-init twin: probes.json's figures."""
    if model.config.vocab_size != train_set.vocab_size:
        raise UserError(
            f"--model: vocab_size {model.config.vocab_size} does not match the probe data's "
            f"{train_set.vocab_size} tokens; probe on the data it was trained with"
        )

    def figures(subject) -> dict:
        train = collect_features(
            subject, train_set, settings.batch_size, settings.max_train_positions
        )
        test = collect_features(subject, test_set, settings.batch_size, settings.max_test_positions)
        return {
            "num_layers": len(train.layers),
            "num_train_positions": len(train.layers[0]),
            "num_test_positions": len(test.layers[0]),
            "targets": probe_targets(train, test, kinds, settings),
        }

    result = figures(model)
    random_init = figures(random_init_model(model, settings.seed))["targets"]
    result["layers"] = ["embedding"] + [str(n) for n in range(1, result["num_layers"])]
    result["controls"] = {"embedding": at_layer(result["targets"], 0), "random_init": random_init}
    return result
