"""Shifted evaluation splits (eval_shifts): each built by the task's builder with the shift's
fields, with its own exact reference checked against brute force at tiny sizes; mistakes are
one line, exit 2, before any data."""

import json

import numpy as np
import pytest
import yaml
from oracles import fsm_check_references, gssm_dense_forward

from latent_lab.training.recipe import run_recipe

TINY_GRAPH = {"gssm": [{"name": "A", "state_dim": 2, "parents": ["X"]},
                       {"name": "X", "state_dim": 3, "parents": ["A"]}],
              "alpha_X": 0.4, "alpha_Z": 0.6}  # fmt: skip


def test_fsm_more_demos_at_3s2a_matches_enumeration_of_all_tables():
    from latent_lab.tasks.fsm_icl import run
    from latent_lab.tasks.fsm_icl.arguments import make_parser

    argv = ["--dataset", "3s3a", "--num_actions", "2", "--num_train", "1", "--num_validation",
            "30", "--num_test", "1", "--demo_length", "2",
            "--eval_shifts", "{more_demos: {num_demos: 3, demo_length: 4}}"]  # fmt: skip
    data_args = make_parser().parse(argv)[0]
    reference, reference_for = {}, {}
    shifts = run.shift_splits(data_args.shift_builders(), reference, reference_for)
    split, metrics = shifts["more_demos"]
    assert len(split) == 30 and split[0]["num_actions"] == 2
    assert fsm_check_references(split, 3, 2, False) >= 3  # unseen steps, the hard case
    assert reference_for["eval_more_demos_accuracy"] == "more_demos_bayes_accuracy"
    labels = np.concatenate([row["labels"] for row in split])
    correct = np.concatenate([row["bayes_correct_prob"] for row in split])
    assert reference["more_demos_bayes_accuracy"] == pytest.approx(correct[labels != -100].mean())


def test_gssm_long_split_reference_is_the_dense_forward_of_its_sequences(tmp_path):
    from latent_lab.tasks.gssm import run
    from latent_lab.tasks.gssm.arguments import make_parser
    from latent_lab.tasks.gssm.model import GSSM, parse_graph

    graph_file = tmp_path / "tiny.yaml"
    graph_file.write_text(yaml.safe_dump(TINY_GRAPH))
    argv = ["--graph", str(graph_file), "--seq_len", "5", "--num_validation", "4",
            "--max_position_embeddings", "11"]  # fmt: skip
    argv += ["--eval_shifts", "{long: {seq_len: 10}}"]
    data_args, model_args, training_args, _ = make_parser().parse(argv)
    run.check_arguments(data_args, model_args, training_args)
    shifts, reference, _ = run.shift_splits(data_args.shift_builders())
    split, _ = shifts["long"]
    tokens = np.array(split["input_ids"])
    assert tokens.shape == (4, 10)
    model = GSSM.from_seed(parse_graph(TINY_GRAPH), graph_seed=0)
    nll, _ = gssm_dense_forward(model.graph, model.kernels, tokens)
    assert reference["long_bayes_loss"] == pytest.approx(nll.mean(), rel=1e-10)


@pytest.mark.parametrize(
    ("recipe", "argv", "message"),
    [
        ("fsm_icl", ["--eval_shifts", "{more: {num_demo: 6}}"],
         "eval_shifts.more: 'num_demo' is not a fsm_icl builder field"),
        ("fsm_icl", ["--eval_shifts", "{big: {num_states: 10, s_max: 10}}"],
         "eval_shifts.big: s_max changes the vocabulary"),
        ("fsm_icl", ["--eval_shifts", "{big: {num_states: 12, s_max: 12}}"],
         "exact Bayes references are computed for up to 10"),
        ("gssm", ["--eval_shifts", "{long: {seq_len: 4096}}"],
         "eval_shifts.long: max_position_embeddings: 2049 < seq_len + 1"),
        ("gssm", ["--eval_shifts", "{wide: {graph: WIDE}}"],
         "eval_shifts.wide: graph: the exact reference is intractable"),
        ("gssm", ["--eval_shifts", "[1, 2]"], "eval_shifts: expected a mapping"),
    ],
)  # fmt: skip
def test_shift_mistakes_are_one_line_before_any_data(recipe, argv, message, tmp_path, capsys):
    import importlib

    wide = {"gssm": [{"name": f"Z{i}", "state_dim": 8, "parents": ["X"]} for i in range(8)]
            + [{"name": "X", "state_dim": 4, "parents": ["Z0"]}],
            "alpha_X": 0.5, "alpha_Z": 0.5}  # fmt: skip
    (tmp_path / "wide.yaml").write_text(yaml.safe_dump(wide))
    argv = [a.replace("WIDE", str(tmp_path / "wide.yaml")) for a in argv]
    module = importlib.import_module(f"recipes.{recipe}")
    out = tmp_path / "never"
    with pytest.raises(SystemExit) as exit_info:
        run_recipe(module.make_parser(), module.main, [*argv, "--output_dir", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and len(err) == 1 and message in err[0], err
    assert not out.exists()


def test_a_run_records_each_shift_as_its_own_split(tmp_path):
    from recipes.fsm_icl import main, make_parser

    out = tmp_path / "run"
    argv = ["--config", "quick", "--num_train", "32", "--num_validation", "8", "--num_test", "8",
            "--max_steps", "4", "--eval_strategy", "steps", "--eval_steps", "2",
            "--save_strategy", "no", "--load_best_model_at_end", "false",
            "--position_record_points", "0", "--output_dir", str(out),
            "--eval_shifts", "{absorbing: {absorbing: true}}"]  # fmt: skip
    results = main(*make_parser().parse(argv))
    import pandas as pd

    records = pd.read_parquet(out / "positions.parquet")
    shifted = records[records["split"] == "absorbing"]
    assert set(shifted["step"]) == {2, 4}  # wherever validation was evaluated
    final = shifted[shifted["step"] == 4]
    assert final["correct"].mean() == pytest.approx(results["metrics"]["eval_absorbing_accuracy"])
    reference = json.loads((out / "results.json").read_text())["reference"]
    # the shift's own exact reference (absorbing), not the main split's
    assert final["reference_accuracy"].mean() == pytest.approx(
        reference["absorbing_bayes_accuracy"]
    )
