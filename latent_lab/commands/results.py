"""`latent-lab results collect|page`: the results pages, docs/results/<topic>.md.

collect SPEC [RUNS_DIR...]: read the finished runs of the spec's grids (default: each grid's
`runs` folder; a RUNS_DIR is matched to the grid whose runs folder has its name) into the small
CSVs of docs/results/data/<topic>/. page SPEC: write docs/results/<topic>.md and its figures in
docs/results/<topic>/ from those CSVs alone. The spec (docs/results/<topic>.yaml) names the
question, the grids, arms, metrics, paired comparisons and figures."""

from __future__ import annotations

from latent_lab.errors import UserError


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "results",
        help="results pages: collect runs into CSVs, then generate the page from them",
        description=__doc__.split("\n\n", 1)[1],
    )
    parser.set_defaults(func=no_action)
    actions = parser.add_subparsers(
        dest="results_action", metavar="ACTION", parser_class=type(parser)
    )
    collect = actions.add_parser("collect", help="finished runs -> docs/results/data/<topic>/")
    collect.add_argument("spec", metavar="SPEC", help="docs/results/<topic>.yaml")
    collect.add_argument("dirs", nargs="*", metavar="RUNS_DIR", help="grid output folders")
    collect.set_defaults(func=collect_command)
    page = actions.add_parser("page", help="docs/results/<topic>.md from the collected CSVs")
    page.add_argument("spec", metavar="SPEC", help="docs/results/<topic>.yaml")
    page.set_defaults(func=page_command)


def no_action(args) -> dict:
    raise UserError("give an action: collect SPEC [RUNS_DIR...] or page SPEC")


def collect_command(args) -> dict:
    from latent_lab.analysis.pages.collect import collect
    from latent_lab.analysis.pages.spec import load_spec
    from latent_lab.files import check_output_path

    spec = load_spec(args.spec)
    check_output_path(spec.data_dir, "SPEC (its data folder)")
    summary = collect(spec, args.dirs)
    return {"spec": str(spec.path), **summary}


def page_command(args) -> dict:
    from latent_lab.analysis.pages.page import make_page
    from latent_lab.analysis.pages.spec import load_spec
    from latent_lab.files import check_output_path

    spec = load_spec(args.spec)
    check_output_path(spec.figures_dir, "SPEC (its figures folder)")
    check_output_path(spec.page_path, "SPEC (its page)", folder=False)
    return {"spec": str(spec.path), **make_page(spec)}
