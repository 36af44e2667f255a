"""Models to the Hub, offline: HfApi.create_repo / upload_folder are intercepted and record what
would be sent. A tiny FSM run with --push_to_hub is pushed once, after results.json and
report.md exist, with its model card (eval_results equal to results.json, parsed back with
ModelCard.load) and the lstm modeling code; `latent-lab push` pushes a finished run; bad input is
one line, exit 2, nothing written or sent."""

import fnmatch
import json
import os
from pathlib import Path

import huggingface_hub
import pytest
from huggingface_hub import ModelCard

import latent_lab.cli
from latent_lab.hub.model_card import REFERENCE_CONFIG, build_model_card, is_reported
from latent_lab.training.recipe import run_recipe
from recipes import fsm_icl

TOKEN = "hf_test_secret_token_123"
TINY_RUN = [
    "--dataset", "3s3a", "--num_train", "16", "--num_validation", "8", "--num_test", "8",
    "--model_type", "lstm", "--hidden_size", "16", "--num_hidden_layers", "1",
    "--per_device_train_batch_size", "4", "--max_steps", "2", "--save_strategy", "steps",
    "--save_steps", "1", "--eval_strategy", "steps", "--eval_steps", "1",
    "--position_record_points", "0",
    "--seed", "5", "--report_to", "none",
]  # fmt: skip


class FakeHub:
    """Stands in for the Hub: records create_repo and upload_folder calls (the files
    upload_folder would send, after its ignore patterns, and the card's text)."""

    def __init__(self, reject: int | None = None):
        self.created, self.uploads, self.reject = [], [], reject

    def create_repo(self, api, repo_id, *, private=None, repo_type=None, exist_ok=False, **_):
        if self.reject:
            import httpx
            from huggingface_hub.errors import HfHubHTTPError

            request = httpx.Request("POST", "https://huggingface.co/api/repos/create")
            response = httpx.Response(self.reject, request=request)
            raise HfHubHTTPError("400 Bad Request: repository name is invalid", response=response)
        self.created.append({"repo_id": repo_id, "private": private, "token": api.token})
        full = repo_id if "/" in repo_id else f"someone/{repo_id}"
        return huggingface_hub.RepoUrl(f"https://huggingface.co/{full}")

    def upload_folder(self, api, *, repo_id, folder_path, ignore_patterns=None, **_):
        folder = Path(folder_path)
        files = sorted(
            str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file()
        )
        ignored = ignore_patterns or []
        sent = [f for f in files if not any(fnmatch.fnmatch(f, p) for p in ignored)]
        card = (folder / "README.md").read_text() if (folder / "README.md").is_file() else None
        self.uploads.append({"repo_id": repo_id, "files": sent, "card": card, "token": api.token})
        return huggingface_hub.CommitInfo(
            commit_url=f"https://huggingface.co/{repo_id}/commit/abc", commit_message="m",
            commit_description="", oid="abc",
        )  # fmt: skip


@pytest.fixture
def online(monkeypatch, tmp_path):
    """A token, the Hub switched on, and every Hub call intercepted."""
    hub = FakeHub()
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo",
                        lambda api, *a, **k: hub.create_repo(api, *a, **k))  # fmt: skip
    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder",
                        lambda api, **k: hub.upload_folder(api, **k))  # fmt: skip
    return hub


def no_token(monkeypatch, tmp_path):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_TOKEN_PATH", str(tmp_path / "no_token"))


@pytest.fixture(scope="module")
def pushed_run(tmp_path_factory):
    """A tiny LSTM run trained with --push_to_hub, the Hub intercepted."""
    patch = pytest.MonkeyPatch()
    hub = online.__wrapped__(patch, None)
    out = tmp_path_factory.mktemp("hub") / "fsm-run"
    argv = [*TINY_RUN, "--output_dir", str(out), "--push_to_hub", "true",
            "--hub_model_id", "me/fsm-tiny", "--hub_private_repo", "true"]  # fmt: skip
    patch.setattr("sys.argv", ["recipes/fsm_icl.py", *argv])  # as a user runs it
    try:
        results = run_recipe(fsm_icl.make_parser(), fsm_icl.main, argv)
    finally:
        patch.undo()
    return out, results, hub


def metric_values(card: ModelCard) -> tuple[dict, dict]:
    """(metrics, references) from the card's model-index."""
    metrics, references = {}, {}
    for result in card.data.eval_results:
        target = references if result.metric_config == REFERENCE_CONFIG else metrics
        target[result.metric_type] = result.metric_value
    return metrics, references


def test_push_to_hub_sends_the_finished_run_once_with_its_card(pushed_run):
    out, results, hub = pushed_run
    # Trainer did not push first (no repo made at start, no push at save): one repo, one upload
    assert hub.created == [{"repo_id": "me/fsm-tiny", "private": True, "token": TOKEN}]
    [upload] = hub.uploads
    assert upload["repo_id"] == "me/fsm-tiny" and upload["token"] == TOKEN
    for name in ("README.md", "results.json", "report.md", "loss_curve.png", "config.json",
                 "model.safetensors", "lstm.py", "recurrent.py", "recurrent_cache.py"):  # fmt: skip
        assert name in upload["files"], name
    assert not any(name.startswith("checkpoint-") for name in upload["files"])
    assert upload["card"] == (out / "README.md").read_text()  # the folder shows what was sent


def test_model_card_eval_results_equal_results_json(pushed_run):
    out, _, _ = pushed_run
    on_disk = json.loads((out / "results.json").read_text())
    card = ModelCard.load(out / "README.md")
    metrics, references = metric_values(card)
    assert metrics == {k: v for k, v in on_disk["metrics"].items() if is_reported(v)}
    assert references == on_disk["reference"] and references
    assert "eval_accuracy" in metrics and "validation_bayes_accuracy" in references
    names = {r.metric_type: r.metric_name for r in card.data.eval_results}
    assert "exact reference for eval_accuracy" in names["validation_bayes_accuracy"]
    data = card.data.to_dict()
    assert data["library_name"] == "transformers" and "fsm_icl" in data["tags"]
    assert {r.dataset_config for r in card.data.eval_results} == {"3s3a"}
    assert "![Training and evaluation loss](loss_curve.png)" in card.text
    command = "python recipes/fsm_icl.py --dataset 3s3a"
    assert data["latent_lab"]["command"].startswith(command) and command in card.text
    assert 'from_pretrained("me/fsm-tiny", trust_remote_code=True)'.replace('"', "'") in card.text


def test_token_is_never_printed(pushed_run, capfd):
    out, _, _ = pushed_run
    assert TOKEN not in (out / "README.md").read_text()
    assert TOKEN not in (out / "results.json").read_text()
    assert TOKEN not in capfd.readouterr().err


def test_card_carries_base_model_dataset_and_wandb_link(tmp_path):
    results = {
        "task": "semi_synthetic", "config_name": "parks", "run_name": "parks-seed1", "seed": 1,
        "model_type": "llama", "metrics": {"acc_a": 0.5, "eval_loss": float("nan")},
        "reference": {"best_accuracy": 1.0}, "reference_for": {"acc_a": "best_accuracy"},
        "config": {"model_name_or_path": "meta-llama/Llama-3.1-8B", "dataset": "parks"},
    }  # fmt: skip
    card = build_model_card(tmp_path, results, dataset_repo="me/two-hop",
                            wandb_url="https://wandb.ai/me/p/runs/x")  # fmt: skip
    data = card.data.to_dict()
    assert data["base_model"] == "meta-llama/Llama-3.1-8B" and data["datasets"] == ["me/two-hop"]
    assert {r.dataset_type for r in card.data.eval_results} == {"me/two-hop"}
    assert metric_values(card) == ({"acc_a": 0.5}, {"best_accuracy": 1.0})  # NaN left out
    assert "https://wandb.ai/me/p/runs/x" in card.text and "trust_remote_code" not in card.text


def test_latent_lab_push_sends_a_finished_run(pushed_run, online, capsys, monkeypatch):
    out, _, _ = pushed_run
    argv = ["push", str(out), "me/other-name", "--private", "--dataset-repo", "me/fsm-data"]
    code = latent_lab.cli.main(argv)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    summary = json.loads(captured.out.strip().splitlines()[-1])
    assert summary["repo_id"] == "me/other-name" and summary["private"] is True
    assert online.created == [{"repo_id": "me/other-name", "private": True, "token": TOKEN}]
    [upload] = online.uploads
    card = ModelCard.load(out / "README.md")
    assert "'me/other-name'" in card.text and upload["card"] == str(card)
    assert "--push_to_hub" in card.data.to_dict()["latent_lab"]["command"]  # the run's command
    assert card.data.datasets == ["me/fsm-data"]
    assert {r.dataset_type for r in card.data.eval_results} == {"me/fsm-data"}


def test_curriculum_pushes_each_stage_to_one_repo(online, tmp_path):
    import yaml

    from recipes import fsm_curriculum

    config = tmp_path / "two_stages.yaml"
    stage = {"num_train": 12, "num_validation": 8, "num_test": 8}
    config.write_text(yaml.safe_dump({"model_type": "lstm", "hidden_size": 16,
                                      "num_hidden_layers": 1,
                                      "stages": [{"dataset": "3s3a", **stage},
                                                 {"dataset": "5s5a", **stage}]}))  # fmt: skip
    root = tmp_path / "curriculum"
    argv = ["--config", str(config), "--output_dir", str(root), "--max_steps", "1",
            "--per_device_train_batch_size", "4", "--position_record_points", "0",
            "--push_to_hub", "true", "--hub_model_id", "me/curriculum"]  # fmt: skip
    fsm_curriculum.main(*fsm_curriculum.make_parser().parse(argv))
    assert [c["repo_id"] for c in online.created] == ["me/curriculum"] * 2
    assert [u["repo_id"] for u in online.uploads] == ["me/curriculum"] * 2
    assert [u["card"] for u in online.uploads] == [
        (root / name / "README.md").read_text() for name in ("stage0-3s3a", "stage1-5s5a")
    ]  # the repo ends with the final stage


def cli_error(argv, capsys) -> str:
    code = latent_lab.cli.main(argv)
    captured = capsys.readouterr()
    assert code == 2, captured.err
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1, captured.err
    return captured.err


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("no token", "no Hugging Face token"),
        ("offline", "the Hub is offline"),
        ("invalid repo id", "is not a valid Hub repo id"),
        ("the Hub rejects the repo id", "the Hub refused it (HTTP 400"),
        ("not a finished run", "is not a finished run"),
    ],
)
def test_push_bad_input_is_one_line_exit_2(case, message, pushed_run, online, capsys,
                                           monkeypatch, tmp_path):  # fmt: skip
    out, _, _ = pushed_run
    run_dir, repo_id = str(out), "me/fsm"
    if case == "no token":
        no_token(monkeypatch, tmp_path)
    elif case == "offline":
        monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    elif case == "invalid repo id":
        repo_id = "me/not a--valid/name"
    elif case == "the Hub rejects the repo id":
        online.reject = 400
    else:
        run_dir = str(tmp_path)
    card_before = (out / "README.md").read_text()
    files_before = sorted(os.listdir(out))
    err = cli_error(["push", run_dir, repo_id], capsys)
    assert message in err and TOKEN not in err
    assert online.uploads == [] and online.created == []
    assert (out / "README.md").read_text() == card_before
    assert sorted(os.listdir(out)) == files_before


def test_push_to_hub_without_a_token_fails_before_training(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    no_token(monkeypatch, tmp_path)
    out = tmp_path / "never"
    with pytest.raises(SystemExit) as raised:
        run_recipe(fsm_icl.make_parser(), fsm_icl.main,
                   [*TINY_RUN, "--output_dir", str(out), "--push_to_hub", "true"])  # fmt: skip
    assert raised.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--push_to_hub: no Hugging Face token" in err
    assert not out.exists()


def test_run_without_push_still_writes_its_card(tmp_path):
    out = tmp_path / "run"
    results = run_recipe(fsm_icl.make_parser(), fsm_icl.main, [*TINY_RUN, "--output_dir", str(out)])
    card = ModelCard.load(out / "README.md")
    assert metric_values(card)[1] == results["reference"]
    assert str(out.resolve()) in card.text  # loads from the folder until it is pushed
