"""The table bench/gpu_suite.py prints last: one row per figure (figure, value, unit, settings),
and one row per part that failed or was skipped."""

from __future__ import annotations

HEADER = ("figure", "value", "unit", "settings")


def number(value, spec: str = ",.0f") -> str:
    return "n/a" if value is None else format(value, spec)


def fsm_rows(f: dict) -> list[tuple]:
    model = f"LSTM 256x2 ({number(f['fsm_num_parameters'])} params), batch 8, {f.get('fsm_dtype')}"
    rows = [
        (
            "FSM phase-1.1 training",
            number(f["fsm_tokens_per_s"]),
            "tokens/s",
            f"{model}, {number(f['fsm_steps'])} steps, evaluations excluded",
        )
    ]
    target = f"FSM time to val accuracy_seen {f['fsm_target']:g}"
    every = f"validation every {f['fsm_eval_steps']} steps"
    if f["fsm_time_to_target_s"] is not None:
        value = f"{f['fsm_time_to_target_s']:.1f} ({f['fsm_train_time_to_target_s']:.1f})"
        rows.append(
            (
                target,
                value,
                "s",
                f"wall (training steps only) from step 1; reached at "
                f"step {f['fsm_target_step']:,} (epoch {f['fsm_target_epoch']:.2f}); {every}",
            )
        )
    else:
        why = {"cap": f"stopped at the {f['fsm_cap_s']:.0f} s cap", "end": "run ended"}
        rows.append(
            (
                target,
                "not reached",
                "",
                f"{why.get(f['fsm_stopped'], f['fsm_stopped'])} "
                f"after {f['fsm_train_s'] + f['fsm_eval_s']:.0f} s; best "
                f"{number(f['fsm_best_accuracy_seen'], '.4f')} at step "
                f"{number(f['fsm_best_step'], ',')}; {every}",
            )
        )
    return rows


def gssm_rows(f: dict) -> list[tuple]:
    shape = f"{f['gssm_batch']} x {f['gssm_seq_len']}"
    steps = f"{f['gssm_steps']:,} of {f['gssm_max_steps']:,} steps"
    if f["gssm_stopped"] == "cap":
        steps += f" (stopped at the {f['gssm_cap_s']:.0f} s cap)"
    model = (
        f"llama {number(f['gssm_num_parameters'])} params, {f.get('gssm_dtype')}, "
        f"attention {f.get('gssm_attn_implementation')}"
    )
    return [
        (
            "GSSM exp. 1 training",
            number(f["gssm_tokens_per_s"]),
            "tokens/s",
            f"{shape}, {model}, {steps}, evaluations excluded",
        ),
        (
            "GSSM exp. 1 excess_loss",
            number(f["gssm_excess_loss"], ".4f"),
            "nats/token",
            f"after {steps}; bayes_loss {f['gssm_bayes_loss']:.4f}, "
            f"eval_loss {f['gssm_eval_loss']:.4f}",
        ),
    ]


def filter_rows(f: dict) -> list[tuple]:
    return [
        (
            f"exact filter {f['filter_shape']}",
            number(f["filter_median_s"], ".3f"),
            "s",
            f"{f['filter_device']}, numba threads {f['filter_threads']}, median of "
            f"{f['filter_repeats']} (min {f['filter_min_s']:.3f}, max {f['filter_max_s']:.3f})",
        )
    ]


def loop_rows(f: dict) -> list[tuple]:
    settings = (
        f"char-stream GPT, {f['loop_shape']}, {f['loop_steps']} steps, best of {f['loop_repeats']}"
    )
    return [
        ("char-stream recipe (Trainer)", number(f["recipe_tokens_per_s"]), "tokens/s", settings),
        (
            "hand-written loop",
            number(f["loop_tokens_per_s"]),
            "tokens/s",
            "same model, data, optimiser",
        ),
        ("recipe / loop", number(f["recipe_over_loop"], ".3f"), "ratio", "tokens/s over tokens/s"),
    ]


ROWS = {"fsm": fsm_rows, "gssm": gssm_rows, "filter": filter_rows, "recipe_vs_loop": loop_rows}


def table(figures: dict, parts) -> str:
    rows = [HEADER]
    for part in parts:
        error = figures.get(f"{part}_error")
        rows.extend([(part, "FAILED", "", error)] if error else ROWS[part](figures))
    widths = [max(len(str(row[i])) for row in rows) for i in range(3)]
    lines = [
        f"GPU suite, {figures['mode']}: {figures['device']}, torch {figures['torch']}, "
        f"transformers {figures['transformers']}; {figures['precision']}; "
        f"{figures['suite_s']:.0f} s in all"
    ]
    for row in rows:
        cells = [
            str(row[i]).ljust(widths[i]) if i != 1 else str(row[i]).rjust(widths[i])
            for i in range(3)
        ]
        lines.append("  ".join([*cells, str(row[3])]).rstrip())
    return "\n".join(lines)
