"""`embedtune train` and `embedtune evaluate` end to end on tiny data and a tiny encoder."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
from tiny_models import make_triplets

from embedtune_trainer import SentenceEncoder
from embedtune_trainer.cli import register
from embedtune_trainer.training.version_folder import read_record


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args([str(a) for a in argv])
    return args.handler(args)


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_cli_train_writes_a_complete_model_version_folder(tiny_encoder_dir, tmp_path, capsys):
    data = _write_jsonl(
        tmp_path / "train.jsonl",
        [
            {"query": r["anchor"], "pos": r["positive"], "neg": r["negative"]}
            for r in make_triplets(24, seed=0)
        ],
    )
    held_out = _write_jsonl(tmp_path / "dev.jsonl", make_triplets(16, seed=5))
    out = tmp_path / "models" / "v2"
    code = _cli(
        [
            "train",
            "--data",
            data,
            "--loss",
            "mnrl",
            "--base",
            tiny_encoder_dir,
            "--epochs",
            1,
            "--batch-size",
            8,
            "--lr",
            "1e-3",
            "--output",
            out,
            "--eval-data",
            held_out,
            "--matryoshka-dims",
            "32,16",
            "--warmup-ratio",
            "0.1",
            "--parent",
            "v1",
        ]
    )
    assert code == 0
    summary = capsys.readouterr().out
    assert "MatryoshkaLoss" in summary and "triplet_cosine_accuracy" in summary
    for name in (
        "modules.json",
        "config_sentence_transformers.json",
        "sentence_bert_config.json",
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "1_Pooling/config.json",
        "README.md",
        "embedtune.json",
        "onnx/model.onnx",
        "onnx/model_qint8.onnx",
    ):
        assert (out / name).is_file(), name
    assert not (out / "checkpoints").exists()
    record = read_record(out)
    assert record["version"] == "v2" and record["parent"] == "v1"
    assert record["loss"] == "MatryoshkaLoss"
    assert record["loss_config"]["loss"] == "MultipleNegativesRankingLoss"
    assert record["data"]["examples"] == 24 and record["data"]["shape"] == "triplet"
    assert set(record["metrics"]) == {"triplet_cosine_accuracy"}
    assert record["created_at"].endswith("+00:00")
    card = (out / "README.md").read_text()
    assert "MatryoshkaLoss" in card and str(data) in card and "triplet_cosine_accuracy" in card

    results = tmp_path / "eval.json"
    assert _cli(["evaluate", "--model", out, "--triplets", held_out, "--json", results]) == 0
    table = capsys.readouterr().out
    assert "triplet/cosine_accuracy" in table
    written = json.loads(results.read_text())
    assert written["results"]["triplet"]["cosine_accuracy"] == pytest.approx(
        record["metrics"]["triplet_cosine_accuracy"], abs=1e-6
    )


def test_cli_train_refuses_unfit_loss_without_traceback(tiny_encoder_dir, tmp_path, capsys):
    data = _write_jsonl(
        tmp_path / "pairs.jsonl", [{"anchor": f"a{i}", "positive": f"b{i}"} for i in range(8)]
    )
    code = _cli(
        [
            "train",
            "--data",
            data,
            "--loss",
            "CoSENTLoss",
            "--base",
            tiny_encoder_dir,
            "--output",
            tmp_path / "out",
            "--no-export",
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "CoSENTLoss" in err and "POSITIVE_PAIR" in err and "Traceback" not in err


def test_cli_train_unknown_shape_lists_columns(tiny_encoder_dir, tmp_path, capsys):
    data = _write_jsonl(tmp_path / "odd.jsonl", [{"foo": "a", "bar": "b"}] * 4)
    assert _cli(["train", "--data", data, "--base", tiny_encoder_dir, "--output", tmp_path / "o"]) == 2
    assert "foo, bar" in capsys.readouterr().err


TOPICS = ["cats", "cars", "rain", "music", "bread"]


def _ir_by_hand(
    encoder: SentenceEncoder, documents: list[str], queries: list[str], relevant: list[int]
) -> dict[str, float]:
    """Recall@1, recall@5 and MRR@10 computed here from cosine ranks, one relevant document per query."""
    scores = encoder.encode(queries, normalize=True) @ encoder.encode(documents, normalize=True).T
    target = scores[np.arange(len(queries)), relevant]
    ranks = 1 + (scores > target[:, None]).sum(1)
    return {
        "recall@1": float(np.mean(ranks <= 1)),
        "recall@5": float(np.mean(ranks <= 5)),
        "mrr@10": float(np.mean(np.where(ranks <= 10, 1 / ranks, 0.0))),
    }


def test_cli_evaluate_sts_and_ir(tiny_encoder_dir, tmp_path, capsys):
    sts = tmp_path / "sts.csv"
    sts.write_text(
        "a cat sits,a cat is sitting,4.5\na dog runs,the stock market fell,0.2\n"
        "a man sings,a man is singing,4.8\nit rains,a woman cooks,0.5\n"
    )
    documents = [f"document {i} about {TOPICS[i % len(TOPICS)]} number {i * 7 % 11}" for i in range(40)]
    corpus = _write_jsonl(
        tmp_path / "corpus.jsonl", [{"_id": f"d{i}", "title": "", "text": t} for i, t in enumerate(documents)]
    )
    query_texts = [f"{TOPICS[i % len(TOPICS)]} number {i}" for i in range(12)]
    queries = _write_jsonl(
        tmp_path / "queries.jsonl", [{"_id": f"q{i}", "text": t} for i, t in enumerate(query_texts)]
    )
    relevant = [3 * i for i in range(len(query_texts))]  # each query's one relevant document
    qrels = tmp_path / "qrels.tsv"
    qrels.write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"q{i}\td{d}\t1\n" for i, d in enumerate(relevant))
    )
    out = tmp_path / "r.json"
    code = _cli(
        ["evaluate", "--model", tiny_encoder_dir, "--sts", sts, "--ir", corpus, queries, qrels, "--json", out]
    )
    assert code == 0
    results = json.loads(out.read_text())["results"]
    assert set(results["sts"]) == {"spearman_cosine", "pearson_cosine"}
    assert set(results["ir"]) == {"mrr@10", "ndcg@10", "recall@1", "recall@5", "recall@10", "map@100"}
    expected = _ir_by_hand(SentenceEncoder.load(tiny_encoder_dir), documents, query_texts, relevant)
    assert expected["recall@5"] < 1.0  # 40 documents: an untrained encoder misses some, unlike with 3
    # figures are multiples of 1/12 or sums of reciprocal ranks: equal up to float rounding (1e-6)
    assert {key: results["ir"][key] for key in expected} == pytest.approx(expected, abs=1e-6)
    assert "ir/ndcg@10" in capsys.readouterr().out


def test_cli_evaluate_bad_qrels_names_row(tiny_encoder_dir, tmp_path, capsys):
    corpus = _write_jsonl(tmp_path / "c.jsonl", [{"_id": "d0", "text": "x"}])
    queries = _write_jsonl(tmp_path / "q.jsonl", [{"_id": "q", "text": "x"}])
    qrels = tmp_path / "qrels.tsv"
    qrels.write_text("q\td0\t1\nq\td0\n")
    assert _cli(["evaluate", "--model", tiny_encoder_dir, "--ir", corpus, queries, qrels]) == 2
    assert "row 2" in capsys.readouterr().err
