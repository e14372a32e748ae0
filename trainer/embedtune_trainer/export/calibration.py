"""Calibration text for int8 export: which input channels of a layer run hot.

Outlier channels are a property of the trained weights, visible on almost any
input, so a few dozen varied sentences written for this purpose find them; no
dataset has to be shipped or downloaded. Callers may pass their own texts. A
cross-encoder reads pairs: each text is paired with its neighbour in length order, so
the pairs vary as much as the texts and a batch still pads little.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from embedtune_trainer.model_kind import ModelKind

if TYPE_CHECKING:
    from embedtune_trainer.cross_encoder import CrossEncoder
    from embedtune_trainer.encoder import SentenceEncoder

CALIBRATION_TEXTS: tuple[str, ...] = (
    "A man is playing a guitar on the street.",
    "Two dogs are running through a snowy field.",
    "How do I reset my password if I no longer have access to my email?",
    "The central bank raised interest rates by a quarter of a percentage point.",
    "Photosynthesis converts light energy into chemical energy stored in glucose.",
    "The patient was given 5 mg of the drug twice daily for two weeks.",
    "def add(a, b): return a + b",
    "SELECT name, count(*) FROM orders GROUP BY name ORDER BY 2 DESC;",
    "Error: connection refused (errno 111) while contacting 10.0.0.12:5432",
    "Best pizza in town!!! Totally worth the 40 minute wait :)",
    "The committee will meet on Tuesday to review the budget proposal.",
    "She finished the marathon in three hours and twelve minutes.",
    "Is it safe to take ibuprofen with coffee?",
    "Return policy: items can be returned within 30 days with a receipt.",
    "The quick brown fox jumps over the lazy dog.",
    "Mitochondria are the powerhouse of the cell.",
    "In 1969, Apollo 11 landed the first humans on the Moon.",
    "Add two cups of flour, a pinch of salt and stir until smooth.",
    "The train to Berlin departs from platform 7 at 14:35.",
    "Our quarterly revenue grew 12% year over year, driven by cloud services.",
    "Le chat dort sur le canapé depuis ce matin.",
    "Der Vertrag tritt am ersten Januar in Kraft.",
    "El gobierno anunció nuevas medidas para reducir la inflación.",
    "東京は日本の首都です。",
    "Как пройти к ближайшей станции метро?",
    "ok",
    "thanks",
    "Why is the sky blue?",
    "Vaccines train the immune system to recognise a pathogen without causing the disease.",
    "The defendant pleaded not guilty to all charges.",
    "Update the README with installation instructions for Windows.",
    "Sparse retrieval ranks documents by term overlap, dense retrieval by embedding similarity.",
    "The hotel room was clean but the air conditioning did not work.",
    "Warning: this product contains small parts and is not suitable for children under 3.",
    "A woman is slicing an onion in a kitchen while a child watches.",
    "Gradient descent updates the weights in the direction that lowers the loss.",
    "Traffic on the northbound highway is backed up for five miles after an accident.",
    "What is the difference between a virus and a bacterium?",
    "Please find attached the signed copy of the agreement.",
    "The orchestra played Beethoven's ninth symphony to a sold-out hall.",
    "Rain is expected throughout the weekend with temperatures around 12 degrees.",
    "I can't log in to the app after the latest update, it just shows a blank screen.",
    "The study followed 4,000 adults over ten years and found no significant effect.",
    "Cats sleep for twelve to sixteen hours a day.",
    "Replace the filter every three months to keep the purifier working efficiently.",
    "The museum's new wing houses a collection of contemporary African art.",
    "Stocks fell sharply after the company missed its earnings forecast.",
    "He forgot his umbrella and got soaked on the way home. "
    "By the time he reached the office the meeting had already started, "
    "and everyone turned to look at him as he walked in dripping wet.",
)


def calibration_batches(
    model: SentenceEncoder | CrossEncoder, texts: Sequence[str] = CALIBRATION_TEXTS, batch_size: int = 16
) -> list[dict[str, np.ndarray]]:
    """The model's graph inputs for `texts`, in batches of similar length (little padding)."""
    ordered = sorted(texts, key=len)
    neighbours = [*ordered[1:], ordered[0]]
    inputs = ordered if model.kind is ModelKind.BI_ENCODER else list(zip(ordered, neighbours, strict=True))
    return [
        {name: tensor.numpy() for name, tensor in model.tokenize(inputs[i : i + batch_size]).items()}
        for i in range(0, len(inputs), batch_size)
    ]
