"""`embedtune serve`: every ServerSettings field is a flag.

Registering only declares arguments; the server's heavy imports (ONNX Runtime, FAISS)
happen when the command runs. A field whose metadata names an `env` variable (the home
and the keys, which then stay out of the process list) takes its default from it.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import typing


def _flag_type(hint) -> type:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if args else hint


def _default(field: dataclasses.Field) -> object:
    """The field's environment variable when set (argparse converts a string default), else its default."""
    env = field.metadata.get("env")
    return os.environ.get(env, field.default) if env else field.default


def register(subparsers: argparse._SubParsersAction) -> None:
    from embedtune_server.settings import ServerSettings, flag

    parser = subparsers.add_parser(
        "serve",
        help="run the gRPC server (embedding, search, feedback)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    hints = typing.get_type_hints(ServerSettings)
    for field in dataclasses.fields(ServerSettings):
        default = _default(field)
        kind = _flag_type(hints[field.name])
        if kind is bool:
            parser.add_argument(
                flag(field.name),
                action=argparse.BooleanOptionalAction,
                default=default,
                help=field.metadata["help"],
            )
        else:
            parser.add_argument(
                flag(field.name),
                type=kind,
                default=default,
                choices=field.metadata.get("choices"),
                help=field.metadata["help"],
            )
    parser.set_defaults(handler=_run_serve)


def _run_serve(args: argparse.Namespace) -> int:
    import asyncio
    import logging

    from embedtune_server.app import serve
    from embedtune_server.settings import ServerSettings

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    names = {f.name for f in dataclasses.fields(ServerSettings)}
    settings = ServerSettings(**{k: v for k, v in vars(args).items() if k in names})
    asyncio.run(serve(settings))
    return 0
