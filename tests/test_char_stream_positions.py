"""Char-stream per-position records: the line slices of a known window, records whose means
are the logged metrics, no reference before a window's first newline, and losses counted over
the positions a causal LM predicts (Trainer's num_items_in_batch included)."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from latent_lab.tasks.char_stream.positions import line_slices
from latent_lab.tasks.char_stream.windows import RandomWindows


def test_line_slices_of_a_known_window():
    text = "b c\ncd: c d\nab: a"  # a cut line, a whole line, a line cut by the window's end
    slices = line_slices(text, ": ")
    # predicted characters are text[1:]
    parts = "".join({"unknown": "u", "prompt": "p", "answer": "a"}[p] for p in slices["line_part"])
    assert parts == "uuu" + "ppppaaaa" + "ppppa"
    assert slices["answer_index"][3:11] == [-1, -1, -1, -1, 0, 1, 2, 3]  # "c d\n" after "cd: "
    assert slices["line_length"][3:11] == [7] * 8 and set(slices["line_length"][11:]) == {-1}


def test_first_label_is_ignored_so_losses_count_predicted_positions():
    from transformers import GPT2Config, GPT2LMHeadModel

    windows = RandomWindows(np.arange(40) % 7, block_size=8, num_windows=4, seed=0)
    item = windows[0]
    assert item["labels"][0] == -100 and torch.equal(item["labels"][1:], item["input_ids"][1:])
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=7, n_embd=8, n_layer=1, n_head=2)).eval()
    ids = torch.stack([windows[i]["input_ids"] for i in range(4)])
    labels = torch.stack([windows[i]["labels"] for i in range(4)])
    with torch.no_grad():
        logits = model(input_ids=ids).logits
        nll = -logits[:, :-1].log_softmax(-1).gather(-1, ids[:, 1:, None]).squeeze(-1)
        counted = (labels != -100).sum()  # what Trainer passes as num_items_in_batch
        loss = model(input_ids=ids, labels=labels, num_items_in_batch=counted).loss
    assert loss.item() == pytest.approx(nll.mean().item(), rel=1e-6)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from recipes.char_stream import main, make_parser

    out = tmp_path_factory.mktemp("cs") / "run"
    argv = ["--config", "quick", "--num_chars", "6000", "--max_steps", "4", "--eval_steps", "2",
            "--eval_num_windows", "16", "--answer_eval_prompts", "4", "--hidden_size", "32",
            "--num_hidden_layers", "1", "--position_record_points", "0",
            "--output_dir", str(out)]  # fmt: skip
    return out, main(*make_parser().parse(argv))


def test_records_are_the_logged_metrics_and_unseen_line_starts_have_no_reference(run):
    out, results = run
    records = pd.read_parquet(out / "positions.parquet")
    history = json.loads((out / "trainer_state.json").read_text())["log_history"]
    logged = {entry["step"]: entry for entry in history if "eval_loss" in entry}
    assert set(records["step"]) == {2, 4} == set(logged)
    for step, group in records.groupby("step"):
        assert group["model_nll"].mean() == pytest.approx(logged[step]["eval_loss"], rel=1e-6)
        scored = group[group["reference_nll"].notna()]
        assert scored["model_nll"].mean() == pytest.approx(logged[step]["eval_scored_loss"])
        assert scored["reference_nll"].mean() == pytest.approx(logged[step]["eval_reference_nll"])
        unknown = group["slice_line_part"] == "unknown"
        assert group.loc[unknown, "reference_nll"].isna().all()  # before the first newline
        assert group.loc[~unknown, "reference_nll"].notna().all()
    reference = results["reference"]["reference_nll"]
    assert reference == pytest.approx(records[records["step"] == 4]["reference_nll"].mean())
