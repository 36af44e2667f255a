"""Linear probes: the converged solver (exact posteriors as features give KL ~0, noise gives the
constant baseline, linearly encoded classes give accuracy ~1), FSM's targets at the query
steps (the posterior agrees with the builder's stored references), and `latent-lab probe` on
a tiny trained FSM model (probes.json with both controls; a bad target is one line)."""

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from latent_lab.analysis.probe_settings import ProbeSettings
from latent_lab.analysis.probes import baseline, collect_features, fit_probe, probe_targets
from latent_lab.cli import main as cli_main
from latent_lab.tasks.builders import build_dataset
from latent_lab.tasks.fsm_icl.generator import FSMVocab
from latent_lab.tasks.fsm_icl.probes_data import probe_set, query_steps

VOCAB = FSMVocab()
HARD = {"current_state": "hard", "next_state": "hard", "seen": "hard"}


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


def _dirichlet_posteriors(rng, count, classes):
    """Posteriors whose mean is far from uniform: the best constant is not a uniform guess."""
    return rng.dirichlet(np.geomspace(0.1, 2.0, classes), size=count)


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
    train = collect_features(model, probe_set(list(standard["train"]), HARD, VOCAB), 64, 10**6)
    test = collect_features(model, probe_set(list(standard["test"]), HARD, VOCAB), 64, 10**6)
    result = probe_targets(train, test, HARD, ProbeSettings(max_iterations=100))
    current, following = result["current_state"], result["next_state"]
    assert current["test_accuracy"][1] >= 0.99 and following["test_accuracy"][2] >= 0.99
    # An action token says nothing about the state it is taken from (uniform actions).
    assert current["test_accuracy"][0] <= current["majority_baseline"] + 0.1
    for target in result.values():
        assert all(target["converged"])
        for accuracy in target["train_accuracy"] + target["test_accuracy"]:
            assert 0.0 <= accuracy <= 1.0


def test_probe_fit_is_deterministic_and_converges():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(200, 6)).astype(np.float32)
    labels = (features[:, 0] + 0.3 * rng.normal(size=200) > 0).astype(np.int64)
    settings = ProbeSettings(max_iterations=200)
    first = fit_probe(features[:150], labels[:150], features[150:], labels[150:], "hard", settings)
    again = fit_probe(features[:150], labels[:150], features[150:], labels[150:], "hard", settings)
    assert first == again and first["test_accuracy"] > 0.7
    assert first["converged"] and first["iterations"] < 200


def test_exact_posterior_features_give_kl_about_zero():
    """Features that ARE the posterior (its logarithm, plus irrelevant noise dimensions): a
    linear softmax reproduces it, so the held-out KL is ~0 while the constant is far off."""
    rng = np.random.default_rng(1)
    posterior = _dirichlet_posteriors(rng, 3000, 5)
    features = np.concatenate([np.log(posterior), rng.normal(size=(3000, 3))], axis=1)
    fit = fit_probe(features[:2000], posterior[:2000], features[2000:], posterior[2000:], "soft",
                    ProbeSettings(max_iterations=1000))  # fmt: skip
    assert fit["converged"] and fit["kl_to_posterior"] < 0.01
    assert fit["train_kl_to_posterior"] < 0.01
    assert baseline(posterior[:2000], posterior[2000:], "soft")["baseline_kl"] > 0.2


def test_random_features_give_the_constant_baseline():
    rng = np.random.default_rng(2)
    posterior = _dirichlet_posteriors(rng, 6000, 4)
    noise = rng.normal(size=(6000, 8))
    fit = fit_probe(noise[:4000], posterior[:4000], noise[4000:], posterior[4000:], "soft",
                    ProbeSettings())  # fmt: skip
    constant = baseline(posterior[:4000], posterior[4000:], "soft")["baseline_kl"]
    assert constant > 0.2  # far from the exact-features case above
    assert abs(fit["kl_to_posterior"] - constant) < 0.01 * constant
    # Undefined rows (NaN) are left out of the fit, the score and the baseline alike.
    holes = posterior.copy()
    holes[::3] = np.nan
    masked = fit_probe(noise[:4000], holes[:4000], noise[4000:], holes[4000:], "soft",
                       ProbeSettings())  # fmt: skip
    assert np.isfinite(masked["kl_to_posterior"])
    assert abs(masked["kl_to_posterior"] - constant) < 0.05 * constant


def test_fsm_posterior_is_the_builders_reference_at_unseen_steps(standard):
    """At every scored step: a NaN row where (s, a) was seen; elsewhere a distribution whose
    value at the true next state and whose maximum are the dataset's stored references."""
    rows = list(standard["test"].select(range(40)))
    data = probe_set(rows, {"posterior": "soft"}, VOCAB)
    unseen_steps = 0
    posteriors = data.targets["posterior"]["posterior"]
    for row, positions, posterior in zip(rows, data.positions, posteriors, strict=True):
        steps = positions + 1  # the scored next-state positions
        seen = np.asarray(row["seen_mask"])[steps].astype(bool)
        assert np.isnan(posterior[seen]).all() and not np.isnan(posterior[~seen]).any()
        truth = np.asarray(row["labels"])[steps][~seen]
        unseen = posterior[~seen]
        np.testing.assert_allclose(unseen.sum(1), 1.0, atol=1e-12)
        true_prob = np.asarray(row["bayes_true_prob"])[steps][~seen]
        correct_prob = np.asarray(row["bayes_correct_prob"])[steps][~seen]
        np.testing.assert_allclose(unseen[np.arange(len(truth)), truth], true_prob, atol=1e-12)
        np.testing.assert_allclose(unseen.max(1), correct_prob, atol=1e-12)
        unseen_steps += len(truth)
    assert unseen_steps > 50


@pytest.mark.parametrize(
    ("values", "field"),
    [({"epochs": 0}, "epochs"), ({"test_split": "dev"}, "test_split"), ({"lr": 1}, "lr"),
     ({"tolerance": 0}, "tolerance"), ({"epochs": 5, "max_iterations": 5}, "epochs")],
)  # fmt: skip
def test_bad_probe_settings_are_one_line_errors(values, field, tmp_path, capsys):
    settings = tmp_path / "probe.yaml"
    settings.write_text(json.dumps(values))
    assert cli_main(["probe", "--model", str(tmp_path), "--config", str(settings)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and field in err, err


def test_old_epochs_key_is_the_iteration_cap():
    settings = ProbeSettings.from_mapping({"epochs": 7})
    assert settings.max_iterations == settings.epochs == 7


@pytest.fixture(scope="module")
def fsm_run(tmp_path_factory):
    from recipes.fsm_icl import main, make_parser

    run_dir = tmp_path_factory.mktemp("fsm") / "run"
    argv = ["--dataset", "3s3a", "--num_train", "24", "--num_validation", "8", "--num_test",
            "16", "--model_type", "lstm", "--hidden_size", "16", "--num_hidden_layers", "2",
            "--max_steps", "2", "--per_device_train_batch_size", "8", "--output_dir",
            str(run_dir), "--eval_strategy", "steps", "--save_strategy", "steps",
            "--eval_steps", "1", "--save_steps", "1"]  # fmt: skip
    main(*make_parser().parse(argv))
    return run_dir


def test_probe_command_on_a_tiny_trained_fsm_model(fsm_run, capsys):
    capsys.readouterr()
    command = ["probe", "--model", str(fsm_run), "--config", "phase5_1", "--epochs", "50"]
    assert cli_main(command) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    written = json.loads((fsm_run / "probes" / "probes.json").read_text())
    assert (fsm_run / "probes" / "probes.png").stat().st_size > 0
    assert written["num_layers"] == 3 and written["layers"] == ["embedding", "1", "2"]
    assert written["task"] == "fsm_icl" and written["data"]["dataset"] == "3s3a"
    assert written["data"]["builder_fields"]["num_train"] == 24
    assert written["settings"]["max_iterations"] == 50
    for target in ("current_state", "next_state", "seen"):
        accuracies = summary["test_accuracy"][target] + summary["train_accuracy"][target]
        assert len(accuracies) == 6 and all(0.0 <= a <= 1.0 for a in accuracies)
        assert (
            written["controls"]["embedding"][target]["test_accuracy"]
            == (written["targets"][target]["test_accuracy"][0])
        )
    posterior = written["targets"]["posterior"]
    assert posterior["kind"] == "soft" and len(posterior["kl_to_posterior"]) == 3
    assert all(kl >= 0 for kl in posterior["kl_to_posterior"]) and posterior["baseline_kl"] > 0
    random_init = written["controls"]["random_init"]
    assert set(random_init) == set(written["targets"])
    assert len(random_init["posterior"]["kl_to_posterior"]) == 3
    assert (
        written["controls"]["embedding"]["posterior"]["kl_to_posterior"]
        == (posterior["kl_to_posterior"][0])
    )
    # Same model, same settings: the same probes.
    assert cli_main(command) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == summary


def test_a_target_the_task_does_not_have_is_one_line_and_writes_nothing(fsm_run, capsys):
    out = fsm_run / "bad_probe"
    capsys.readouterr()
    assert cli_main(["probe", "--model", str(fsm_run), "--target", "latent",
                     "--output-dir", str(out)]) == 2  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--target" in err, err
    for name in ("current_state", "next_state", "seen", "posterior"):
        assert name in err
    assert not out.exists()


@pytest.mark.parametrize("name", ["phase5_1", "phase5_2", "phase5_3"])
def test_probe_settings_of_the_seed_phases(name):
    from latent_lab.commands.probe import probe_config_path
    from latent_lab.config import load_yaml

    settings = ProbeSettings.from_mapping(load_yaml(probe_config_path(name, "fsm_icl")))
    assert (settings.train_split, settings.test_split) == ("train", "test")
    assert probe_config_path(name) == probe_config_path(name, "fsm_icl")  # task not known yet


def test_probes_read_the_data_a_run_recorded():
    """dataset_fields: today's records (data_seed, every builder field) and records from before
    the seed naming (dataset_seed, dataset_options) give the run's own builder fields."""
    from latent_lab.tasks.fsm_icl.probes_data import dataset_fields

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
    assert dataset_fields(recorded, ProbeSettings(dataset="5s5a")) == ("5s5a", {})


def test_probe_missing_model_is_exit_2(tmp_path, capsys):
    assert cli_main(["probe", "--model", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--model" in err


def test_probe_without_results_json_is_exit_2(tmp_path, capsys):
    (tmp_path / "config.json").write_text("{}")
    assert cli_main(["probe", "--model", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "results.json" in err
    assert not (tmp_path / "probes").exists()


def test_target_errors_answer_without_heavy_imports(tmp_path):
    """The targets come from the registry's light modules: listing them, and refusing one the
    run's task does not have (or a task with none), imports no numpy, torch or numba."""
    import subprocess
    import sys

    for task in ("gssm", "char_stream"):
        (tmp_path / task).mkdir()
        (tmp_path / task / "results.json").write_text(json.dumps({"task": task}))
    code = f"""if True:
        import sys
        from latent_lab.cli import main
        from latent_lab.commands.probe import chosen_targets
        print(sorted(chosen_targets("gssm", None)), sorted(chosen_targets("fsm_icl", None)))
        print(main(["probe", "--model", r"{tmp_path / "gssm"}", "--target", "nope"]))
        print(main(["probe", "--model", r"{tmp_path / "char_stream"}"]))
        print([m for m in ("numpy", "torch", "numba") if m in sys.modules])"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    targets, gssm, char_stream, heavy = done.stdout.strip().splitlines()
    assert targets == "['posterior'] ['current_state', 'next_state', 'posterior', 'seen']"
    assert (gssm, char_stream, heavy) == ("2", "2", "[]"), done.stderr
    errors = done.stderr.strip().splitlines()
    assert len(errors) == 2 and "no target 'nope'" in errors[0], errors
    assert "'char_stream' has no probe targets" in errors[1]
    assert not list(tmp_path.rglob("probes*"))  # nothing written


@pytest.mark.parametrize(
    ("results", "named"),
    [('{"task": "fsm_icl", "metr', "results.json"), ('{"task": "fsm_icl", "seed": 1}', "config"),
     ('{"task": "fsm_icl", "config": {"dataset": "3s3a"}}', "cannot load the model")],
)  # fmt: skip
def test_damaged_runs_are_one_line_errors(results, named, tmp_path, capsys):
    """A cut-off results.json, one without `config` (the run's data unknown), a config.json
    without weights: one line each, exit 2, nothing written."""
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "lstm", "vocab_size": 24}))
    (tmp_path / "results.json").write_text(results)
    assert cli_main(["probe", "--model", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and named in err, err
    assert not (tmp_path / "probes").exists()
