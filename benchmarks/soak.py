"""Soak: mixed load from many clients against a real server, then a consistency check.

    .venv/bin/python -m benchmarks.soak [--minutes 10] [--clients 16] [--quantize] [--write-docs]

Starts one `embedtune serve` on loopback and runs `--clients` threads, each on its own
channel, for `--minutes`: Embed, Search, BatchSearch, Upsert, Delete, SubmitFeedback,
and Embed/Search calls the client cancels while they run. Every interval it records the
server's RSS (/proc/PID/status) and the p50/p99 latency of the calls that finished in it.

Each client owns its own document ids, so the writes to one id are ordered: the client
numbers its acknowledged writes per id (the edition in the text) and, at the end,
Count, Get and Search must agree with the last acknowledged write of every id. A
write that failed leaves its id undecided between the states before and after it,
until the next acknowledged write. Refusals at `max_concurrent_requests`
(RESOURCE_EXHAUSTED) are deliberate overload, counted apart from errors.

Writes `soak.md` (the table and the verdict), `soak.png` (RSS and latency over time)
and `soak.json` (every figure and the consistency report) to `--out`; with
`--write-docs`, the table goes into docs/benchmarks.md too. Exits 1 when a target is
missed: RSS growth over the second half under 5%, no inconsistency, no error other
than overload.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import numpy as np
from tqdm import tqdm

from benchmarks.common import exported_model, machine, table, write_section
from embedtune_client.v1 import embedtune_pb2 as pb
from embedtune_client.v1 import embedtune_pb2_grpc as pb_grpc
from embedtune_server.launcher import ServerProcess, start_server
from embedtune_server.memory import rss_bytes

INTERVALS = 20
DOCS_PLOT = Path(__file__).resolve().parent.parent / "docs" / "images" / "soak.png"
RSS_GROWTH_TARGET = 0.05
# The share of each operation in a client's mix.
MIX = {
    "embed": 25,
    "search": 18,
    "batch_search": 8,
    "upsert": 22,
    "delete": 8,
    "feedback": 7,
    "cancelled": 12,
}
WORDS = (
    "river city bank loan search engine vector model guitar piano harbour valley storm "
    "garden library market bridge station forest desert island mountain winter summer"
).split()
DELETED = -1


def document_text(doc_id: str, edition: int) -> str:
    """A text that only this edition of this document has."""
    rng = random.Random(f"{doc_id}/{edition}")
    return f"{doc_id} edition {edition}: " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 60)))


@dataclass
class Ledger:
    """What one client knows of its ids: the last acknowledged edition (DELETED for a delete),
    and the editions an unacknowledged write may have left instead."""

    acknowledged: dict[str, int] = field(default_factory=dict)
    undecided: dict[str, set[int]] = field(default_factory=dict)

    def possible(self, doc_id: str) -> set[int]:
        return {self.acknowledged.get(doc_id, DELETED)} | self.undecided.get(doc_id, set())

    def settle(self, doc_id: str, edition: int) -> None:
        self.acknowledged[doc_id] = edition
        self.undecided.pop(doc_id, None)

    def unsure(self, doc_id: str, edition: int) -> None:
        self.undecided.setdefault(doc_id, set()).add(edition)


@dataclass
class Call:
    finished: float
    operation: str
    seconds: float
    code: str


class SoakClient(threading.Thread):
    """One client: its own channel, ids and ledger, calling a random mix until `stop` is set.

    Operations are `_call_<name>`: a bare `_delete` or `_stop` would override threading.Thread's own.
    """

    def __init__(self, number: int, address: str, ids: int, stop: threading.Event, seed: int) -> None:
        super().__init__(name=f"soak-client-{number}", daemon=True)
        self.ids = [f"c{number}-d{i}" for i in range(ids)]
        self.ledger = Ledger()
        self.calls: list[Call] = []
        self._next_edition = 0
        self._address = address
        self._finish = stop
        self._rng = random.Random(seed)

    def run(self) -> None:
        with grpc.insecure_channel(self._address) as channel:
            self._embeds = pb_grpc.EmbedServiceStub(channel)
            self._documents = pb_grpc.IndexServiceStub(channel)
            self._feedbacks = pb_grpc.FeedbackServiceStub(channel)
            operations = list(MIX)
            weights = list(MIX.values())
            while not self._finish.is_set():
                operation = self._rng.choices(operations, weights)[0]
                started = time.perf_counter()
                code = "OK"
                try:
                    getattr(self, f"_call_{operation}")()
                except grpc.RpcError as error:
                    code = error.code().name
                self.calls.append(Call(time.time(), operation, time.perf_counter() - started, code))

    def _texts(self, count: int) -> list[str]:
        return [
            " ".join(self._rng.choice(WORDS) for _ in range(self._rng.randint(3, 200))) for _ in range(count)
        ]

    def _call_embed(self) -> None:
        self._embeds.Embed(pb.EmbedRequest(inputs=self._texts(self._rng.choice([1, 8, 32]))), timeout=120)

    def _call_search(self) -> None:
        self._documents.Search(pb.SearchRequest(text=self._texts(1)[0], k=10), timeout=120)

    def _call_batch_search(self) -> None:
        queries = [pb.SearchRequest(text=t, k=20, include_text=False) for t in self._texts(16)]
        self._documents.BatchSearch(pb.BatchSearchRequest(queries=queries), timeout=120)

    def _call_upsert(self) -> None:
        chosen = self._rng.sample(self.ids, self._rng.randint(1, 4))
        editions = {}
        for doc_id in chosen:
            self._next_edition += 1
            editions[doc_id] = self._next_edition
        documents = [
            pb.Document(id=d, text=document_text(d, e), metadata={"edition": str(e)})
            for d, e in editions.items()
        ]
        try:
            self._documents.Upsert(pb.UpsertRequest(documents=documents), timeout=120)
        except grpc.RpcError:
            for doc_id, edition in editions.items():
                self.ledger.unsure(doc_id, edition)
            raise
        for doc_id, edition in editions.items():
            self.ledger.settle(doc_id, edition)

    def _call_delete(self) -> None:
        chosen = self._rng.sample(self.ids, self._rng.randint(1, 3))
        try:
            self._documents.Delete(pb.DeleteRequest(ids=chosen, ignore_missing=True), timeout=120)
        except grpc.RpcError:
            for doc_id in chosen:
                self.ledger.unsure(doc_id, DELETED)
            raise
        for doc_id in chosen:
            self.ledger.settle(doc_id, DELETED)

    def _call_feedback(self) -> None:
        anchor, positive, negative = self._texts(3)
        item = pb.FeedbackItem(
            triplet=pb.Triplet(
                anchor=pb.TextRef(text=anchor + " a"),
                positive=pb.TextRef(text=positive + " b"),
                negative=pb.TextRef(text=negative + " c"),
            )
        )
        self._feedbacks.SubmitFeedback(pb.SubmitFeedbackRequest(items=[item]), timeout=120)

    def _call_cancelled(self) -> None:
        """An Embed or Search the client gives up on while it runs (it may finish first)."""
        if self._rng.random() < 0.5:
            future = self._embeds.Embed.future(pb.EmbedRequest(inputs=self._texts(32)), timeout=120)
        else:
            future = self._documents.Search.future(
                pb.SearchRequest(text=self._texts(1)[0], k=10), timeout=120
            )
        time.sleep(self._rng.uniform(0.0, 0.05))
        future.cancel()
        with contextlib.suppress(grpc.FutureCancelledError):
            future.result()


def check_consistency(server: ServerProcess, clients: list[SoakClient]) -> dict:
    """Count, Get and Search against every client's ledger; returns the report."""
    problems: list[str] = []
    expected: dict[str, set[int]] = {}
    for client in clients:
        for doc_id in client.ids:
            expected[doc_id] = client.ledger.possible(doc_id)
    with server.channel() as channel:
        _, index, _ = server.stubs(channel)
        stored: dict[str, int] = {}
        for doc_id in expected:
            try:
                [document] = index.Get(pb.GetRequest(ids=[doc_id]), timeout=60).documents
                stored[doc_id] = int(document.metadata["edition"])
                if document.text != document_text(doc_id, stored[doc_id]):
                    problems.append(f"{doc_id}: text is not that of edition {stored[doc_id]}")
            except grpc.RpcError as error:
                if error.code() != grpc.StatusCode.NOT_FOUND:
                    raise
                stored[doc_id] = DELETED
        for doc_id, edition in stored.items():
            if edition not in expected[doc_id]:
                problems.append(
                    f"{doc_id}: Get finds edition {edition}, acknowledged {sorted(expected[doc_id])}"
                )
        live = {d for d, e in stored.items() if e != DELETED}
        count = index.Count(pb.CountRequest(), timeout=60).count
        if count != len(live):
            problems.append(f"Count says {count}, Get finds {len(live)} documents")
        found: set[str] = set()
        for doc_id in sorted(live):
            hits = index.Search(
                pb.SearchRequest(text=document_text(doc_id, stored[doc_id]), k=1, include_text=False),
                timeout=60,
            ).hits
            if not hits or hits[0].id != doc_id:
                problems.append(f"{doc_id}: its own text does not find it first")
        k = min(max(len(live), 1), 1000)
        hits = index.Search(pb.SearchRequest(text="edition", k=k, include_text=False), timeout=60).hits
        found = {h.id for h in hits}
        if len(live) <= 1000 and found != live:
            problems.append(
                f"Search k={k} finds {len(found - live)} deleted and misses {len(live - found)} live"
            )
    undecided = sum(1 for c in clients for d in c.ids if len(c.ledger.possible(d)) > 1)
    return {"documents": len(live), "undecided_ids": undecided, "inconsistencies": problems}


def answered(calls: list[Call]) -> list[Call]:
    """The calls that ran to an OK answer: the latency figures are theirs."""
    return [c for c in calls if c.code == "OK" and c.operation != "cancelled"]


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else 0.0


def intervals(calls: list[Call], rss: list[tuple[float, int]], start: float, end: float) -> list[dict]:
    width = (end - start) / INTERVALS
    rows = []
    for i in range(INTERVALS):
        lo, hi = start + i * width, start + (i + 1) * width
        seconds = [c.seconds for c in answered(calls) if lo <= c.finished < hi]
        samples = [b for t, b in rss if lo <= t < hi]
        rows.append(
            {
                "start_s": round(lo - start, 1),
                "rss_mb": round(float(np.mean(samples)) / 2**20, 1) if samples else 0.0,
                "calls": len(seconds),
                "p50_ms": round(percentile(seconds, 50) * 1000, 1),
                "p99_ms": round(percentile(seconds, 99) * 1000, 1),
            }
        )
    return rows


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    times = [r["start_s"] for r in rows]
    figure, (memory, latency) = plt.subplots(2, 1, sharex=True, figsize=(8, 6))
    memory.plot(times, [r["rss_mb"] for r in rows], marker="o")
    memory.set_ylabel("server RSS (MB)")
    latency.plot(times, [r["p50_ms"] for r in rows], marker="o", label="p50")
    latency.plot(times, [r["p99_ms"] for r in rows], marker="o", label="p99")
    latency.set_ylabel("latency (ms)")
    latency.set_xlabel("seconds into the soak")
    latency.legend()
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--ids-per-client", type=int, default=40, help="documents each client owns")
    parser.add_argument(
        "--model", type=Path, help="an exported model version folder (default: export the bundled model)"
    )
    parser.add_argument("--quantize", action="store_true", help="serve the int8 graph")
    parser.add_argument("--server-flag", action="append", default=[], help="one more `embedtune serve` flag")
    parser.add_argument("--out", type=Path, default=Path("soak-results"))
    parser.add_argument("--write-docs", action="store_true", help="put the table in docs/benchmarks.md")
    args = parser.parse_args(argv)

    folder = exported_model(args.model)
    home = Path(tempfile.mkdtemp(prefix="embedtune-soak-home-")) / "home"
    flags = (["--quantize"] if args.quantize else []) + args.server_flag
    server = start_server(folder, home, *flags)
    stop = threading.Event()
    clients = [SoakClient(n, server.address, args.ids_per_client, stop, seed=n) for n in range(args.clients)]
    rss: list[tuple[float, int]] = []
    duration = args.minutes * 60
    try:
        start = time.time()
        for client in clients:
            client.start()
        with tqdm(total=round(duration), desc="soak", unit="s") as bar:
            while (elapsed := time.time() - start) < duration:
                rss.append((time.time(), rss_bytes(server.process.pid)))
                time.sleep(min(1.0, max(duration - elapsed, 0.0)))
                bar.n = min(round(time.time() - start), round(duration))
                bar.refresh()
        end = time.time()
        stop.set()
        for client in clients:
            client.join()
        consistency = check_consistency(server, clients)
        steady_rss = rss_bytes(server.process.pid)
    finally:
        server.kill()

    calls = [c for client in clients for c in client.calls]
    rows = intervals(calls, rss, start, end)
    half = [r["rss_mb"] for r in rows[INTERVALS // 2 :] if r["rss_mb"]]
    growth = (half[-1] - half[0]) / half[0] if len(half) > 1 else 0.0
    codes = Counter(c.code for c in calls)
    overload = codes.pop("RESOURCE_EXHAUSTED", 0)
    cancelled = sum(1 for c in calls if c.operation == "cancelled")
    ok = codes.pop("OK", 0)
    errors = sum(codes.values())
    ok_seconds = [c.seconds for c in answered(calls)]
    report = {
        "minutes": args.minutes,
        "clients": args.clients,
        "model": "int8" if args.quantize else "fp32",
        "server_flags": flags,
        "calls": len(calls),
        "calls_by_operation": dict(Counter(c.operation for c in calls)),
        "ok": ok,
        "overload_refusals": overload,
        "cancelled": cancelled,
        "errors": errors,
        "error_codes": dict(codes),
        "p50_ms": round(percentile(ok_seconds, 50) * 1000, 1),
        "p99_ms": round(percentile(ok_seconds, 99) * 1000, 1),
        "steady_rss_mb": round(steady_rss / 2**20, 1),
        "rss_growth_second_half": round(growth, 4),
        "consistency": consistency,
        "intervals": rows,
    }
    passed = growth < RSS_GROWTH_TARGET and not consistency["inconsistencies"] and errors == 0
    report["passed"] = passed

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "soak.json").write_text(json.dumps(report, indent=2))
    plot(rows, args.out / "soak.png")
    summary = (
        f"`.venv/bin/python -m benchmarks.soak --minutes {args.minutes:g} --clients {args.clients}"
        f"{' --quantize' if args.quantize else ''}` — {len(calls)} calls ({ok} OK, {overload} refused"
        f" as overload, {cancelled} cancelled by the client, **{errors} errors**); p50 {report['p50_ms']} ms,"
        f" p99 {report['p99_ms']} ms over every successful call. Server RSS at the end"
        f" **{report['steady_rss_mb']} MB**, growth over the second half **{growth:.1%}** (target"
        f" < {RSS_GROWTH_TARGET:.0%}). Consistency of Count, Get and Search with every acknowledged"
        f" write: **{len(consistency['inconsistencies'])} inconsistencies** over"
        f" {consistency['documents']} live documents ({consistency['undecided_ids']} ids left undecided"
        f" by a failed write). Machine: {machine()}."
    )
    plot_note = (
        "The plot (RSS and p50/p99 per interval): [images/soak.png](images/soak.png). Latency is"
        " queueing: each client sends its next call as soon as one returns, many of them 32-text"
        " Embeds, to the machine's cores."
    )
    rows_table = table(
        ["from (s)", "RSS (MB)", "calls", "p50 (ms)", "p99 (ms)"], [list(r.values()) for r in rows]
    )
    (args.out / "soak.md").write_text(
        f"# Soak\n\n{summary}\n\n{rows_table}\n\nThe plot: `soak.png` beside this file.\n"
    )
    if args.write_docs:
        write_section(
            f"Soak ({report['model']}, {args.clients} clients)", f"{summary} {plot_note}\n\n{rows_table}"
        )
        plot(rows, DOCS_PLOT)
    print(summary)
    for problem in consistency["inconsistencies"][:20]:
        print("inconsistent:", problem)
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
