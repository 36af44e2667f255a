"""`latent-lab gssm sample|difficulty`: sample sequences with their exact Bayes reference; measure
how hard a graph is across alphas and solve for equivalent (alpha_X, alpha_Z) pairs.

--config takes a graph YAML (the seeds' notation, alpha_X / alpha_Z inside), a gssm builder
config name (experiment1, ...), a shipped graph name (experiment2_dense, ...), a YAML of builder
fields (`graph:` plus alpha_X, alpha_Z, graph_seed, ...), or, for difficulty, a settings YAML
(`graph:` one graph or a list, plus grid, graph_seeds, ... as the flags below); names also
resolve in recipes/configs/gssm/ (`--config experiment1`). Flags override the file.
The graph seed (which fixes the kernels) is --graph-seed, else the config's graph_seed, else 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from latent_lab.errors import UserError
from latent_lab.files import check_output_path

TRAIN_SPLIT = 0  # config.SPLIT_KEYS: `sample --seed S` = the train split of data_seed S


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("gssm", help="GSSM tools: sample, difficulty")
    parser.set_defaults(func=_no_action)
    actions = parser.add_subparsers(dest="gssm_action", metavar="ACTION",
                                    parser_class=type(parser))  # fmt: skip
    sample = actions.add_parser("sample", help="sequences, kernels and exact bayes_nll to .npz")
    _add_graph_arguments(sample)
    sample.add_argument("--num-sequences", type=int, required=True)
    sample.add_argument("--seq-len", type=int, help="default: the config's seq_len")
    sample.add_argument("--seed", type=int, default=0, help="data seed (default 0)")
    sample.add_argument("--output", required=True, help="FILE.npz")
    sample.set_defaults(func=run_sample)
    difficulty = actions.add_parser("difficulty", help="difficulty grid and equivalent pairs")
    difficulty.add_argument("--config", help="graph, builder config or difficulty settings")
    difficulty.add_argument("--grid", help="MIN,MAX,POINTS of the log grid (default 1e-3,1,9)")
    difficulty.add_argument("--graph-seeds", help="a count N (seeds 0..N-1) or a list 0,3,7")
    difficulty.add_argument("--num-sequences", type=int, help="per graph seed (default 48)")
    difficulty.add_argument("--seq-len", type=int, help="default 512")
    difficulty.add_argument("--data-seed", type=int, help="default 0")
    difficulty.add_argument("--measure", help="bayes_entropy_rate (default) | compression_rate")
    difficulty.add_argument("--target", type=float, help="difficulty to match")
    difficulty.add_argument("--reference", help="AX,AZ: match the difficulty of this pair")
    difficulty.add_argument("--small-alpha", type=float, help="the small alpha (default 1e-3)")
    tolerance = "largest standard error across graph seeds of a solved pair (default 0.005)"
    difficulty.add_argument("--tolerance", type=float, help=tolerance)
    difficulty.add_argument("--max-graph-seeds", type=int, help="at most this many (default 48)")
    difficulty.add_argument("--shard", help="I/N: measure only shard I of N (0 <= I < N)")
    difficulty.add_argument("--merge", metavar="DIR", help="join DIR's shards, then plot/solve")
    difficulty.add_argument("--output-dir", help="default runs/gssm_difficulty/<config>")
    difficulty.set_defaults(func=run_difficulty)


def _add_graph_arguments(parser) -> None:
    parser.add_argument("--config", required=True, help="graph YAML, builder config or fields")
    parser.add_argument("--alpha-X", dest="alpha_X", type=float, help="default alpha of X")
    parser.add_argument("--alpha-Z", dest="alpha_Z", type=float, help="default alpha of latents")
    parser.add_argument("--graph-seed", type=int, help="fixes the kernels (default: config or 0)")


def run_difficulty(args) -> dict:
    from latent_lab.tasks.gssm.difficulty_command import run_difficulty as run

    return run(args)


def _no_action(args) -> dict:
    raise UserError("gssm: choose an action: `latent-lab gssm sample ...` or `... difficulty ...`")


# ------------------------------------------------------------------ configs


def load_config(value: str, folder: str) -> tuple[str, dict, Path | None, bool]:
    """(name, mapping, folder for relative graph paths, is a builder config name). A name looks
    in recipes/<folder>/gssm/ first (difficulty settings, data fields), then the builder configs
    and the shipped graphs. A wrong name is answered without importing `datasets` or numba."""
    from latent_lab.config import load_yaml, recipes_dir
    from latent_lab.tasks.builders import config_names, field_names
    from latent_lab.tasks.gssm import GRAPHS_DIR

    path = Path(value)
    if path.is_file():
        return path.stem, load_yaml(path), path.parent, False
    settings = recipes_dir() / folder / "gssm"
    for candidate in (settings / value, settings / f"{value}.yaml"):
        if candidate.is_file():
            return value.removesuffix(".yaml"), load_yaml(candidate), candidate.parent, False
    builders = config_names("gssm")
    if value in builders:
        from latent_lab.tasks.builders import builder_class

        config = next(c for c in builder_class("gssm").BUILDER_CONFIGS if c.name == value)
        return value, {name: getattr(config, name) for name in field_names("gssm")}, None, True
    if (GRAPHS_DIR / f"{value}.yaml").is_file():
        return value, load_yaml(GRAPHS_DIR / f"{value}.yaml"), GRAPHS_DIR, False
    named = sorted(p.stem for p in settings.glob("*.yaml"))
    graphs = sorted(p.stem for p in GRAPHS_DIR.glob("*.yaml"))
    raise UserError(
        f"--config: {value!r} is not a file, a name in recipes/{folder}/gssm/ "
        f"({', '.join(named) or 'none'}), a gssm builder config ({', '.join(builders)}) or a "
        f"shipped graph ({', '.join(graphs)}); check the path"
    )


def split_config(name: str, data: dict, base: Path | None, allowed) -> tuple[list, dict]:
    """[(graph name, graph mapping)] and the other fields of a config mapping."""
    if "gssm" in data:
        return [(name, data)], {}
    if "graph" not in data:
        raise UserError(f"--config {name}: expected a graph (a `gssm:` list of nodes) or "
                        "fields naming one with `graph:`")  # fmt: skip
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise UserError(f"--config {name}: unknown field {unknown[0]!r}; "
                        f"expected some of {', '.join(sorted(allowed))}")  # fmt: skip
    values = data["graph"] if isinstance(data["graph"], list) else [data["graph"]]
    graphs = [_graph_spec(value, base, index) for index, value in enumerate(values)]
    names = [graph_name for graph_name, _ in graphs]
    if len(set(names)) != len(names):
        raise UserError(f"--config {name}: graph lists {names}: a graph twice; list each once")
    return graphs, {key: value for key, value in data.items() if key != "graph"}


def _graph_spec(value, base: Path | None, index: int) -> tuple[str, dict]:
    from latent_lab.config import load_yaml
    from latent_lab.tasks.gssm.config import graph_source

    if isinstance(value, Mapping):
        return f"graph{index}", dict(value)
    if not isinstance(value, str):
        raise UserError(f"graph: expected a graph name, a YAML path or a mapping, got {value!r}")
    path = graph_source(value)
    if not path.is_file() and base is not None and (base / value).is_file():
        path = base / value
    if not path.is_file():
        raise UserError(f"graph: {value!r} is neither a shipped graph nor a file; fix the path")
    spec = load_yaml(path)
    if "gssm" not in spec:
        raise UserError(f"graph: {path} has no `gssm:` list of nodes")
    return path.stem, spec


def _first(*values):
    return next((value for value in values if value is not None), None)


# ------------------------------------------------------------------ sample


def run_sample(args) -> dict:
    from latent_lab.tasks.builders import field_names

    flags = {"--num-sequences": args.num_sequences, "--seq-len": args.seq_len}
    flags.update({"--seed": args.seed, "--graph-seed": args.graph_seed})
    _check_sample_numbers(flags, required=False)  # before reading any config
    check_output_path(args.output, "--output", folder=False)
    name, data, base, _ = load_config(args.config, "data")
    graphs, fields = split_config(name, data, base, field_names("gssm"))
    if len(graphs) != 1 or fields.get("context"):
        raise UserError("--config: sample takes one graph with fixed kernels (context: false)")
    graph_name, spec = graphs[0]
    graph_seed = _first(args.graph_seed, fields.get("graph_seed"), 0)
    seq_len = _first(args.seq_len, fields.get("seq_len"))
    _check_sample_numbers({**flags, "--seq-len": seq_len, "--graph-seed": graph_seed}, True)

    import numpy as np  # after the checks above, so a mistake is answered at once

    from latent_lab.tasks.gssm.filter import check_tractable
    from latent_lab.tasks.gssm.model import GSSM, bayes_entropy_rate, parse_graph, rng_key

    graph = parse_graph(spec, _first(args.alpha_X, fields.get("alpha_X")),
                        _first(args.alpha_Z, fields.get("alpha_Z")),
                        source=f"--config {graph_name}")  # fmt: skip
    check_tractable(graph, f"--config {graph_name}")  # bayes_nll needs the exact filter
    model = GSSM.from_seed(graph, int(graph_seed))
    tokens = model.sample(args.num_sequences, seq_len, rng_key(args.seed, TRAIN_SPLIT))
    bayes = model.bayes(tokens)
    arrays = {"tokens": tokens, **model.kernel_arrays(), "bayes_nll": bayes.bayes_nll}
    output = _save_npz_atomic(args.output, arrays)
    return {
        "output": str(output), "num_sequences": args.num_sequences, "seq_len": seq_len,
        "vocab_size": graph.vocab_size, "graph": graph_name, "graph_seed": int(graph_seed),
        "seed": args.seed, "node_order": list(graph.node_order),
        "alphas": {node.name: node.alpha for node in graph.nodes},
        "bayes_loss": bayes.bayes_loss, "bayes_accuracy": bayes.bayes_accuracy(tokens),
        "bayes_entropy_rate": bayes_entropy_rate(bayes.bayes_loss, graph.vocab_size),
        "keys": sorted(arrays), "shapes": {k: list(np.shape(v)) for k, v in arrays.items()},
    }  # fmt: skip


def _check_sample_numbers(values: dict, required: bool) -> None:
    """Counts >= 1 and seeds >= 0; None is a value not given (an error once `required`)."""
    for flag, value in values.items():
        minimum = 0 if flag.endswith("seed") else 1
        if (value is None and required) or (value is not None and value < minimum):
            raise UserError(f"{flag}: expected an integer >= {minimum}, got {value}")


def _save_npz_atomic(output: str, arrays: dict) -> Path:
    import io

    import numpy as np

    from latent_lab.files import write_bytes_atomic

    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return write_bytes_atomic(output, buffer.getvalue())
