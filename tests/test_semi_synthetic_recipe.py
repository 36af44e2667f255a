"""The semi-synthetic recipe: the answer-only loss mask, a 2-step LoRA run of a tiny local Llama
with W&B offline, evaluation on 1 vs 2 processes, type vs dataset, user tables, exit code 2,
the quickstart (slow). The grid and the plot: test_semi_synthetic_grid.py."""

import json
from importlib import resources

import numpy as np
import pandas as pd
import pytest
from recipe_processes import run_recipe_process

from latent_lab.tasks.semi_synthetic import facts
from latent_lab.tasks.semi_synthetic.word_tokenizer import word_tokenizer

ATTRIBUTES = facts.TYPE_ATTRIBUTES["parks"]
TINY = [
    "--config", "parks",
    "--dtype", "float32",
    "--max_steps", "2",
    "--per_device_train_batch_size", "2",
    "--per_device_eval_batch_size", "8",
    "--num_shuffles", "1",
    "--eval_strategy", "steps",
    "--eval_steps", "2",
    "--eval_on_start", "true",
    "--logging_steps", "1",
    "--bf16", "false",
    "--activation_checkpointing", "false",
    "--max_new_tokens", "4",
    "--cot_max_new_tokens", "6",
]  # fmt: skip


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    """A 1-layer Llama over the parks word tokenizer, saved like a Hub model."""
    import transformers

    from latent_lab.models.arguments import ModelArguments
    from latent_lab.models.factory import build_model

    folder = tmp_path_factory.mktemp("tiny_llama")
    tokenizer = word_tokenizer(["parks"])
    transformers.set_seed(0)
    arguments = ModelArguments(
        model_type="llama", hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
        max_position_embeddings=256,
    )  # fmt: skip
    model = build_model(
        arguments, len(tokenizer), pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )  # fmt: skip
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def run_recipe(argv):
    from recipes.semi_synthetic import main, make_parser

    return main(*make_parser().parse(argv))


def test_loss_mask_covers_exactly_the_answer_and_end_token(tiny_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTTrainer

    from latent_lab.tasks.semi_synthetic.arguments import TwoHopSFTConfig
    from latent_lab.tasks.semi_synthetic.sft import prompt_completion

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    splits = facts.build_splits("parks")
    rows = splits["first_hop"][:3] + splits["2hop_state_cot"][:3] + splits["2hop_code_nocot"][:2]
    trainer = SFTTrainer(
        model=AutoModelForCausalLM.from_pretrained(tiny_model_dir),
        args=TwoHopSFTConfig(output_dir="unused", bf16=False, report_to=[], use_cpu=True),
        train_dataset=prompt_completion(rows),
        processing_class=tokenizer,
    )
    for row, example in zip(rows, trainer.train_dataset, strict=True):
        ids, labels = example["input_ids"], example["labels"]
        rendered = tokenizer.apply_chat_template(row["messages"], tokenize=False)
        assert tokenizer.decode(ids) == rendered
        trained = [token for token, label in zip(ids, labels, strict=True) if label != -100]
        assert [label for label in labels if label != -100] == trained
        # the template's space after <|assistant|> opens the answer's first token
        assert tokenizer.decode(trained) == " " + row["messages"][-1]["content"] + "<|end|>"
        first = labels.index(next(label for label in labels if label != -100))
        assert all(label == -100 for label in labels[:first])  # one contiguous answer span
        assert all(label != -100 for label in labels[first:])


@pytest.fixture(scope="module")
def lora_run(tiny_model_dir, tmp_path_factory):
    """A 2-step LoRA run reporting to W&B offline; records the live W&B run at finish."""
    import wandb

    out = tmp_path_factory.mktemp("lora") / "run"
    wandb_dir = tmp_path_factory.mktemp("wandb")
    seen = {}
    real_finish = wandb.finish

    def finish(*args, **kwargs):
        run = wandb.run
        seen.update(group=run.group, tags=list(run.tags), config=dict(run.config))
        return real_finish(*args, **kwargs)

    patch = pytest.MonkeyPatch()
    patch.setattr(wandb, "finish", finish)
    patch.setenv("WANDB_DIR", str(wandb_dir))
    patch.setenv("WANDB_TAGS", "semi_synthetic,tiny")
    patch.delenv("WANDB_RUN_GROUP", raising=False)
    argv = [*TINY, "--model_name_or_path", str(tiny_model_dir), "--output_dir", str(out),
            "--use_lora", "true", "--lora_r", "4", "--lora_alpha", "8",
            "--lora_target_modules", "q_proj", "v_proj", "--report_to", "wandb"]  # fmt: skip
    try:
        results = run_recipe(argv)
    finally:
        patch.undo()
    return out, results, wandb_dir, seen


def test_lora_run_writes_every_split_metric(lora_run):
    out, results, _, _ = lora_run
    assert json.loads((out / "results.json").read_text()) == json.loads(json.dumps(results))
    metrics = results["metrics"]
    assert results["task"] == "semi_synthetic" and results["type"] == "parks"
    assert 0.0 <= metrics["acc_a"] <= 1.0
    for attribute in ATTRIBUTES:
        nocot = metrics[f"eval_2hop_{attribute}_nocot_loss"]
        shuffled = metrics[f"eval_2hop_{attribute}_nocot_shuffled_loss"]
        assert metrics[f"loss_advantage_{attribute}"] == shuffled - nocot
        assert metrics[f"eval_2hop_{attribute}_cot_loss"] > 0
        for style in ("nocot", "cot"):
            assert 0.0 <= metrics[f"acc_2hop_{attribute}_{style}"] <= 1.0
    assert results["reference_for"]["acc_a"] == "best_accuracy"
    assert "loss_advantage_without_link" not in results["reference"]  # a control, no optimum
    assert results["baseline"]["loss_advantage_without_link"] == 0.0
    for attribute in ATTRIBUTES:
        assert results["baseline_for"][f"loss_advantage_{attribute}"] == (
            "loss_advantage_without_link"
        )
    answers = [row["answer"] for row in facts.build_splits("parks")["first_hop"]]
    majority = max(answers.count(answer) for answer in set(answers)) / len(answers)
    assert results["baseline"]["acc_a_majority"] == pytest.approx(majority) and majority < 0.5
    assert (out / "adapter_config.json").is_file()  # LoRA: the adapter is what is saved
    history = json.loads((out / "trainer_state.json").read_text())["log_history"]
    assert [h["step"] for h in history if "acc_a" in h] == [0, 2]  # at start, then step 2
    # losses (and so advantages) also at the log-spaced records point 1; generation not
    assert [h["step"] for h in history if "loss_advantage_state" in h] == [0, 1, 2]
    records = pd.read_parquet(out / "positions.parquet")
    final = records[records["step"] == 2]
    for attribute in ATTRIBUTES:
        nocot = final[final["split"] == f"2hop_{attribute}_nocot"]
        assert nocot["model_nll"].mean() == pytest.approx(
            metrics[f"eval_2hop_{attribute}_nocot_loss"], rel=1e-6
        )
        assert set(nocot["slice_attribute"]) == {attribute} and not nocot["slice_cot"].any()
    shuffled = final[final["split"].str.endswith("_shuffled")]
    assert shuffled["slice_shuffled"].all() and np.isnan(shuffled["reference_nll"]).all()


def test_wandb_offline_run_carries_group_tags_and_config_path(lora_run):
    _, _, wandb_dir, seen = lora_run
    label = "recipes/configs/semi_synthetic/parks.yaml"
    assert seen["group"] == label
    assert sorted(seen["tags"]) == ["semi_synthetic", "tiny"]
    assert seen["config"]["experiment_config_path"] == label
    [record] = list((wandb_dir / "wandb").glob("offline-run-*/run-*.wandb"))
    assert label.encode() in record.read_bytes()  # the offline record holds the group


def test_eval_only_gives_the_same_metrics_on_one_and_two_processes(tiny_model_dir, tmp_path):
    trained = tmp_path / "trained"  # enough first-hop training for non-trivial accuracies
    training = {"--max_steps": "200", "--learning_rate": "1e-2", "--eval_strategy": "no",
                "--per_device_train_batch_size": "4", "--eval_on_start": "false",
                "--report_to": "none", "--output_dir": str(trained),
                "--model_name_or_path": str(tiny_model_dir)}  # fmt: skip
    run_recipe([*TINY, *(item for pair in training.items() for item in pair)])
    # One row per eval batch: a batch's mean loss would depend on how rows are split.
    argv = [*TINY, "--model_name_or_path", str(trained), "--eval_only", "true",
            "--report_to", "none", "--generation_batch_size", "3",
            "--per_device_eval_batch_size", "1", "--max_new_tokens", "8"]  # fmt: skip
    metrics = {}
    for processes in (1, 2):
        target = tmp_path / f"eval{processes}"
        proc = run_recipe_process(
            "semi_synthetic", [*argv, "--output_dir", str(target)], processes=processes
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        metrics[processes] = json.loads((target / "results.json").read_text())["metrics"]
    splits = ["first_hop"] + [f"2hop_{a}_{s}" for a in ATTRIBUTES
                              for s in ("nocot", "cot", "nocot_shuffled")]  # fmt: skip
    keys = [f"eval_{split}_loss" for split in splits] + ["acc_a"]
    keys += [f"acc_2hop_{a}_{s}" for a in ATTRIBUTES for s in ("nocot", "cot")]
    keys += [f"loss_advantage_{a}" for a in ATTRIBUTES]
    assert metrics[1]["acc_a"] > 0  # a comparison of non-trivial accuracies
    assert {key: metrics[2][key] for key in keys} == {key: metrics[1][key] for key in keys}


def test_type_and_dataset_name_the_same_builder_config(tmp_path):
    from latent_lab.errors import UserError
    from recipes.semi_synthetic import make_parser

    def data_args(*argv):
        return make_parser().parse([*argv, "--output_dir", str(tmp_path)])[0]

    swapped = data_args("--config", "parks", "--type", "bridges")  # parks.yaml says type: parks
    assert (swapped.dataset, swapped.type) == ("bridges", "bridges")
    assert swapped.check().config.type == "bridges"
    alone = data_args("--dataset", "ships", "--data_seed", "4")
    assert alone.type is None and alone.check().config.type == "ships"
    assert alone.check().config.pairing_seed() == 4
    with pytest.raises(UserError, match="dataset: 'bridges' and type: 'parks' name different"):
        data_args("--config", "parks", "--dataset", "bridges")
    table = json.loads((resources.files(facts.DATA_PACKAGE) / "parks.json").read_text())
    table["entities"][0]["state"] = "Montana"  # Yellowstone
    (tmp_path / "mine.json").write_text(json.dumps(table))
    mine = data_args("--config", "parks", "--table_file", str(tmp_path / "mine.json")).check()
    assert mine.config.table().entities[0]["state"] == "Montana"


def bad_table(tmp_path):
    table = json.loads((resources.files(facts.DATA_PACKAGE) / "parks.json").read_text())
    del table["entities"][3]["code"]
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(table))
    return path


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--type", "moons"], "type: unknown e2 type 'moons'"),
        (["--cot_max_new_tokens", "0"], "cot_max_new_tokens: must be >= 1"),
        (["--table_file", "BAD_TABLE"], "entity 'Zion National Park': missing attribute 'code'"),
        (["--table_file", "/no/such.json"], "table_file: /no/such.json is not a file"),
        (["--dataset", "bridges"], "dataset: 'bridges' and type: 'parks' name different"),
        (["--data_seed", "-1"], "data_seed: expected a non-negative integer or null"),
        (["--model_name_or_path", "/no/such/model"], "folder '/no/such/model' does not exist"),
        (["--model_name_or_path", "meta-llama/Llama-3.1-8B-Instruct"], "the Hub is offline"),
        (["--config", "no_such_type"], "--config: 'no_such_type' is neither a file"),
        (["--world_knowledge", "true", "--model_name_or_path", "x/y"], "remove one of them"),
    ],
)
def test_user_mistakes_exit_2_with_one_line(extra, message, tmp_path, capsys, monkeypatch):
    from latent_lab.training.recipe import run_recipe as run_with_exit_codes
    from recipes.semi_synthetic import main, make_parser

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    extra = [str(bad_table(tmp_path)) if value == "BAD_TABLE" else value for value in extra]
    base = TINY[2:] if extra[0] == "--config" else TINY  # one --config only
    argv = [*base, "--model_name_or_path", "meta-llama/Llama-3.1-8B-Instruct", *extra,
            "--output_dir", str(tmp_path / "never")]  # fmt: skip
    with pytest.raises(SystemExit) as raised:
        run_with_exit_codes(make_parser(), main, argv)
    assert raised.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not (tmp_path / "never").exists()


@pytest.mark.slow
def test_quickstart_runs_the_self_contained_pipeline(tmp_path, capsys):
    from latent_lab.cli import main as cli_main

    code = cli_main(["quickstart", "--task", "semi_synthetic", "--output-dir", str(tmp_path)])
    assert code == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    (row,) = summary["rows"]  # one headline row: the new fact's accuracy
    assert (row["task"], row["metric"], row["headline"]) == ("semi_synthetic", "acc_a", True)
    assert (row["reference"], row["baseline"]) == (1.0, 0.05)  # 20 answers, the majority 1/20
    assert row["gap_closed"] >= 0.5  # the demo learns the new fact
    run = tmp_path / "semi_synthetic"
    stage = json.loads((run / "world_knowledge" / "stage.json").read_text())
    results = json.loads((run / "results.json").read_text())
    assert results["world_knowledge"] == stage and 0.0 <= stage["recall"] <= 1.0
    assert stage["num_fact_rows"] == len(facts.world_knowledge_rows(["parks"]))
    assert "acc_world_knowledge" in results["metrics"]
