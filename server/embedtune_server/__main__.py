"""`python -m embedtune_server serve ...`: the server's command without the client's CLI."""

import argparse
import sys

from embedtune_client.cli import run
from embedtune_server.cli import register

parser = argparse.ArgumentParser(prog="python -m embedtune_server")
register(parser.add_subparsers(dest="command", metavar="COMMAND", required=True))
sys.exit(run(parser))
