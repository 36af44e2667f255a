"""Test environment: offline Hub, offline W&B, and a private datasets cache per session."""

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("DISABLE_MLFLOW_INTEGRATION", "TRUE")


@pytest.fixture(autouse=True, scope="session")
def _isolated_caches(tmp_path_factory):
    cache = tmp_path_factory.mktemp("hf_cache")
    os.environ["LATENT_LAB_DATA_CACHE"] = str(cache / "datasets")
    os.environ["HF_DATASETS_CACHE"] = str(cache / "datasets")
    os.environ["WANDB_DIR"] = str(cache / "wandb")
    yield
