"""`latent-lab` subcommands, one module each.

A command module defines `add_parser(subparsers)`, which registers its subcommand and sets
`func` to a callable taking the parsed namespace and returning the JSON-able summary that the
CLI prints as the last stdout line. Human-readable progress goes to stderr; text meant for
stdout (tables) goes through `latent_lab.commands.output.emit`.
"""
