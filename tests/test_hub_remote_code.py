"""lstm/rnn are registered for the auto classes: a saved folder carries its modeling code and an
auto_map, so AutoModelForCausalLM.from_pretrained(folder, trust_remote_code=True) works in a
Python where latent_lab cannot be imported (a meta path blocker, -I: no PYTHONPATH, no cwd)."""

import json
import subprocess
import sys

import pytest
import torch

from latent_lab.models import LSTMConfig, LSTMForCausalLM, RNNConfig, RNNForCausalLM

CODE_FILES = {"lstm": "lstm.py", "rnn": "rnn.py"}
LOAD_WITHOUT_LATENT_LAB = """
import importlib.abc, json, sys


class Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in ("latent_lab", "recipes", "data_builders"):
            raise ModuleNotFoundError(f"No module named {name!r}")


sys.meta_path.insert(0, Blocked())
try:
    import latent_lab  # noqa: F401
    sys.exit("latent_lab is importable")
except ModuleNotFoundError:
    pass

import torch
from transformers import AutoModelForCausalLM

model = AutoModelForCausalLM.from_pretrained(sys.argv[1], trust_remote_code=True)
ids = torch.tensor([[1, 2, 3, 4]])
logits = model(ids).logits[0, -1].tolist()
generated = model.generate(ids, max_new_tokens=3, do_sample=False)[0].tolist()
leaked = [name for name in sys.modules if name.startswith("latent_lab")]
print(json.dumps({"module": type(model).__module__, "logits": logits,
                  "generated": generated, "leaked": leaked}))
"""


@pytest.mark.parametrize(
    ("model_type", "config_class", "model_class"),
    [("lstm", LSTMConfig, LSTMForCausalLM), ("rnn", RNNConfig, RNNForCausalLM)],
)
def test_saved_folder_loads_with_trust_remote_code_without_latent_lab(
    model_type, config_class, model_class, tmp_path
):
    torch.manual_seed(0)
    config = config_class(vocab_size=12, hidden_size=8, num_hidden_layers=2, eos_token_id=11)
    model = model_class(config).eval()
    folder = tmp_path / f"{model_type}-model"
    model.save_pretrained(folder)
    files = {path.name for path in folder.iterdir()}
    assert {CODE_FILES[model_type], "recurrent.py", "recurrent_cache.py"} <= files
    auto_map = json.loads((folder / "config.json").read_text())["auto_map"]
    stem = CODE_FILES[model_type].removesuffix(".py")
    assert auto_map == {
        "AutoConfig": f"{stem}.{config_class.__name__}",
        "AutoModelForCausalLM": f"{stem}.{model_class.__name__}",
    }
    env = {"HF_MODULES_CACHE": str(tmp_path / "modules"), "HF_HUB_OFFLINE": "1",
           "PATH": "/usr/bin:/bin"}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-I", "-c", LOAD_WITHOUT_LATENT_LAB, str(folder)],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert loaded["module"].startswith("transformers_modules.") and loaded["leaked"] == []
    ids = torch.tensor([[1, 2, 3, 4]])
    with torch.no_grad():
        expected = model(ids).logits[0, -1]
    torch.testing.assert_close(torch.tensor(loaded["logits"]), expected, atol=1e-5, rtol=1e-5)
    assert loaded["generated"] == model.generate(ids, max_new_tokens=3, do_sample=False)[0].tolist()
