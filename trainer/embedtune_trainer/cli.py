"""The trainer's subcommands of `embedtune`: export, train, evaluate, push, bench, and the two
the server runs as child processes: losses (`--json`) and feedback-train.

`register` only declares arguments; each handler imports torch and friends when it
runs, so listing the commands (or running `embedtune serve`) stays light.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from embedtune_trainer.data import DataShape


def register(subparsers: argparse._SubParsersAction) -> None:
    _register_export(subparsers)
    _register_train(subparsers)
    _register_evaluate(subparsers)
    _register_push(subparsers)
    _register_losses(subparsers)
    _register_feedback_train(subparsers)
    _register_bench(subparsers)


def _register_export(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export",
        help="export a model folder to ONNX (onnx/model.onnx, and onnx/model_qint8.onnx with --quantize)",
        description="A cross-encoder folder (sentence-transformers CrossEncoder format) is detected and "
        "exported with a `logits` output, and its facts (num_labels, activation, max_seq_length) are "
        "written to embedtune.json; any other model exports as a sentence encoder.",
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


def _register_train(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="fine-tune an encoder (or with --cross-encoder a cross-encoder); write a model version folder",
    )
    parser.add_argument("--data", required=True, help="CSV/TSV/JSON/JSONL/Parquet file or Hub dataset id")
    parser.add_argument("--output", required=True, type=Path, help="the model version folder to write")
    parser.add_argument("--loss", help="loss name (default: the tutorial's loss for the data's shape)")
    parser.add_argument(
        "--loss-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a loss hyperparameter, e.g. margin=0.5 (repeatable)",
    )
    parser.add_argument("--base", default="default", help="'default' (bundled), a model folder or a Hub id")
    parser.add_argument(
        "--cross-encoder",
        action="store_true",
        help="train a cross-encoder scoring (text1, text2) pairs: --base is a cross-encoder folder, or a "
        "transformer ('default': the bundled MiniLM) that gets a new head; labelled pairs train as they "
        "are, triplets as a positive (1) and a negative (0) pair",
    )
    parser.add_argument(
        "--shape",
        help="1/labeled_pair, 2/positive_pair, 3/labeled_text, 4/triplet (default: detect from the columns)",
    )
    parser.add_argument(
        "--columns", help="names for the fields of a headerless CSV/TSV, e.g. text1,text2,label"
    )
    parser.add_argument("--split", default="train", help="split of a Hub dataset (default: train)")
    parser.add_argument(
        "--nested",
        choices=["first", "all"],
        default="first",
        help="{query, pos: [...], neg: [...]} rows: first pair only, or every combination",
    )
    parser.add_argument("--label-scale", type=float, help="divide labels by this (e.g. 5 for 0-5 STS scores)")
    parser.add_argument("--limit", type=int, help="use only the first N examples")
    parser.add_argument("--eval-data", help="held-out data: evaluated before, during and after training")
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--max-steps", type=int, default=-1, help="stop after N steps (overrides --epochs)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=2e-5, help="peak learning rate")
    parser.add_argument("--warmup-ratio", type=float, default=0.1, help="share of steps for linear warm-up")
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--gradient-accumulation", type=int, default=1)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--batching", choices=["auto", "random", "length", "no-duplicates"], default="auto")
    parser.add_argument("--matryoshka-dims", help="also train these prefix sizes, e.g. 384,256,128,64")
    parser.add_argument(
        "--mine-hard-negatives",
        action="store_true",
        help="(anchor, positive) data: add a negative mined from the base encoder's top-k",
    )
    parser.add_argument("--mining-top-k", type=int, default=10)
    parser.add_argument(
        "--mining-margin",
        type=float,
        default=0.05,
        help="skip candidates scoring within this of the positive",
    )
    parser.add_argument("--save-steps", type=int, help="checkpoint every N steps (default: every epoch)")
    parser.add_argument("--eval-steps", type=int, help="evaluate every N steps (default: every epoch)")
    parser.add_argument(
        "--resume",
        nargs="?",
        const=True,
        default=False,
        metavar="CHECKPOINT",
        help="continue from the latest checkpoint in OUTPUT/checkpoints (or the one given)",
    )
    parser.add_argument("--keep-checkpoints", action="store_true")
    parser.add_argument("--no-export", action="store_true", help="skip the ONNX export")
    parser.add_argument("--parent", help="the version this one continues (recorded in embedtune.json)")
    parser.add_argument("--fp16", action="store_true")
    parser.add_argument("--bf16", action="store_true")
    parser.set_defaults(handler=_run_train)


def _run_train(args: argparse.Namespace) -> int:
    from embedtune_trainer.data import DataError, DataSettings, NestedExpansion
    from embedtune_trainer.training import Batching, MiningSettings, TrainSettings, train
    from embedtune_trainer.training.summary import format_summary

    try:
        settings = TrainSettings(
            data=args.data,
            output=args.output,
            loss=args.loss,
            loss_options=_key_values(args.loss_option),
            base=args.base,
            cross_encoder=args.cross_encoder,
            data_settings=DataSettings(
                shape=_shape(args.shape),
                split=args.split,
                columns=_names(args.columns),
                nested=NestedExpansion(args.nested),
                label_scale=args.label_scale,
                limit=args.limit,
            ),
            eval_data=args.eval_data,
            epochs=args.epochs,
            max_steps=args.max_steps,
            batch_size=args.batch_size,
            learning_rate=args.lr,
            warmup_ratio=args.warmup_ratio,
            weight_decay=args.weight_decay,
            gradient_accumulation=args.gradient_accumulation,
            seed=args.seed,
            batching=Batching(args.batching),
            matryoshka_dims=[int(d) for d in _names(args.matryoshka_dims) or []] or None,
            mining=MiningSettings(top_k=args.mining_top_k, margin=args.mining_margin)
            if args.mine_hard_negatives
            else None,
            save_steps=args.save_steps,
            eval_steps=args.eval_steps,
            resume=args.resume,
            keep_checkpoints=args.keep_checkpoints,
            export_onnx=not args.no_export,
            parent=args.parent,
            fp16=args.fp16,
            bf16=args.bf16,
        )
        result = train(settings)
    except (DataError, ValueError) as exc:  # TrainingError is a ValueError
        print(f"embedtune train: error: {exc}", file=sys.stderr)
        return 2
    print(format_summary(result))
    return 0


def _register_evaluate(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("evaluate", help="score a model on STS, triplet, pair or retrieval data")
    parser.add_argument("--model", required=True, help="model folder, Hub id, or 'default' (bundled)")
    parser.add_argument("--sts", type=Path, help="pairs with a similarity score: Spearman/Pearson of cosine")
    parser.add_argument("--triplets", type=Path, help="(anchor, positive, negative): triplet accuracy")
    parser.add_argument(
        "--binary", type=Path, help="pairs labelled 0/1: accuracy, F1, AP at the best threshold"
    )
    parser.add_argument(
        "--ir",
        nargs=3,
        type=Path,
        metavar=("CORPUS", "QUERIES", "QRELS"),
        help="BEIR layout: MRR@10, NDCG@10, Recall@1/5/10, MAP@100",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.set_defaults(handler=_run_evaluate)


def _run_evaluate(args: argparse.Namespace) -> int:
    from embedtune_trainer.data import DataError
    from embedtune_trainer.encoder import SentenceEncoder
    from embedtune_trainer.evaluation import loading
    from embedtune_trainer.evaluation.report import format_table, write_json

    try:
        evaluators = []
        if args.sts:
            evaluators.append(loading.sts_evaluator(args.sts))
        if args.triplets:
            evaluators.append(loading.triplet_evaluator(args.triplets))
        if args.binary:
            evaluators.append(loading.binary_evaluator(args.binary))
        if args.ir:
            evaluators.append(loading.retrieval_evaluator(*args.ir))
        if not evaluators:
            print("embedtune evaluate: error: give --sts, --triplets, --binary or --ir", file=sys.stderr)
            return 2
        encoder = SentenceEncoder.load(args.model)
        results = {}
        for evaluator in evaluators:
            evaluator.batch_size = args.batch_size
            results[evaluator.name] = evaluator(encoder)
    except (DataError, ValueError, FileNotFoundError) as exc:
        print(f"embedtune evaluate: error: {exc}", file=sys.stderr)
        return 2
    print(format_table(str(args.model), results))
    if args.json:
        write_json(args.json, str(args.model), results)
    return 0


def _register_push(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("push", help="upload a model folder to the Hugging Face Hub")
    parser.add_argument("--model", required=True, type=Path, help="the model folder to upload")
    parser.add_argument("--repo-id", required=True, help="user-or-org/name on the Hub")
    parser.add_argument("--private", action="store_true")
    parser.add_argument("--token", help="Hub token (default: HF_TOKEN or the saved login)")
    parser.add_argument("--train-datasets", help="datasets to list on the model card, comma-separated")
    parser.set_defaults(handler=_run_push)


def _run_push(args: argparse.Namespace) -> int:
    from embedtune_trainer.hub import PushError, PushSettings, push_model

    settings = PushSettings(
        folder=args.model,
        repo_id=args.repo_id,
        private=args.private,
        token=args.token,
        train_datasets=_names(args.train_datasets),
    )
    try:
        url = push_model(settings)
    except PushError as exc:
        print(f"embedtune push: error: {exc}", file=sys.stderr)
        return 2
    print(f"pushed {args.model} to {url}")
    return 0


def _register_losses(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "losses", help="the loss names, and the losses that fit each kind of feedback"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object (what the server reads)")
    parser.set_defaults(handler=_run_losses)


def _run_losses(args: argparse.Namespace) -> int:
    import json

    from embedtune_trainer.feedback.catalog import loss_catalog

    catalog = loss_catalog()
    if args.json:
        print(json.dumps(catalog))
        return 0
    for kind, label_kinds in catalog["kinds"].items():
        for label_kind, losses in label_kinds.items():
            print(f"{kind} (label: {label_kind}): default {losses['default']}")
            print(f"    fitting: {', '.join(losses['fitting'])}")
    return 0


def _register_feedback_train(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "feedback-train",
        help="(run by the server) fine-tune a version on a feedback snapshot, gate it, write the new version",
        description="Progress and the result are JSON lines on stdout; everything else goes to stderr.",
    )
    parser.add_argument("--feedback", required=True, type=Path, help="the snapshot, JSON lines")
    parser.add_argument("--base", required=True, help="the model version folder to fine-tune")
    parser.add_argument("--reference", required=True, help="the version the gate compares against")
    parser.add_argument("--output", required=True, type=Path, help="the folder to write (absent or empty)")
    parser.add_argument("--version", required=True, help="the new version's name (embedtune.json)")
    parser.add_argument("--parent", required=True, help="the version it continues (embedtune.json)")
    parser.add_argument(
        "--options",
        required=True,
        help='JSON: {"losses": {kind: loss}, "epochs", "batch_size", "learning_rate", '
        '"held_out_fraction", "gate_margin", "seed", "max_seq_length"}, every key present',
    )
    parser.add_argument("--threads", type=_positive_int, help="torch threads (default: all cores)")
    parser.set_defaults(handler=_run_feedback_train)


def _run_feedback_train(args: argparse.Namespace) -> int:
    import contextlib

    from embedtune_trainer.data import DataError
    from embedtune_trainer.feedback.events import EventStream
    from embedtune_trainer.feedback.job import FeedbackJob, run_feedback_job
    from embedtune_trainer.feedback.options import FeedbackOptions
    from embedtune_trainer.st_format import ModelNotFoundError
    from embedtune_trainer.training import TrainingError

    events = EventStream(sys.stdout)  # the only writer to stdout: the server parses every line
    try:
        job = FeedbackJob(
            feedback=args.feedback,
            base=args.base,
            reference=args.reference,
            output=args.output,
            version=args.version,
            parent=args.parent,
            options=FeedbackOptions.from_json(args.options),
            threads=args.threads,
        )
        with contextlib.redirect_stdout(sys.stderr):
            run_feedback_job(job, events)
    except (DataError, TrainingError, ModelNotFoundError) as exc:
        message = " ".join(str(exc).split())
        print(f"embedtune feedback-train: error: {message}", file=sys.stderr)
        return 2
    return 0


def _register_bench(subparsers: argparse._SubParsersAction) -> None:
    from embedtune_trainer.bench import pairs_command

    parser = subparsers.add_parser("bench", help="experiments timed on this machine with your models")
    experiments = parser.add_subparsers(dest="experiment", metavar="EXPERIMENT", required=True)
    pairs_command.register(experiments)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _names(text: str | None) -> list[str] | None:
    return [part.strip() for part in text.split(",") if part.strip()] if text else None


def _key_values(pairs: list[str]) -> dict[str, object]:
    """KEY=VALUE strings to a dict; values that parse as JSON (numbers, true, lists) are parsed."""
    import json

    options: dict[str, object] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"embedtune train: error: --loss-option wants KEY=VALUE, got {pair!r}")
        try:
            options[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            options[key.strip()] = value
    return options


def _shape(text: str | None) -> DataShape | None:
    if text is None:
        return None
    from embedtune_trainer.data import DataShape

    key = text.strip().lower().replace("-", "_")
    for shape in DataShape:
        if key in (str(shape.value), shape.name.lower()):
            return shape
    choices = ", ".join(f"{s.value}/{s.name.lower()}" for s in DataShape)
    raise SystemExit(f"embedtune train: error: unknown --shape {text!r}; choose one of {choices}")
