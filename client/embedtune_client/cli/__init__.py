"""The `embedtune` command.

Each installed package contributes its subcommands through a `register(subparsers)`
function in its own `cli` module: the client its remote commands, the server
`serve`, the trainer `train`, `export`, `evaluate` and `push`. Registering imports
nothing heavy, so `embedtune serve` never loads torch and the client alone gives a
working command.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

# Modules that may contribute subcommands.
_COMMAND_MODULES = ("embedtune_client.cli.commands", "embedtune_server.cli", "embedtune_trainer.cli")


# Errors that describe the user's input or environment; anything else is a bug and keeps its traceback.
_USER_ERRORS = (
    FileNotFoundError,
    NotADirectoryError,
    PermissionError,
    ValueError,
    TypeError,
    ConnectionError,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="embedtune", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    missing = []
    for module_name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if not module_name.startswith(str(exc.name)):
                raise
            missing.append(module_name.split(".")[0])
            continue
        module.register(subparsers)
    if missing:
        parser.epilog = f"Not installed: {', '.join(missing)} (pip install embedtune for every command)"
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return run(build_parser(), argv)


def run(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None) -> int:
    """Parse `argv` and run its command's handler; shared by every `python -m` entry point.

    A bad path, value or unreachable service prints one line and exits 2, without a traceback.
    """
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except _USER_ERRORS as exc:
        if os.environ.get("EMBEDTUNE_DEBUG"):
            raise
        parser.exit(2, f"{parser.prog} {args.command}: error: {exc}\n")
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
