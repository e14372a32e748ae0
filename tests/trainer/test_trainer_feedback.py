"""The server's fine-tuning loop, trainer side: `losses --json` and `feedback-train` on tiny models."""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import shutil
from pathlib import Path

import pytest
import torch
from tiny_models import build_tiny_encoder, make_triplets

from embedtune_trainer.cli import register
from embedtune_trainer.data import DataError, DataShape
from embedtune_trainer.evaluation import evaluate_all, primary_key
from embedtune_trainer.evaluation.precomputed import PrecomputedEncoder
from embedtune_trainer.feedback.catalog import loss_catalog
from embedtune_trainer.feedback.events import EventStream
from embedtune_trainer.feedback.gate import held_out_evaluators
from embedtune_trainer.feedback.kind_data import kind_datasets
from embedtune_trainer.feedback.kinds import FEEDBACK_KINDS, label_kinds, roles
from embedtune_trainer.feedback.snapshot import FeedbackItem, is_held_out, split_held_out
from embedtune_trainer.losses import registry
from embedtune_trainer.model_kind import ModelKind
from embedtune_trainer.training.version_folder import read_record

ERROR = "embedtune feedback-train: error: "


@pytest.fixture(autouse=True)
def thread_settings(monkeypatch) -> list[int]:
    """The torch thread counts jobs ask for, recorded instead of applied to the test process."""
    asked: list[int] = []
    monkeypatch.setattr(torch, "set_num_threads", asked.append)
    return asked


def _cli(argv: list) -> int:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args([str(a) for a in argv])
    return args.handler(args)


# --- the loss catalog ------------------------------------------------------------------------


def test_loss_catalog_is_the_registry(capsys):
    assert _cli(["losses", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == loss_catalog()

    names = printed["names"]
    for spelling, canonical in names.items():
        assert spelling == spelling.lower() and registry.canonical_name(spelling) == canonical
    bi_encoder_losses = registry.losses_of(ModelKind.BI_ENCODER)
    assert "BinaryCrossEntropyLoss" not in bi_encoder_losses  # feedback trains the served bi-encoder
    expected = {n.lower() for n in bi_encoder_losses} | {
        n.lower().removesuffix("loss") for n in bi_encoder_losses
    }
    assert set(names) == expected | set(registry.ALIASES)

    assert set(printed["kinds"]) == set(FEEDBACK_KINDS)
    for kind, shape in FEEDBACK_KINDS.items():
        by_label = printed["kinds"][kind]
        assert set(by_label) == {k or "none" for (s, k) in registry.DEFAULT_LOSSES if s is shape}
        for label_kind in label_kinds(kind):
            entry = by_label[label_kind or "none"]
            assert entry["default"] == registry.default_loss(shape, label_kind)
            assert entry["fitting"] == registry.losses_fitting(shape, label_kind)
            assert entry["default"] in entry["fitting"]
    assert printed["kinds"]["triplet"]["none"]["default"] == "MultipleNegativesRankingLoss"
    assert set(printed["kinds"]["labeled_pair"]) == {"float", "int"}


# --- the held-out split ----------------------------------------------------------------------


def test_held_out_split_is_the_documented_hash_of_the_id():
    position = int.from_bytes(hashlib.sha256(b"17").digest()[:8], "big") / 2**64
    assert is_held_out(17, position + 1e-12) and not is_held_out(17, position)


def test_held_out_split_depends_only_on_the_id_and_meets_the_fraction():
    items = [FeedbackItem(i, "pair", {"anchor": f"a{i}", "positive": f"p{i}"}, None) for i in range(20_000)]
    train, held_out = split_held_out(items, 0.2)
    assert len(train) + len(held_out) == len(items)
    assert 0.19 < len(held_out) / len(items) < 0.21
    # Same ids, other kinds, texts and order: the same items are held out.
    shuffled = [FeedbackItem(item.id, "labeled_text", {"text": "x"}, 1) for item in items]
    random.Random(0).shuffle(shuffled)
    assert {i.id for i in split_held_out(shuffled, 0.2)[1]} == {i.id for i in held_out}
    # A larger fraction only adds items, so growing it never moves an item into training.
    assert {i.id for i in held_out} < {i.id for i in split_held_out(items, 0.3)[1]}


# --- the gate ---------------------------------------------------------------------------------


def _items(kind: str, rows: list[tuple], start: int = 1) -> list[FeedbackItem]:
    """FeedbackItems of one kind from (texts..., label) tuples, ids from `start`."""
    names = roles(kind)
    return [
        FeedbackItem(
            start + i, kind, dict(zip(names, row[: len(names)], strict=True)), (*row, None)[len(names)]
        )
        for i, row in enumerate(rows)
    ]


@pytest.mark.parametrize(
    ("items", "keys"),
    [
        (_items("triplet", [("a", "p", "n")]), ["triplet_cosine_accuracy", "ir_ndcg@10"]),
        (_items("pair", [("a", "p"), ("b", "q")]), ["ir_ndcg@10"]),
        (_items("labeled_pair", [("a", "b", 0.2), ("c", "d", 0.9)]), ["sts_spearman_cosine"]),
        (_items("labeled_pair", [("a", "b", 0), ("c", "d", 1)]), ["binary_cosine_ap"]),
        (_items("labeled_text", [("a", 0), ("b", 1), ("c", 1)]), ["knn_accuracy"]),
        (
            _items("triplet", [("a", "p", "n")]) + _items("labeled_text", [("x", 0), ("y", 1)], start=9),
            ["triplet_cosine_accuracy", "ir_ndcg@10", "knn_accuracy"],
        ),
    ],
)
def test_the_gate_measures_what_each_kind_supports(items, keys):
    assert [primary_key(e) for e in held_out_evaluators(kind_datasets(items))] == keys


@pytest.mark.parametrize(
    "items",
    [
        _items("labeled_pair", [("a", "b", 0.5), ("c", "d", 0.5)]),  # one score: no ranking to compare
        _items("labeled_pair", [("a", "b", 1), ("c", "d", 1)]),  # one class
        _items("labeled_pair", [("a", "b", 0), ("c", "d", 2)]),  # class ids: no pair metric reads them
        _items("labeled_text", [("a", 4), ("b", 4)]),  # one class: every model scores 1.0
    ],
)
def test_held_out_data_that_cannot_tell_models_apart_gives_no_evaluator(items):
    with pytest.raises(DataError, match="gives the gate nothing to measure"):
        held_out_evaluators(kind_datasets(items))


def test_retrieval_queries_are_distinct_anchors_over_every_candidate():
    items = _items("triplet", [("a", "p1", "n1"), ("a", "p2", "n2")]) + _items("pair", [("b", "p1")], start=5)
    _, retrieval = held_out_evaluators(kind_datasets(items))
    assert sorted(retrieval.queries.values()) == ["a", "b"]
    assert sorted(retrieval.corpus.values()) == ["n1", "n2", "p1", "p2"]
    corpus, queries = retrieval.corpus, retrieval.queries
    judged = {queries[q]: sorted(corpus[d] for d in docs) for q, docs in retrieval.qrels.items()}
    assert judged == {"a": ["p1", "p2"], "b": ["p1"]}


def test_precomputed_embeddings_score_like_the_encoder():
    encoder = build_tiny_encoder(dropout=0.0)
    rows = make_triplets(12, seed=4)
    evaluators = held_out_evaluators(kind_datasets(_items("triplet", [tuple(r.values()) for r in rows])))
    texts = list(dict.fromkeys(t for r in rows for t in r.values()))
    reported: list[int] = []
    table = PrecomputedEncoder.embed(encoder, texts + texts[:3], on_progress=reported.append)
    assert reported == [len(texts)]
    direct, cached = evaluate_all(evaluators, encoder), evaluate_all(evaluators, table)
    assert cached == pytest.approx(direct, abs=1e-6)
    with pytest.raises(ValueError, match="not embedded"):
        table.encode(["never seen"])


# --- events ----------------------------------------------------------------------------------


def test_progress_lines_are_flushed_and_thinned_to_a_few_a_second():
    class Clock:
        now = 0.0

        def __call__(self) -> float:
            return self.now

    stream, clock = io.StringIO(), Clock()
    events = EventStream(stream, clock=clock)
    events.state("training")
    for step in range(1, 11):  # ten steps in 0.45 s
        clock.now = step * 0.05
        events.progress(step, 10, "steps")
    events.progress(0, 30, "texts")  # a new unit starts reporting at once
    done = [(e["done"], e["unit"]) for e in map(json.loads, stream.getvalue().splitlines()[1:])]
    assert done == [(1, "steps"), (6, "steps"), (10, "steps"), (0, "texts")]


# --- feedback-train --------------------------------------------------------------------------


def _write_snapshot(path: Path, items: list[dict]) -> Path:
    path.write_text("".join(json.dumps(item) + "\n" for item in items))
    return path


def _mixed_items(triplets: int = 40) -> list[dict]:
    """Triplets, pairs and scored pairs, ids 1..n."""
    rows = make_triplets(triplets + 12, seed=3)
    items = [{"kind": "triplet", "texts": r, "label": None} for r in rows[:triplets]]
    items += [
        {"kind": "pair", "texts": {"anchor": r["anchor"], "positive": r["positive"]}, "label": None}
        for r in rows[triplets : triplets + 6]
    ]
    for r in rows[triplets + 6 :]:
        items.append(
            {"kind": "labeled_pair", "texts": {"text1": r["anchor"], "text2": r["positive"]}, "label": 0.9}
        )
        items.append(
            {"kind": "labeled_pair", "texts": {"text1": r["anchor"], "text2": r["negative"]}, "label": 0.1}
        )
    return [{"id": number, **item} for number, item in enumerate(items, start=1)]


def _options(**overrides) -> str:
    options = {
        "losses": {},
        "epochs": 1.0,
        "batch_size": 8,
        "learning_rate": 1e-3,
        "held_out_fraction": 0.3,
        "gate_margin": 0.0,
        "seed": 7,
        "max_seq_length": 32,
        **overrides,
    }
    return json.dumps(options)


def _feedback_train(snapshot: Path, base: Path, output: Path, options: str, *extra) -> int:
    return _cli(
        [
            "feedback-train",
            "--feedback",
            snapshot,
            "--base",
            base,
            "--reference",
            base,
            "--output",
            output,
            "--version",
            "v2",
            "--parent",
            "v1",
            "--options",
            options,
            *extra,
        ]
    )


def _events(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines()]  # every stdout line is an event


def _states(events: list[dict]) -> list[str]:
    return [e["state"] for e in events if e["event"] == "state"]


def test_feedback_train_passing_the_gate_writes_a_complete_version(
    tiny_encoder_dir, tmp_path, capsys, thread_settings
):
    snapshot = _write_snapshot(tmp_path / "feedback.jsonl", _mixed_items())
    output = tmp_path / ".v2.partial"  # the server writes under a temporary name, then renames
    code = _feedback_train(snapshot, tiny_encoder_dir, output, _options(gate_margin=-1.0))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert thread_settings == [len(os.sched_getaffinity(0))]  # default: every core it may use
    events = _events(captured.out)

    assert _states(events) == ["training", "evaluating", "exporting"]
    assert events[0] == {"event": "state", "state": "training"} and events[-1]["event"] == "result"
    kinds = [e["event"] for e in events]
    assert kinds.index("result") == len(kinds) - 1
    progress_by_state: dict[str, list[dict]] = {}
    state = None
    for event in events:
        if event["event"] == "state":
            state = event["state"]
        elif event["event"] == "progress":
            progress_by_state.setdefault(state, []).append(event)
    assert {p["unit"] for p in progress_by_state["training"]} == {"steps"}
    assert {p["unit"] for p in progress_by_state["evaluating"]} == {"texts"}
    assert progress_by_state["exporting"][-1] == {"event": "progress", "done": 2, "total": 2, "unit": "files"}
    for progress in progress_by_state.values():
        assert progress[-1]["done"] == progress[-1]["total"]
        assert [p["done"] for p in progress] == sorted(p["done"] for p in progress)

    result = events[-1]
    assert result["accepted"] is True and result["reason"] == ""
    gate = result["gate"]
    assert gate["metric"] == "mean(triplet_cosine_accuracy, ir_ndcg@10, sts_spearman_cosine)"
    assert gate["margin"] == -1.0 and gate["passed"] is True
    primaries = ("triplet_cosine_accuracy", "ir_ndcg@10", "sts_spearman_cosine")
    for name, score in (("metrics_active", "active_score"), ("metrics_new", "new_score")):
        assert {"triplet_cosine_accuracy", "ir_ndcg@10", "ir_mrr@10", "sts_spearman_cosine"} <= set(
            result[name]
        )
        assert gate[score] == pytest.approx(sum(result[name][k] for k in primaries) / 3)
    assert result["losses"] == {
        "triplet": "MultipleNegativesRankingLoss",
        "pair": "MultipleNegativesRankingLoss",
        "labeled_pair": "CosineSimilarityLoss",
    }
    counts = result["feedback_counts"]
    assert sum(c["train"] + c["held_out"] for c in counts.values()) == len(_mixed_items())
    assert counts["triplet"]["train"] > 0 and counts["triplet"]["held_out"] > 0
    assert set(result["state_seconds"]) == {"training", "evaluating", "exporting"}
    assert result["base_model"] == str(tiny_encoder_dir)  # no embedtune.json there: the folder's name

    for name in ("modules.json", "model.safetensors", "tokenizer.json", "README.md", "embedtune.json"):
        assert (output / name).is_file(), name
    assert (output / "onnx" / "model.onnx").is_file() and (output / "onnx" / "model_qint8.onnx").is_file()
    record = read_record(output)
    assert record["version"] == "v2" and record["parent"] == "v1" and record["onnx"] is True
    assert "\n# v2\n" in (output / "README.md").read_text()
    for key in (
        "gate",
        "metrics_active",
        "metrics_new",
        "losses",
        "feedback_counts",
        "base_model",
        "accepted",
    ):
        assert record[key] == result[key], key
    assert record["max_seq_length"] == 64  # the base's own, though training read 32 tokens a text
    assert record["hyperparameters"]["train_max_seq_length"] == 32


def test_feedback_train_failing_the_gate_keeps_the_version_without_onnx(
    tiny_encoder_dir, tmp_path, capsys, thread_settings
):
    snapshot = _write_snapshot(tmp_path / "feedback.jsonl", _mixed_items())
    base = tmp_path / "v1"
    shutil.copytree(tiny_encoder_dir, base)
    (base / "embedtune.json").write_text(json.dumps({"version": "v1", "base_model": "org/tiny-bert"}))
    output = tmp_path / "v2"
    assert _feedback_train(snapshot, base, output, _options(gate_margin=1.0), "--threads", 1) == 0
    assert thread_settings == [1]
    events = _events(capsys.readouterr().out)
    assert _states(events) == ["training", "evaluating"]
    result = events[-1]
    assert result["event"] == "result" and result["accepted"] is False
    assert result["gate"]["passed"] is False
    assert result["reason"].startswith(f"new {result['gate']['new_score']:.3f} does not beat active ")
    assert result["reason"].endswith(f"by more than 1.0 on {result['gate']['metric']}")
    assert set(result["state_seconds"]) == {"training", "evaluating"}
    assert result["base_model"] == "org/tiny-bert"  # the base version's own base model
    assert (output / "model.safetensors").is_file() and not (output / "onnx").exists()
    record = read_record(output)
    assert record["onnx"] is False and record["accepted"] is False
    assert record["gate"] == result["gate"] and record["reason"] == result["reason"]


@pytest.mark.slow
def test_training_on_feedback_beats_the_untrained_base(tiny_encoder_dir, tmp_path, capsys):
    items = [
        {"id": i, "kind": "triplet", "texts": r, "label": None} for i, r in enumerate(make_triplets(160, 0))
    ]
    snapshot = _write_snapshot(tmp_path / "feedback.jsonl", items)
    options = _options(epochs=3.0, batch_size=16, held_out_fraction=0.25, gate_margin=0.0)
    assert _feedback_train(snapshot, tiny_encoder_dir, tmp_path / "v2", options) == 0
    result = _events(capsys.readouterr().out)[-1]
    before = result["metrics_active"]["triplet_cosine_accuracy"]
    after = result["metrics_new"]["triplet_cosine_accuracy"]
    assert after >= before + 0.1, (before, after)
    assert result["accepted"] is True


# --- refusals --------------------------------------------------------------------------------


def _refusal(capsys, tiny_encoder_dir: Path, tmp_path: Path, items: list[dict], options: str) -> str:
    snapshot = _write_snapshot(tmp_path / "feedback.jsonl", items)
    code = _feedback_train(snapshot, tiny_encoder_dir, tmp_path / "out", options)
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""  # no event before a refusal
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(ERROR), captured.err
    return lines[0]


def test_unknown_kind_is_refused_naming_the_line_and_field(tiny_encoder_dir, tmp_path, capsys):
    items = _mixed_items()
    items[4] = {**items[4], "kind": "quadruplet"}
    error = _refusal(capsys, tiny_encoder_dir, tmp_path, items, _options())
    assert "line 5: field 'kind' is 'quadruplet'" in error and "labeled_text" in error


def test_loss_that_does_not_fit_a_kind_is_refused_naming_it(tiny_encoder_dir, tmp_path, capsys):
    error = _refusal(
        capsys, tiny_encoder_dir, tmp_path, _mixed_items(), _options(losses={"pair": "TripletLoss"})
    )
    assert 'losses["pair"]: ' in error and "not POSITIVE_PAIR" in error
    error = _refusal(capsys, tiny_encoder_dir, tmp_path, _mixed_items(), _options(losses={"quad": "mnrl"}))
    assert 'losses["quad"]: unknown feedback kind' in error


def test_empty_held_out_or_training_split_is_refused(tiny_encoder_dir, tmp_path, capsys):
    count = len(_mixed_items())
    error = _refusal(capsys, tiny_encoder_dir, tmp_path, _mixed_items(), _options(held_out_fraction=0.0))
    assert f"held_out_fraction 0.0 holds out none of the {count} feedback items" in error
    error = _refusal(capsys, tiny_encoder_dir, tmp_path, _mixed_items(), _options(held_out_fraction=1.0))
    assert f"held_out_fraction 1.0 holds out all {count} feedback items" in error


def test_output_folder_that_is_not_empty_is_refused(tiny_encoder_dir, tmp_path, capsys):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "something").write_text("x")
    error = _refusal(capsys, tiny_encoder_dir, tmp_path, _mixed_items(), _options())
    assert f"--output {tmp_path / 'out'}: not an empty folder" in error


def test_bad_labels_and_texts_are_refused_naming_the_feedback_id(tiny_encoder_dir, tmp_path, capsys):
    items = _mixed_items()
    items[2] = {**items[2], "texts": {**items[2]["texts"], "negative": "   "}}
    error = _refusal(capsys, tiny_encoder_dir, tmp_path, items, _options())
    assert f"triplet feedback id {items[2]['id']}: column 'negative' is empty text" in error
    items = _mixed_items()
    items[-1] = {**items[-1], "label": "high"}
    error = _refusal(capsys, tiny_encoder_dir, tmp_path, items, _options())
    assert f"line {len(items)}: field 'label' is 'high', expected a number" in error


def test_options_are_checked_by_name(tiny_encoder_dir, tmp_path, capsys):
    options = json.loads(_options())
    del options["seed"]
    error = _refusal(capsys, tiny_encoder_dir, tmp_path, _mixed_items(), json.dumps(options))
    assert "--options: seed missing" in error
    error = _refusal(capsys, tiny_encoder_dir, tmp_path, _mixed_items(), _options(batch_size=0))
    assert "--options batch_size must be an integer >= 1, got 0" in error


def test_held_out_data_with_nothing_to_measure_is_refused(tiny_encoder_dir, tmp_path, capsys):
    # One class of labelled texts: 1-NN accuracy is 1.0 for any model, so it cannot gate.
    items = [{"id": i, "kind": "labeled_text", "texts": {"text": f"text {i}"}, "label": 3} for i in range(40)]
    error = _refusal(capsys, tiny_encoder_dir, tmp_path, items, _options())
    assert "gives the gate nothing to measure" in error


def test_shapes_of_kinds_are_the_tutorials_four():
    assert set(FEEDBACK_KINDS.values()) == set(DataShape)
