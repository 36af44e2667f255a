"""The `latent-lab` command: one subcommand per module in latent_lab.commands, plus the verbs
each task registers (latent_lab.tasks.registry)."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import sys

from latent_lab.commands import output
from latent_lab.errors import USER_ERROR_EXIT_CODE, UserError
from latent_lab.tasks.registry import all_tasks, load

# Subcommand modules, in the order `--help` lists them.
COMMAND_MODULES = (
    "quickstart",
    "build",
    "push",
    "evaluate",
    "sample",
    "init",
    "report",
    "launch",
    "aggregate",
    "compare",
    "results",
    "probe",
)


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse prints usage and exits on a bad flag; we raise one-line UserErrors instead."""

    def error(self, message):
        raise UserError(message)


def make_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(
        prog="latent-lab",
        description="Synthetic-task experiments on small language models (Hugging Face stack).",
    )
    subparsers = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=OneLineErrorParser
    )
    for name in COMMAND_MODULES:
        importlib.import_module(f"latent_lab.commands.{name}").add_parser(subparsers)
    for task in all_tasks().values():  # task verbs, e.g. `latent-lab gssm sample`
        if task.commands:
            load(task.commands)(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = make_parser()
    real_stdout = sys.stdout
    try:
        args, extra = parser.parse_known_args(argv)
        if extra and not getattr(args, "passes_extra_flags", False):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        args.extra_flags = extra  # e.g. `evaluate`'s recipe flags
        if not getattr(args, "func", None):
            parser.print_help(sys.stderr)
            return USER_ERROR_EXIT_CODE
        output.set_stdout(real_stdout)
        # Libraries print progress on stdout (e.g. Trainer's log lines); keep stdout for
        # results so the last line is always the JSON summary.
        with contextlib.redirect_stdout(sys.stderr):
            summary = args.func(args)
    except UserError as error:
        message = " ".join(str(error).split())
        prog = f"latent-lab {argv_command(argv)}".rstrip()
        print(f"{prog}: error: {message}", file=sys.stderr, flush=True)
        return USER_ERROR_EXIT_CODE
    except KeyboardInterrupt:
        print("latent-lab: interrupted", file=sys.stderr)
        return 130
    finally:
        output.set_stdout(None)
    print(json.dumps(summary, sort_keys=True, default=str), file=real_stdout, flush=True)
    return 0


def argv_command(argv: list[str] | None) -> str:
    words = sys.argv[1:] if argv is None else argv
    return next((w for w in words if not w.startswith("-")), "")


if __name__ == "__main__":
    sys.exit(main())
