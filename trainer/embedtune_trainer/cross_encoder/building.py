"""The cross-encoder a run trains: its head sized and its activation set by the loss that trains it."""

from __future__ import annotations

from embedtune_trainer.cross_encoder.model import CrossEncoder
from embedtune_trainer.data import TrainingData
from embedtune_trainer.losses import registry
from embedtune_trainer.losses.pair_score import PairScoreLoss


def cross_encoder_for(base: str | CrossEncoder, data: TrainingData, loss_name: str) -> CrossEncoder:
    """`base` (a CrossEncoder, a cross-encoder folder, or a backbone that gets a new head) ready for the loss.

    The activation becomes the loss's: the trained logits mean what that loss made them mean
    (MSELoss: the score itself; BinaryCrossEntropyLoss: a logit for sigmoid).
    """
    loss = registry.loss_class(loss_name)
    if not issubclass(loss, PairScoreLoss):
        raise TypeError(f"{loss_name} is not a cross-encoder loss")
    num_labels = 1 if loss.one_logit else data.class_count
    if isinstance(base, CrossEncoder):
        model = base
        if model.num_labels != num_labels:
            raise ValueError(f"the model has {model.num_labels} labels, {loss_name} trains {num_labels}")
    else:
        model = CrossEncoder.load(base, num_labels=num_labels)
    model.activation = loss.activation
    return model
