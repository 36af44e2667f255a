"""The GSSM recipe end to end: 2-step finite and on-the-fly trainings on a tiny graph, results.json
beside exact references recomputed independently (a dense forward algorithm; the saved model's own
per-token loss over positions 1..T), determinism, the shipped configs, and exit-2 errors."""

import json

import numpy as np
import pytest
import torch
import yaml
from oracles import gssm_dense_forward, gssm_dense_predictive
from recipe_processes import run_recipe_process

from latent_lab.config import available_configs
from latent_lab.tasks.gssm.model import GSSM, load_graph
from latent_lab.training.recipe import run_recipe
from recipes import gssm as recipe

TINY_GRAPH = {
    "gssm": [
        {"name": "A", "state_dim": 2, "parents": ["X"]},
        {"name": "B", "state_dim": 2, "parents": ["X", "A"]},
        {"name": "X", "state_dim": 4, "parents": ["A", "B"]},
    ],
    "alpha_X": 0.3,
    "alpha_Z": 0.5,
}
TINY_RUN = (
    "--seq_len 12 --num_train 8 --num_validation 6 --graph_seed 3 --data_seed 4 "
    "--hidden_size 16 --num_hidden_layers 1 --num_attention_heads 2 "
    "--max_position_embeddings 13 --max_steps 2 --per_device_train_batch_size 4 "
    "--per_device_eval_batch_size 4 --eval_steps 1 --logging_steps 1 --save_strategy no --seed 7"
).split()
CONTRACT_KEYS = (
    "task",
    "config_name",
    "seed",
    "model_type",
    "num_parameters",
    "state_size",
    "metrics",
    "reference",
    "reference_for",
    "wall_time_s",
    "versions",
)


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Tiny models on a shared 2-core machine: one thread avoids OpenMP oversubscription."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def graph_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("graph") / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY_GRAPH))
    return path


def train(argv):
    return recipe.main(*recipe.make_parser().parse([str(a) for a in argv]))


@pytest.fixture(scope="module")
def finite_run(graph_file, tmp_path_factory):
    output_dir = tmp_path_factory.mktemp("gssm") / "finite"
    return output_dir, train(["--graph", graph_file, *TINY_RUN, "--output_dir", output_dir])


def _validation_tokens(graph_file):
    from latent_lab.tasks.builders import build_dataset

    dataset = build_dataset(
        "gssm",
        None,
        graph=str(graph_file),
        alpha_X=0.3,
        alpha_Z=0.5,
        num_train=8,
        num_validation=6,
        seq_len=12,
        graph_seed=3,
        data_seed=4,
    )
    return np.array(dataset["validation"]["input_ids"]), dataset


def test_finite_run_reports_exact_reference_on_the_evaluated_sequences(finite_run, graph_file):
    output_dir, results = finite_run
    on_disk = json.loads((output_dir / "results.json").read_text())
    assert all(key in on_disk for key in CONTRACT_KEYS)
    assert on_disk["task"] == "gssm" and on_disk["model_type"] == "llama"
    assert on_disk["reference_for"] == {
        "eval_loss": "bayes_loss",
        "eval_accuracy": "bayes_accuracy",
    }
    tokens, dataset = _validation_tokens(graph_file)
    model = GSSM.from_seed(load_graph(graph_file), graph_seed=3)
    nll, argmax = gssm_dense_forward(model.graph, model.kernels, tokens)
    metrics, reference = on_disk["metrics"], on_disk["reference"]
    assert reference["bayes_loss"] == pytest.approx(nll.mean(), rel=1e-10)
    assert metrics["bayes_loss"] == pytest.approx(nll.mean(), rel=1e-10)
    # the optimum's expected accuracy: the mean of its predictive distribution's largest value
    expected = gssm_dense_predictive(model.graph, model.kernels, tokens).max(axis=-1).mean()
    assert reference["bayes_accuracy"] == pytest.approx(expected, rel=1e-10)
    assert metrics["bayes_accuracy"] == pytest.approx(expected, rel=1e-10)
    assert reference["bayes_loss"] == pytest.approx(
        np.mean(dataset["validation"]["bayes_nll"]) / 12
    )
    assert metrics["excess_loss"] == pytest.approx(metrics["eval_loss"] - metrics["bayes_loss"])
    # the trivial baselines of the same tokens: their unigram entropy, the most frequent token
    _, counts = np.unique(tokens, return_counts=True)
    frequencies = counts / counts.sum()
    baseline = on_disk["baseline"]
    assert baseline["unigram_loss"] == pytest.approx(-(frequencies * np.log(frequencies)).sum())
    assert baseline["majority_accuracy"] == pytest.approx(frequencies.max())
    assert on_disk["baseline_for"] == {"eval_loss": "unigram_loss",
                                       "eval_accuracy": "majority_accuracy"}  # fmt: skip


def test_eval_loss_covers_positions_1_to_T_like_bayes_loss(finite_run, graph_file):
    """Apples to apples: the saved model's own -ln q(X(t) | X(<t)) over t = 1..T (BOS first),
    averaged per token, is Trainer's eval_loss; its argmax gives eval_accuracy."""
    from transformers import AutoModelForCausalLM

    output_dir, results = finite_run
    model = AutoModelForCausalLM.from_pretrained(output_dir).eval()
    tokens = torch.as_tensor(_validation_tokens(graph_file)[0])
    inputs = torch.cat([torch.full((len(tokens), 1), 4), tokens], dim=1)  # BOS = dim X = 4
    with torch.no_grad():
        log_probs = model(input_ids=inputs).logits[:, :-1].double().log_softmax(-1)
    nll = -log_probs.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
    assert nll.shape == (6, 12)  # every position 1..T, X(1) included
    assert results["metrics"]["eval_loss"] == pytest.approx(nll.mean().item(), abs=1e-5)
    accuracy = (log_probs.argmax(-1) == tokens).double().mean().item()
    assert results["metrics"]["eval_accuracy"] == pytest.approx(accuracy)


def test_position_records_are_the_metrics_of_every_evaluation(finite_run, graph_file):
    import pandas as pd

    output_dir, results = finite_run
    records = pd.read_parquet(output_dir / "positions.parquet")
    history = json.loads((output_dir / "trainer_state.json").read_text())["log_history"]
    logged = {entry["step"]: entry for entry in history if "eval_loss" in entry}
    assert set(records["step"]) == set(logged) and set(records["split"]) == {"validation"}
    tokens = _validation_tokens(graph_file)[0]
    model = GSSM.from_seed(load_graph(graph_file), graph_seed=3)
    predictive = gssm_dense_predictive(model.graph, model.kernels, tokens)
    for step, group in records.groupby("step"):
        assert len(group) == tokens.size  # every token of every validation sequence
        assert group["model_nll"].mean() == pytest.approx(logged[step]["eval_loss"], rel=1e-6)
        assert group["correct"].mean() == pytest.approx(logged[step]["eval_accuracy"])
        assert group["reference_nll"].mean() == pytest.approx(logged[step]["bayes_loss"])
        rows = (group["example"].to_numpy(), group["position"].to_numpy())
        entropy = -(predictive * np.log(predictive)).sum(-1)
        np.testing.assert_allclose(group["slice_posterior_entropy"], entropy[rows], atol=1e-9)
    final = records[records["step"] == records["step"].max()]
    assert final["model_nll"].mean() == pytest.approx(results["metrics"]["eval_loss"], rel=1e-9)
    assert results["excess_curve"][-1]["excess_loss"] == pytest.approx(
        results["metrics"]["excess_loss"]
    )


def test_onfly_run_is_deterministic_and_evaluates_the_builders_validation(graph_file, tmp_path):
    runs = [
        train(
            [
                "--graph",
                graph_file,
                *TINY_RUN,
                "--onfly",
                "true",
                "--output_dir",
                tmp_path / f"run{i}",
            ]
        )
        for i in range(2)
    ]
    timing = ("runtime", "per_second", "flos")
    first, second = (
        {k: v for k, v in r["metrics"].items() if not any(t in k for t in timing)} for r in runs
    )
    assert first == second and "excess_loss" in first
    tokens, _ = _validation_tokens(graph_file)
    model = GSSM.from_seed(load_graph(graph_file), graph_seed=3)
    nll, _ = gssm_dense_forward(model.graph, model.kernels, tokens)
    assert runs[0]["reference"]["bayes_loss"] == pytest.approx(nll.mean(), rel=1e-10)
    assert runs[0]["config"]["onfly"] is True


def test_context_mode_reports_no_reference(graph_file, tmp_path):
    results = train(
        [
            "--graph",
            graph_file,
            *TINY_RUN,
            "--onfly",
            "true",
            "--context",
            "true",
            "--max_steps",
            "1",
            "--output_dir",
            tmp_path,
        ]
    )
    assert results["reference"] == {"bayes_loss": None, "bayes_accuracy": None}
    assert "bayes_loss" not in results["metrics"] and "eval_accuracy" in results["metrics"]


def test_onfly_resume_continues_the_stream_where_it_stopped(graph_file, tmp_path):
    """The endless stream has no length: a run resumed from checkpoint-2 must train steps 3-4
    on the stream's batches 3-4 (not batches 1-2 again) and end with the same weights and
    per-step losses as the run that was never interrupted."""
    import shutil

    from safetensors.torch import load_file

    out = tmp_path / "resumable"
    argv = ["--graph", graph_file, *TINY_RUN, "--onfly", "true", "--max_steps", "4",
            "--eval_strategy", "no", "--save_strategy", "steps", "--save_steps", "2",
            "--output_dir", out]  # fmt: skip
    train(argv)
    losses, weights = _train_losses(out), load_file(out / "model.safetensors")
    assert sorted(losses) == [1, 2, 3, 4] and len(set(losses.values())) == 4
    shutil.rmtree(out / "checkpoint-4")  # a crash after step 2: only checkpoint-2 survives
    (out / "results.json").unlink()
    train([*argv, "--resume", "true"])
    assert _train_losses(out) == losses
    resumed = load_file(out / "model.safetensors")
    assert resumed.keys() == weights.keys()
    assert all(torch.equal(resumed[name], weights[name]) for name in weights)


def _train_losses(run_dir):
    history = json.loads((run_dir / "trainer_state.json").read_text())["log_history"]
    return {h["step"]: h["loss"] for h in history if "loss" in h}


def test_collator_prepends_bos_and_preprocess_aligns_positions():
    from latent_lab.tasks.gssm.metrics import GSSMCollator, preprocess_logits_for_metrics

    batch = GSSMCollator(bos_token_id=9)([{"input_ids": [1, 2, 3]}, {"input_ids": [4, 5, 6]}])
    assert batch["input_ids"].tolist() == [[9, 1, 2, 3], [9, 4, 5, 6]]
    logits = torch.randn(2, 4, 10)
    nll, argmax = preprocess_logits_for_metrics(logits, batch["labels"])
    expected = -logits[0, 1].log_softmax(-1)[2]  # X(2) = 2 scored after [BOS, X(1)]
    assert nll.shape == (2, 3) and nll[0, 1].item() == pytest.approx(expected.item(), rel=1e-6)
    assert argmax[1, 2] == logits[1, 2].argmax()


@pytest.mark.parametrize("name", available_configs("gssm"))
def test_shipped_configs_parse_and_fit_their_sequences(name):
    data_args, model_args, training_args, _ = recipe.make_parser().parse(["--config", name])
    config = data_args.check().config  # every field valid, the graph and alphas included
    config.parsed_graph()
    assert config.seq_len + 1 <= model_args.max_position_embeddings


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--graph", "no_such_graph"], "graph: 'no_such_graph' is neither a file"),
        (["--seq_len", "4096"], "max_position_embeddings: 2049 < seq_len + 1"),
        (["--num_validation", "0"], "num_validation: expected an integer >= 1"),
        (["--onfly", "true", "--max_steps", "-1"], "max_steps: on-the-fly"),
    ],
)
def test_mistakes_exit_2_with_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_recipe(recipe.make_parser(), recipe.main, argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_graph_mistake_names_the_node(tmp_path, capsys):
    bad = {
        "gssm": [
            {"name": "Z", "state_dim": 2, "parents": ["Y"]},
            {"name": "X", "state_dim": 3, "parents": ["Z"]},
        ],
        "alpha_X": 1,
        "alpha_Z": 1,
    }
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad))
    with pytest.raises(SystemExit):
        run_recipe(recipe.make_parser(), recipe.main, ["--graph", str(tmp_path / "bad.yaml")])
    assert "node 'Z'" in capsys.readouterr().err


def test_metrics_are_the_same_on_one_and_two_processes(graph_file, tmp_path):
    """7 validation sequences in batches of 2: ranks get uneven shares and Trainer pads one;
    gathered metrics must still cover each sequence exactly once. lr ~ 0 keeps both models at
    the same initialisation, so their losses can be compared too."""
    argv = ["--graph", str(graph_file), *TINY_RUN, "--num_validation", "7", "--max_steps", "1",
            "--learning_rate", "1e-12", "--per_device_eval_batch_size", "2"]  # fmt: skip
    import pandas as pd

    metrics, records = {}, {}
    for processes in (1, 2):
        target = tmp_path / f"run{processes}"
        batch = ["--per_device_train_batch_size", str(4 // processes)]  # the same global batch
        proc = run_recipe_process("gssm", [*argv, *batch, "--output_dir", str(target)],
                                  processes=processes)  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-3000:]
        metrics[processes] = json.loads((target / "results.json").read_text())["metrics"]
        records[processes] = pd.read_parquet(target / "positions.parquet")
    for key in ("bayes_loss", "bayes_accuracy", "eval_accuracy"):
        assert metrics[2][key] == metrics[1][key], key
    for key in ("eval_loss", "excess_loss"):
        assert metrics[2][key] == pytest.approx(metrics[1][key], abs=1e-5), key
    one, two = records[1], records[2]
    assert len(one) == 7 * 12 * one["step"].nunique()  # each sequence once per evaluation
    pd.testing.assert_frame_equal(one.drop(columns="model_nll"), two.drop(columns="model_nll"))
    np.testing.assert_allclose(one["model_nll"], two["model_nll"], atol=1e-5)
