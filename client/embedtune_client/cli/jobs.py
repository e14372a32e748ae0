"""`embedtune jobs` and `embedtune models`: fine-tuning jobs and model versions on a server.

`jobs start`, `models add` and `models activate` start a job; with `--wait` (or
`jobs watch ID`) the command follows it with one progress bar per state, prints a
summary and exits 0 when the job ends activated, 1 when it is rejected, fails or is
cancelled. Every command needs the admin key when the server has one.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import datetime, timezone
from typing import Any

from embedtune_client.cli import remote
from embedtune_client.cli.job_bars import StateBars
from embedtune_client.client import Client
from embedtune_client.contract import FEEDBACK_KINDS, JOB_STATES
from embedtune_client.results import Job, ModelVersion

_STATE_ORDER = list(JOB_STATES.values())


def register(subparsers: argparse._SubParsersAction, connection: argparse.ArgumentParser) -> None:
    _register_jobs(subparsers, connection)
    _register_models(subparsers, connection)


# ---------------------------------------------------------------- printing


def _time(seconds: float | None) -> str:
    if not seconds:
        return "-"
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


def headline(job: Job) -> str:
    version = f": version {job.version}" if job.version else ""
    return f"job {job.id} ({job.kind}) {job.state}{version}"


def summary(job: Job) -> list[str]:
    """The end of a job: state, version, reason, the gate's figures and the seconds per state."""
    lines = [headline(job)]
    if job.reason:
        lines.append(f"reason: {job.reason}")
    if job.gate is not None:
        gate = job.gate
        verdict = "passed" if gate.passed else "failed"
        lines.append(
            f"gate: {gate.metric}: active {gate.active_score:.4f}, new {gate.new_score:.4f}, "
            f"margin {gate.margin:.4f}, {verdict}"
        )
    if job.state_seconds:
        ordered = sorted(job.state_seconds.items(), key=lambda item: _state_rank(item[0]))
        lines.append("seconds: " + ", ".join(f"{state} {seconds:.1f}" for state, seconds in ordered))
    return lines


def _state_rank(state: str) -> int:
    return _STATE_ORDER.index(state) if state in _STATE_ORDER else len(_STATE_ORDER)


def details(job: Job) -> list[str]:
    """Everything `jobs show` prints: the summary, then progress, options, feedback and metrics."""
    lines = summary(job)
    progress = job.progress
    if not job.done and (progress.done or progress.total):
        eta = f", about {progress.eta_s:.0f} s left" if progress.eta_s else ""
        lines.append(f"progress: {progress.done}/{progress.total or '?'} {progress.unit}{eta}")
    if job.base_version:
        lines.append(f"base version: {job.base_version}")
    if job.options is not None:
        options = asdict(job.options)
        losses = options.pop("losses")
        chosen = [f"{kind}={loss}" for kind, loss in losses.items()]
        chosen += [f"{name}={value}" for name, value in options.items() if value not in (None, "")]
        lines.append("options: " + (" ".join(chosen) or "server defaults"))
    if job.feedback_last_id:
        counts = ", ".join(f"{kind} {count}" for kind, count in sorted(job.feedback_counts.items()))
        lines.append(f"feedback: ids {job.feedback_first_id}..{job.feedback_last_id} ({counts})")
    for name in sorted({*job.metrics_active, *job.metrics_new}):
        active, new = job.metrics_active.get(name), job.metrics_new.get(name)
        lines.append(f"metric {name}: active {_score(active)}, new {_score(new)}")
    lines.append(f"created: {_time(job.created_at)}, finished: {_time(job.finished_at)}")
    return lines


def _score(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def job_line(job: Job) -> str:
    return "\t".join((str(job.id), job.kind, job.state, job.version or "-", _time(job.created_at)))


def model_line(model: ModelVersion) -> str:
    status = f"{model.status} (active)" if model.active else model.status
    return "\t".join((model.version, status, model.parent or "-", model.base_model, _time(model.created_at)))


def _follow(client: Client, job: Job | int, as_json: bool = False) -> int:
    """Bars while the job runs, then its summary; 0 when it ends activated, else 1."""
    with StateBars() as bars:
        final = client.wait(job, progress=bars)
    if as_json:
        remote.print_json(asdict(final))
    else:
        print("\n".join(summary(final)))
    return 0 if final.succeeded else 1


# -------------------------------------------------------------------- jobs


def _loss(text: str) -> tuple[str, str]:
    kind, sep, loss = text.partition("=")
    if not sep or not kind or not loss:
        raise argparse.ArgumentTypeError(f"expected KIND=LOSS, e.g. triplet=TripletLoss, got {text!r}")
    return kind, loss


def _register_jobs(subparsers: argparse._SubParsersAction, connection: argparse.ArgumentParser) -> None:
    jobs = subparsers.add_parser("jobs", help="start, list, follow and cancel fine-tuning jobs")
    actions = jobs.add_subparsers(dest="jobs_command", metavar="ACTION", required=True)
    as_json = argparse.ArgumentParser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="JSON instead of text")

    start = actions.add_parser(
        "start",
        parents=[connection, as_json],
        help="train a new version on the feedback not yet used; unset options take the server's defaults",
    )
    start.add_argument(
        "--loss",
        type=_loss,
        action="append",
        default=[],
        metavar="KIND=LOSS",
        help=f"loss for one feedback kind ({', '.join(FEEDBACK_KINDS)}); repeatable",
    )
    start.add_argument("--epochs", type=float)
    start.add_argument("--batch-size", type=int)
    start.add_argument("--lr", type=float, help="learning rate")
    start.add_argument("--min-feedback", type=int, help="refuse to start with fewer new feedback items")
    start.add_argument("--held-out", type=float, help="share of the feedback held out for the gate, (0, 1)")
    start.add_argument(
        "--gate-margin", type=float, help="margin by which the new version must beat the active one"
    )
    start.add_argument("--base", metavar="VERSION", help="the version to fine-tune (default: the active one)")
    start.add_argument("--seed", type=int)
    start.add_argument("--max-seq-length", type=int, help="tokens of each text seen while training")
    start.add_argument("--wait", action="store_true", help="follow the job until it ends")
    start.set_defaults(handler=remote.one_line_errors(_jobs_start))

    listing = actions.add_parser("list", parents=[connection, as_json], help="recent jobs, newest first")
    listing.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    listing.set_defaults(handler=remote.one_line_errors(_jobs_list))

    show = actions.add_parser("show", parents=[connection, as_json], help="one job in full")
    show.add_argument("id", type=int)
    show.set_defaults(handler=remote.one_line_errors(_jobs_show))

    watch = actions.add_parser("watch", parents=[connection], help="follow a job until it ends")
    watch.add_argument("id", type=int)
    watch.set_defaults(handler=remote.one_line_errors(_jobs_watch))

    cancel = actions.add_parser("cancel", parents=[connection], help="stop a running job")
    cancel.add_argument("id", type=int)
    cancel.set_defaults(handler=remote.one_line_errors(_jobs_cancel))


def _jobs_start(args: argparse.Namespace) -> int:
    with remote.client(args) as client:
        job = client.train(
            losses=dict(args.loss),
            epochs=args.epochs,
            batch_size=args.batch_size,
            learning_rate=args.lr,
            min_feedback=args.min_feedback,
            held_out_fraction=args.held_out,
            gate_margin=args.gate_margin,
            base_version=args.base,
            seed=args.seed,
            max_seq_length=args.max_seq_length,
        )
        if args.wait:
            return _follow(client, job, args.json)
    if args.json:
        remote.print_json(asdict(job))
    else:
        print(headline(job))
    return 0


def _print_items(items: Sequence, as_json: bool, line: Callable[[Any], str]) -> None:
    """One line per item, or one JSON object per line with --json."""
    for item in items:
        if as_json:
            remote.print_json(asdict(item))
        else:
            print(line(item))


def _jobs_list(args: argparse.Namespace) -> int:
    with remote.client(args) as client:
        _print_items(client.jobs(args.limit), args.json, job_line)
    return 0


def _jobs_show(args: argparse.Namespace) -> int:
    with remote.client(args) as client:
        job = client.job(args.id)
    if args.json:
        remote.print_json(asdict(job))
    else:
        print("\n".join(details(job)))
    return 0


def _jobs_watch(args: argparse.Namespace) -> int:
    with remote.client(args) as client:
        return _follow(client, args.id)


def _jobs_cancel(args: argparse.Namespace) -> int:
    with remote.client(args) as client:
        job = client.cancel(args.id)
    print("\n".join(summary(job)))
    return 0


# ------------------------------------------------------------------ models


def _register_models(subparsers: argparse._SubParsersAction, connection: argparse.ArgumentParser) -> None:
    models = subparsers.add_parser("models", help="list, add and activate model versions")
    actions = models.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    wait = argparse.ArgumentParser(add_help=False)
    wait.add_argument("--wait", action="store_true", help="follow the job until it ends")

    listing = actions.add_parser("list", parents=[connection], help="every version, oldest first")
    listing.add_argument("--json", action="store_true", help="one JSON object per version")
    listing.set_defaults(handler=remote.one_line_errors(_models_list))

    add = actions.add_parser(
        "add", parents=[connection, wait], help="register a model as a new version (not activated)"
    )
    add.add_argument("source", help="a sentence-transformers folder on the server's disk, or a Hub id")
    add.set_defaults(handler=remote.one_line_errors(_models_add))

    activate = actions.add_parser(
        "activate", parents=[connection, wait], help="serve a version: rollback or forward"
    )
    activate.add_argument("version")
    activate.set_defaults(handler=remote.one_line_errors(_models_activate))


def _models_list(args: argparse.Namespace) -> int:
    with remote.client(args) as client:
        _print_items(client.models(), args.json, model_line)
    return 0


def _models_add(args: argparse.Namespace) -> int:
    with remote.client(args) as client:
        job = client.add_model(args.source)
        if args.wait:
            return _follow(client, job)
    print(headline(job))
    return 0


def _models_activate(args: argparse.Namespace) -> int:
    with remote.client(args) as client:
        job = client.activate(args.version)
        if args.wait:
            return _follow(client, job)
    print(headline(job))
    return 0
