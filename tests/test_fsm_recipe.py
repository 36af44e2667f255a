"""The FSM in-context-learning recipe end to end: tiny trainings of every model type,
results.json, the best checkpoint as the saved model, init_from, curricula, the phase configs
(parse, parameter targets) and one-line exit-2 errors."""

import json
from pathlib import Path

import pytest
import torch
import yaml

from latent_lab.config import config_dir
from latent_lab.tasks.fsm_icl.curriculum import check_stages
from latent_lab.training.recipe import run_recipe
from recipes import fsm_curriculum, fsm_icl

TINY_DATA = ["--dataset", "3s3a", "--num_train", "16", "--num_validation", "8", "--num_test", "8"]
TINY_RUN = [
    *TINY_DATA,
    "--hidden_size", "16", "--num_hidden_layers", "1", "--num_attention_heads", "2",
    "--per_device_train_batch_size", "4", "--max_steps", "3", "--logging_steps", "1",
    "--eval_strategy", "steps", "--eval_steps", "1", "--save_strategy", "steps",
    "--save_steps", "1", "--learning_rate", "3e-2", "--seed", "5",
]  # fmt: skip
CONTRACT_KEYS = ("task", "config_name", "seed", "model_type", "num_parameters", "metrics",
                 "reference", "reference_for", "wall_time_s", "versions")  # fmt: skip
LARGE, SMALL = 1_060_000, 68_000  # the seed's parameter targets (~1.06M LSTM, ~68K d-64)
PARAMETER_TARGETS = {
    "phase1_1": LARGE, "phase3_1": LARGE, "phase4_1": LARGE, "phase4_3": LARGE,
    "phase7_1": LARGE, "phase2_1": SMALL, "phase4_2": SMALL, "phase6_1": SMALL,
    "transformer_d64": SMALL, "transformer_gpt2_d64": SMALL,
}  # fmt: skip


def train(argv):
    return fsm_icl.main(*fsm_icl.make_parser().parse(argv))


@pytest.fixture(scope="module")
def lstm_run(tmp_path_factory):
    output_dir = tmp_path_factory.mktemp("fsm") / "lstm"
    return output_dir, train([*TINY_RUN, "--model_type", "lstm", "--output_dir", str(output_dir)])


def _history(run_dir: Path) -> list[dict]:
    return json.loads((run_dir / "trainer_state.json").read_text())["log_history"]


def test_results_json_reports_every_split_beside_exact_references(lstm_run):
    output_dir, results = lstm_run
    on_disk = json.loads((output_dir / "results.json").read_text())
    for key in CONTRACT_KEYS:
        assert key in on_disk, key
    assert on_disk["task"] == "fsm_icl" and on_disk["model_type"] == "lstm"
    metrics, reference = on_disk["metrics"], on_disk["reference"]
    for split, prefix in (("validation", "eval"), ("test", "test")):
        for name in ("accuracy", "accuracy_seen", "accuracy_unseen", "frac_seen"):
            assert 0.0 <= metrics[f"{prefix}_{name}"] <= 1.0
        assert on_disk["reference_for"][f"{prefix}_accuracy"] == f"{split}_bayes_accuracy"
        # The recipe's reference and the metric's own Bayes figure are computed separately.
        assert reference[f"{split}_bayes_accuracy"] == pytest.approx(
            metrics[f"{prefix}_bayes_accuracy"], abs=1e-6
        )
        assert reference[f"{split}_bayes_accuracy_seen"] == 1.0
        assert reference[f"{split}_bayes_loss"] == pytest.approx(metrics[f"{prefix}_bayes_loss"])
    assert on_disk["config"]["dataset"] == "3s3a" and on_disk["config"]["num_train"] == 16


def test_saved_model_is_the_best_checkpoint(lstm_run):
    from latent_lab.models.loading import load_model
    from latent_lab.tasks.fsm_icl.metrics import evaluate_fsm

    output_dir, results = lstm_run
    evals = [h for h in _history(output_dir) if "eval_accuracy" in h][:-1]  # last: final eval
    best = max(evals, key=lambda h: h["eval_accuracy"])  # Trainer keeps the first best
    assert results["best_step"] == best["step"]
    assert results["best_checkpoint"] == f"checkpoint-{best['step']}"
    saved = load_model(str(output_dir))
    checkpoint = load_model(str(output_dir / results["best_checkpoint"]))
    for (name, weight), (_, expected) in zip(
        saved.state_dict().items(), checkpoint.state_dict().items(), strict=True
    ):
        assert torch.equal(weight, expected), name
    from latent_lab.tasks.builders import build_dataset

    validation = build_dataset("fsm_icl", "3s3a", num_train=16, num_validation=8, num_test=8)
    own_loop = evaluate_fsm(saved, validation["validation"])
    assert own_loop["accuracy"] == pytest.approx(best["eval_accuracy"])
    assert results["metrics"]["eval_accuracy"] == pytest.approx(best["eval_accuracy"])


@pytest.mark.parametrize("model_type", ["rnn", "llama", "gpt2"])
def test_every_model_type_trains_through_the_recipe(model_type, tmp_path):
    results = train([*TINY_RUN, "--model_type", model_type, "--output_dir", str(tmp_path)])
    assert results["model_type"] == model_type
    assert 0.0 <= results["metrics"]["test_accuracy"] <= 1.0
    assert (tmp_path / "model.safetensors").is_file()


def test_init_from_starts_from_the_finished_model(lstm_run, tmp_path):
    from latent_lab.models.loading import load_model

    output_dir, _ = lstm_run
    argv = [*TINY_RUN, "--init_from", str(output_dir), "--learning_rate", "1e-12",
            "--max_steps", "1", "--hidden_size", "8", "--output_dir", str(tmp_path)]  # fmt: skip
    results = train(argv)
    assert results["config"]["init_from"] == str(output_dir)
    start, after = load_model(str(output_dir)), load_model(str(tmp_path))
    assert after.config.hidden_size == 16  # the saved model's size, not --hidden_size
    for weight, expected in zip(after.parameters(), start.parameters(), strict=True):
        torch.testing.assert_close(weight, expected, atol=1e-9, rtol=0)


def test_curriculum_runs_stages_from_each_previous_model(tmp_path):
    config = tmp_path / "two_stages.yaml"
    config.write_text(yaml.safe_dump({
        "model_type": "lstm", "hidden_size": 16, "num_hidden_layers": 1,
        "stages": [{"dataset": "3s3a", "num_train": 16, "num_validation": 8, "num_test": 8},
                   {"dataset": "5s5a", "num_train": 12, "num_validation": 8, "num_test": 8,
                    "learning_rate": 1e-2}],
    }))  # fmt: skip
    root = tmp_path / "curriculum"
    argv = ["--config", str(config), "--output_dir", str(root), "--max_steps", "2",
            "--per_device_train_batch_size", "4", "--seed", "3"]  # fmt: skip
    summary = fsm_curriculum.main(*fsm_curriculum.make_parser().parse(argv))
    stage0, stage1 = root / "stage0-3s3a", root / "stage1-5s5a"
    first = json.loads((stage0 / "results.json").read_text())
    second = json.loads((stage1 / "results.json").read_text())
    assert first["config_name"] == "two_stages/stage0-3s3a"
    assert first["config"]["init_from"] is None
    assert second["config"]["init_from"] == str(stage0)
    assert second["config"]["learning_rate"] == 1e-2 and first["config"]["learning_rate"] == 1e-3
    assert [s["dataset"] for s in summary["stages"]] == ["3s3a", "5s5a"]
    on_disk = json.loads((root / "results.json").read_text())
    assert on_disk["config_name"] == "two_stages" and on_disk["final_model_dir"] == str(stage1)
    assert on_disk["metrics"] == second["metrics"]
    from latent_lab.commands.probe import find_run

    assert find_run(root)[0] == stage1  # `latent-lab probe --model ROOT` probes the last stage


def _phase_configs() -> list[Path]:
    return sorted(config_dir("fsm_icl").glob("*.yaml"))


@pytest.mark.parametrize("path", _phase_configs(), ids=lambda p: p.stem)
def test_every_config_parses(path):
    data_args, model_args, training_args, _ = fsm_icl.make_parser().parse(["--config", path.stem])
    data_args.check()  # every builder field valid
    assert training_args.metric_for_best_model == "accuracy"
    assert training_args.load_best_model_at_end and training_args.num_train_epochs >= 1


@pytest.mark.parametrize("path", sorted(config_dir("fsm_curriculum").glob("*.yaml")),
                         ids=lambda p: p.stem)  # fmt: skip
def test_every_curriculum_config_parses(path):
    """Curricula live in recipes/configs/fsm_curriculum/, where their bare names resolve."""
    curriculum, *_, config_path = fsm_curriculum.make_parser().parse(["--config", path.stem])
    assert config_path == path
    assert check_stages(curriculum.stages)


@pytest.mark.parametrize("name", sorted(PARAMETER_TARGETS))
def test_phase_models_meet_the_seed_parameter_targets(name):
    from latent_lab.models.sizing import num_parameters

    parser = fsm_curriculum.make_parser() if name == "phase6_1" else fsm_icl.make_parser()
    model_args = parser.parse(["--config", name])[-3]
    count = num_parameters(model_args, vocab_size=21)
    assert count == pytest.approx(PARAMETER_TARGETS[name], rel=0.05), count


@pytest.mark.parametrize("model_type", ["llama", "gpt2"])
def test_transformer_widths_are_solved_to_match_the_small_lstm(model_type):
    from latent_lab.models.sizing import num_parameters, solve_intermediate_size

    name = "transformer_d64" if model_type == "llama" else "transformer_gpt2_d64"
    model_args = fsm_icl.make_parser().parse(["--config", name])[1]
    small_lstm = fsm_icl.make_parser().parse(["--config", "phase2_1"])[1]
    target = num_parameters(small_lstm, 21)
    assert model_args.intermediate_size == solve_intermediate_size(model_args, 21, target)


BAD_INPUTS = [
    (["--num_states", "9"], "num_states"),
    (["--num_actions", "11"], "num_actions"),
    (["--num_demos", "0"], "num_demos"),
    (["--demo_length", "0"], "demo_length"),
    (["--data_seed", "-1"], "data_seed"),
    (["--length_jitter", "1.5"], "length_jitter"),
    (["--config", "phase9_9"], "--config"),
    (["--config", "phase6_1"], "recipes/configs/fsm_icl/"),  # a curriculum: fsm_curriculum.py
    (["--init_from", "/no/such/run"], "init_from"),
    (["--max_steps", "-5"], "max_steps"),  # Trainer would silently train num_train_epochs
    (["--dataset_seed", "3"], "dataset_seed"),  # the old name: data_seed now
]


@pytest.mark.parametrize(("extra", "field"), BAD_INPUTS, ids=[f for _, f in BAD_INPUTS])
def test_bad_input_is_one_line_exit_2(extra, field, tmp_path, capsys):
    out = tmp_path / "never"
    with pytest.raises(SystemExit) as raised:
        run_recipe(
            fsm_icl.make_parser(), fsm_icl.main, [*TINY_RUN, *extra, "--output_dir", str(out)]
        )
    assert raised.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and field in err, err
    assert not out.exists()


def test_bad_curriculum_stage_fails_before_any_training(tmp_path, capsys):
    config = tmp_path / "bad.yaml"
    config.write_text(
        yaml.safe_dump({"stages": [{"dataset": "3s3a"}, {"dataset": "5s5a", "num_states": 9}]})
    )
    out = tmp_path / "never"
    with pytest.raises(SystemExit) as raised:
        run_recipe(fsm_curriculum.make_parser(), fsm_curriculum.main,
                   ["--config", str(config), "--output_dir", str(out)])  # fmt: skip
    assert raised.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "stages[1]" in err and "num_states" in err, err
    assert not out.exists()


@pytest.mark.parametrize(
    ("extra", "field"),
    [(["--max_steps", "-5"], "max_steps"), (["--init_from", "/no/such/run"], "init_from")],
)
def test_bad_curriculum_arguments_fail_before_any_training(extra, field, tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"stages": [{"dataset": "3s3a"}, {"dataset": "5s5a"}]}))
    out = tmp_path / "never"
    with pytest.raises(SystemExit) as raised:
        run_recipe(fsm_curriculum.make_parser(), fsm_curriculum.main,
                   ["--config", str(config), "--output_dir", str(out), *extra])  # fmt: skip
    assert raised.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and field in err and "fsm_curriculum.py" in err, err
    assert not out.exists()


def test_data_seed_draws_the_data_and_seed_only_the_model():
    """One seed naming: data_seed is the builder's (the FSMs and walks), seed the run's."""
    parse = fsm_icl.make_parser().parse
    default = parse([*TINY_DATA, "--seed", "9"])
    assert default[0].check().config.data_seed == 0 and default[2].seed == 9
    other = parse([*TINY_DATA, "--data_seed", "4"])
    assert other[0].check().config.data_seed == 4 and other[2].seed == 42
