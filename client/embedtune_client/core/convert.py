"""Between the generated protobuf messages and the client's public types."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from embedtune_client.contract import JOB_KINDS, JOB_STATES
from embedtune_client.feedback import DocumentRef, FeedbackItem, LabeledPair, LabeledText, Pair, Triplet
from embedtune_client.results import (
    Document,
    EmbedResult,
    Gate,
    Hit,
    Job,
    JobProgress,
    Limits,
    ModelVersion,
    RerankResult,
    RerankResults,
    SearchResults,
    ServerInfo,
    Timings,
    TrainingOptions,
)
from embedtune_client.v1 import embedtune_pb2 as pb

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def timings(message: pb.Timings) -> Timings:
    return Timings(message.queue_us, message.tokenize_us, message.inference_us)


def summed_timings(responses: Sequence[pb.EmbedResponse | pb.RerankResponse]) -> Timings:
    """Each stage's time over the responses of one call's chunks."""
    return Timings(
        queue_us=sum(r.timings.queue_us for r in responses),
        tokenize_us=sum(r.timings.tokenize_us for r in responses),
        inference_us=sum(r.timings.inference_us for r in responses),
    )


def embed_result(responses: Sequence[pb.EmbedResponse], empty_dimension: int) -> EmbedResult:
    """Join the responses of an embed call's chunks, in order, into one (n, dim) float32 array."""
    rows = [embedding.values for response in responses for embedding in response.embeddings]
    if rows:
        dimensions = {len(row) for row in rows}
        if len(dimensions) != 1:
            raise ValueError(f"the server returned embeddings of different sizes {sorted(dimensions)}")
        embeddings = np.array(rows, dtype=np.float32)
    else:
        embeddings = np.empty((0, empty_dimension), dtype=np.float32)
    return EmbedResult(
        embeddings=embeddings,
        model_version=responses[-1].model_version if responses else "",
        token_counts=tuple(count for response in responses for count in response.token_counts),
        timings=summed_timings(responses),
    )


def server_info(message: pb.InfoResponse) -> ServerInfo:
    limits = message.limits
    return ServerInfo(
        model_version=message.model_version,
        model_name=message.model_name,
        dimension=message.dimension,
        max_seq_length=message.max_seq_length,
        normalized=message.normalized,
        quantized=message.quantized,
        limits=Limits(**{name: getattr(limits, name) for name in Limits.__dataclass_fields__}),
        index_size=message.index_size,
        index_type=message.index_type,
        server_version=message.server_version,
        auth_required=message.auth_required,
        rss_bytes=message.rss_bytes,
        cross_encoder_version=message.cross_encoder_version,
        cross_encoder_name=message.cross_encoder_name,
        cross_encoder_quantized=message.cross_encoder_quantized,
        cross_encoder_max_seq_length=message.cross_encoder_max_seq_length,
    )


def document(message: pb.Document) -> Document:
    return Document(id=message.id, text=message.text, metadata=dict(message.metadata))


def search_results(message: pb.SearchResponse, model_version: str = "") -> SearchResults:
    hits = (Hit(h.id, h.score, h.text, dict(h.metadata)) for h in message.hits)
    return SearchResults(hits, message.model_version or model_version, timings(message.timings))


def rerank_results(
    responses: Sequence[pb.RerankResponse], offsets: Sequence[int], top_n: int | None
) -> RerankResults:
    """Join the responses of a rerank's chunks (chunk i starts at candidate `offsets[i]`): best
    first over all of them, equal scores in candidate order, the first `top_n`."""
    results = [
        RerankResult(r.index + offset, r.score, r.id, r.text)
        for response, offset in zip(responses, offsets, strict=True)
        for r in response.results
    ]
    results.sort(key=lambda r: (-r.score, r.index))
    return RerankResults(
        results[:top_n], responses[-1].cross_encoder_version if responses else "", summed_timings(responses)
    )


def text_ref(name: str, value: str | DocumentRef) -> pb.TextRef:
    """An inline text or a stored document's id."""
    if isinstance(value, DocumentRef):
        if not value.id:
            raise ValueError(f"{name} refers to a document with an empty id")
        return pb.TextRef(document_id=value.id)
    if isinstance(value, str):
        return pb.TextRef(text=value)
    raise TypeError(f"{name} must be a str or a DocumentRef, got {type(value).__name__}")


def _score_or_class(name: str, label: float | int) -> dict[str, float | int]:
    """A float label is a similarity score, an int a class (bool is refused, not taken as 0/1)."""
    if isinstance(label, (float, np.floating)):
        if not np.isfinite(label):
            raise ValueError(f"{name} must be a finite score, got {label}")
        return {"score": float(label)}
    return {"class_label": _class_label(name, label)}


def _class_label(name: str, label: int) -> int:
    if isinstance(label, bool) or not isinstance(label, (int, np.integer)):
        raise TypeError(f"{name} must be a float score or an int class, got {type(label).__name__}")
    if not INT32_MIN <= label <= INT32_MAX:
        raise ValueError(f"{name} must fit in 32 bits ({INT32_MIN}..{INT32_MAX}), got {label}")
    return int(label)


def feedback_item(name: str, item: FeedbackItem) -> pb.FeedbackItem:
    """One feedback item as its proto message."""
    if isinstance(item, Triplet):
        return pb.FeedbackItem(
            triplet=pb.Triplet(
                anchor=text_ref(f"{name}.anchor", item.anchor),
                positive=text_ref(f"{name}.positive", item.positive),
                negative=text_ref(f"{name}.negative", item.negative),
            )
        )
    if isinstance(item, Pair):
        return pb.FeedbackItem(
            pair=pb.PositivePair(
                anchor=text_ref(f"{name}.anchor", item.anchor),
                positive=text_ref(f"{name}.positive", item.positive),
            )
        )
    if isinstance(item, LabeledPair):
        return pb.FeedbackItem(
            labeled_pair=pb.LabeledPair(
                text1=text_ref(f"{name}.text1", item.text1),
                text2=text_ref(f"{name}.text2", item.text2),
                **_score_or_class(f"{name}.label", item.label),
            )
        )
    if isinstance(item, LabeledText):
        if isinstance(item.label, (float, np.floating)):
            raise TypeError(f"{name}.label must be an int class, got {type(item.label).__name__}")
        return pb.FeedbackItem(
            labeled_text=pb.LabeledText(
                text=text_ref(f"{name}.text", item.text), label=_class_label(f"{name}.label", item.label)
            )
        )
    raise TypeError(f"{name} must be a Triplet, Pair, LabeledPair or LabeledText, got {type(item).__name__}")


def _float32(value: float) -> float:
    """A float32 wire value as the shortest decimal that gives it back: 2e-05, not 1.9999999e-05."""
    return float(str(np.float32(value)))


def training_options(message: pb.TrainingOptions) -> TrainingOptions:
    def recorded(name: str) -> float | int | None:
        if not message.HasField(name):
            return None
        value = getattr(message, name)
        return _float32(value) if isinstance(value, float) else value

    return TrainingOptions(
        losses=dict(message.losses),
        epochs=recorded("epochs"),
        batch_size=recorded("batch_size"),
        learning_rate=recorded("learning_rate"),
        min_feedback=recorded("min_feedback"),
        held_out_fraction=recorded("held_out_fraction"),
        gate_margin=recorded("gate_margin"),
        base_version=message.base_version,
        seed=recorded("seed"),
        max_seq_length=recorded("max_seq_length"),
    )


def job(message: pb.Job) -> Job:
    """A job; enum values newer than this client read as "unknown"."""
    progress = message.progress
    gate = message.gate
    return Job(
        id=message.id,
        kind=JOB_KINDS.get(message.kind, "unknown"),
        state=JOB_STATES.get(message.state, "unknown"),
        progress=JobProgress(progress.done, progress.total, progress.unit, progress.eta_s),
        options=training_options(message.options) if message.HasField("options") else None,
        base_version=message.base_version,
        version=message.version,
        feedback_first_id=message.feedback_first_id,
        feedback_last_id=message.feedback_last_id,
        feedback_counts=dict(message.feedback_counts),
        metrics_active=dict(message.metrics_active),
        metrics_new=dict(message.metrics_new),
        gate=(
            Gate(gate.metric, gate.active_score, gate.new_score, gate.margin, gate.passed)
            if message.HasField("gate")
            else None
        ),
        reason=message.reason,
        state_seconds=dict(message.state_seconds),
        created_at=message.created_at,
        finished_at=message.finished_at or None,
    )


def model_version(message: pb.ModelVersionInfo) -> ModelVersion:
    return ModelVersion(
        version=message.version,
        parent=message.parent,
        base_model=message.base_model,
        created_at=message.created_at,
        losses=dict(message.losses),
        feedback_counts=dict(message.feedback_counts),
        metrics=dict(message.metrics),
        active=message.active,
        job_id=message.job_id,
        status=message.status,
    )
