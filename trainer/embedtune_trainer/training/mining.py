"""Hard-negative mining: turn (anchor, positive) pairs into (anchor, positive, negative) triplets.

The current encoder embeds every positive (the corpus) into a FAISS inner-product index
over unit vectors (= cosine). For each anchor, the nearest corpus texts that are not one
of its positives and score at least `margin` below its positive become its negatives:
close enough to be hard, far enough not to be an unlabelled duplicate of the positive.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import datasets
import faiss
import numpy as np

from embedtune_trainer.encoder import SentenceEncoder
from embedtune_trainer.training.settings import MiningSettings


@dataclass
class MiningReport:
    pairs: int
    triplets: int
    anchors_without_negative: int


def mine_hard_negatives(
    encoder: SentenceEncoder,
    pairs: datasets.Dataset,
    settings: MiningSettings,
    batch_size: int = 64,
    show_progress: bool = False,
    corpus: list[str] | None = None,
) -> tuple[datasets.Dataset, MiningReport]:
    """`pairs` has columns anchor, positive; returns anchor, positive, negative rows.

    Candidates are the positives plus `corpus` (e.g. every document of a retrieval set).
    """
    anchors, positives = list(pairs["anchor"]), list(pairs["positive"])
    corpus = list(dict.fromkeys([*positives, *(corpus or [])]))
    positives_of: dict[str, set[str]] = defaultdict(set)
    for anchor, positive in zip(anchors, positives, strict=True):
        positives_of[anchor].add(positive)

    corpus_vectors = encoder.encode(
        corpus, batch_size=batch_size, normalize=True, show_progress=show_progress
    )
    anchor_vectors = encoder.encode(
        anchors, batch_size=batch_size, normalize=True, show_progress=show_progress
    )
    position = {text: i for i, text in enumerate(corpus)}
    positive_vectors = corpus_vectors[[position[p] for p in positives]]
    positive_scores = np.sum(anchor_vectors * positive_vectors, axis=1)

    index = faiss.IndexFlatIP(corpus_vectors.shape[1])
    index.add(np.ascontiguousarray(corpus_vectors, dtype=np.float32))
    # Room for the anchor's own positives and the skipped top hits.
    depth = min(len(corpus), settings.top_k + settings.skip_top + max(len(p) for p in positives_of.values()))
    scores, neighbours = index.search(np.ascontiguousarray(anchor_vectors, dtype=np.float32), depth)

    rows = []
    without = 0
    for i, (anchor, positive) in enumerate(zip(anchors, positives, strict=True)):
        chosen = _negatives_for(
            anchor, positives_of[anchor], corpus, neighbours[i], scores[i], positive_scores[i], settings
        )
        if not chosen:
            without += 1
        rows.extend({"anchor": anchor, "positive": positive, "negative": n} for n in chosen)
    report = MiningReport(pairs=len(anchors), triplets=len(rows), anchors_without_negative=without)
    if not rows:
        raise ValueError(
            f"hard-negative mining found no negative for any of {len(anchors)} anchors "
            f"(top_k={settings.top_k}, margin={settings.margin}); lower the margin or add data"
        )
    return datasets.Dataset.from_list(rows), report


def _negatives_for(
    anchor: str,
    own_positives: set[str],
    corpus: list[str],
    neighbours: np.ndarray,
    scores: np.ndarray,
    positive_score: float,
    settings: MiningSettings,
) -> list[str]:
    candidates = [
        (corpus[j], float(s))
        for j, s in zip(neighbours, scores, strict=True)
        if j >= 0 and corpus[j] not in own_positives and corpus[j] != anchor
    ]
    candidates = candidates[settings.skip_top : settings.skip_top + settings.top_k]
    return [text for text, score in candidates if score <= positive_score - settings.margin][
        : settings.negatives_per_anchor
    ]
