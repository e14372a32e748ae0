"""`python -m embedtune_trainer COMMAND`: the trainer's commands without the client installed."""

import argparse
import sys

from embedtune_trainer.cli import register


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m embedtune_trainer")
    register(parser.add_subparsers(dest="command", metavar="COMMAND", required=True))
    args = parser.parse_args()
    return int(args.handler(args) or 0)


sys.exit(main())
