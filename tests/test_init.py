"""`latent-lab init char_stream NAME`: the course's experiment folder, never overwriting."""

import json

import pytest
import yaml

import latent_lab.cli
from latent_lab.commands.init import create_experiment
from latent_lab.errors import UserError

EXPECTED_TREE = [
    "README.md",
    "config/basic.yaml",
    "config/debug.yaml",
    "config/stream.yaml",
    "data/.gitkeep",
    "out/.gitkeep",
]


def run_cli(monkeypatch, argv):
    monkeypatch.setattr(latent_lab.cli, "COMMAND_MODULES", ("report", "init"))
    return latent_lab.cli.main(argv)


def tree(folder):
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())


def test_init_creates_the_exact_tree_and_reports_it(tmp_path, monkeypatch, capsys):
    code = run_cli(monkeypatch, ["init", "char_stream", "insert-spaces", "--dir", str(tmp_path)])
    assert code == 0
    folder = tmp_path / "insert-spaces"
    assert tree(folder) == EXPECTED_TREE
    assert sorted(p.name for p in tmp_path.iterdir()) == ["insert-spaces"]  # no staging left
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["folder"] == str(folder)
    assert summary["files"] == [str(folder / name) for name in EXPECTED_TREE]


def test_readme_names_the_experiment_and_the_exact_commands(tmp_path):
    readme = (create_experiment("char_stream", "insert-spaces", tmp_path) / "README.md").read_text()
    assert readme.startswith("# insert-spaces\n")
    for command in (
        "latent-lab build char_stream --set stream=config/stream.yaml --set data_seed=1337 "
        "--output-dir data/basic",
        "python recipes/char_stream.py --config config/basic.yaml --output_dir out/basic",
        "python recipes/char_stream.py --config config/debug.yaml --output_dir out/debug",
        "latent-lab sample --model out/basic --prompt",
        "latent-lab report out/basic out/<changed>",
    ):
        assert command in readme
    assert "$" not in readme  # every template placeholder was filled


def test_configs_mirror_the_course_basic_py(tmp_path):
    folder = create_experiment("char_stream", "exp", tmp_path)
    basic = yaml.safe_load((folder / "config/basic.yaml").read_text())
    assert basic == {
        "stream": "config/stream.yaml",
        "num_chars": 1_200_000,
        "data_seed": 1337,
        "block_size": 64,
        "model_type": "gpt2",
        "num_hidden_layers": 4,
        "num_attention_heads": 4,
        "hidden_size": 128,
        "max_position_embeddings": 64,
        "dropout": 0.0,
        "max_steps": 2000,
        "per_device_train_batch_size": 12,
        "learning_rate": 1e-3,
        "lr_scheduler_type": "cosine_with_min_lr",
        "lr_scheduler_kwargs": {"min_lr": 1e-4},
        "warmup_steps": 100,
        "adam_beta2": 0.99,
        "weight_decay": 0.1,
        "max_grad_norm": 1.0,
        "seed": 1337,
        "eval_strategy": "steps",
        "eval_steps": 50,
        "per_device_eval_batch_size": 64,
        "logging_steps": 10,
        "save_steps": 500,
        "save_total_limit": 2,
        "report_to": "none",
    }
    debug = yaml.safe_load((folder / "config/debug.yaml").read_text())
    assert debug == {**basic, "max_steps": 200}
    # The stream path is relative to the experiment folder, where the commands run.
    assert (folder / basic["stream"]).is_file()


def test_stream_template_is_the_insert_spaces_example(tmp_path):
    folder = create_experiment("char_stream", "exp", tmp_path)
    stream = yaml.safe_load((folder / "config/stream.yaml").read_text())
    assert stream == {
        "template": "{w}: {w|spaced}",
        "separator": ": ",
        "fields": {"w": {"word": {"alphabet": "abcde", "min_len": 1, "max_len": 3}}},
    }


def test_init_refuses_to_overwrite_an_existing_folder(tmp_path, monkeypatch, capsys):
    existing = tmp_path / "insert-spaces"
    existing.mkdir()
    (existing / "notes.txt").write_text("mine")
    code = run_cli(monkeypatch, ["init", "char_stream", "insert-spaces", "--dir", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "already exists" in err and "never overwrites" in err
    assert tree(existing) == ["notes.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["insert-spaces"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["init", "fsm_icl", "exp"],
            "no experiment template for 'fsm_icl'; supported: char_stream",
        ),
        (["init", "char_stream", "a/b"], "NAME: 'a/b' is not a folder name"),
        (["init", "char_stream", ".."], "NAME: '..' is not a folder name"),
        (["init", "char_stream", "a\\b"], "NAME: 'a\\\\b' is not a folder name"),
    ],
)
def test_bad_task_or_name_exits_2_with_one_line(tmp_path, monkeypatch, capsys, argv, message):
    assert run_cli(monkeypatch, [*argv, "--dir", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("latent-lab init: error: ")
    assert message in captured.err and captured.err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_failure_while_writing_leaves_nothing(tmp_path, monkeypatch):
    def broken_template(file_name):
        raise OSError("disk full")

    monkeypatch.setattr("latent_lab.tasks.char_stream.scaffold.template_text", broken_template)
    with pytest.raises(OSError, match="disk full"):
        create_experiment("char_stream", "exp", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_missing_parent_folder_is_created(tmp_path):
    folder = create_experiment("char_stream", "exp", tmp_path / "experiments")
    assert folder == tmp_path / "experiments" / "exp"
    assert tree(folder) == EXPECTED_TREE


def test_unknown_task_raises_user_error_listing_supported():
    with pytest.raises(UserError, match="supported: char_stream"):
        create_experiment("gssm", "exp")


def test_config_keys_are_fields_of_the_char_stream_recipe(tmp_path):
    # The recipe rejects unknown keys, so a template drifting from it would fail on first use.
    from recipes.char_stream import make_parser

    known = make_parser().known_keys()
    folder = create_experiment("char_stream", "exp", tmp_path)
    for name in ("basic.yaml", "debug.yaml"):
        keys = set(yaml.safe_load((folder / "config" / name).read_text()))
        assert keys - known == set(), name


def test_init_reads_the_scaffold_from_the_task_registry(tmp_path, monkeypatch, capsys):
    """init names no task: any registered task with a scaffold gets `latent-lab init`."""
    import sys
    import types

    from latent_lab.tasks import registry

    def write_scaffold(name, target):
        (target / "notes.md").write_text(f"# {name}\n")

    module = types.ModuleType("toy_scaffold")
    module.write_scaffold = write_scaffold
    monkeypatch.setitem(sys.modules, "toy_scaffold", module)
    toy = registry.Task(
        name="toy", question="?", builder="toy:Builder", config_names=("a",), field_names=(),
        arguments="toy:Arguments", metrics="toy:metrics", references=(),
        scaffold="toy_scaffold:write_scaffold",
    )  # fmt: skip
    tasks = {**registry.all_tasks(), "toy": toy}
    monkeypatch.setattr(registry, "all_tasks", lambda: tasks)
    assert run_cli(monkeypatch, ["init", "toy", "exp", "--dir", str(tmp_path)]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["files"] == [str(tmp_path / "exp" / "notes.md")]
    assert (tmp_path / "exp" / "notes.md").read_text() == "# exp\n"
    with pytest.raises(UserError, match="supported: char_stream, toy$"):
        create_experiment("gssm", "exp", tmp_path)
