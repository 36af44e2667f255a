"""A markdown report for one finished run: what ran, final metrics beside their exact
references, the loss curve, samples and the full config. Also the small markdown helpers the
comparison report shares."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from latent_lab.analysis.loss_curves import plot_loss_curves
from latent_lab.analysis.run_files import RunFolder, load_run
from latent_lab.files import write_text_atomic

REPORT_FILE = "report.md"
CURVE_FILE = "loss_curve.png"
# Shown first in metric tables: what the course assignment is scored on, then the loss.
HEADLINE_METRICS = ("answer_accuracy", "eval_loss")
MISSING = "-"
SAMPLE_SEPARATOR = "---------------"  # what nanoGPT's sample.py prints between samples


def write_run_report(run_dir: str | os.PathLike, out_dir: str | os.PathLike | None = None) -> Path:
    """Write report.md and loss_curve.png into `out_dir` (default: the run folder itself) and
    return the report's path."""
    run = load_run(run_dir)
    target = Path(out_dir) if out_dir is not None else run.folder
    plot_loss_curves([run], target / CURVE_FILE)
    return write_text_atomic(target / REPORT_FILE, render_run_report(run, CURVE_FILE))


def render_run_report(run: RunFolder, curve_image: str) -> str:
    sections = [
        f"# Run report: {run.label}",
        _overview(run),
        "## Final metrics",
        run_metrics_table(run),
        "## Loss curve",
        f"![Training and evaluation loss]({curve_image})",
        _samples_section(run),
        _config_section(run),
    ]
    return "\n\n".join(section for section in sections if section) + "\n"


def _overview(run: RunFolder) -> str:
    results = run.results
    config_name = results.get("config_name", MISSING)
    if results.get("config_path"):
        config_name = f"{config_name} ({inline_code(results['config_path'])})"
    facts = [
        ("Task", results.get("task", MISSING)),
        ("Config", config_name),
        ("Run name", results.get("run_name") or MISSING),
        ("Seed", results.get("seed", MISSING)),
        ("Model", results.get("model_type", MISSING)),
        ("Parameters", format_count(results.get("num_parameters"))),
        ("Wall time", format_seconds(results.get("wall_time_s"))),
        ("Run folder", inline_code(results.get("output_dir") or str(run.folder))),
    ]
    return "\n".join(f"- **{name}:** {value}" for name, value in facts)


def run_metrics_table(run: RunFolder) -> str:
    """Final metrics with the exact reference (from reference_for) and the gap to it."""
    rows = []
    for metric in order_metrics(run.metrics):
        value = run.metrics[metric]
        found = run.reference(metric)
        reference, gap = MISSING, MISSING
        if found is not None:
            reference = f"{format_number(found[1])} ({found[0]})"
            if _is_number(value):
                gap = format_number(value - found[1])
        rows.append([metric, format_number(value), reference, gap])
    if not rows:
        return "No final metrics in results.json."
    return markdown_table(["metric", "value", "exact reference", "gap (value - reference)"], rows)


def _samples_section(run: RunFolder) -> str:
    samples = run.results.get("samples") or []
    if not samples:
        return ""
    body = f"\n{SAMPLE_SEPARATOR}\n".join(str(sample).rstrip("\n") for sample in samples)
    return f"## Samples ({len(samples)})\n\n{fenced_block(body)}"


def _config_section(run: RunFolder) -> str:
    config = run.config
    if not config:
        return ""
    # Collapsed: the full config is long, and the report's point is the metrics.
    items = "\n".join(
        f"- {inline_code(key)}: {inline_code(format_config_value(config[key]))}"
        for key in sorted(config)
    )
    return (
        f"## Config\n\n<details>\n<summary>All {len(config)} config fields</summary>\n\n"
        f"{items}\n\n</details>"
    )


# Markdown helpers shared with compare_runs.


def order_metrics(names) -> list[str]:
    """Headline metrics first, then the rest by name; Trainer's speed and progress counters
    (runtime, samples per second, FLOs, epoch) are left out: they are not results."""
    kept = [name for name in names if not is_bookkeeping_metric(name)]
    headline = [name for name in HEADLINE_METRICS if name in kept]
    return headline + sorted(name for name in kept if name not in HEADLINE_METRICS)


def is_bookkeeping_metric(name: str) -> bool:
    return name in ("epoch", "total_flos") or name.endswith(("_runtime", "_per_second"))


def markdown_table(headers: list[str], rows: list[list]) -> str:
    lines = [
        "| " + " | ".join(_cell(header) for header in headers) + " |",
        "|" + "|".join(" --- " for _ in headers) + "|",
    ]
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


def _cell(value) -> str:
    return " ".join(str(value).split()).replace("|", "\\|")


def fenced_block(text: str) -> str:
    """A code block whose fence is longer than any backtick run inside (samples are arbitrary)."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


def inline_code(text) -> str:
    text = str(text)
    fence = "``" if "`" in text else "`"
    return f"{fence} {text} {fence}" if fence == "``" else f"`{text}`"


def format_number(value) -> str:
    if value is None:
        return MISSING
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def format_count(value) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else MISSING


def format_seconds(value) -> str:
    return f"{value:.1f} s" if _is_number(value) else MISSING


def format_config_value(value) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return "null" if value is None else str(value)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
