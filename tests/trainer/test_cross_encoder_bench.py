"""`embedtune bench pairs` at small N on tiny models: right picks, a complete pairs.json, a real pairs.png."""

from __future__ import annotations

import argparse
import itertools
import json

import numpy as np
import pytest
from tiny_models import TOPICS, build_tiny_cross_encoder

from embedtune_trainer.cli import register
from embedtune_trainer.cross_encoder import CrossEncoder
from embedtune_trainer.encoder import SentenceEncoder
from embedtune_trainer.export import export_model_folder

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _bench(bi, cross, sentences) -> list[str]:
    return [
        "bench",
        "pairs",
        "--bi-encoder",
        str(bi),
        "--cross-encoder",
        str(cross),
        "--sentences",
        str(sentences),
    ]


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.handler(args)


@pytest.fixture(scope="module")
def models(tmp_path_factory, tiny_encoder_dir):
    folder = tmp_path_factory.mktemp("bench")
    export_model_folder(tiny_encoder_dir, output=folder / "bi")
    build_tiny_cross_encoder(seed=5).save(folder / "cross")
    export_model_folder(folder / "cross")
    return folder / "bi", folder / "cross"


@pytest.fixture(scope="module")
def sentences_file(tmp_path_factory):
    words = [w for topic in TOPICS.values() for w in topic]
    lines = [" ".join(combo) for combo in itertools.islice(itertools.combinations(words, 3), 0, 400, 7)][:50]
    path = tmp_path_factory.mktemp("sentences") / "sentences.txt"
    path.write_text("\n".join(lines) + "\n")
    return path, lines


def test_bench_pairs_writes_the_records_and_the_plot(models, sentences_file, tmp_path, capsys):
    bi, cross = models
    path, lines = sentences_file
    argv = [
        "bench",
        "pairs",
        "--bi-encoder",
        str(bi),
        "--cross-encoder",
        str(cross),
        "--sentences",
        str(path),
    ]
    argv += ["--n", "20,40", "--budget-s", "0", "--corpus", "30", "--threads", "1", "--output", str(tmp_path)]
    assert _cli(argv) == 0
    assert "(extrapolated)" in capsys.readouterr().out

    report = json.loads((tmp_path / "pairs.json").read_text())
    small, large = report["records"]
    # N=20: 190 pairs fit in the first chunk, so the run finishes even with no budget left.
    assert (small["n"], small["pairs"], small["cross_extrapolated"]) == (20, 190, False)
    assert small["cross_pairs_scored"] == 190
    # N=40: 780 pairs; the budget stops it after the first chunk and the rest is extrapolated.
    assert (large["n"], large["pairs"], large["cross_extrapolated"]) == (40, 780, True)
    assert 0 < large["cross_pairs_scored"] < 780
    for record in (small, large):
        assert record["ratio"] == pytest.approx(record["cross_s"] / record["bi_s"])
    assert report["corpus"]["documents"] == 30 and report["corpus"]["cross_extrapolated"] is False

    texts = lines[:20]
    embeddings = SentenceEncoder.load(bi).encode(texts, normalize=True)
    similarity = np.triu(embeddings @ embeddings.T, k=1) - np.tril(np.ones((20, 20)))
    assert small["bi_pick"] == list(np.unravel_index(np.argmax(similarity), similarity.shape))
    pairs = list(itertools.combinations(range(20), 2))
    logits = CrossEncoder.load(cross).predict(
        [(texts[i], texts[j]) for i, j in pairs], apply_activation=False
    )
    assert small["cross_pick"] == list(pairs[int(np.argmax(logits))])
    assert small["same_pair"] == (small["cross_pick"] == small["bi_pick"])
    bi_pair = pairs.index(tuple(small["bi_pick"]))
    assert small["cross_score_of_bi_pick"] == pytest.approx(logits[bi_pair], abs=1e-4)

    assert (tmp_path / "pairs.png").read_bytes()[:8] == PNG_SIGNATURE


def test_bench_pairs_refuses_too_many_sentences_and_a_bi_encoder_as_cross_encoder(
    models, sentences_file, tmp_path, capsys
):
    bi, cross = models
    path, _ = sentences_file
    argv = [
        "bench",
        "pairs",
        "--bi-encoder",
        str(bi),
        "--cross-encoder",
        str(cross),
        "--sentences",
        str(path),
    ]
    assert _cli([*argv, "--n", "20,5000", "--output", str(tmp_path)]) == 2
    assert "--n 5000: needs 2 to 50" in capsys.readouterr().err
    swapped = [*argv[:3], str(cross), "--cross-encoder", str(bi), "--sentences", str(path), "--n", "20"]
    assert _cli(swapped) == 2
    assert "is not an exported cross-encoder" in capsys.readouterr().err


def test_a_corpus_many_times_the_sentences_is_all_distinct_documents():
    from embedtune_trainer.bench.pairs import build_corpus

    sentences = [f"sentence {i}" for i in range(7)]
    corpus = build_corpus(sentences, 7 * 6)  # every ordered pair of distinct sentences once
    assert len(corpus) == len(set(corpus)) == 42
    assert corpus[:7] == sentences
    with pytest.raises(ValueError, match="7 sentences cannot make 50 distinct documents"):
        build_corpus(sentences, 50)
