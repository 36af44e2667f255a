"""Config path: names resolve, YAML + command line parse into dataclasses, unknown keys fail."""

import importlib
import importlib.util
from pathlib import Path

import pytest

from latent_lab.config import available_configs, config_dir, load_yaml, resolve_config
from latent_lab.errors import UserError
from latent_lab.tasks.registry import task_names


def recipe_configs():
    """(task, config name) for every recipe YAML shipped."""
    return [
        (task, name)
        for task in task_names()
        if importlib.util.find_spec(f"recipes.{task}") is not None
        for name in available_configs(task)
    ]


@pytest.mark.parametrize("task,name", recipe_configs())
def test_every_recipe_yaml_parses(task, name):
    """Each shipped YAML parses with the tool that reads it: the task's recipe, or the
    curriculum recipe, `latent-lab probe` settings, `latent-lab gssm difficulty` settings."""
    path = config_dir(task) / f"{name}.yaml"
    if name.startswith("probes/"):
        from latent_lab.tasks.fsm_icl.probes import ProbeSettings

        assert ProbeSettings.from_mapping(load_yaml(path)).epochs >= 1
        return
    if name.endswith("difficulty"):
        from types import SimpleNamespace

        from latent_lab.tasks.gssm.commands import difficulty_settings

        names = ("grid", "graph_seeds", "reference", "num_sequences", "seq_len", "data_seed",
                 "measure", "target", "small_alpha", "output_dir")  # fmt: skip
        flags = dict.fromkeys(names)
        settings, _ = difficulty_settings(SimpleNamespace(config=str(path), **flags))
        assert settings.graphs
        return
    module = "fsm_curriculum" if "stages" in load_yaml(path) else task
    recipe = importlib.import_module(f"recipes.{module}")
    *parsed, config_path = recipe.make_parser().parse(["--config", name])
    assert config_path == path
    assert len(parsed) >= 3


def test_name_resolves_with_or_without_yaml_suffix(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a bare name must work from anywhere
    assert resolve_config("char_stream", "insert_spaces") == resolve_config(
        "char_stream", "insert_spaces.yaml"
    )


def test_existing_file_is_used_as_given(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("max_steps: 3\n")
    assert resolve_config("char_stream", str(path)) == path


def test_unknown_config_name_lists_available():
    with pytest.raises(UserError, match="insert_spaces"):
        resolve_config("char_stream", "no_such_config")


def test_command_line_over_yaml_over_defaults(tmp_path):
    from recipes.char_stream import make_parser

    path = tmp_path / "c.yaml"
    path.write_text("max_steps: 7\nhidden_size: 32\nlearning_rate: 1e-3\n")
    data, model, training, config_path = make_parser().parse(
        ["--config", str(path), "--hidden_size", "48"]
    )
    assert training.max_steps == 7  # YAML over default
    assert model.hidden_size == 48  # command line over YAML
    assert training.learning_rate == pytest.approx(1e-3)  # "1e-3" is a string in YAML 1.1
    assert data.block_size == 64  # default
    assert Path(config_path) == path


def test_unknown_yaml_key_is_a_one_line_error(tmp_path):
    from recipes.char_stream import make_parser

    path = tmp_path / "c.yaml"
    path.write_text("max_steps: 7\nhiden_size: 32\n")
    with pytest.raises(UserError, match="unknown key 'hiden_size'"):
        make_parser().parse(["--config", str(path)])


def test_unknown_command_line_key_is_an_error():
    from recipes.char_stream import make_parser

    with pytest.raises(UserError, match="--not_a_field"):
        make_parser().parse(["--config", "quick", "--not_a_field", "3"])


def test_bad_value_names_the_field():
    from recipes.char_stream import make_parser

    with pytest.raises(UserError, match="model_type"):
        make_parser().parse(["--config", "quick", "--model_type", "mamba"])
