"""Linear probes: exact targets at the query steps, ~1.0 where the answer is linearly encoded,
chance where it is not, and the `latent-lab probe` command on a tiny trained model."""

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from latent_lab.cli import main as cli_main
from latent_lab.tasks.builders import build_dataset
from latent_lab.tasks.fsm_icl.generator import FSMVocab
from latent_lab.tasks.fsm_icl.probes import (
    ProbeSettings,
    collect_features,
    fit_linear_probe,
    probe_layers,
    query_steps,
)

VOCAB = FSMVocab()


@pytest.fixture(scope="module")
def standard():
    return build_dataset("fsm_icl", "5s5a", num_train=300, num_validation=4, num_test=150)


class OneHotWindow(nn.Module):
    """A fake model whose layers are one-hot codes of the token itself (layer 0), the token
    before (layer 1: at an action, the current state) and the token after (layer 2: at an
    action, the next state)."""

    def __init__(self):
        super().__init__()
        self.unused = nn.Parameter(torch.zeros(1))

    def forward(self, input_ids, attention_mask=None, output_hidden_states=False):
        one_hot = nn.functional.one_hot(input_ids, VOCAB.size).float()
        before = torch.roll(one_hot, 1, dims=1)
        after = torch.roll(one_hot, -1, dims=1)
        return SimpleNamespace(hidden_states=(one_hot, before, after))


def _rows(split):
    return list(split.select_columns(["input_ids", "labels", "seen_mask"]))


def test_query_steps_sit_on_the_action_before_each_scored_state(standard):
    row = standard["test"][0]
    positions, targets = query_steps(row)
    ids, labels = row["input_ids"], row["labels"]
    scored = [t for t, label in enumerate(labels) if label != -100]
    assert positions.tolist() == [t - 1 for t in scored]
    assert all(VOCAB.is_action(ids[p]) for p in positions)
    assert targets["current_state"].tolist() == [ids[t - 2] for t in scored]
    assert targets["next_state"].tolist() == [ids[t] for t in scored]
    assert targets["seen"].tolist() == [row["seen_mask"][t] for t in scored]


def test_linearly_encoded_answers_are_probed_to_one_and_others_near_chance(standard):
    model = OneHotWindow()
    train = collect_features(model, _rows(standard["train"]), VOCAB.pad)
    test = collect_features(model, _rows(standard["test"]), VOCAB.pad)
    result = probe_layers(train, test, ProbeSettings(epochs=8))
    current, following = result["targets"]["current_state"], result["targets"]["next_state"]
    assert current["test_accuracy"][1] >= 0.99 and following["test_accuracy"][2] >= 0.99
    # An action token says nothing about the state it is taken from (uniform actions).
    assert current["test_accuracy"][0] <= current["majority_baseline"] + 0.1
    for target in result["targets"].values():
        for accuracy in target["train_accuracy"] + target["test_accuracy"]:
            assert 0.0 <= accuracy <= 1.0


def test_probe_is_deterministic_given_its_seed():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(200, 6)).astype(np.float32)
    labels = (features[:, 0] + 0.3 * rng.normal(size=200) > 0).astype(np.int64)
    settings = ProbeSettings(epochs=3, batch_size=32, seed=4)
    first = fit_linear_probe(features[:150], labels[:150], features[150:], labels[150:], settings)
    again = fit_linear_probe(features[:150], labels[:150], features[150:], labels[150:], settings)
    assert first == again and first["test_accuracy"] > 0.7


@pytest.mark.parametrize(
    ("values", "field"),
    [({"epochs": 0}, "epochs"), ({"test_split": "dev"}, "test_split"), ({"lr": 1}, "lr")],
)
def test_bad_probe_settings_are_one_line_errors(values, field, tmp_path, capsys):
    settings = tmp_path / "probe.yaml"
    settings.write_text(json.dumps(values))
    assert cli_main(["probe", "--model", str(tmp_path), "--config", str(settings)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and field in err, err


def test_probe_command_on_a_tiny_trained_model(tmp_path, capsys):
    from recipes.fsm_icl import main, make_parser

    run_dir = tmp_path / "run"
    argv = ["--dataset", "3s3a", "--num_train", "24", "--num_validation", "8", "--num_test",
            "16", "--model_type", "lstm", "--hidden_size", "16", "--num_hidden_layers", "2",
            "--max_steps", "2", "--per_device_train_batch_size", "8", "--output_dir",
            str(run_dir), "--eval_strategy", "steps", "--save_strategy", "steps",
            "--eval_steps", "1", "--save_steps", "1"]  # fmt: skip
    main(*make_parser().parse(argv))
    capsys.readouterr()
    command = ["probe", "--model", str(run_dir), "--config", "phase5_1", "--epochs", "2"]
    assert cli_main(command) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    written = json.loads((run_dir / "probes" / "probes.json").read_text())
    assert (run_dir / "probes" / "probes.png").stat().st_size > 0
    assert written["num_layers"] == 3 and written["dataset"] == "3s3a"  # embeddings + 2 layers
    assert written["builder_fields"]["num_train"] == 24 and written["settings"]["epochs"] == 2
    for target in ("current_state", "next_state", "seen"):
        accuracies = summary["test_accuracy"][target] + summary["train_accuracy"][target]
        assert len(accuracies) == 6 and all(0.0 <= a <= 1.0 for a in accuracies)
    # Same model, same settings: the same probes.
    assert cli_main(command) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == summary


@pytest.mark.parametrize("name", ["phase5_1", "phase5_2", "phase5_3"])
def test_probe_settings_of_the_seed_phases(name):
    from latent_lab.commands.probe import probe_config_path
    from latent_lab.config import load_yaml

    settings = ProbeSettings.from_mapping(load_yaml(probe_config_path(name)))
    assert settings.epochs == (32 if name == "phase5_2" else 16)  # the seed's probe commands


def test_probes_read_the_data_a_run_recorded():
    """dataset_fields: today's records (data_seed, every builder field) and records from before
    the seed naming (dataset_seed, dataset_options) give the run's own builder fields."""
    from latent_lab.commands.probe import dataset_fields

    settings = ProbeSettings()
    today = {"dataset": "3s3a", "num_train": 24, "data_seed": 5, "seed": 42, "num_test": None}
    recorded = {"task": "fsm_icl", "config": today}
    assert dataset_fields(recorded, settings) == ("3s3a", {"num_train": 24, "data_seed": 5})
    before = {"dataset": "5s5a", "num_train": 24, "dataset_seed": 5, "seed": 42,
              "dataset_options": {"length_jitter": 0.1, "num_train": 99}}  # fmt: skip
    fields = dataset_fields({"task": "fsm_icl", "config": before}, settings)[1]
    assert fields == {"num_train": 24, "data_seed": 5, "length_jitter": 0.1}
    options_seed = {"dataset": "5s5a", "dataset_options": {"seed": 3}}
    assert dataset_fields({"task": "fsm_icl", "config": options_seed}, settings)[1] == {
        "data_seed": 3
    }


def test_probe_missing_model_is_exit_2(tmp_path, capsys):
    assert cli_main(["probe", "--model", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--model" in err
