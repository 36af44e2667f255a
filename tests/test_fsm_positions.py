"""FSM per-position records: the slices on a hand-made episode, and a run's records whose
means are exactly the metrics it logged at every evaluation (validation and test)."""

import json

import numpy as np
import pandas as pd
import pytest

from latent_lab.tasks.fsm_icl.generator import IGNORE_INDEX, FSMVocab
from latent_lab.tasks.fsm_icl.metrics import position_slices

VOCAB = FSMVocab()
A0, A1 = VOCAB.action_token(0), VOCAB.action_token(1)


def test_slices_of_a_hand_made_episode():
    # demos: 0 a0 1 a1 2 <eos> | 1 a1 2 <eos>; query: <query> 0 a0 1 a1 2 a1 0 <eos>
    sequence = [0, A0, 1, A1, 2, VOCAB.eos, 1, A1, 2, VOCAB.eos,
                VOCAB.query, 0, A0, 1, A1, 2, A1, 0, VOCAB.eos]  # fmt: skip
    labels = [IGNORE_INDEX] * len(sequence)
    for position in (13, 15, 17):  # the query's next states
        labels[position] = sequence[position]
    slices = position_slices(sequence, labels, VOCAB)
    # (0, a0) was seen once in a demo; (1, a1) twice; (2, a1) never
    assert slices["times_seen"].tolist() == [1, 2, 0]
    assert slices["query_step"].tolist() == [0, 1, 2]
    assert slices["num_demos"].tolist() == [2, 2, 2]


@pytest.fixture(scope="module")
def fsm_run(tmp_path_factory):
    from recipes.fsm_icl import main, make_parser

    out = tmp_path_factory.mktemp("fsm") / "run"
    argv = ["--config", "quick", "--num_train", "64", "--num_validation", "12", "--num_test",
            "10", "--max_steps", "6", "--eval_strategy", "steps", "--eval_steps", "3",
            "--save_strategy", "no", "--load_best_model_at_end", "false",
            "--position_record_points", "3", "--output_dir", str(out)]  # fmt: skip
    return out, main(*make_parser().parse(argv))


def test_records_are_the_logged_metrics_of_every_evaluation(fsm_run):
    out, results = fsm_run
    records = pd.read_parquet(out / "positions.parquet")
    history = json.loads((out / "trainer_state.json").read_text())["log_history"]
    logged = {entry["step"]: entry for entry in history if "eval_accuracy" in entry}
    validation = records[records["split"] == "validation"]
    assert set(validation["step"]) == set(logged) and {1, 3, 6} <= set(logged)
    for step, group in validation.groupby("step"):
        entry = logged[step]
        seen = group["slice_seen"].to_numpy()
        assert group["correct"].mean() == pytest.approx(entry["eval_accuracy"])
        assert group["correct"][seen].mean() == pytest.approx(entry["eval_accuracy_seen"])
        assert group["model_nll"].mean() == pytest.approx(entry["eval_loss"], rel=1e-6)
        assert group["model_nll"].mean() == pytest.approx(entry["eval_scored_loss"], rel=1e-6)
        assert group["reference_accuracy"].mean() == pytest.approx(entry["eval_bayes_accuracy"])
        assert group["reference_nll"].mean() == pytest.approx(entry["eval_bayes_loss"])
    test = records[records["split"] == "test"]
    metrics = results["metrics"]
    assert test["correct"].mean() == pytest.approx(metrics["test_accuracy"])
    assert test["reference_accuracy"].mean() == pytest.approx(
        results["reference"]["test_bayes_accuracy"]
    )
    assert np.isin(["slice_times_seen", "slice_query_step", "slice_num_demos"],
                   records.columns).all()  # fmt: skip
    # chance beside every metric with an optimum: a uniform guess among the 3 states
    assert results["baseline"] == pytest.approx({"chance_accuracy": 1 / 3,
                                                 "chance_loss": np.log(3)})  # fmt: skip
    assert results["baseline_for"]["eval_accuracy"] == "chance_accuracy"
    assert results["baseline_for"]["test_scored_loss"] == "chance_loss"


def test_the_evaluate_module_loaded_by_path_gives_the_logged_metrics(fsm_run):
    """What a user gets from evaluate.load(<module path>) on a run's records is every metric the
    run logged, to the last digit (the Trainer calls the same module)."""
    import evaluate

    from latent_lab.training.scorers import scorer_path

    out, _ = fsm_run
    scorer = evaluate.load(str(scorer_path("fsm_icl", "fsm_icl_accuracy")))
    records = pd.read_parquet(out / "positions.parquet")
    history = json.loads((out / "trainer_state.json").read_text())["log_history"]
    logged = {entry["step"]: entry for entry in history if "eval_accuracy" in entry}
    validation = records[records["split"] == "validation"]
    for step, group in validation.groupby("step"):
        column = {name: group[name].tolist() for name in group.columns}
        computed = scorer.compute(correct=column["correct"], seen=column["slice_seen"],
                                  model_nll=column["model_nll"],
                                  bayes_correct_prob=column["reference_accuracy"],
                                  bayes_nll=column["reference_nll"])  # fmt: skip
        assert {f"eval_{name}": value for name, value in computed.items()} == {
            f"eval_{name}": logged[step][f"eval_{name}"] for name in computed
        }
        seen = group["slice_seen"].to_numpy()  # and the module against a plain recomputation
        assert computed["accuracy_unseen"] == pytest.approx(group["correct"][~seen].mean())
        bayes_unseen = group["reference_accuracy"][~seen].mean()
        assert computed["bayes_accuracy_unseen"] == pytest.approx(bayes_unseen)
