"""The bad inputs of tests/test_bad_input.py: what a new user might type, across every
`latent-lab` subcommand and every recipe. Each case runs in its own folder (set up with
tests/bad_input_fixtures.py) and must give exit code 2 and one stderr line naming `field`, with
nothing written; `code=0` marks the few inputs that must work. Command lines are written as a
shell would split them (shlex)."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Case:
    id: str
    kind: str  # "cli" (latent-lab ARGV) or "recipe" (python recipes/<recipe>.py ARGV)
    argv: tuple[str, ...]
    field: str  # the stderr line must name it
    setup: tuple[str, ...] = ()  # tests/bad_input_fixtures.py SETUPS
    recipe: str | None = None
    code: int = 2
    unwritable: bool = False  # needs RO/ to be unwritable (not so for root)
    absent: tuple[str, ...] = ()  # words the line must not contain
    env: dict = field(default_factory=dict)
    umask: int = 0o022
    modes: tuple[tuple[str, int], ...] = ()  # (path, mode) after a case that must work


def cli(id, field, command, **options) -> Case:
    return Case(id, "cli", tuple(shlex.split(command)), field, **options)


def recipe(name, id, field, command, **options) -> Case:
    argv = tuple(shlex.split(command))
    return Case(f"{name}-{id}", "recipe", argv, field, recipe=name, **options)


# Small runs: a case that wrongly got past its checks ends in seconds, not hours.
FSM = "--config quick --num_train 16 --num_validation 8 --num_test 8 --max_steps 2"
GSSM = "--config quick --max_steps 2 --seq_len 16 --num_validation 4 --max_position_embeddings 17"
CHAR = "--config quick --num_chars 3000 --max_steps 2"
SEMI = "--config quick"
STAGES = "--config phase6_1 --num_train 16 --num_validation 8 --num_test 8 --max_steps 2"
BUILD = "build fsm_icl --config 3s3a --set num_train=16 --set num_validation=8 --set num_test=8"
EXPORT = "export nanogpt --config insert_spaces --set num_chars=2000"
COMPARE = "compare runs --by model_type --metric eval_accuracy"
QUICK = "quickstart --task fsm_icl"
FILE, RUNS, RO = {"setup": ("file",)}, {"setup": ("runs",)}, {"setup": ("readonly",)}
UNWRITABLE = {"setup": ("readonly",), "unwritable": True}
RUNS_AND_FILE = {"setup": ("runs", "file")}
# A user stream run end to end: tiny model, two steps.
TINY_CHAR_RUN = (
    "--num_chars 3000 --max_steps 2 --model_type gpt2 --hidden_size 16 --num_hidden_layers 1 "
    "--num_attention_heads 2 --block_size 16 --max_position_embeddings 16 --eval_num_windows 8 "
    "--answer_eval_prompts 4 --num_report_samples 1 --position_record_points 0 "
    "--report_to none --output_dir run"
)
STREAMS = {"setup": ("user_streams",), "env": {"PYTHONPATH": "."}}
NOT_SEPARATOR = {"absent": ("separator",), **STREAMS}

OUTPUT_PATHS = [
    cli("build-output-is-file", "--output-dir", f"{BUILD} --output-dir F", **FILE),
    cli("build-output-below-file", "--output-dir", f"{BUILD} --output-dir F/d", **FILE),
    cli("build-output-unwritable", "--output-dir", f"{BUILD} --output-dir RO/d", **UNWRITABLE),
    cli("export-output-is-file", "--output-dir", f"{EXPORT} --output-dir F", **FILE),
    cli("export-output-below-file", "--output-dir", f"{EXPORT} --output-dir F/d", **FILE),
    cli("export-output-unwritable", "--output-dir", f"{EXPORT} --output-dir RO/d", **UNWRITABLE),
    cli("aggregate-plot-below-file", "--plot", "aggregate runs --plot F/p.png", **RUNS_AND_FILE),
    cli("aggregate-plot-is-folder", "--plot", "aggregate runs --plot runs", **RUNS),
    cli(
        "aggregate-plot-unwritable",
        "--plot",
        "aggregate runs --plot RO/p.png",
        setup=("runs", "readonly"),
        unwritable=True,
    ),
    cli("quickstart-output-is-file", "--output-dir", f"{QUICK} --output-dir F", **FILE),
    cli("quickstart-output-below-file", "--output-dir", f"{QUICK} --output-dir F/q", **FILE),
    cli("quickstart-output-unwritable", "--output-dir", f"{QUICK} --output-dir RO/q", **UNWRITABLE),
    cli("compare-output-is-file", "--output-dir", f"{COMPARE} --output-dir F", **RUNS_AND_FILE),
    cli(
        "compare-output-below-file", "--output-dir", f"{COMPARE} --output-dir F/c", **RUNS_AND_FILE
    ),
    cli(
        "compare-output-unwritable",
        "--output-dir",
        f"{COMPARE} --output-dir RO/c",
        setup=("runs", "readonly"),
        unwritable=True,
    ),
    cli(
        "report-output-is-file",
        "--output-dir",
        "report runs/lstm-seed1 --output-dir F",
        **RUNS_AND_FILE,
    ),
    cli(
        "gssm-sample-output-below-file",
        "--output",
        "gssm sample --config experiment1 --num-sequences 2 --output F/s.npz",
        **FILE,
    ),
    cli(
        "difficulty-output-is-file",
        "--output-dir",
        "gssm difficulty --config experiment1 --output-dir F",
        **FILE,
    ),
    recipe("fsm_icl", "output-is-file", "output_dir", f"{FSM} --output_dir F", **FILE),
    recipe("fsm_icl", "output-unwritable", "output_dir", f"{FSM} --output_dir RO/r", **UNWRITABLE),
    recipe(
        "fsm_icl",
        "resume-output-is-file",
        "output_dir",
        f"{FSM} --resume true --output_dir F",
        **FILE,
    ),
    recipe("gssm", "output-below-file", "output_dir", f"{GSSM} --output_dir F/r", **FILE),
    recipe(
        "char_stream", "output-unwritable", "output_dir", f"{CHAR} --output_dir RO/r", **UNWRITABLE
    ),
    recipe("semi_synthetic", "output-is-file", "output_dir", f"{SEMI} --output_dir F", **FILE),
    recipe(
        "fsm_curriculum", "output-below-file", "output_dir", f"{STAGES} --output_dir F/r", **FILE
    ),
]

SIZES = [
    cli("build-fsm-num-train-huge", "num_train", "build fsm_icl --set num_train=1000000000000"),
    cli("build-gssm-seq-len-huge", "seq_len", "build gssm --set seq_len=10000000000"),
    cli("build-gssm-num-train-huge", "num_train", "build gssm --set num_train=1000000000000"),
    cli(
        "build-char-num-chars-huge", "num_chars", "build char_stream --set num_chars=10000000000000"
    ),
    cli(
        "build-semi-num-shuffles-huge",
        "num_shuffles",
        "build semi_synthetic --set num_shuffles=1000000000",
    ),
    cli("build-fsm-demo-length-huge", "demo_length", "build fsm_icl --set demo_length=1000000000"),
    recipe("fsm_icl", "num-test-huge", "num_test", f"{FSM} --num_test 1000000000000"),
    recipe(
        "gssm", "num-validation-huge", "num_validation", f"{GSSM} --num_validation 1000000000000"
    ),
]

TRAINING_VALUES = [
    recipe("fsm_icl", "max-steps-negative", "max_steps", f"{FSM} --max_steps -5"),
    recipe("gssm", "max-steps-negative", "max_steps", f"{GSSM} --max_steps -5"),
    recipe("fsm_icl", "learning-rate-nan", "learning_rate", f"{FSM} --learning_rate nan"),
    recipe("fsm_icl", "learning-rate-zero", "learning_rate", f"{FSM} --learning_rate 0"),
    recipe("char_stream", "learning-rate-inf", "learning_rate", f"{CHAR} --learning_rate inf"),
    recipe(
        "gssm",
        "batch-size-zero",
        "per_device_train_batch_size",
        f"{GSSM} --per_device_train_batch_size 0",
    ),
    recipe(
        "fsm_icl",
        "eval-batch-size-zero",
        "per_device_eval_batch_size",
        f"{FSM} --per_device_eval_batch_size 0",
    ),
    recipe(
        "fsm_icl",
        "accumulation-zero",
        "gradient_accumulation_steps",
        f"{FSM} --gradient_accumulation_steps 0",
    ),
    recipe("gssm", "weight-decay-nan", "weight_decay", f"{GSSM} --weight_decay nan"),
    recipe("fsm_icl", "seed-negative", "seed", f"{FSM} --seed -1"),
    recipe(
        "fsm_icl", "epochs-zero", "num_train_epochs", f"{FSM} --max_steps -1 --num_train_epochs 0"
    ),
    recipe("semi_synthetic", "learning-rate-nan", "learning_rate", f"{SEMI} --learning_rate nan"),
    recipe(
        "fsm_curriculum",
        "batch-size-zero",
        "per_device_train_batch_size",
        f"{STAGES} --per_device_train_batch_size 0",
    ),
    recipe(
        "fsm_icl",
        "position-points-negative",
        "position_record_points",
        f"{FSM} --position_record_points -1",
    ),
    recipe("fsm_icl", "dropout-above-one", "dropout", f"{FSM} --dropout 1.5"),
    recipe("fsm_icl", "hidden-size-zero", "hidden_size", f"{FSM} --hidden_size 0"),
]

STREAMS_AND_YAML = [
    recipe(
        "char_stream",
        "user-function-works",
        "",
        f"--stream user_streams:lines --separator = {TINY_CHAR_RUN}",
        code=0,
        umask=0o027,
        modes=(("run", 0o750), ("run/results.json", 0o640)),
        **STREAMS,
    ),
    recipe(
        "char_stream",
        "user-module-missing",
        "no_such_module",
        f"{CHAR} --stream no_such_module:lines --separator =",
        **NOT_SEPARATOR,
    ),
    recipe(
        "char_stream",
        "user-module-missing-no-separator",
        "no_such_module",
        f"{CHAR} --stream no_such_module:lines",
        **NOT_SEPARATOR,
    ),
    recipe(
        "char_stream",
        "user-function-raises",
        "user_streams:broken",
        f"{CHAR} --stream user_streams:broken --separator =",
        **STREAMS,
    ),
    recipe(
        "char_stream",
        "user-function-no-separator",
        "separator",
        f"{CHAR} --stream user_streams:lines",
        **STREAMS,
    ),
    cli(
        "build-char-user-function-raises",
        "user_streams:broken",
        "build char_stream --set stream=user_streams:broken --set separator== --set num_chars=2000",
        **STREAMS,
    ),
    recipe(
        "char_stream",
        "stream-options-bad-yaml",
        "stream_options",
        f"{CHAR} --stream_options '{{max_len: [5'",
    ),
    recipe(
        "char_stream",
        "stream-options-not-mapping",
        "stream_options",
        f"{CHAR} --stream_options '[1, 2]'",
    ),
    recipe("char_stream", "unknown-stream", "stream", f"{CHAR} --stream insert_spacez"),
    recipe("char_stream", "block-size-zero", "block_size", f"{CHAR} --block_size 0"),
    recipe(
        "char_stream", "train-fraction-above-one", "train_fraction", f"{CHAR} --train_fraction 1.5"
    ),
    recipe(
        "fsm_icl",
        "eval-shifts-bad-yaml",
        "eval_shifts",
        f"{FSM} --eval_shifts '{{more_demos: {{demo_length: [16}}'",
    ),
    recipe(
        "gssm",
        "eval-shifts-reserved-name",
        "eval_shifts",
        f"{GSSM} --eval_shifts '{{train: {{seq_len: 8}}}}'",
    ),
    recipe(
        "gssm",
        "eval-shifts-unknown-field",
        "seq_lenn",
        f"{GSSM} --eval_shifts '{{longer: {{seq_lenn: 32}}}}'",
    ),
    recipe(
        "gssm",
        "model-options-bad-yaml",
        "model_options",
        f"{GSSM} --model_options '{{n_inner: [64}}'",
    ),
    recipe("fsm_icl", "config-bad-yaml", "bad.yaml", "--config bad.yaml", setup=("bad_yaml",)),
    recipe(
        "fsm_icl",
        "config-unknown-key",
        "learning_rte",
        "--config typo.yaml",
        setup=("unknown_key",),
    ),
    recipe(
        "fsm_icl",
        "config-list-for-number",
        "learning_rate",
        "--config lists.yaml",
        setup=("list_for_number",),
    ),
    recipe(
        "fsm_icl",
        "config-float-for-integer",
        "per_device_train_batch_size",
        "--config floats.yaml --num_train 16 --num_validation 8 --num_test 8 --max_steps 2",
        setup=("float_for_integer",),
    ),
    recipe(
        "fsm_icl",
        "config-scalar-thresholds",
        "excess_thresholds",
        "--config scalar.yaml --num_train 16 --num_validation 8 --num_test 8 --max_steps 2",
        setup=("scalar_thresholds",),
    ),
]

CASES = OUTPUT_PATHS + SIZES + TRAINING_VALUES + STREAMS_AND_YAML
