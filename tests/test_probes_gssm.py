"""GSSM belief-state probes: the per-node filter posterior p(Z(t) | X(1..t)) equals a dense
forward pass and path enumeration (tests/oracles.py); a fake model whose hidden state at input
position t IS the oracle's log-posterior is probed to KL ~0 (so the target sits at the right
position), noise to the constant baseline; `latent-lab probe` on a tiny trained quick run."""

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from oracles import gssm_brute_force_marginals, gssm_dense_marginals, gssm_dense_matrices
from torch import nn

from latent_lab.analysis.probe_settings import ProbeSettings
from latent_lab.analysis.probes import collect_features, probe_targets
from latent_lab.cli import main as cli_main
from latent_lab.errors import UserError
from latent_lab.tasks.gssm.model import GSSM, parse_graph, rng_key
from latent_lab.tasks.gssm.probes_posterior import data_config, filter_marginals, probe_sets


def node(name, dim, parents=()):
    return {"name": name, "state_dim": dim, "parents": list(parents)}


TINY = {
    "single": [node("Z", 3, ["X"]), node("X", 3, ["Z"])],
    "chained": [node("A", 2, ["X"]), node("B", 3, ["A", "X"]), node("X", 3, ["B", "A"])],
    "latent_parents": [node("A", 2), node("B", 2, ["A"]), node("C", 2, ["B", "X"]),
                       node("X", 4, ["C", "A"])],
    "emission_without_parents": [node("Z", 2, ["X"]), node("X", 3)],
}  # fmt: skip
SMALL = {"dataset": "experiment1", "seq_len": 16, "num_train": 150, "num_validation": 40}


@pytest.mark.parametrize("name", TINY)
def test_marginals_match_dense_forward_and_enumeration(name):
    graph = parse_graph({"gssm": TINY[name]}, alpha_X=0.4, alpha_Z=0.6)
    model = GSSM.from_seed(graph, graph_seed=3)
    tokens = model.sample(5, 6, rng_key(1))
    fast = filter_marginals(graph, model.kernels, tokens)
    assert list(fast) == list(graph.latent_order)
    for n, sequence in enumerate(tokens):
        dense = gssm_dense_marginals(graph, model.kernels, sequence)
        brute = gssm_brute_force_marginals(graph, model.kernels, sequence[:3])
        for latent, values in fast.items():
            np.testing.assert_allclose(values[n], dense[latent], atol=1e-12)
            np.testing.assert_allclose(brute[latent], dense[latent][:3], atol=1e-12)


def test_marginals_do_not_depend_on_batching():
    model = GSSM.from_seed(parse_graph({"gssm": TINY["chained"]}, 0.4, 0.6), graph_seed=1)
    tokens = model.sample(70, 9, rng_key(2))  # more than one chunk of lanes
    together = filter_marginals(model.graph, model.kernels, tokens)
    alone = filter_marginals(model.graph, model.kernels, tokens[65:66])
    for latent in together:
        np.testing.assert_array_equal(together[latent][65], alone[latent][0])


class OracleModel(nn.Module):
    """Fake model over [BOS, X(1..T)]: layer 0 a random token embedding, layer 1 the oracle's
    log p(Z(t) | X(1..t)) of every latent at input position t (zeros at BOS), layer 2 noise."""

    def __init__(self, model: GSSM):
        super().__init__()
        self.gssm = model
        self.matrices = gssm_dense_matrices(model.graph, model.kernels)
        self.embedding = nn.Embedding(model.graph.vocab_size + 1, 8)

    def forward(self, input_ids, attention_mask=None, output_hidden_states=False):
        exact = []
        for row in input_ids[:, 1:].tolist():
            marginals = gssm_dense_marginals(self.gssm.graph, None, row, self.matrices)
            logs = np.log(np.concatenate(list(marginals.values()), axis=1) + 1e-9)
            exact.append(np.concatenate([np.zeros((1, logs.shape[1])), logs]))
        exact = torch.as_tensor(np.stack(exact), dtype=torch.float32)
        noise = torch.randn(exact.shape, generator=torch.Generator().manual_seed(0))
        return SimpleNamespace(hidden_states=(self.embedding(input_ids), exact, noise))


def test_oracle_features_are_probed_to_kl_zero_and_noise_to_the_baseline():
    settings = ProbeSettings(max_train_positions=2400, max_test_positions=640)
    train_set, test_set, about = probe_sets({"config": SMALL}, settings, ("train", "validation"),
                                            ("posterior",))  # fmt: skip
    assert about["seq_len"] == 16 and train_set.positions[0].tolist() == list(range(1, 17))
    torch.manual_seed(0)
    config = data_config({"config": SMALL}, settings)
    oracle = OracleModel(GSSM.from_seed(config.parsed_graph(), config.graph_seed))
    train = collect_features(oracle, train_set, 32, settings.max_train_positions)
    test = collect_features(oracle, test_set, 32, settings.max_test_positions)
    result = probe_targets(train, test, {"posterior": "soft"}, settings)["posterior"]
    assert set(result["groups"]) == {"Z1", "Z2", "Z3", "Z4"}
    for figures in result["groups"].values():
        assert figures["kl_to_posterior"][1] < 0.01, figures  # the exact posterior: KL ~0
        assert all(figures["converged"])
        baseline = figures["baseline_kl"]
        assert baseline > 0.2
        assert abs(figures["kl_to_posterior"][2] - baseline) < 0.1 * baseline  # noise
        assert figures["kl_to_posterior"][1] < figures["kl_to_posterior"][0] < baseline


def test_context_runs_have_no_exact_posterior():
    record = {"config": {**SMALL, "context": True}}
    with pytest.raises(UserError, match="context"):
        probe_sets(record, ProbeSettings(), ("train", "validation"), ("posterior",))


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    from recipes.gssm import main, make_parser

    run_dir = tmp_path_factory.mktemp("gssm") / "run"
    argv = ["--config", "quick", "--max_steps", "3", "--eval_steps", "3", "--num_validation",
            "8", "--output_dir", str(run_dir), "--seed", "1"]  # fmt: skip
    main(*make_parser().parse(argv))
    return run_dir


def test_probe_command_on_a_tiny_trained_gssm_run(quick_run, capsys):
    capsys.readouterr()
    command = ["probe", "--model", str(quick_run), "--target", "posterior", "--set",
               "max_train_positions=1024", "--set", "max_test_positions=512"]  # fmt: skip
    assert cli_main(command) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    written = json.loads((quick_run / "probes" / "probes.json").read_text())
    assert (quick_run / "probes" / "probes.png").stat().st_size > 0
    assert written["task"] == "gssm" and written["layers"] == ["embedding", "1", "2"]
    assert written["data"]["splits"] == ["train", "validation"]
    assert written["num_train_positions"] == 1024 and written["num_test_positions"] == 512
    posterior = written["targets"]["posterior"]
    assert set(posterior["groups"]) == {"Z1", "Z2", "Z3", "Z4"}
    assert summary["kl_to_posterior"]["posterior"] == posterior["kl_to_posterior"]
    assert all(0 <= kl < 2 * posterior["baseline_kl"] for kl in posterior["kl_to_posterior"])
    controls = written["controls"]
    assert controls["embedding"]["posterior"]["kl_to_posterior"] == posterior["kl_to_posterior"][0]
    assert (
        controls["embedding"]["posterior"]["groups"]["Z3"]["baseline_kl"]
        == (posterior["groups"]["Z3"]["baseline_kl"])
    )
    random_init = controls["random_init"]["posterior"]
    assert len(random_init["kl_to_posterior"]) == 3 and set(random_init["groups"]) == {
        "Z1", "Z2", "Z3", "Z4"}  # fmt: skip
    assert random_init["kl_to_posterior"] != posterior["kl_to_posterior"]


def test_gssm_bad_target_is_one_line_and_writes_nothing(quick_run, capsys):
    out = quick_run / "other_probes"
    capsys.readouterr()
    assert cli_main(["probe", "--model", str(quick_run), "--target", "next_state",
                     "--output-dir", str(out)]) == 2  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "'gssm' has no target 'next_state'" in err, err
    assert "its targets: posterior" in err and not out.exists()
    assert cli_main(["probe", "--model", str(quick_run), "--set", "test_split=test",
                     "--output-dir", str(out)]) == 2  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "test_split" in err and not out.exists()
