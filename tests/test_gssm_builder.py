"""GSSM builder and on-the-fly stream: every config builds, determinism, errors, the stream."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import yaml
from gssm_tiny_graphs import TINY_GRAPHS
from oracles import gssm_dense_forward

from latent_lab.errors import UserError
from latent_lab.tasks.gssm.model import (
    GSSM,
)

# ------------------------------------------------------------------- builder and stream


def builder_names():
    from data_builders.gssm import GSSMBuilder

    return [config.name for config in GSSMBuilder.BUILDER_CONFIGS]


@pytest.mark.parametrize("config_name", builder_names())
def test_every_builder_config_builds(config_name, tmp_path):
    from latent_lab.tasks.builders import build_dataset, make_builder

    fields = {"num_train": 3, "num_validation": 2, "seq_len": 12}
    dataset = build_dataset("gssm", config_name, cache_dir=str(tmp_path), **fields)
    assert {name: len(split) for name, split in dataset.items()} == {"train": 3, "validation": 2}
    builder = make_builder("gssm", config_name, cache_dir=str(tmp_path), **fields)
    model = builder.model()
    tokens = np.array(dataset["validation"]["input_ids"])
    assert tokens.shape == (2, 12) and 0 <= tokens.min() and tokens.max() < 32
    recomputed = [gssm_dense_forward(model.graph, model.kernels, row)[0].sum() for row in tokens]
    np.testing.assert_allclose(dataset["validation"]["bayes_nll"], recomputed, atol=1e-8)
    assert not np.array_equal(tokens, np.array(dataset["train"]["input_ids"])[:2])
    builder.write_extras(dataset, tmp_path)
    saved = np.load(tmp_path / "kernels.npz")
    np.testing.assert_array_equal(saved["kernel_X"], model.kernels["X"])
    assert "X (observed)" in builder.card_description()


def test_builder_is_deterministic_and_accepts_a_graph_file(tmp_path):
    from latent_lab.tasks.builders import build_dataset

    path = tmp_path / "graph.yaml"
    path.write_text(yaml.safe_dump({"gssm": TINY_GRAPHS["chained"], "alpha_Z": 0.3}))
    fields = {"graph": str(path), "alpha_X": 0.2, "num_train": 4, "num_validation": 1,
              "seq_len": 9, "data_seed": 5}  # fmt: skip
    first = build_dataset("gssm", "experiment1", cache_dir=str(tmp_path / "a"), **fields)
    second = build_dataset("gssm", "experiment1", cache_dir=str(tmp_path / "b"), **fields)
    assert first["train"]["input_ids"] == second["train"]["input_ids"]
    assert first["train"]["bayes_nll"] == second["train"]["bayes_nll"]
    assert max(max(row) for row in first["train"]["input_ids"]) < 3


def test_context_mode_rows_have_no_reference(tmp_path):
    from latent_lab.tasks.builders import build_dataset

    dataset = build_dataset("gssm", "experiment1", cache_dir=str(tmp_path), context=True,
                            num_train=2, num_validation=1, seq_len=8)  # fmt: skip
    assert dataset["train"]["bayes_nll"] == [None, None]


@pytest.mark.parametrize(
    ("fields", "word"),
    [({"num_train": 0}, "num_train"), ({"graph": "no_such_graph"}, "graph"),
     ({"context": "yes"}, "context"), ({"alpha_Z": -1.0}, "alpha_Z")],
)  # fmt: skip
def test_builder_config_errors(fields, word, tmp_path):
    from latent_lab.tasks.builders import make_builder

    with pytest.raises(UserError, match=word):
        make_builder("gssm", "experiment1", cache_dir=str(tmp_path), **fields)


def test_stream_is_endless_deterministic_and_split_by_worker(monkeypatch):
    import latent_lab.tasks.gssm.stream as stream_module
    from latent_lab.tasks.gssm.config import GSSMDataConfig
    from latent_lab.tasks.gssm.stream import GSSMStream

    config = GSSMDataConfig(graph="experiment1", alpha_X=1e-3, alpha_Z=0.142, seq_len=32)
    model = GSSM.from_seed(config.parsed_graph(), config.graph_seed)
    stream = GSSMStream(model, config.seq_len, seed=1, chunk_sequences=4)

    def take(count):
        rows = itertools.islice(iter(stream), count)
        return np.stack([row["input_ids"].numpy() for row in rows])

    first = take(10)  # crosses chunk boundaries
    assert first.shape == (10, 32) and first.dtype == np.int64
    assert np.array_equal(first, take(10))
    assert len({row.tobytes() for row in first}) == 10
    monkeypatch.setattr(stream_module, "get_worker_info", lambda: type("W", (), {"id": 1}))
    assert not np.array_equal(first, take(10))
    monkeypatch.setattr(stream_module, "get_worker_info", lambda: None)
    monkeypatch.setattr(stream_module, "_distributed_rank", lambda: 1)
    assert not np.array_equal(first, take(10))
    monkeypatch.setattr(stream_module, "_distributed_rank", lambda: 0)
    stream.set_epoch(1)
    assert not np.array_equal(first, take(10))
    # Same kernels as the builder's validation split: the exact reference applies.
    assert np.isfinite(model.bayes(first).bayes_nll).all()
