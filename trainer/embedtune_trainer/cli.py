"""The trainer's subcommands of `embedtune`: export, train, evaluate, push.

`register` only declares arguments; each handler imports torch and friends when it
runs, so listing the commands (or running `embedtune serve`) stays light.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    _register_export(subparsers)


def _register_export(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export",
        help="export a model folder to ONNX (onnx/model.onnx, and onnx/model_qint8.onnx with --quantize)",
    )
    parser.add_argument("--model", required=True, help="model folder, Hub id, or 'default' (bundled)")
    parser.add_argument(
        "--output",
        type=Path,
        help="save the model folder here first and export into it (default: export in place)",
    )
    parser.add_argument("--quantize", action="store_true", help="also write the dynamic int8 model")
    parser.set_defaults(handler=_run_export)


def _run_export(args: argparse.Namespace) -> int:
    from embedtune_trainer.export import export_model_folder

    written = export_model_folder(args.model, output=args.output, quantize=args.quantize)
    for path in written:
        print(path)
    return 0
