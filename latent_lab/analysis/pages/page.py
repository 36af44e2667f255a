"""`latent-lab results page SPEC`: docs/results/<topic>.md and its figures, from the CSVs that
`results collect` wrote and nothing else. Deterministic: rows in spec order, fixed bootstrap
seed, figures without timestamps, so running it twice gives identical files."""

from __future__ import annotations

import sys

from latent_lab.analysis.pages import answer, render
from latent_lab.analysis.pages.collect import RUNS_FILE
from latent_lab.analysis.pages.csvio import read_rows
from latent_lab.analysis.pages.curves import CURVE_FILES
from latent_lab.analysis.pages.probe_rows import PROBES_FILE
from latent_lab.analysis.pages.tables import arm_table, grid_comparisons, grid_rows, measured
from latent_lab.files import write_text_atomic

INPUTS = (RUNS_FILE, *CURVE_FILES, PROBES_FILE)
CAPTIONS = {
    "excess_over_training": "Excess loss (model minus the exact optimum, nats) over training, "
    "per evaluation split: mean over runs and 95% band; the optimum is the line at 0.",
    "loss_over_training": "Loss over training, per split; dashed in the arm's colour: the exact "
    "optimum's loss on the same evaluation data.",
    "accuracy_over_training": "Accuracy over training, per split; dashed in the arm's colour: "
    "the exact optimum's accuracy on the same evaluation data.",
    "excess_by_position": "Excess loss by position in the sequence at the last evaluation, "
    "per split (positions in bins): where in a sequence the model falls short of the optimum.",
    "by_slice": "At the last evaluation, per slice of the positions: mean over runs and 95% CI.",
    "slice_over_training": "Per slice value, over training: mean over runs and 95% band; dashed: "
    "the exact optimum on that slice.",
    "comparisons": "Paired differences per pair of runs (grey), their mean with the paired-t and "
    "bootstrap 95% CIs; 0 is no difference.",
}
FRAME_NAMES = dict(zip(("training", "position", "slice"), CURVE_FILES, strict=True))


def command_line(spec, verb: str) -> str:
    """The spec's own `latent-lab results VERB` command (as the page lists it), else one."""
    for line in spec.commands:
        if line.startswith(f"latent-lab results {verb} "):
            return line
    return f"latent-lab results {verb} {spec.path.as_posix()}"


def read_frames(spec, collect_command: str) -> dict:
    """The curve CSVs as DataFrames (pair as text, like runs.csv), with `excess` added."""
    import pandas as pd

    frames = {}
    for key, name in FRAME_NAMES.items():
        path = spec.data_dir / name
        read_rows(path, collect_command)  # a missing file is one line naming the command
        frame = pd.read_csv(path, dtype={"pair": str, "arm": str, "grid": str, "value": str})
        frames[key] = frame.assign(excess=frame["model_nll"] - frame["reference_nll"])
    return frames


def grid_section(spec, grid, rows, frames, probes, staging) -> tuple[str, list[str], list[str]]:
    """(markdown, answer sentences, figure files) of one grid."""
    from latent_lab.analysis.pages.plots import draw_figure

    mine = grid_rows(rows, grid)
    names = [m.name for m in grid.metrics if measured(grid, rows, m.name)]
    tables = {name: arm_table(grid, rows, grid.metric(name)) for name in names}
    exact = {
        key: arm_table(grid, rows, grid.metric(f"reference.{key}"))
        for key in grid.exact
        if measured(grid, rows, f"reference.{key}")
    }
    comparisons = grid_comparisons(grid, rows)
    parts = [f"## {grid.title or grid.name}", render.runs_summary(grid, mine)]
    parts += ["### Per arm", render.arm_table_md(tables, grid) if tables else "No metric yet."]
    missing = [m.name for m in grid.metrics if m.name not in names]
    if missing:
        parts.append(f"Not measured in these runs: {', '.join(f'`{m}`' for m in missing)}.")
    if exact:
        parts += ["### Exact quantities", render.exact_table_md(exact)]
    if comparisons:
        parts += ["### Paired comparisons", render.comparisons_md(comparisons)]
    figures = []
    for name in grid.figures:
        path = draw_figure(name, grid, frames, comparisons, staging / f"{grid.name}_{name}.png")
        if path is not None:
            figures.append(path.name)
    if figures:
        folder = spec.figures_dir.name
        parts.append("### Figures")
        for name in figures:
            kind = name[len(grid.name) + 1 : -len(".png")]
            parts.append(f"{CAPTIONS[kind]}\n\n![{grid.name}: {kind}]({folder}/{name})")
    probe_text = render.probes_md(grid, [p for p in probes if p["grid"] == grid.name])
    if probe_text:
        parts += ["### Probes", probe_text]
    sentences = grid_answer(grid, tables, exact, comparisons)
    return "\n\n".join(parts), sentences, figures


def grid_answer(grid, tables: dict, exact: dict, comparisons: list[dict]) -> list[str]:
    if not tables:
        return ["No finished run of this grid yet: no answer."]
    sentences = []
    if tables:
        first = next(iter(tables))
        sentences.append(answer.headline_sentence(grid.metric(first), tables[first]))
    sentences += [answer.exact_sentence(key, rows) for key, rows in exact.items()]
    sentences += [answer.comparison_sentence(c) for c in comparisons]
    caution = answer.caution(grid, tables)
    return sentences + ([caution] if caution else [])


def make_page(spec) -> dict:
    from latent_lab.files import staged_dir

    collect_command = command_line(spec, "collect")
    page_command = command_line(spec, "page")
    rows = read_rows(spec.data_dir / RUNS_FILE, collect_command)
    probes = read_rows(spec.data_dir / PROBES_FILE, collect_command)
    frames = read_frames(spec, collect_command)
    sections, answers, figures = [], [], []
    with staged_dir(spec.figures_dir) as staging:
        for grid in spec.grids:
            text, sentences, drawn = grid_section(spec, grid, rows, frames, probes, staging)
            sections.append(text)
            answers.append((grid.title or grid.name, sentences))
            figures += drawn
    markdown = compose(spec, page_command, collect_command, sections, answers)
    write_text_atomic(spec.page_path, markdown)
    print(
        f"wrote {spec.page_path} and {len(figures)} figures in {spec.figures_dir}", file=sys.stderr
    )
    return {
        "page": str(spec.page_path),
        "figures": [str(spec.figures_dir / f) for f in figures],
        "inputs": [str(spec.data_dir / name) for name in INPUTS],
        "answer": [s for _, part in answers for s in part],
    }


def compose(spec, page_command: str, collect_command: str, sections, answers) -> str:
    commands = "\n".join(spec.commands)
    parts = [
        f"# {spec.title}",
        render.generated_note(spec, page_command, collect_command, list(INPUTS)),
        "## Question",
        " ".join(spec.question.split()),
        "## Answer",
        "Generated from the tables below by fixed rules (analysis/pages/answer.py).",
    ]
    for title, sentences in answers:
        parts.append(f"**{title}**\n\n" + "\n".join(f"- {s}" for s in sentences))
    parts += [
        f"**Scale.** {' '.join(spec.scale.split())}",
        "## Commands",
        f"```bash\n{commands}\n```",
        *sections,
    ]
    return "\n\n".join(parts) + "\n"
