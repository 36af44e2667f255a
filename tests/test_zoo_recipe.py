"""The zoo through the FSM recipe: `recipes/fsm_icl.py --model_type TYPE
--target_num_parameters 68000` writes results.json with num_parameters and state_size, and
`latent-lab probe` reads every layer of the trained model (output_hidden_states)."""

from __future__ import annotations

import json

import pytest

from latent_lab.cli import main as cli_main
from latent_lab.models import ModelArguments
from latent_lab.models.architectures import ARCHITECTURES
from latent_lab.models.sizing import solve_for_parameters
from latent_lab.tasks.fsm_icl.arguments import make_parser

TINY = ["--config", "quick", "--num_train", "32", "--num_validation", "16", "--num_test", "16",
        "--max_steps", "2", "--per_device_eval_batch_size", "16", "--num_hidden_layers", "2",
        "--max_position_embeddings", "128", "--target_num_parameters", "68000",
        "--save_strategy", "no", "--load_best_model_at_end", "false"]  # fmt: skip


@pytest.mark.parametrize("model_type", ["mamba", "mamba2", "xlstm", "qwen3_next"])
def test_fsm_recipe_records_size_and_state_and_probes_every_layer(model_type, tmp_path, capsys):
    from recipes.fsm_icl import main

    out = tmp_path / model_type
    argv = [*TINY, "--model_type", model_type, "--output_dir", str(out)]
    main(*make_parser().parse(argv))
    results = json.loads((out / "results.json").read_text())
    assert results["model_type"] == model_type
    assert results["num_parameters"] == pytest.approx(68_000, rel=0.05)
    model_args = ModelArguments(model_type, num_hidden_layers=2, max_position_embeddings=128)
    solved = solve_for_parameters(model_args, 21, 68_000)
    config = json.loads((out / "config.json").read_text())
    assert config["hidden_size"] == solved.hidden_size
    expected = ARCHITECTURES[model_type].state_size(_config_object(out))
    assert results["state_size"] == expected > 0
    capsys.readouterr()
    probe = ["probe", "--model", str(out), "--epochs", "1", "--set", "max_train_rows=16",
             "--set", "max_test_rows=16", "--set", "train_split=validation"]  # fmt: skip
    assert cli_main(probe) == 0
    written = json.loads((out / "probes" / "probes.json").read_text())
    layers = written["targets"]["next_state"]["test_accuracy"]
    assert len(layers) == 1 + config.get("num_hidden_layers", 1)  # embeddings + every layer


def _config_object(folder):
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(folder)
