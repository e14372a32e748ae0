"""`embedtune serve`: every ServerSettings field is a flag.

Registering only declares arguments; the server's heavy imports (ONNX Runtime, FAISS)
happen when the command runs. A field whose metadata names an `env` variable (the home
and the keys, which then stay out of the process list) takes its default from it when the
command runs; help names the variable, never its value.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import typing

if typing.TYPE_CHECKING:
    from embedtune_server.settings import ServerSettings


def _flag_type(hint) -> type:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if args else hint


def settings_from(args: argparse.Namespace) -> ServerSettings:
    """The settings `serve` runs with: the flags given, else each field's environment variable
    when set, else its default."""
    from embedtune_server.settings import ServerSettings

    hints = typing.get_type_hints(ServerSettings)
    values = {}
    for field in dataclasses.fields(ServerSettings):
        env = field.metadata.get("env")
        if hasattr(args, field.name):
            values[field.name] = getattr(args, field.name)
        elif env and env in os.environ:
            values[field.name] = _flag_type(hints[field.name])(os.environ[env])
    return ServerSettings(**values)


def register(subparsers: argparse._SubParsersAction) -> None:
    from embedtune_server.settings import ServerSettings, flag

    parser = subparsers.add_parser(
        "serve",
        help="run the gRPC server (embedding, search, feedback)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    hints = typing.get_type_hints(ServerSettings)
    for field in dataclasses.fields(ServerSettings):
        kind = _flag_type(hints[field.name])
        env = field.metadata.get("env")
        # A flag with an environment variable is left out of the namespace when not given
        # (SUPPRESS), so the variable is read at run time and its value never shows in help.
        default = argparse.SUPPRESS if env else field.default
        help_text = (
            f"{field.metadata['help']} (default: ${env}, else {field.default})"
            if env
            else field.metadata["help"]
        )
        if kind is bool:
            parser.add_argument(
                flag(field.name), action=argparse.BooleanOptionalAction, default=default, help=help_text
            )
        else:
            parser.add_argument(
                flag(field.name),
                type=kind,
                default=default,
                choices=field.metadata.get("choices"),
                help=help_text,
            )
    parser.set_defaults(handler=_run_serve)


def _run_serve(args: argparse.Namespace) -> int:
    import asyncio
    import logging

    from embedtune_server.app import serve

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = settings_from(args)
    asyncio.run(serve(settings))
    return 0
