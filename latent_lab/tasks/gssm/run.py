"""What the GSSM recipe hands the runner: data (the builder's splits, or an endless stream and
the same validation split), the exact Bayes reference of the validation sequences, the collator
and metrics. Sequences are fed as [BOS, X(1..T)], so the loss covers t = 1..T exactly like
bayes_loss; the vocabulary is dim X + 1 and the longest input seq_len + 1."""

from __future__ import annotations

import numpy as np

from latent_lab.errors import UserError

POSITIONAL_MODELS = ("gpt2", "llama")  # models with a maximum input length


def check_arguments(data_args, model_args, training_args):
    """Every mistake the arguments reveal, before any data or folder; returns the builder (the
    named config with this run's overrides, validated; no data generated yet)."""
    from latent_lab.tasks.gssm.filter import check_tractable

    builder = data_args.check()
    shifted = data_args.shift_builders().items()
    configs = {"": builder.config, **{f"eval_shifts.{name}: ": b.config for name, b in shifted}}
    for where, config in configs.items():
        if model_args.model_type in POSITIONAL_MODELS and model_args.builds_model:
            if config.seq_len + 1 > model_args.max_position_embeddings:
                raise UserError(
                    f"{where}max_position_embeddings: {model_args.max_position_embeddings} < "
                    f"seq_len + 1 (BOS) = {config.seq_len + 1}; the model must accept the "
                    "length: set max_position_embeddings >= that"
                )
        if not config.context:
            check_tractable(config.parsed_graph(), f"{where}graph")
    if data_args.onfly and training_args.max_steps < 1:
        raise UserError("max_steps: on-the-fly data is endless; set max_steps >= 1")
    return builder


def load_data(builder, onfly: bool, seed: int, batch_size: int):
    """(graph model, train data, validation split). The model is the graph with its kernels
    (graph_seed); on the fly, the train data is a stream keyed by data_seed and --seed."""
    import datasets

    from latent_lab.tasks.builders import prepare_dataset
    from latent_lab.tasks.gssm.model import GSSM, rng_key
    from latent_lab.tasks.gssm.stream import GSSMStream

    config = builder.config
    model = GSSM.from_seed(config.parsed_graph(), config.graph_seed)
    if not onfly:
        dataset = prepare_dataset(builder)
        return model, dataset["train"], dataset["validation"]
    tokens = validation_tokens(model, config)
    stream = GSSMStream(
        model,
        config.seq_len,
        seed=rng_key(config.data_seed, seed),  # --seed: another stream
        chunk_sequences=batch_size,
        context=config.context,
    )
    return model, stream, datasets.Dataset.from_dict({"input_ids": tokens.tolist()})


def validation_tokens(model, config) -> np.ndarray:
    """The builder's validation sequences, sampled directly (no train split generated):
    sequence s depends only on (key, s)."""
    from latent_lab.tasks.gssm.config import SPLIT_KEYS
    from latent_lab.tasks.gssm.model import rng_key, sample_in_context

    key = rng_key(config.data_seed, SPLIT_KEYS["validation"])
    shape = (config.num_validation, config.seq_len)
    if config.context:
        return sample_in_context(model.graph, *shape, key)
    return model.sample(*shape, key)


def shift_splits(shift_builders: dict) -> tuple[dict, dict, dict]:
    """For each eval shift: (its validation split, its own metrics) for TaskRun.eval_shifts,
    and its exact reference and reference_for entries for results.json."""
    import datasets

    from latent_lab.tasks.gssm import metrics
    from latent_lab.tasks.gssm.model import GSSM

    shifts, reference, reference_for = {}, {}, {}
    for name, builder in shift_builders.items():
        config = builder.config
        model = GSSM.from_seed(config.parsed_graph(), config.graph_seed)
        tokens = validation_tokens(model, config)
        table = None if config.context else metrics.BayesTable(model.graph, model.kernels, tokens)
        split = datasets.Dataset.from_dict({"input_ids": tokens.tolist()})
        shifts[name] = (split, metrics.GSSMMetrics(table))
        values = exact_reference(table, tokens, model.graph.vocab_size)
        reference.update({f"{name}_{key}": value for key, value in values.items()})
        reference_for.update({f"eval_{name}_loss": f"{name}_bayes_loss",
                              f"eval_{name}_accuracy": f"{name}_bayes_accuracy"})  # fmt: skip
    return shifts, reference, reference_for


def task_run(model, train_dataset, eval_dataset, context: bool, shift_builders=None):
    """The TaskRun: exact reference of the validation sequences (and of every eval shift's),
    collator, metrics, Trainer."""
    import torch

    from latent_lab.tasks.gssm import metrics
    from latent_lab.training.baselines import majority_accuracy, unigram_loss
    from latent_lab.training.runner import TaskRun

    threads = torch.get_num_threads()
    graph = model.graph
    tokens = np.asarray(eval_dataset["input_ids"], dtype=np.int64)
    table = None if context else metrics.BayesTable(graph, model.kernels, tokens)
    # numba's OpenMP pool, started by the first parallel sampler or filter call above, sets the
    # OpenMP thread count torch shares to NUMBA_NUM_THREADS (OMP_NUM_THREADS=1 became 2, and
    # a loaded machine ran 10x slower); later calls leave it alone, so restore it once here.
    shifts, shift_reference, shift_reference_for = shift_splits(shift_builders or {})
    torch.set_num_threads(threads)
    bos = graph.vocab_size
    return TaskRun(
        task="gssm",
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        vocab_size=graph.vocab_size + 1,
        data_collator=metrics.GSSMCollator(bos),
        compute_metrics=metrics.GSSMMetrics(table),
        preprocess_logits_for_metrics=metrics.preprocess_logits_for_metrics,
        metrics_need_inputs=True,  # the metrics look the sequences up in the reference table
        reference={**exact_reference(table, tokens, graph.vocab_size), **shift_reference},
        reference_for={"eval_loss": "bayes_loss", "eval_accuracy": "bayes_accuracy",
                       **shift_reference_for},  # fmt: skip
        baseline={"unigram_loss": unigram_loss(tokens),
                  "majority_accuracy": majority_accuracy(tokens.ravel().tolist())},
        baseline_for={"eval_loss": "unigram_loss", "eval_accuracy": "majority_accuracy"},
        eval_shifts=shifts,
        special_token_ids={"bos_token_id": bos},
        trainer_class=metrics.GSSMTrainer,
        finalize=lambda trainer: {"gssm": {
            "alphas": {node.name: node.alpha for node in graph.nodes}, "bos_token_id": bos,
            "vocab_size": graph.vocab_size, "joint_states": graph.joint_states}},
    )  # fmt: skip


def exact_reference(table, tokens: np.ndarray, vocab_size: int) -> dict:
    """Bayes-optimal loss and accuracy on the validation sequences (None in context mode:
    kernels change per sequence, there is no exact reference to report)."""
    from latent_lab.tasks.gssm.model import bayes_entropy_rate

    if table is None:
        return {"bayes_loss": None, "bayes_accuracy": None}
    nll, _, top_probability, _ = table.lookup(tokens)
    bayes_loss = float(nll.mean())
    return {
        "bayes_loss": bayes_loss,
        "bayes_accuracy": float(top_probability.mean()),  # the optimum's expected accuracy
        "bayes_entropy_rate": bayes_entropy_rate(bayes_loss, vocab_size),
    }
