"""One W&B run per run, finished when it ends: a two-stage curriculum (both stages in one
process) creates two finished offline runs in one group, each tagged with its stage. The
offline records are read back from disk (the .wandb log: a LevelDB-style record log of
wandb's protobuf Records). Also: non-main processes are quieted (log_level_replica)."""

import struct
from pathlib import Path

import pytest
import yaml

from recipes import fsm_curriculum

BLOCK_SIZE = 32 * 1024  # the .wandb log's block; each record chunk has a 7-byte header
FULL, LAST = 1, 4


def wandb_records(path: Path):
    """The protobuf Records of one offline run's .wandb file."""
    from wandb.proto import wandb_internal_pb2

    data, position, pending = path.read_bytes(), 7, b""  # 7: the file's W&B header
    while position + 7 <= len(data):
        if BLOCK_SIZE - position % BLOCK_SIZE < 7:  # a block's tail too short for a header
            position += BLOCK_SIZE - position % BLOCK_SIZE
            continue
        _checksum, length, kind = struct.unpack("<IHB", data[position : position + 7])
        if kind == 0 and length == 0:
            break
        pending += data[position + 7 : position + 7 + length]
        position += 7 + length
        if kind in (FULL, LAST):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            pending = b""
            yield record


def offline_runs(wandb_dir: Path) -> list[dict]:
    runs = []
    for path in sorted(wandb_dir.glob("wandb/offline-run-*/run-*.wandb")):
        kinds = {}
        for record in wandb_records(path):
            kinds.setdefault(record.WhichOneof("record_type"), record)
        run = kinds["run"].run
        runs.append({"name": run.display_name, "group": run.run_group, "tags": list(run.tags),
                     "project": run.project, "finished": "exit" in kinds})  # fmt: skip
    return runs


@pytest.fixture
def clean_wandb_env(monkeypatch, tmp_path):
    """configure_wandb writes WANDB_* into os.environ; monkeypatch restores them afterwards."""
    for name in ("WANDB_RUN_GROUP", "WANDB_TAGS", "WANDB_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    return tmp_path


def test_two_stage_curriculum_creates_two_finished_runs_in_one_group(clean_wandb_env, tmp_path,
                                                                     monkeypatch):  # fmt: skip
    import wandb

    monkeypatch.setenv("WANDB_TAGS", "fsm,tiny")
    config = tmp_path / "two_stages.yaml"
    config.write_text(yaml.safe_dump({
        "model_type": "lstm", "hidden_size": 16, "num_hidden_layers": 1,
        "stages": [{"dataset": "3s3a", "num_train": 16, "num_validation": 8, "num_test": 8},
                   {"dataset": "5s5a", "num_train": 12, "num_validation": 8, "num_test": 8}],
    }))  # fmt: skip
    root = tmp_path / "curriculum"
    argv = ["--config", str(config), "--output_dir", str(root), "--max_steps", "2",
            "--per_device_train_batch_size", "4", "--seed", "3", "--report_to", "wandb",
            "--position_record_points", "0", "--wandb_project", "lab-test"]  # fmt: skip
    fsm_curriculum.main(*fsm_curriculum.make_parser().parse(argv))
    assert wandb.run is None  # nothing left open
    runs = offline_runs(clean_wandb_env)
    assert len(runs) == 2 and all(run["finished"] for run in runs)
    assert {run["group"] for run in runs} == {str(config)}  # grouped by the config, as before
    assert {run["project"] for run in runs} == {"lab-test"}
    by_name = {run["name"]: run for run in runs}
    assert set(by_name) == {"two_stages-seed3-stage0-3s3a", "two_stages-seed3-stage1-5s5a"}
    assert by_name["two_stages-seed3-stage0-3s3a"]["tags"] == ["fsm", "tiny", "stage0-3s3a"]
    assert by_name["two_stages-seed3-stage1-5s5a"]["tags"] == ["fsm", "tiny", "stage1-5s5a"]
    for stage in ("stage0-3s3a", "stage1-5s5a"):
        assert (root / stage / "README.md").is_file()  # each stage's model card


def test_run_url_goes_into_the_card_and_the_run_is_finished(monkeypatch):
    import sys
    import types

    from latent_lab.training.tracking import finish_wandb_run, wandb_run_url

    finished = []
    run = types.SimpleNamespace(url="https://wandb.ai/me/lab/runs/abc")
    fake = types.SimpleNamespace(run=run, finish=lambda: finished.append("finish"),
                                 teardown=lambda: finished.append("teardown"))  # fmt: skip
    monkeypatch.setitem(sys.modules, "wandb", fake)
    assert wandb_run_url() == "https://wandb.ai/me/lab/runs/abc"
    finish_wandb_run(types.SimpleNamespace(report_to=["none"]))
    assert finished == []  # not ours to end when the run does not report to W&B
    finish_wandb_run(types.SimpleNamespace(report_to=["wandb"]))
    assert finished == ["finish", "teardown"]
    monkeypatch.delitem(sys.modules, "wandb")
    assert wandb_run_url() is None  # never imports wandb just to ask


def test_non_main_processes_are_quieted():
    import datasets
    import transformers

    from latent_lab.training.arguments import LabTrainingArguments
    from latent_lab.training.tracking import set_log_levels

    args = LabTrainingArguments(output_dir="unused", log_level_replica="error")
    before = transformers.logging.get_verbosity(), datasets.logging.get_verbosity()
    try:
        args.__class__ = type("Replica", (LabTrainingArguments,), {"should_log": False})
        set_log_levels(args)
        assert transformers.logging.get_verbosity() == transformers.logging.ERROR
        assert datasets.logging.get_verbosity() == datasets.logging.ERROR
        args.__class__ = LabTrainingArguments  # the main process keeps log_level (passive)
        set_log_levels(args)
        assert transformers.logging.get_verbosity() == transformers.logging.ERROR
    finally:
        transformers.logging.set_verbosity(before[0])
        datasets.logging.set_verbosity(before[1])
