"""`latent-lab gssm sample`: the npz layout of docs/spec/gssm.md, bayes_nll against a dense forward
recomputation, agreement with the builder; one-line exit-2 errors for sample and difficulty."""

import json

import numpy as np
import pytest
import yaml
from oracles import gssm_dense_forward

import latent_lab.cli
from latent_lab.tasks.gssm.model import load_graph, make_kernels

TINY = {
    "gssm": [
        {"name": "A", "state_dim": 2, "parents": ["X"]},
        {"name": "B", "state_dim": 3, "parents": ["A", "X"]},
        {"name": "X", "state_dim": 4, "parents": ["B", "A"]},
    ],
    "alpha_X": 0.4,
    "alpha_Z": 0.7,
}


def run_cli(argv, capsys):
    code = latent_lab.cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, (json.loads(out.strip().splitlines()[-1]) if code == 0 else None), err


@pytest.fixture
def graph_file(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY))
    return path


def test_sample_writes_the_spec_layout_and_exact_bayes_nll(graph_file, tmp_path, capsys):
    output = tmp_path / "out" / "sample.npz"
    argv = ["gssm", "sample", "--config", graph_file, "--num-sequences", 5, "--seq-len", 9,
            "--seed", 2, "--graph-seed", 1, "--output", output]  # fmt: skip
    code, summary, err = run_cli(argv, capsys)
    assert code == 0, err
    data = np.load(output)
    assert sorted(data.files) == ["bayes_nll", "kernel_A", "kernel_B", "kernel_X", "node_order",
                                  "tokens"]  # fmt: skip
    assert data["tokens"].shape == (5, 9) and data["bayes_nll"].shape == (5,)
    # Kernel layout: (dim Z, parents..., dim Z) for latents, (parents..., dim X) for X.
    assert data["kernel_A"].shape == (2, 4, 2) and data["kernel_B"].shape == (3, 2, 4, 3)
    assert data["kernel_X"].shape == (3, 2, 4)
    assert data["node_order"].tolist() == ["A", "B", "X"]
    graph = load_graph(graph_file)
    kernels = make_kernels(graph, graph_seed=1)
    for name, kernel in kernels.items():
        np.testing.assert_array_equal(data[f"kernel_{name}"], kernel)
    expected = gssm_dense_forward(graph, kernels, data["tokens"])[0].sum(axis=1)
    np.testing.assert_allclose(data["bayes_nll"], expected, rtol=1e-10)
    assert summary["bayes_loss"] == pytest.approx(expected.sum() / 45)
    assert summary["output"] == str(output)


def test_sample_seed_gives_the_builders_train_split(graph_file, tmp_path, capsys):
    from latent_lab.tasks.builders import build_dataset

    output = tmp_path / "sample.npz"
    argv = ["gssm", "sample", "--config", graph_file, "--num-sequences", 3, "--seq-len", 7,
            "--seed", 5, "--output", output]  # fmt: skip
    assert run_cli(argv, capsys)[0] == 0
    dataset = build_dataset("gssm", None, graph=str(graph_file), alpha_X=0.4, alpha_Z=0.7,
                            num_train=3, num_validation=1, seq_len=7, data_seed=5)  # fmt: skip
    np.testing.assert_array_equal(np.load(output)["tokens"], dataset["train"]["input_ids"])
    np.testing.assert_allclose(np.load(output)["bayes_nll"], dataset["train"]["bayes_nll"])


def test_sample_takes_a_builder_config_name(tmp_path, capsys):
    output = tmp_path / "experiment1.npz"
    argv = ["gssm", "sample", "--config", "experiment1", "--num-sequences", 2, "--seq-len", 16,
            "--output", output]  # fmt: skip
    code, summary, err = run_cli(argv, capsys)
    assert code == 0, err
    data = np.load(output)
    assert data["kernel_Z1"].shape == (4, 32, 4) and data["kernel_X"].shape == (4, 4, 4, 4, 32)
    assert data["node_order"].tolist() == ["Z1", "Z2", "Z3", "Z4", "X"]
    assert summary["alphas"] == {"Z1": 0.142, "Z2": 0.142, "Z3": 0.142, "Z4": 0.142, "X": 1e-3}


@pytest.mark.parametrize(
    "argv, message",
    [
        (["sample", "--config", "missing.yaml", "--num-sequences", 2, "--seq-len", 4],
         "'missing.yaml' is not a file"),
        (["sample", "--config", "{bad}", "--num-sequences", 0, "--seq-len", 4],
         "--num-sequences: expected an integer >= 1"),
        (["sample", "--config", "{unknown_parent}", "--num-sequences", 2, "--seq-len", 4],
         "node 'Z': parents names unknown node 'Y'"),
        (["sample", "--config", "{bad}", "--num-sequences", 2],  # a graph file has no seq_len
         "--seq-len: expected an integer >= 1"),
        (["difficulty", "--config", "{bad}", "--shard", "3/2"], "--shard 3/2: need 0 <= I < N"),
        (["difficulty", "--config", "{bad}", "--measure", "zip"], "measure: 'zip' is not one"),
        (["difficulty", "--config", "{bad}", "--grid", "1,0.1,3"], "grid: expected MIN,MAX"),
        (["difficulty", "--merge", "{empty}"], "no shard files"),
    ],
)  # fmt: skip
def test_mistakes_exit_2_with_one_line_and_write_nothing(argv, message, tmp_path, capsys):
    files = {"{bad}": tmp_path / "tiny.yaml", "{empty}": tmp_path,
             "{unknown_parent}": tmp_path / "unknown.yaml"}  # fmt: skip
    files["{bad}"].write_text(yaml.safe_dump(TINY))
    unknown = {"gssm": [{"name": "Z", "state_dim": 2, "parents": ["Y"]},
                        {"name": "X", "state_dim": 2, "parents": ["Z"]}], "alpha_X": 1,
               "alpha_Z": 1}  # fmt: skip
    files["{unknown_parent}"].write_text(yaml.safe_dump(unknown))
    argv = [files.get(str(a), a) for a in argv]
    before = sorted(tmp_path.rglob("*"))
    output = ["--output", tmp_path / "out.npz"] if argv[0] == "sample" else []
    code, _, err = run_cli(["gssm", *argv, *output], capsys)
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1
    assert sorted(tmp_path.rglob("*")) == before  # nothing half-written
