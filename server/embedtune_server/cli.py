"""`embedtune serve`: every ServerSettings field is a flag.

Registering only declares arguments; the server's heavy imports (ONNX Runtime, FAISS)
happen when the command runs. API keys may also come from EMBEDTUNE_API_KEY and
EMBEDTUNE_ADMIN_KEY so they stay out of the process list.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import typing
from pathlib import Path


def _flag_type(hint) -> type:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if args else hint


def _defaults() -> dict[str, object]:
    return {
        "home": Path(os.environ.get("EMBEDTUNE_HOME", "embedtune-home")),
        "api_key": os.environ.get("EMBEDTUNE_API_KEY"),
        "admin_key": os.environ.get("EMBEDTUNE_ADMIN_KEY"),
    }


def register(subparsers: argparse._SubParsersAction) -> None:
    from embedtune_server.settings import ServerSettings

    parser = subparsers.add_parser(
        "serve",
        help="run the gRPC server (embedding, search, feedback)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    hints = typing.get_type_hints(ServerSettings)
    overrides = _defaults()
    for field in dataclasses.fields(ServerSettings):
        flag = "--" + field.name.replace("_", "-")
        default = overrides.get(field.name, field.default)
        kind = _flag_type(hints[field.name])
        if kind is bool:
            parser.add_argument(
                flag, action=argparse.BooleanOptionalAction, default=default, help=field.metadata["help"]
            )
        else:
            parser.add_argument(
                flag,
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
