"""What every remote subcommand shares: connection flags, the client, one-line errors, JSON lines."""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from collections.abc import Callable

from embedtune_client.client import Client
from embedtune_client.errors import EmbedtuneError

DEFAULT_TARGET = "127.0.0.1:50051"
Handler = Callable[[argparse.Namespace], int]


def connection_flags() -> argparse.ArgumentParser:
    """A parent parser with --target, --api-key, --admin-key, --tls and --timeout."""
    parser = argparse.ArgumentParser(add_help=False)
    group = parser.add_argument_group("connection")
    group.add_argument("--target", help=f"server host:port (env EMBEDTUNE_TARGET, default {DEFAULT_TARGET})")
    group.add_argument("--api-key", help="api key (env EMBEDTUNE_API_KEY)")
    group.add_argument("--admin-key", help="admin key for writes, jobs and models (env EMBEDTUNE_ADMIN_KEY)")
    group.add_argument(
        "--tls",
        nargs="?",
        const=True,
        default=False,
        metavar="CA_FILE",
        help="use TLS; give the root certificate file for a self-signed server",
    )
    group.add_argument("--timeout", type=float, default=30.0, help="seconds per call (default 30)")
    return parser


def client(args: argparse.Namespace) -> Client:
    return Client(
        target=args.target or os.environ.get("EMBEDTUNE_TARGET") or DEFAULT_TARGET,
        api_key=args.api_key or os.environ.get("EMBEDTUNE_API_KEY") or None,
        admin_key=args.admin_key or os.environ.get("EMBEDTUNE_ADMIN_KEY") or None,
        tls=args.tls,
        timeout=args.timeout,
    )


def one_line_errors(handler: Handler) -> Handler:
    """Turn expected failures into one line on stderr and a non-zero exit code."""

    @functools.wraps(handler)
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except (EmbedtuneError, ValueError, TypeError, OSError) as exc:
            if os.environ.get("EMBEDTUNE_DEBUG"):
                raise
            print(f"embedtune {args.command}: error: {exc}", file=sys.stderr)
            return 1 if isinstance(exc, EmbedtuneError) else 2

    return run


def print_json(value: object) -> None:
    print(json.dumps(value, ensure_ascii=False))
