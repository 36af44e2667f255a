"""`latent-lab export nanogpt`: a char stream as nanoGPT's meta.pkl / train.bin / val.bin."""

from __future__ import annotations

from latent_lab.commands.build import add_dataset_arguments, make, prepare


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("export", help="export a dataset for another codebase")
    formats = parser.add_subparsers(dest="format", metavar="FORMAT", required=True)
    nanogpt = formats.add_parser("nanogpt", help="char stream -> nanoGPT data folder")
    add_dataset_arguments(nanogpt)
    nanogpt.add_argument("--output-dir", required=True, help="folder for meta.pkl, *.bin")
    nanogpt.set_defaults(func=run_nanogpt)


def run_nanogpt(args) -> dict:
    from latent_lab.files import check_output_path

    builder = make("char_stream", args.config, args.set)
    check_output_path(args.output_dir, "--output-dir")  # before any data is made
    builder, dataset = prepare(builder)

    from latent_lab.tasks.char_stream.nanogpt_export import export_nanogpt

    summary = export_nanogpt(dataset, args.output_dir)
    return {"format": "nanogpt", "config_name": builder.config.name, **summary}
