"""`python -m embedtune_server serve ...`: the server's command without the client's CLI."""

import argparse
import sys

from embedtune_server.cli import register


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m embedtune_server")
    register(parser.add_subparsers(dest="command", metavar="COMMAND", required=True))
    args = parser.parse_args()
    return int(args.handler(args) or 0)


sys.exit(main())
