"""Train a small causal LM on graph-structured state-space data and report its loss beside the
exact Bayes-optimal loss of the same sequences (excess_loss = eval_loss - bayes_loss).

python recipes/gssm.py --config experiment1/onfly_small_X        # fresh data every step
python recipes/gssm.py --config experiment1/small_X              # a fixed, finite dataset
python recipes/gssm.py --graph experiment2_chain --alpha_Z 0.25 --onfly true --max_steps 200
Every seed step and how to read the results: recipes/configs/gssm/README.md.

Data: onfly=false trains on the builder's train split (num_train sequences); onfly=true on
GSSMStream, fresh sequences from the same fixed kernels at every step, keyed by dataset_seed
and --seed. Both evaluate on the builder's validation split (num_validation sequences: the same
tokens in both modes) with its exact reference. Sequences are fed as [BOS, X(1..T)], so the
loss covers t = 1..T exactly like bayes_loss (latent_lab/tasks/gssm/metrics.py); the
vocabulary is dim X + 1 and the longest input seq_len + 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from transformers.trainer_utils import IntervalStrategy, SchedulerType

from latent_lab.config import LabParser
from latent_lab.errors import UserError
from latent_lab.models.arguments import ModelArguments
from latent_lab.training.arguments import LabTrainingArguments
from latent_lab.training.recipe import run_recipe

POSITIONAL_MODELS = ("gpt2", "llama")  # models with a maximum input length


@dataclass
class GSSMArguments:
    """The gssm builder's fields (same names, so a data YAML is also a recipe config; only
    data_seed is dataset_seed here, since TrainingArguments has a data_seed of its own), plus
    onfly. alpha_X / alpha_Z: None keeps the graph file's defaults (a node's own alpha wins)."""

    graph: str = field(default="experiment1", metadata={"help": "shipped graph or YAML path"})
    alpha_X: float | None = field(default=None, metadata={"help": "default alpha of X"})
    alpha_Z: float | None = field(default=None, metadata={"help": "default alpha of latents"})
    onfly: bool = field(default=False, metadata={"help": "fresh sequences at every step"})
    num_train: int = field(default=1024, metadata={"help": "training sequences (not onfly)"})
    num_validation: int = field(default=64, metadata={"help": "held-out sequences"})
    seq_len: int = field(default=2048, metadata={"help": "tokens per sequence, T"})
    graph_seed: int = field(default=0, metadata={"help": "fixes the kernels"})
    dataset_seed: int = field(
        default=0, metadata={"help": "the builder's data_seed: fixes the sequences (onfly: + seed)"}
    )
    context: bool = field(default=False, metadata={"help": "fresh kernels per sequence (ICL)"})

    def __post_init__(self):
        for name, minimum in (("num_train", 1), ("num_validation", 1), ("seq_len", 1),
                              ("graph_seed", 0), ("dataset_seed", 0)):  # fmt: skip
            if getattr(self, name) < minimum:
                raise UserError(f"{name}: must be >= {minimum}, got {getattr(self, name)}")

    def resolve(self):
        """(parsed graph, builder fields). A None alpha becomes the graph file's default, so
        the builder's base config cannot substitute its own."""
        from data_builders.gssm import GSSMConfig, graph_source
        from latent_lab.config import load_yaml

        config = GSSMConfig(graph=self.graph, alpha_X=self.alpha_X, alpha_Z=self.alpha_Z)
        graph = config.parsed_graph()  # one line naming the file or node on a mistake
        defaults = load_yaml(graph_source(self.graph))
        fields = {name: getattr(self, name) for name in ("graph", "num_train", "num_validation",
                  "seq_len", "graph_seed", "context")}  # fmt: skip
        fields["data_seed"] = self.dataset_seed  # TrainingArguments owns `data_seed`
        for name in ("alpha_X", "alpha_Z"):
            value = getattr(self, name)
            fields[name] = value if value is not None else defaults.get(name)
        return graph, fields


@dataclass
class GSSMModelArguments(ModelArguments):
    """The spec's default model: Llama (RoPE, SwiGLU, RMSNorm, no bias), hidden 64, 4 layers,
    4 heads; room for the seeds' 2048 tokens plus BOS."""

    model_type: str = field(default="llama", metadata={"help": "gpt2 | llama | lstm | rnn"})
    hidden_size: int = field(default=64, metadata={"help": "width"})
    max_position_embeddings: int = field(default=2049, metadata={"help": ">= seq_len + 1"})


@dataclass
class GSSMTrainingArguments(LabTrainingArguments):
    """The seeds' on-the-fly runs: batch 16, lr 1e-2, constant schedule, 1000 steps."""

    per_device_train_batch_size: int = 16
    per_device_eval_batch_size: int = 16
    learning_rate: float = 1e-2
    lr_scheduler_type: SchedulerType | str = "constant"
    max_steps: int = 1000
    eval_strategy: IntervalStrategy | str = "steps"
    eval_steps: float | None = 100
    logging_steps: float = 10
    include_for_metrics: list[str] = field(default_factory=lambda: ["inputs"])


def make_parser() -> LabParser:
    return LabParser((GSSMArguments, GSSMModelArguments, GSSMTrainingArguments), "gssm")


def main(data_args, model_args, training_args, config_path=None) -> dict | None:
    from latent_lab.training.runner import run_training

    if model_args.model_type in POSITIONAL_MODELS and model_args.init_from is None:
        if data_args.seq_len + 1 > model_args.max_position_embeddings:
            raise UserError(
                f"max_position_embeddings: {model_args.max_position_embeddings} < seq_len + 1 "
                f"(BOS) = {data_args.seq_len + 1}; set max_position_embeddings >= that"
            )
    if data_args.onfly and training_args.max_steps < 1:
        raise UserError("max_steps: on-the-fly data is endless; set max_steps >= 1")
    run = make_task_run(data_args, training_args)
    return run_training(run, model_args, training_args, config_path, data_args)


def make_task_run(data_args, training_args):
    from latent_lab.tasks.gssm import metrics as gssm_metrics
    from latent_lab.tasks.gssm.model import GSSM
    from latent_lab.training.runner import TaskRun

    threads = torch.get_num_threads()
    graph, fields = data_args.resolve()
    model = GSSM.from_seed(graph, data_args.graph_seed)
    train_dataset, eval_dataset = datasets_for(data_args, training_args, model, fields)
    tokens = np.asarray(eval_dataset["input_ids"], dtype=np.int64)
    table = None if data_args.context else gssm_metrics.BayesTable(graph, model.kernels, tokens)
    # numba's OpenMP pool, started by the first parallel sampler or filter call above, sets the
    # OpenMP thread count torch shares to NUMBA_NUM_THREADS (OMP_NUM_THREADS=1 became 2, and
    # a loaded machine ran 10x slower); later calls leave it alone, so restore it once here.
    torch.set_num_threads(threads)
    if "inputs" not in training_args.include_for_metrics:  # metrics look sequences up
        training_args.include_for_metrics = [*training_args.include_for_metrics, "inputs"]
    bos = graph.vocab_size
    return TaskRun(
        task="gssm",
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        vocab_size=graph.vocab_size + 1,
        data_collator=gssm_metrics.GSSMCollator(bos),
        compute_metrics=gssm_metrics.GSSMMetrics(table),
        preprocess_logits_for_metrics=gssm_metrics.preprocess_logits_for_metrics,
        reference=exact_reference(table, tokens, graph.vocab_size),
        reference_for={"eval_loss": "bayes_loss", "eval_accuracy": "bayes_accuracy"},
        special_token_ids={"bos_token_id": bos},
        trainer_class=gssm_metrics.GSSMTrainer,
        finalize=lambda trainer: {"gssm": {
            "alphas": {node.name: node.alpha for node in graph.nodes}, "bos_token_id": bos,
            "vocab_size": graph.vocab_size, "joint_states": graph.joint_states}},
    )  # fmt: skip


def datasets_for(data_args, training_args, model, fields):
    """(train, validation): the builder's splits, or a stream and the same validation split."""
    import datasets

    from data_builders.gssm import SPLITS
    from latent_lab.tasks.builders import build_dataset
    from latent_lab.tasks.gssm.model import rng_key, sample_in_context
    from latent_lab.tasks.gssm.stream import GSSMStream

    if not data_args.onfly:
        dataset = build_dataset("gssm", None, **fields)
        return dataset["train"], dataset["validation"]
    # Sequence s depends only on (key, s): one call gives the builder's validation tokens.
    key = rng_key(data_args.dataset_seed, SPLITS[datasets.Split.VALIDATION])
    shape = (data_args.num_validation, data_args.seq_len)
    if data_args.context:
        tokens = sample_in_context(model.graph, *shape, key)
    else:
        tokens = model.sample(*shape, key)
    stream = GSSMStream(
        model,
        data_args.seq_len,
        seed=rng_key(data_args.dataset_seed, training_args.seed),  # --seed: another stream
        chunk_sequences=training_args.per_device_train_batch_size,
        context=data_args.context,
    )
    return stream, datasets.Dataset.from_dict({"input_ids": tokens.tolist()})


def exact_reference(table, tokens: np.ndarray, vocab_size: int) -> dict:
    """Bayes-optimal loss and accuracy on the validation sequences (None in context mode:
    kernels change per sequence, there is no exact reference to report)."""
    from latent_lab.tasks.gssm.model import bayes_entropy_rate

    if table is None:
        return {"bayes_loss": None, "bayes_accuracy": None}
    nll, predictions = table.lookup(tokens)
    bayes_loss = float(nll.mean())
    return {
        "bayes_loss": bayes_loss,
        "bayes_accuracy": float((predictions == tokens).mean()),
        "bayes_entropy_rate": bayes_entropy_rate(bayes_loss, vocab_size),
    }


if __name__ == "__main__":
    run_recipe(make_parser(), main)
