"""Datasets to the Hub, offline: `latent-lab build --push-to-hub` with the Hub client
intercepted (HfApi.create_repo, datasets' DatasetDict.push_to_hub, DatasetCard.load and
push_to_hub). A --set variant gets its own config name derived from the overrides, so it is
added beside its base on the Hub instead of overwriting it; the card (DatasetCardData, no
private datasets API) parses and says how to load it back with load_dataset(repo, name)."""

import json

import datasets
import huggingface_hub
import pytest
import yaml
from huggingface_hub import DatasetCard

import latent_lab.cli
from latent_lab.hub.config_names import variant_config_name

TOKEN = "hf_test_secret_token_456"
SMALL = ["--set", "num_validation=8", "--set", "num_test=8"]


class FakeDatasetHub:
    """One Hub dataset repo: the configs pushed so far (as push_to_hub lists them in the card's
    YAML) and the card pushed last."""

    def __init__(self):
        self.repos, self.pushes, self.cards = [], [], []
        base_files = [{"split": "train", "path": "3s3a/train-*"}]
        self.configs = [{"config_name": "3s3a", "data_files": base_files}]

    def install(self, monkeypatch):
        hub = self

        def create_repo(api, repo_id, *, private=None, repo_type=None, **_):
            hub.repos.append({"repo_id": repo_id, "private": private, "repo_type": repo_type})
            return huggingface_hub.RepoUrl(f"https://huggingface.co/datasets/{repo_id}")

        def push_to_hub(dataset_dict, repo_id, *, config_name="default", private=None,
                        token=None, **_):  # fmt: skip
            hub.pushes.append({"repo_id": repo_id, "config_name": config_name,
                               "private": private, "token": token,
                               "splits": {k: len(v) for k, v in dataset_dict.items()}})  # fmt: skip
            files = [{"split": s, "path": f"{config_name}/{s}-*"} for s in dataset_dict]
            hub.configs = [c for c in hub.configs if c["config_name"] != config_name]
            hub.configs.append({"config_name": config_name, "data_files": files})

        def load(repo_id, repo_type=None, token=None, **_):
            data = {"configs": hub.configs, "dataset_info": [{"config_name": "3s3a"}]}
            return DatasetCard(f"---\n{yaml.safe_dump(data)}---\n\nwritten by push_to_hub\n")

        def push_card(card, repo_id, repo_type=None, token=None, **_):
            hub.cards.append({"repo_id": repo_id, "repo_type": repo_type, "text": str(card)})

        monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
        monkeypatch.setenv("HF_TOKEN", TOKEN)
        monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", create_repo)
        monkeypatch.setattr(datasets.DatasetDict, "push_to_hub", push_to_hub)
        monkeypatch.setattr(DatasetCard, "load", staticmethod(load))
        monkeypatch.setattr(DatasetCard, "push_to_hub", push_card)
        return self


@pytest.fixture
def hub(monkeypatch):
    return FakeDatasetHub().install(monkeypatch)


def build(argv, capsys):
    code = latent_lab.cli.main(["build", *argv])
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    return code, (json.loads(lines[-1]) if code == 0 else None), captured.err


def test_set_variant_is_pushed_under_its_own_config_name(hub, tmp_path, capsys):
    argv = ["fsm_icl", "--config", "3s3a", "--set", "num_train=16", *SMALL, "--output-dir",
            str(tmp_path / "data"), "--push-to-hub", "me/fsm", "--private"]  # fmt: skip
    code, summary, err = build(argv, capsys)
    assert code == 0, err
    name = "3s3a-num_test-8-num_train-16-num_validation-8"
    assert summary["config_name"] == "3s3a" and summary["hub_config"] == name
    assert hub.repos == [{"repo_id": "me/fsm", "private": True, "repo_type": "dataset"}]
    assert hub.pushes == [{"repo_id": "me/fsm", "config_name": name, "private": True,
                           "token": TOKEN, "splits": {"train": 16, "validation": 8,
                                                     "test": 8}}]  # fmt: skip
    [card] = hub.cards
    header = yaml.safe_load(card["text"].split("---\n")[1])
    # the base config pushed earlier is still listed: the variant did not overwrite it
    assert [c["config_name"] for c in header["configs"]] == ["3s3a", name]
    assert header["license"] == "mit" and "fsm_icl" in header["tags"]
    assert f"load_dataset('me/fsm', '{name}')" in card["text"]
    assert "written by push_to_hub" not in card["text"]  # our text replaced the generic one


def test_local_card_yaml_parses_and_names_the_variant(tmp_path, capsys):
    out = tmp_path / "data"
    code, summary, err = build(["fsm_icl", "--config", "3s3a", *SMALL, "--set", "num_train=16",
                                "--output-dir", str(out)], capsys)  # fmt: skip
    assert code == 0, err
    card = DatasetCard.load(out / "README.md")
    data = card.data.to_dict()
    header = yaml.safe_load((out / "README.md").read_text().split("---\n")[1])
    assert header == data  # plain YAML, what DatasetCardData wrote
    name = summary["hub_config"]
    assert data["configs"][0]["config_name"] == name == data["dataset_info"]["config_name"]
    assert [s["num_examples"] for s in data["dataset_info"]["splits"]] == [16, 8, 8]
    assert "load_dataset('NAMESPACE/REPO', " in card.text and "input_ids" in card.text
    # the rebuild command names the builder config, not the Hub name
    assert "latent-lab build fsm_icl --config 3s3a" in card.text


def test_default_output_folder_follows_the_variant_name(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, summary, err = build(["fsm_icl", "--config", "3s3a", *SMALL, "--set",
                                "num_train=16"], capsys)  # fmt: skip
    assert code == 0, err
    assert summary["output_dir"] == f"data/fsm_icl/{summary['hub_config']}"


def test_variant_names_are_deterministic_and_hub_valid():
    from huggingface_hub.utils import validate_repo_id

    first = variant_config_name("5s5a", {"num_train": 100, "data_seed": 3})
    assert first == variant_config_name("5s5a", {"data_seed": 3, "num_train": 100})
    assert first == "5s5a-data_seed-3-num_train-100"
    assert variant_config_name("5s5a", {}) == "5s5a"
    assert variant_config_name("5s5a", {"length_jitter": 1e-5}) == "5s5a-length_jitter-1e-5"
    assert variant_config_name("x", {"a": -1}) != variant_config_name("x", {"a": 1})
    odd = variant_config_name("insert_spaces", {"stream_options": {"max_len": 3}, "t": "a b"})
    assert odd.startswith("insert_spaces-") and len(odd) <= 64
    long = variant_config_name("5s5a", {f"field_{i}": i for i in range(20)})
    for name in (first, odd, long):
        validate_repo_id(name)  # letters, digits, '-', '_', '.'


def test_unchanged_overrides_keep_the_base_name(tmp_path, capsys):
    code, summary, err = build(["fsm_icl", "--config", "3s3a", "--set", "num_train=6000",
                                "--output-dir", str(tmp_path / "d"), "--set", "num_test=8",
                                "--set", "num_validation=8"], capsys)  # fmt: skip
    assert code == 0, err
    assert summary["hub_config"] == "3s3a-num_test-8-num_validation-8"  # num_train is 3s3a's


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("no token", "--push-to-hub: no Hugging Face token"),
        ("offline", "--push-to-hub: the Hub is offline"),
        ("invalid repo id", "is not a valid Hub repo id"),
        ("the Hub rejects the repo id", "the Hub refused it (HTTP 400"),
    ],
)
def test_push_bad_input_is_one_line_exit_2(case, message, hub, tmp_path, capsys, monkeypatch):
    repo_id = "me/fsm"
    if case == "no token":
        monkeypatch.delenv("HF_TOKEN")
        monkeypatch.setattr(huggingface_hub.constants, "HF_TOKEN_PATH", str(tmp_path / "none"))
    elif case == "offline":
        monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    elif case == "invalid repo id":
        repo_id = "me/bad name"
    else:
        from huggingface_hub.errors import HfHubHTTPError

        def reject(api, repo_id, **_):
            import httpx

            request = httpx.Request("POST", "https://huggingface.co/api/repos/create")
            raise HfHubHTTPError("400: invalid name", response=httpx.Response(400, request=request))

        monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", reject)
    out = tmp_path / "data"
    code, _, err = build(["fsm_icl", "--config", "3s3a", *SMALL, "--output-dir", str(out),
                          "--push-to-hub", repo_id], capsys)  # fmt: skip
    assert code == 2 and len(err.strip().splitlines()) == 1 and message in err, err
    assert TOKEN not in err
    assert not out.exists() and hub.pushes == [] and hub.cards == []
