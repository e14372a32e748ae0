"""Build evaluators from files: STS pairs, triplets, BEIR-style retrieval sets."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from embedtune_trainer.data import DataError, DataSettings, DataShape, load_data
from embedtune_trainer.data.sources import DataSource
from embedtune_trainer.evaluation.evaluators import (
    BinaryClassificationEvaluator,
    Evaluator,
    RetrievalEvaluator,
    STSEvaluator,
    TripletEvaluator,
)


def sts_evaluator(source: DataSource, name: str = "sts") -> STSEvaluator:
    data = load_data(source, DataSettings(shape=DataShape.LABELED_PAIR))
    rows = data.dataset
    return STSEvaluator(rows["text1"], rows["text2"], [float(s) for s in rows["label"]], name=name)


def triplet_evaluator(source: DataSource, name: str = "triplet") -> TripletEvaluator:
    rows = load_data(source, DataSettings(shape=DataShape.TRIPLET)).dataset
    return TripletEvaluator(rows["anchor"], rows["positive"], rows["negative"], name=name)


def binary_evaluator(source: DataSource, name: str = "binary") -> BinaryClassificationEvaluator:
    rows = load_data(source, DataSettings(shape=DataShape.LABELED_PAIR)).dataset
    return BinaryClassificationEvaluator(
        rows["text1"], rows["text2"], [int(v) for v in rows["label"]], name=name
    )


def evaluator_for_data(source: DataSource, shape: DataShape | None = None) -> Evaluator:
    """The evaluator that fits a held-out set of training-shaped data (used for --eval-data)."""
    data = load_data(source, DataSettings(shape=shape))
    rows = data.dataset
    if data.shape is DataShape.TRIPLET:
        return TripletEvaluator(rows["anchor"], rows["positive"], rows["negative"])
    if data.shape is DataShape.LABELED_PAIR:
        labels = list(rows["label"])
        if all(float(v) in (0.0, 1.0) for v in labels) and all(isinstance(v, int) for v in labels):
            return BinaryClassificationEvaluator(rows["text1"], rows["text2"], [int(v) for v in labels])
        return STSEvaluator(rows["text1"], rows["text2"], [float(v) for v in labels])
    if data.shape is DataShape.POSITIVE_PAIR:
        # Each anchor must retrieve its own positive among all positives.
        corpus = {f"d{i}": text for i, text in enumerate(dict.fromkeys(rows["positive"]))}
        ids = {text: doc_id for doc_id, text in corpus.items()}
        queries = {f"q{i}": text for i, text in enumerate(rows["anchor"])}
        qrels = {f"q{i}": {ids[p]: 1.0} for i, p in enumerate(rows["positive"])}
        return RetrievalEvaluator(corpus, queries, qrels)
    raise DataError(
        f"no evaluator for data of shape {data.shape.name.lower()}; use pairs, scored pairs or triplets"
    )


def retrieval_evaluator(corpus: Path, queries: Path, qrels: Path, name: str = "ir") -> RetrievalEvaluator:
    """BEIR layout: corpus.jsonl {_id,title,text}, queries.jsonl {_id,text}, qrels TSV (query, doc, score)."""
    corpus_texts = read_beir_corpus(corpus)
    judgements = read_qrels(qrels)
    unknown = sorted({d for docs in judgements.values() for d in docs} - set(corpus_texts))
    if unknown:
        raise DataError(f"{qrels}: {len(unknown)} judged documents are not in {corpus}, e.g. {unknown[0]!r}")
    return RetrievalEvaluator(corpus_texts, read_beir_queries(queries), judgements, name=name)


def read_beir_corpus(path: Path) -> dict[str, str]:
    """Document id → "title text" (the title is part of what a retriever sees, as in BEIR)."""
    return {
        str(row["_id"]): (f"{row['title']} {row['text']}" if row.get("title") else row["text"])
        for row in _read_jsonl(path, ("_id", "text"))
    }


def read_beir_queries(path: Path) -> dict[str, str]:
    return {str(row["_id"]): row["text"] for row in _read_jsonl(path, ("_id", "text"))}


def read_qrels(path: Path) -> dict[str, dict[str, float]]:
    judgements: dict[str, dict[str, float]] = {}
    with Path(path).open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle, delimiter="\t")
        for number, record in enumerate(reader, start=1):
            if number == 1 and record and not _is_number(record[-1]):
                continue  # header
            if len(record) < 3 or not _is_number(record[2]):
                raise DataError(
                    f"{path}: row {number} must be query-id<TAB>corpus-id<TAB>score, got {record!r}"
                )
            if float(record[2]) > 0:
                judgements.setdefault(record[0], {})[record[1]] = float(record[2])
    if not judgements:
        raise DataError(f"{path}: no relevance judgement with a score above 0")
    return judgements


def _read_jsonl(path: Path, fields: tuple[str, ...]) -> list[dict]:
    rows = []
    with Path(path).open(encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}: row {number} is not valid JSON ({exc.msg})") from exc
            for field in fields:
                if not isinstance(row, dict) or field not in row:
                    raise DataError(f"{path}: row {number} has no field {field!r}")
            rows.append(row)
    if not rows:
        raise DataError(f"{path}: the file has no rows")
    return rows


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
