"""One loss per module; see `registry` for which loss fits which data shape."""

from embedtune_trainer.losses.base import EmbeddingLoss
from embedtune_trainer.losses.batch_all_triplet import BatchAllTripletLoss, batch_all_triplet_loss
from embedtune_trainer.losses.batch_hard_soft_margin_triplet import (
    BatchHardSoftMarginTripletLoss,
    batch_hard_soft_margin_triplet_loss,
)
from embedtune_trainer.losses.batch_hard_triplet import BatchHardTripletLoss, batch_hard_triplet_loss
from embedtune_trainer.losses.batch_semi_hard_triplet import (
    BatchSemiHardTripletLoss,
    batch_semi_hard_triplet_loss,
)
from embedtune_trainer.losses.binary_cross_entropy import BinaryCrossEntropyLoss
from embedtune_trainer.losses.cached_multiple_negatives_ranking import (
    CachedMultipleNegativesRankingLoss,
    CachedMultipleNegativesSymmetricRankingLoss,
)
from embedtune_trainer.losses.contrastive import ContrastiveLoss, contrastive_loss
from embedtune_trainer.losses.cosent import CoSENTLoss, cosent_loss
from embedtune_trainer.losses.cosine_similarity import CosineSimilarityLoss, cosine_similarity_loss
from embedtune_trainer.losses.cross_entropy import CrossEntropyLoss
from embedtune_trainer.losses.gradcache import GradCachedLoss, grad_cached_loss
from embedtune_trainer.losses.matryoshka import MatryoshkaLoss, matryoshka_loss
from embedtune_trainer.losses.mega_batch_margin import MegaBatchMarginLoss, mega_batch_margin_loss
from embedtune_trainer.losses.mse import MSELoss
from embedtune_trainer.losses.multiple_negatives_ranking import (
    MultipleNegativesRankingLoss,
    MultipleNegativesSymmetricRankingLoss,
    multiple_negatives_ranking_loss,
)
from embedtune_trainer.losses.online_contrastive import OnlineContrastiveLoss, online_contrastive_loss
from embedtune_trainer.losses.pair_score import PairScoreLoss
from embedtune_trainer.losses.registry import (
    build_loss,
    check_loss_fits,
    default_loss,
    loss_class,
    losses_fitting,
    losses_for_shape,
)
from embedtune_trainer.losses.softmax import PairFeatures, SoftmaxLoss, softmax_loss
from embedtune_trainer.losses.triplet import TripletLoss, triplet_loss

__all__ = [
    "BatchAllTripletLoss",
    "BatchHardSoftMarginTripletLoss",
    "BatchHardTripletLoss",
    "BatchSemiHardTripletLoss",
    "BinaryCrossEntropyLoss",
    "CachedMultipleNegativesRankingLoss",
    "CachedMultipleNegativesSymmetricRankingLoss",
    "CoSENTLoss",
    "ContrastiveLoss",
    "CosineSimilarityLoss",
    "CrossEntropyLoss",
    "EmbeddingLoss",
    "GradCachedLoss",
    "MSELoss",
    "MatryoshkaLoss",
    "MegaBatchMarginLoss",
    "MultipleNegativesRankingLoss",
    "MultipleNegativesSymmetricRankingLoss",
    "OnlineContrastiveLoss",
    "PairFeatures",
    "PairScoreLoss",
    "SoftmaxLoss",
    "TripletLoss",
    "batch_all_triplet_loss",
    "batch_hard_soft_margin_triplet_loss",
    "batch_hard_triplet_loss",
    "batch_semi_hard_triplet_loss",
    "build_loss",
    "check_loss_fits",
    "contrastive_loss",
    "cosent_loss",
    "cosine_similarity_loss",
    "default_loss",
    "grad_cached_loss",
    "loss_class",
    "losses_fitting",
    "losses_for_shape",
    "matryoshka_loss",
    "mega_batch_margin_loss",
    "multiple_negatives_ranking_loss",
    "online_contrastive_loss",
    "softmax_loss",
    "triplet_loss",
]
