"""`EncoderTrainer`: transformers.Trainer driving a loss over a SentenceEncoder (or a CrossEncoder).

The Trainer's "model" is the loss module (each loss holds the encoder as `loss.model`), so
the optimiser also sees a loss's own parameters (SoftmaxLoss's classifier) and DDP wraps one
module. It goes in a thin `LossModule`, because the Trainer treats a `config` attribute
as a transformers config and `EmbeddingLoss.config()` is a method. Everything else —
checkpoints, resume, warm-up, accumulation, evaluation, keep-best, multi-GPU — is the
library's. What changes:

- a run trains one or several datasets, each with its own loss over the one shared
  encoder: batches come from our batch samplers (one dataset per batch), tokenised by
  that dataset's `EncoderCollator` (`RoutingCollator`);
- `compute_loss` calls the batch's dataset's loss on `features` + `labels`;
- checkpoints hold the model in its sentence-transformers folder format (loadable by its
  class's `load`) plus the loss's own parameters, and are loaded back the same way;
- evaluation adds the evaluator's metrics (e.g. eval_sts_spearman_cosine) to eval_loss.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import safetensors.torch
import torch
import transformers
from torch.utils.data import DataLoader, Sampler

from embedtune_trainer.cross_encoder import CrossEncoder
from embedtune_trainer.encoder import SentenceEncoder
from embedtune_trainer.evaluation.evaluators import Evaluator, evaluate_all
from embedtune_trainer.losses.base import EmbeddingLoss
from embedtune_trainer.training.dataset_mix import DATASET_KEY

LOSS_STATE_FILE = "loss.safetensors"


def accepts_merged_columns(loss: EmbeddingLoss) -> bool:
    """Whether the loss is plain `compute(embed(features))`, so its columns can share one pass."""
    kind = type(loss)
    return kind.forward is EmbeddingLoss.forward and kind.embed is EmbeddingLoss.embed


class LossModule(torch.nn.Module):
    """The losses as the Trainer's model: `forward(features, labels, column_sizes, dataset) -> loss`.

    `losses[d]` trains dataset d of the run; all of them embed with the same encoder.
    With `column_sizes` (see `EncoderCollator`), `features` is one batch of all columns'
    texts: the encoder runs once and the embeddings are split back into columns before
    the loss's maths. Only for losses whose forward is the plain `compute(embed(...))`.
    """

    def __init__(self, losses: Sequence[EmbeddingLoss]) -> None:
        super().__init__()
        if not losses:
            raise ValueError("a LossModule needs at least one loss")
        if any(loss.model is not losses[0].model for loss in losses):
            raise ValueError("every loss of one run must train the same encoder")
        self.losses = torch.nn.ModuleList(losses)

    @property
    def encoder(self) -> torch.nn.Module:
        return self.losses[0].model

    def forward(
        self,
        features: list[dict[str, torch.Tensor]],
        labels: torch.Tensor | None,
        column_sizes: list[int] | None = None,
        dataset: int = 0,
    ) -> torch.Tensor:
        loss = self.losses[dataset]
        if column_sizes is None:
            return loss(features, labels)
        if not accepts_merged_columns(loss):
            raise ValueError(f"{type(loss).__name__} needs one tokenised batch per column")
        embeddings = self.encoder(features[0])["sentence_embedding"]
        return loss.compute(list(torch.split(embeddings, column_sizes)), labels)


class EncoderTrainer(transformers.Trainer):
    def __init__(
        self,
        losses: Sequence[EmbeddingLoss],
        batch_sampler: Sampler[list[int]],
        evaluator: Evaluator | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(model=LossModule(losses), **kwargs)
        self.batch_sampler = batch_sampler
        self.evaluator = evaluator

    @property
    def encoder(self) -> SentenceEncoder | CrossEncoder:
        return self.model.encoder

    # --- data ------------------------------------------------------------------------------

    def get_train_dataloader(self) -> DataLoader:
        loader = DataLoader(
            self.train_dataset,
            batch_sampler=self.batch_sampler,
            collate_fn=self.data_collator,
            num_workers=self.args.dataloader_num_workers,
            pin_memory=self.args.dataloader_pin_memory,
        )
        return self.accelerator.prepare(loader)

    # --- loss ------------------------------------------------------------------------------

    def compute_loss(
        self,
        model: torch.nn.Module,
        inputs: dict[str, Any],
        return_outputs: bool = False,
        num_items_in_batch: Any = None,
    ) -> torch.Tensor | tuple[torch.Tensor, dict]:
        loss = model(
            inputs["features"], inputs.get("labels"), inputs.get("column_sizes"), inputs[DATASET_KEY]
        )
        return (loss, {}) if return_outputs else loss

    def prediction_step(
        self,
        model: torch.nn.Module,
        inputs: dict[str, Any],
        prediction_loss_only: bool,
        ignore_keys: list[str] | None = None,
    ) -> tuple[torch.Tensor, None, None]:
        inputs = self._prepare_inputs(inputs)
        with torch.no_grad():
            loss = self.compute_loss(model, inputs)
        return loss.detach(), None, None

    # --- evaluation ------------------------------------------------------------------------

    def evaluation_loop(self, *args: Any, **kwargs: Any) -> transformers.trainer_utils.EvalLoopOutput:
        output = super().evaluation_loop(*args, **kwargs)
        prefix = kwargs.get("metric_key_prefix", args[4] if len(args) > 4 else "eval")
        output.metrics.update(self._evaluator_metrics(prefix))
        return output

    def evaluate(
        self,
        eval_dataset: Any = None,
        ignore_keys: list[str] | None = None,
        metric_key_prefix: str = "eval",
    ) -> dict[str, float]:
        if eval_dataset is not None or self.eval_dataset is not None:
            return super().evaluate(eval_dataset, ignore_keys, metric_key_prefix)
        # No held-out loss to compute: the evaluator alone gives the metrics.
        metrics = self._evaluator_metrics(metric_key_prefix)
        self.log(metrics)
        self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
        return metrics

    def _evaluator_metrics(self, prefix: str) -> dict[str, float]:
        if self.evaluator is None:
            return {}
        metrics = evaluate_all([self.evaluator], self.encoder)
        return {f"{prefix}_{key}": value for key, value in metrics.items()}

    # --- checkpoints -----------------------------------------------------------------------

    def _save(self, output_dir: str | None = None, state_dict: dict | None = None) -> None:
        if not self.args.should_save:
            return
        folder = Path(output_dir or self.args.output_dir)
        self.encoder.save(folder)
        loss_state = loss_only_state(self.model, self.encoder)
        if loss_state:
            safetensors.torch.save_file(loss_state, str(folder / LOSS_STATE_FILE))
        torch.save(self.args, os.path.join(folder, transformers.trainer.TRAINING_ARGS_NAME))

    def _load_from_checkpoint(
        self, resume_from_checkpoint: str, model: torch.nn.Module | None = None
    ) -> None:
        self._load_encoder_folder(Path(resume_from_checkpoint))

    def _load_best_model(self) -> None:
        self._load_encoder_folder(Path(self.state.best_model_checkpoint))

    def _load_encoder_folder(self, folder: Path) -> None:
        saved = type(self.encoder).load(folder)
        self.encoder.load_state_dict(saved.state_dict())
        loss_file = folder / LOSS_STATE_FILE
        if loss_file.is_file():
            self.model.load_state_dict(safetensors.torch.load_file(str(loss_file)), strict=False)


def loss_only_state(loss: torch.nn.Module, encoder: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The loss's own parameters and buffers (not the encoder's), keyed as in `loss.state_dict()`."""
    encoder_tensors = {id(t) for t in (*encoder.parameters(), *encoder.buffers())}
    state = loss.state_dict(keep_vars=True)
    return {
        name: tensor.detach().contiguous().cpu()
        for name, tensor in state.items()
        if id(tensor) not in encoder_tensors
    }
