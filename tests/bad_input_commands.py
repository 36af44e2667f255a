"""More bad inputs of tests/test_bad_input.py (tests/bad_input_cases.py has the first part and
says what a case is): GSSM graphs and difficulty settings, run folders (probe, sample, evaluate,
push, aggregate, compare, report), and the other commands' and recipes' arguments."""

from __future__ import annotations

from bad_input_cases import BUILD, FSM, GSSM, RUNS, SEMI, STAGES, cli, recipe

GSSM_GRAPHS = [
    cli(
        "gssm-sample-huge-joint-state",
        "--config",
        "gssm sample --config huge.yaml --num-sequences 2 --seq-len 8 --output s.npz",
        setup=("huge_graph",),
    ),
    recipe("gssm", "huge-joint-state", "graph", f"{GSSM} --graph huge.yaml", setup=("huge_graph",)),
    cli(
        "build-gssm-huge-joint-state",
        "graph",
        "build gssm --set graph=huge.yaml",
        setup=("huge_graph",),
    ),
    cli(
        "gssm-sample-intractable-reference",
        "--config",
        "gssm sample --config chain.yaml --num-sequences 2 --seq-len 8 --output s.npz",
        setup=("chain_graph",),
    ),
    recipe(
        "gssm",
        "intractable-reference",
        "graph",
        f"{GSSM} --graph chain.yaml",
        setup=("chain_graph",),
    ),
    cli(
        "build-gssm-intractable-reference",
        "graph",
        "build gssm --set graph=chain.yaml --set num_train=4 --set seq_len=8",
        setup=("chain_graph",),
    ),
    recipe("gssm", "unknown-graph", "graph", f"{GSSM} --graph experiment3"),
    recipe("gssm", "seq-len-zero", "seq_len", f"{GSSM} --seq_len 0"),
    recipe("gssm", "onfly-without-max-steps", "max_steps", f"{GSSM} --max_steps -1"),
    recipe("gssm", "alpha-negative", "alpha_X", f"{GSSM} --alpha_X -1"),
    recipe(
        "gssm",
        "state-size-for-attention",
        "target_state_size",
        f"{GSSM} --model_type gpt2 --target_state_size 1000",
    ),
    cli(
        "difficulty-grid-reversed",
        "--grid",
        "gssm difficulty --config experiment1 --grid 1,0.001",
        absent=("graph_seeds", "small_alpha"),
    ),
    cli(
        "difficulty-graph-seeds-word",
        "--graph-seeds",
        "gssm difficulty --config experiment1 --graph-seeds three",
    ),
    cli(
        "difficulty-reference-one-number",
        "--reference",
        "gssm difficulty --config experiment1 --reference 0.5",
        absent=("graph_seeds",),
    ),
    cli(
        "difficulty-shard-out-of-range",
        "--shard",
        "gssm difficulty --config experiment1 --shard 3/2",
    ),
    cli(
        "gssm-sample-zero-sequences",
        "--num-sequences",
        "gssm sample --config experiment1 --num-sequences 0 --output s.npz",
    ),
]

RUN_FOLDERS = [
    cli(
        "probe-results-truncated", "results.json", "probe --model RUN", setup=("truncated_results",)
    ),
    cli(
        "probe-results-without-config",
        "config",
        "probe --model RUN",
        setup=("results_without_config",),
    ),
    cli("probe-model-missing", "--model", "probe --model nowhere"),
    cli("sample-model-missing", "--model", "sample --model nowhere"),
    cli("sample-model-not-saved", "--model", "sample --model M", setup=("no_model",)),
    cli(
        "sample-zero-samples",
        "--num-samples",
        "sample --model M --num-samples 0",
        setup=("no_model",),
    ),
    cli(
        "sample-negative-temperature",
        "--temperature",
        "sample --model M --temperature -1",
        setup=("no_model",),
    ),
    cli(
        "evaluate-unknown-task",
        "fsm",
        "evaluate --model M --task fsm --config quick",
        setup=("no_model",),
    ),
    cli(
        "evaluate-model-not-saved",
        "M",
        "evaluate --model M --task fsm_icl --config quick",
        setup=("no_model",),
    ),
    cli("push-run-missing", "RUN_DIR", "push nowhere me/model"),
    cli("push-not-a-model", "RUN_DIR", "push M me/model", setup=("no_model",)),
    cli("push-bad-repo-id", "REPO_ID", "push runs/lstm-seed1 'me/bad name!'", **RUNS),
    cli(
        "push-bad-dataset-repo",
        "--dataset-repo",
        "push runs/lstm-seed1 me/model --dataset-repo a/b/c",
        **RUNS,
    ),
    cli(
        "push-offline",
        "REPO_ID",
        "push runs/lstm-seed1 me/model",
        env={"HF_HUB_OFFLINE": "1"},
        **RUNS,
    ),
    cli("aggregate-unknown-by", "--by", "aggregate runs --by learning_rat", **RUNS),
    cli("aggregate-unknown-metric", "--metric", "aggregate runs --metric eval_acc", **RUNS),
    cli("aggregate-missing-folder", "nowhere", "aggregate nowhere"),
    cli("aggregate-no-runs", "results.json", "aggregate exp", setup=("experiment",)),
    cli("compare-unknown-by", "--by", "compare runs --by model_typ --metric eval_accuracy", **RUNS),
    cli(
        "compare-unknown-metric",
        "--metric",
        "compare runs --by model_type --metric eval_acc",
        **RUNS,
    ),
    cli("report-run-missing", "nowhere", "report nowhere"),
]

COMMANDS = [
    cli(
        "build-works-with-umask",
        "",
        f"{BUILD} --output-dir data",
        code=0,
        umask=0o027,
        modes=(("data", 0o750), ("data/README.md", 0o640), ("data/train", 0o750)),
    ),
    cli("build-unknown-task", "TASK", "build fsm"),
    cli("build-unknown-config", "--config", "build fsm_icl --config 4s4a"),
    cli("build-set-without-equals", "--set", "build fsm_icl --set num_train"),
    cli("build-set-unknown-field", "num_trains", "build fsm_icl --set num_trains=8"),
    cli("build-set-wrong-type", "num_states", "build fsm_icl --set num_states=five"),
    cli("build-bad-hub-repo", "--push-to-hub", f"{BUILD} --push-to-hub 'me/bad name!'"),
    cli("export-unknown-stream", "stream", "export nanogpt --set stream=nope --output-dir out"),
    cli("init-task-bad-name", "NAME", "init task Bad-Name"),
    cli("init-unknown-task", "TASK", "init fsm exp2"),
    cli("init-existing-folder", "exp", "init char_stream exp", setup=("experiment",)),
    cli("init-name-with-slash", "NAME", "init char_stream a/b"),
    cli("launch-grid-wrong-type", "learning_rate", "launch grid.yaml", setup=("grid_wrong_type",)),
    cli(
        "launch-grid-list-for-number",
        "hidden_size",
        "launch grid.yaml",
        setup=("grid_list_for_number",),
    ),
    cli("launch-grid-bad-seeds", "seeds", "launch grid.yaml", setup=("grid_bad_seeds",)),
    cli("launch-grid-unknown-recipe", "recipe", "launch grid.yaml", setup=("grid_unknown_recipe",)),
    cli(
        "launch-grid-output-is-file",
        "output_dir",
        "launch grid.yaml",
        setup=("grid_output_is_file",),
    ),
    cli("launch-grid-missing", "grid.yaml", "launch grid.yaml"),
    cli("no-subcommand-action", "gssm", "gssm"),
    recipe("fsm_icl", "unknown-model-type", "model_type", f"{FSM} --model_type lstmm"),
    recipe(
        "fsm_icl",
        "state-size-unreachable",
        "target_state_size",
        f"{FSM} --model_type xlstm --target_state_size 100",
    ),
    recipe(
        "fsm_icl",
        "state-size-without-state",
        "target_state_size",
        f"{FSM} --model_type llama --target_state_size 1000",
    ),
    recipe("fsm_icl", "unknown-config", "--config", "--config phase9_9"),
    recipe("fsm_icl", "unknown-flag", "--num_trains", f"{FSM} --num_trains 8"),
    recipe("fsm_icl", "num-states-zero", "num_states", f"{FSM} --num_states 0"),
    recipe("fsm_icl", "too-many-demos", "num_demos", f"{FSM} --num_demos 9"),
    recipe("fsm_icl", "init-from-missing", "init_from", f"{FSM} --init_from nowhere"),
    recipe("semi_synthetic", "num-shuffles-negative", "num_shuffles", f"{SEMI} --num_shuffles -1"),
    recipe("semi_synthetic", "unknown-type", "type", f"{SEMI} --type parkz"),
    recipe(
        "semi_synthetic",
        "table-file-missing",
        "table_file",
        "--config parks --model_name_or_path gpt2 --table_file nowhere.json",
    ),
    recipe("fsm_curriculum", "unknown-config", "--config", "--config phase9"),
    recipe(
        "fsm_curriculum", "stages-not-a-list", "stages", f"{STAGES} --stages '{{dataset: 3s3a}}'"
    ),
    recipe(
        "fsm_curriculum",
        "stage-learning-rate-nan",
        "learning_rate",
        f"{STAGES} --stages '[{{dataset: 3s3a}}, {{dataset: 5s5a, learning_rate: .nan}}]'",
    ),
    recipe(
        "fsm_curriculum",
        "stage-unknown-field",
        "num_trains",
        f"{STAGES} --stages '[{{dataset: 3s3a, num_trains: 8}}]'",
    ),
]

CASES = GSSM_GRAPHS + RUN_FOLDERS + COMMANDS
