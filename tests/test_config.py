"""Config path: names resolve, YAML + command line parse into dataclasses, unknown keys fail."""

from pathlib import Path

import pytest

from latent_lab.config import available_configs, config_dir, load_yaml, recipes_dir, resolve_config
from latent_lab.errors import UserError


def recipe_configs():
    """(recipe, config name) for every training config shipped: recipes/configs/<recipe>/."""
    from latent_lab.tasks.registry import all_tasks

    recipes = [recipe for task in all_tasks().values() for recipe in task.recipe_parsers()]
    return [(recipe, name) for recipe in recipes for name in available_configs(recipe)]


def settings_files(kind: str):
    """Every YAML under recipes/<kind>/<task>/ (difficulty settings, data fields, probes)."""
    root = recipes_dir() / kind
    return sorted(str(path.relative_to(root)) for path in root.glob("*/*.yaml"))


@pytest.mark.parametrize("recipe,name", recipe_configs())
def test_every_training_config_parses_with_its_recipe(recipe, name):
    from latent_lab.tasks.registry import load, recipe_parser_reference

    parser = load(recipe_parser_reference(recipe))()
    *parsed, config_path = parser.parse(["--config", name])
    assert config_path == config_dir(recipe) / f"{name}.yaml"
    assert len(parsed) >= 3


@pytest.mark.parametrize("name", settings_files("data"))
def test_every_data_config_builds_a_valid_builder(name):
    from latent_lab.tasks.builders import make_builder

    task = name.split("/")[0]
    make_builder(task, str(recipes_dir() / "data" / name))


@pytest.mark.parametrize("name", settings_files("difficulty"))
def test_every_difficulty_settings_file_parses(name):
    from types import SimpleNamespace

    from latent_lab.tasks.gssm.difficulty_command import difficulty_settings

    names = (
        "grid",
        "graph_seeds",
        "reference",
        "num_sequences",
        "seq_len",
        "data_seed",
        "measure",
        "target",
        "small_alpha",
        "output_dir",
        "tolerance",
        "max_graph_seeds",
    )
    flags = dict.fromkeys(names)
    path = recipes_dir() / "difficulty" / name
    settings, _ = difficulty_settings(SimpleNamespace(config=str(path), **flags))
    assert settings.graphs


@pytest.mark.parametrize("name", settings_files("probes"))
def test_every_probe_settings_file_parses(name):
    from latent_lab.tasks.fsm_icl.probe_settings import ProbeSettings

    path = recipes_dir() / "probes" / name
    assert ProbeSettings.from_mapping(load_yaml(path)).epochs >= 1


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
        make_parser().parse(["--config", "quick", "--model_type", "no_such_model"])
