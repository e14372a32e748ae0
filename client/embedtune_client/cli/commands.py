"""The client's subcommands of `embedtune`: index, search, rerank, embed, info, health, feedback
(and jobs, models from cli/jobs.py).

Each talks to a running server through `Client`. Failures print one line naming
what went wrong (the server's status and message, or the file and line) and exit
non-zero; set EMBEDTUNE_DEBUG=1 for the traceback.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from itertools import islice
from pathlib import Path

from embedtune_client.cli import jobs, remote
from embedtune_client.cli.progress import progress_bar
from embedtune_client.cli.records import FORMATS, Record, RecordFields, read_records, validate
from embedtune_client.feedback import DocumentRef, TextLike


def register(subparsers: argparse._SubParsersAction) -> None:
    connection = remote.connection_flags()
    _register_index(subparsers, connection)
    _register_search(subparsers, connection)
    _register_rerank(subparsers, connection)
    _register_embed(subparsers, connection)
    _register_info(subparsers, connection)
    _register_feedback(subparsers, connection)
    jobs.register(subparsers, connection)


# --------------------------------------------------------------------- index


def _register_index(subparsers: argparse._SubParsersAction, connection: argparse.ArgumentParser) -> None:
    index = subparsers.add_parser("index", help="add, count, get and delete documents on a server")
    commands = index.add_subparsers(dest="index_command", metavar="ACTION", required=True)

    add = commands.add_parser(
        "add", parents=[connection], help="bulk load documents from a JSONL or CSV file"
    )
    add.add_argument("file", type=Path, help="documents, one per line (.jsonl) or row (.csv, .tsv)")
    add.add_argument("--format", choices=sorted(set(FORMATS.values())), help="default: from the extension")
    add.add_argument("--id-field", default="id", help="field with the document id (default: id)")
    add.add_argument("--text-field", default="text", help="field with the text (default: text)")
    add.add_argument(
        "--metadata-fields", help="comma-separated fields to keep as metadata (default: every other field)"
    )
    add.add_argument("--batch-size", type=int, default=512, help="documents per upsert call (default 512)")
    add.set_defaults(handler=remote.one_line_errors(_index_add))

    count = commands.add_parser("count", parents=[connection], help="number of stored documents")
    count.set_defaults(handler=remote.one_line_errors(_index_count))

    get = commands.add_parser("get", parents=[connection], help="print documents by id, one JSON per line")
    get.add_argument("ids", nargs="+")
    get.set_defaults(handler=remote.one_line_errors(_index_get))

    delete = commands.add_parser("delete", parents=[connection], help="delete documents by id")
    delete.add_argument("ids", nargs="+")
    delete.add_argument("--ignore-missing", action="store_true", help="unknown ids are not an error")
    delete.set_defaults(handler=remote.one_line_errors(_index_delete))


def _batches(records: Iterator[Record], size: int) -> Iterator[list[Record]]:
    while batch := list(islice(records, size)):
        yield batch


def _index_add(args: argparse.Namespace) -> int:
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be at least 1, got {args.batch_size}")
    metadata = None if args.metadata_fields is None else [f for f in args.metadata_fields.split(",") if f]
    fields = RecordFields(id=args.id_field, text=args.text_field, metadata=metadata)
    # Check the whole file first: a bad line fails the command before anything is written.
    total = validate(args.file, fields, args.format)
    written = 0
    with remote.client(args) as client, progress_bar(total, f"index add {args.file.name}") as bar:
        for batch in _batches(read_records(args.file, fields, args.format), args.batch_size):
            result = client.upsert(
                [r.id for r in batch], [r.text for r in batch], [r.metadata for r in batch]
            )
            written += result.upserted
            bar.update(len(batch))
    print(f"upserted {written} documents from {args.file}")
    return 0


def _index_count(args: argparse.Namespace) -> int:
    with remote.client(args) as client:
        print(client.count())
    return 0


def _index_get(args: argparse.Namespace) -> int:
    with remote.client(args) as client:
        for document in client.get(args.ids):
            remote.print_json({"id": document.id, "text": document.text, "metadata": dict(document.metadata)})
    return 0


def _index_delete(args: argparse.Namespace) -> int:
    with remote.client(args) as client:
        print(f"deleted {client.delete(args.ids, ignore_missing=args.ignore_missing)} documents")
    return 0


# --------------------------------------------------------------- search, embed


def _filter_pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    return key, value


def _register_search(subparsers: argparse._SubParsersAction, connection: argparse.ArgumentParser) -> None:
    search = subparsers.add_parser("search", parents=[connection], help="nearest documents to a text")
    search.add_argument("query")
    search.add_argument("-k", type=int, default=10, help="number of results (default 10)")
    search.add_argument(
        "--filter",
        type=_filter_pair,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="only documents with this metadata (repeatable; all must match)",
    )
    search.add_argument(
        "--rerank-top-k",
        type=int,
        metavar="N",
        help="find N documents, score them with the server's cross-encoder, print the best k",
    )
    search.add_argument("--json", action="store_true", help="one JSON object per hit")
    search.add_argument(
        "--no-text", dest="include_text", action="store_false", help="ids and scores only: no texts"
    )
    search.add_argument(
        "--no-metadata", dest="include_metadata", action="store_false", help="leave out the metadata"
    )
    search.set_defaults(handler=remote.one_line_errors(_search))


def _search(args: argparse.Namespace) -> int:
    with remote.client(args) as client:
        hits = client.search(
            args.query,
            k=args.k,
            filter=dict(args.filter),
            rerank_top_k=args.rerank_top_k,
            include_text=args.include_text,
            include_metadata=args.include_metadata,
        )
    for hit in hits:
        if args.json:
            remote.print_json(
                {"id": hit.id, "score": hit.score, "text": hit.text, "metadata": dict(hit.metadata)}
            )
        else:
            print(f"{hit.score:.4f}\t{hit.id}\t{hit.text}")
    return 0


def _register_rerank(subparsers: argparse._SubParsersAction, connection: argparse.ArgumentParser) -> None:
    rerank = subparsers.add_parser(
        "rerank", parents=[connection], help="order texts by the server's cross-encoder score for a query"
    )
    rerank.add_argument("query")
    rerank.add_argument("candidates", nargs="+", metavar="TEXT", help="texts to order (ids with --ids)")
    rerank.add_argument("--ids", action="store_true", help="the candidates are stored document ids")
    rerank.add_argument("--top-n", type=int, metavar="N", help="print only the best N (default: all)")
    rerank.add_argument("--json", action="store_true", help="one JSON object per candidate")
    rerank.set_defaults(handler=remote.one_line_errors(_rerank))


def _rerank(args: argparse.Namespace) -> int:
    candidates = [DocumentRef(c) for c in args.candidates] if args.ids else args.candidates
    with remote.client(args) as client:
        results = client.rerank(args.query, candidates, top_n=args.top_n, return_text=True)
    for result in results:
        if args.json:
            remote.print_json(
                {"index": result.index, "id": result.id, "score": result.score, "text": result.text}
            )
        else:
            print(f"{result.score:.4f}\t{result.id or result.index}\t{result.text}")
    return 0


def _register_embed(subparsers: argparse._SubParsersAction, connection: argparse.ArgumentParser) -> None:
    embed = subparsers.add_parser(
        "embed", parents=[connection], help="print embeddings, one JSON list per text"
    )
    embed.add_argument("texts", nargs="+")
    embed.add_argument("--dimensions", type=int, help="keep only the first N values (Matryoshka)")
    embed.add_argument("--no-normalize", dest="normalize", action="store_false", help="raw, unnormalised")
    embed.set_defaults(handler=remote.one_line_errors(_embed))


def _embed(args: argparse.Namespace) -> int:
    with remote.client(args) as client:
        vectors = client.embed(args.texts, normalize=args.normalize, dimensions=args.dimensions)
    for vector in vectors:
        remote.print_json([round(float(v), 7) for v in vector])
    return 0


# ---------------------------------------------------------------- info, health


def _register_info(subparsers: argparse._SubParsersAction, connection: argparse.ArgumentParser) -> None:
    info = subparsers.add_parser(
        "info", parents=[connection], help="the served model and the server's limits"
    )
    info.add_argument("--json", action="store_true")
    info.set_defaults(handler=remote.one_line_errors(_info))
    health = subparsers.add_parser(
        "health", parents=[connection], help="grpc.health.v1 status; exit 0 if SERVING"
    )
    health.add_argument("--service", default="", help="service name (default: the whole server)")
    health.set_defaults(handler=remote.one_line_errors(_health))


def _info(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    with remote.client(args) as client:
        info = asdict(client.info())
    if args.json:
        remote.print_json(info)
        return 0
    limits = info.pop("limits")
    for key, value in [*info.items(), *((f"limits.{k}", v) for k, v in limits.items())]:
        print(f"{key}: {value}")
    return 0


def _health(args: argparse.Namespace) -> int:
    with remote.client(args) as client:
        status = client.health(args.service)
    print(status)
    return 0 if status == "SERVING" else 1


# ------------------------------------------------------------------ feedback


def _register_feedback(subparsers: argparse._SubParsersAction, connection: argparse.ArgumentParser) -> None:
    feedback = subparsers.add_parser("feedback", help="send a training example to the server")
    kinds = feedback.add_subparsers(dest="feedback_kind", metavar="KIND", required=True)
    by_id = argparse.ArgumentParser(add_help=False)
    by_id.add_argument(
        "--by-id",
        action="store_true",
        help="the document arguments (all but a triplet's or pair's ANCHOR) are stored document ids",
    )

    triplet = kinds.add_parser(
        "triplet", parents=[connection, by_id], help="for ANCHOR, POSITIVE beat NEGATIVE"
    )
    triplet.add_argument("anchor")
    triplet.add_argument("positive")
    triplet.add_argument("negative")
    triplet.set_defaults(handler=remote.one_line_errors(_feedback_triplet))

    pair = kinds.add_parser("pair", parents=[connection, by_id], help="two texts that mean the same")
    pair.add_argument("anchor")
    pair.add_argument("positive")
    pair.set_defaults(handler=remote.one_line_errors(_feedback_pair))

    labeled = kinds.add_parser(
        "labeled", parents=[connection, by_id], help="two texts and a label: a score (0.8) or a class (2)"
    )
    labeled.add_argument("text1")
    labeled.add_argument("text2")
    labeled.add_argument("label", type=_label)
    labeled.set_defaults(handler=remote.one_line_errors(_feedback_labeled))


def _label(text: str) -> float | int:
    """An int class when the label is written as an integer, else a float score."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def _ref(args: argparse.Namespace, value: str) -> TextLike:
    return DocumentRef(value) if args.by_id else value


def _feedback_triplet(args: argparse.Namespace) -> int:
    with remote.client(args) as client:
        print(client.feedback_triplet(args.anchor, _ref(args, args.positive), _ref(args, args.negative)))
    return 0


def _feedback_pair(args: argparse.Namespace) -> int:
    with remote.client(args) as client:
        print(client.feedback_pair(args.anchor, _ref(args, args.positive)))
    return 0


def _feedback_labeled(args: argparse.Namespace) -> int:
    with remote.client(args) as client:
        print(client.feedback_labeled(_ref(args, args.text1), _ref(args, args.text2), args.label))
    return 0
