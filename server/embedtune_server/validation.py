"""Every request check in one place; each failure names the field and the limit it broke.

The services call these before doing any work, so a bad request costs nothing and
its INVALID_ARGUMENT message says exactly what to change, e.g.
"inputs[3]: 9000 characters exceeds max_input_chars=8192".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from embedtune_client.v1 import embedtune_pb2 as pb
from embedtune_server.settings import ServerSettings
from embedtune_server.store.documents import Document
from embedtune_server.store.feedback import FeedbackRecord, TextRef


class ValidationError(ValueError):
    """A request field is out of bounds (INVALID_ARGUMENT)."""


_DIRECTIONS = {
    pb.TRUNCATION_DIRECTION_UNSPECIFIED: "right",
    pb.TRUNCATION_DIRECTION_RIGHT: "right",
    pb.TRUNCATION_DIRECTION_LEFT: "left",
}


@dataclass(frozen=True)
class EmbedParams:
    texts: list[str]
    normalize: bool
    truncate: bool
    direction: str
    dimensions: int


@dataclass(frozen=True)
class SearchQuery:
    """Exactly one of `text` and `vector`; `rerank_top_k` only with a text; `include_*` say
    which document fields its hits carry."""

    text: str | None
    vector: list[float] | None
    k: int
    metadata_filter: dict[str, str]
    rerank_top_k: int | None = None
    include_text: bool = True
    include_metadata: bool = True

    @property
    def retrieve_k(self) -> int:
        """How many documents the index finds: `rerank_top_k` for the cross-encoder to cut to `k`."""
        return self.rerank_top_k or self.k


@dataclass(frozen=True)
class RerankParams:
    """A Rerank request, checked: each candidate is a text or a document id (the other None)."""

    query: str
    texts: list[str | None]
    ids: list[str | None]
    top_n: int
    return_text: bool


def _check_count(field: str, count: int, limit: int, limit_name: str) -> None:
    if count == 0:
        raise ValidationError(f"{field}: empty; at least 1 is required")
    if count > limit:
        raise ValidationError(f"{field}: {count} items exceeds {limit_name}={limit}")


def _check_text(field: str, text: str, settings: ServerSettings, limit_name: str = "max_input_chars") -> None:
    limit = getattr(settings, limit_name)
    if len(text) > limit:
        raise ValidationError(f"{field}: {len(text)} characters exceeds {limit_name}={limit}")


def check_texts(field: str, texts: Sequence[str], settings: ServerSettings) -> list[str]:
    _check_count(field, len(texts), settings.max_client_batch_size, "max_client_batch_size")
    for i, text in enumerate(texts):
        _check_text(f"{field}[{i}]", text, settings)
    return list(texts)


def check_token_ids(field: str, inputs: Sequence[Sequence[int]], vocab_size: int) -> None:
    """Inputs given as token ids (OpenAI allows them): each a non-empty list of ids in the vocabulary."""
    for i, ids in enumerate(inputs):
        if not ids:
            raise ValidationError(f"{field}[{i}]: empty; at least 1 token id is required")
        for j, token_id in enumerate(ids):
            if not 0 <= token_id < vocab_size:
                raise ValidationError(
                    f"{field}[{i}][{j}]: token id {token_id} is outside 0..{vocab_size - 1}"
                    " (the served tokenizer's vocabulary)"
                )


def check_ids(field: str, ids: Sequence[str], settings: ServerSettings) -> list[str]:
    _check_count(field, len(ids), settings.max_client_batch_size, "max_client_batch_size")
    for i, doc_id in enumerate(ids):
        _check_id(f"{field}[{i}]", doc_id, settings)
    return list(ids)


def _check_id(field: str, doc_id: str, settings: ServerSettings) -> None:
    if not doc_id:
        raise ValidationError(f"{field}: empty; an id is 1..max_id_bytes={settings.max_id_bytes} bytes")
    size = len(doc_id.encode())
    if size > settings.max_id_bytes:
        raise ValidationError(f"{field}: {size} bytes exceeds max_id_bytes={settings.max_id_bytes}")


def _check_metadata(field: str, metadata: Mapping[str, str], settings: ServerSettings) -> dict[str, str]:
    if len(metadata) > settings.max_metadata_entries:
        raise ValidationError(
            f"{field}: {len(metadata)} entries exceeds max_metadata_entries={settings.max_metadata_entries}"
        )
    size = sum(len(k.encode()) + len(v.encode()) for k, v in metadata.items())
    if size > settings.max_metadata_bytes:
        raise ValidationError(
            f"{field}: {size} bytes exceeds max_metadata_bytes={settings.max_metadata_bytes}"
        )
    if "" in metadata:
        raise ValidationError(f"{field}: empty key; every key needs at least 1 character")
    return dict(metadata)


def embed_params(request: pb.EmbedRequest, settings: ServerSettings, dimension: int) -> EmbedParams:
    texts = check_texts("inputs", request.inputs, settings)
    dimensions = request.dimensions if request.HasField("dimensions") else 0
    if request.HasField("dimensions") and not 1 <= dimensions <= dimension:
        raise ValidationError(f"dimensions: {dimensions} is outside 1..{dimension} (the model's dimension)")
    if request.truncation_direction not in _DIRECTIONS:
        known = ", ".join(f"{pb.TruncationDirection.Name(v)}={v}" for v in _DIRECTIONS)
        raise ValidationError(
            f"truncation_direction: unknown value {request.truncation_direction}; one of {known}"
        )
    return EmbedParams(
        texts=texts,
        normalize=request.normalize,
        truncate=request.truncate if request.HasField("truncate") else True,
        direction=_DIRECTIONS[request.truncation_direction],
        dimensions=dimensions or dimension,
    )


def upsert_documents(request: pb.UpsertRequest, settings: ServerSettings) -> list[Document]:
    _check_count("documents", len(request.documents), settings.max_client_batch_size, "max_client_batch_size")
    seen: dict[str, int] = {}
    documents = []
    for i, document in enumerate(request.documents):
        field = f"documents[{i}]"
        _check_id(f"{field}.id", document.id, settings)
        if document.id in seen:
            raise ValidationError(f"{field}.id: {document.id!r} repeats documents[{seen[document.id]}].id")
        seen[document.id] = i
        _check_text(f"{field}.text", document.text, settings, "max_document_chars")
        metadata = _check_metadata(f"{field}.metadata", document.metadata, settings)
        documents.append(Document(document.id, document.text, metadata))
    return documents


def search_query(
    request: pb.SearchRequest, settings: ServerSettings, dimension: int, field: str = ""
) -> SearchQuery:
    prefix = f"{field}." if field else ""
    if not 1 <= request.k <= settings.max_search_k:
        raise ValidationError(f"{prefix}k: {request.k} is outside 1..max_search_k={settings.max_search_k}")
    metadata_filter = _check_metadata(f"{prefix}filter", request.filter, settings)
    include = {
        name: getattr(request, name) if request.HasField(name) else True
        for name in ("include_text", "include_metadata")
    }
    kind = request.WhichOneof("query")
    rerank_top_k = _rerank_top_k(request, settings, prefix)
    if rerank_top_k is not None and kind == "vector":
        raise ValidationError(
            f"{prefix}rerank_top_k: needs a text query; the cross-encoder reads text, not a vector"
        )
    if kind == "text":
        _check_text(f"{prefix}text", request.text, settings)
        return SearchQuery(request.text, None, request.k, metadata_filter, rerank_top_k, **include)
    if kind == "vector":
        values = list(request.vector.values)
        if len(values) != dimension:
            raise ValidationError(
                f"{prefix}vector: {len(values)} values, the model's dimension is {dimension}"
            )
        for i, value in enumerate(values):
            if not math.isfinite(value):
                raise ValidationError(f"{prefix}vector[{i}]: {value} is not finite")
        if not any(values):
            raise ValidationError(
                f"{prefix}vector: all {dimension} values are zero; a query needs a direction"
            )
        return SearchQuery(None, values, request.k, metadata_filter, **include)
    raise ValidationError(f"{prefix}query: set text or vector")


def _rerank_top_k(request: pb.SearchRequest, settings: ServerSettings, prefix: str) -> int | None:
    if not request.HasField("rerank_top_k"):
        return None
    top_k, limit = request.rerank_top_k, settings.max_rerank_candidates
    if not request.k <= top_k <= limit:
        raise ValidationError(
            f"{prefix}rerank_top_k: {top_k} is outside k..max_rerank_candidates ({request.k}..{limit})"
        )
    return top_k


def search_queries(
    request: pb.BatchSearchRequest, settings: ServerSettings, dimension: int
) -> list[SearchQuery]:
    _check_count("queries", len(request.queries), settings.max_client_batch_size, "max_client_batch_size")
    return [search_query(q, settings, dimension, f"queries[{i}]") for i, q in enumerate(request.queries)]


def rerank_params(request: pb.RerankRequest, settings: ServerSettings) -> RerankParams:
    if not request.query.strip():
        raise ValidationError("query: empty; give the text to rank the candidates against")
    _check_text("query", request.query, settings)
    count = len(request.candidates)
    _check_count("candidates", count, settings.max_rerank_candidates, "max_rerank_candidates")
    texts: list[str | None] = []
    ids: list[str | None] = []
    for i, candidate in enumerate(request.candidates):
        field = f"candidates[{i}]"
        which = candidate.WhichOneof("ref")
        if which == "text":
            _check_text(f"{field}.text", candidate.text, settings, "max_rerank_chars")
            texts.append(candidate.text)
            ids.append(None)
        elif which == "document_id":
            _check_id(f"{field}.document_id", candidate.document_id, settings)
            texts.append(None)
            ids.append(candidate.document_id)
        else:
            raise ValidationError(f"{field}: set text or document_id")
    top_n = count
    if request.HasField("top_n"):
        top_n = request.top_n
        if not 1 <= top_n <= count:
            raise ValidationError(f"top_n: {top_n} is outside 1..{count} (the number of candidates)")
    return RerankParams(request.query, texts, ids, top_n, request.return_text)


# The text roles of each feedback kind, and which two must differ.
_FEEDBACK_ROLES = {
    "triplet": (("anchor", "positive", "negative"), ("positive", "negative")),
    "pair": (("anchor", "positive"), ("anchor", "positive")),
    "labeled_pair": (("text1", "text2"), None),
    "labeled_text": (("text",), None),
}
FEEDBACK_KINDS = tuple(_FEEDBACK_ROLES)


def feedback_records(request: pb.SubmitFeedbackRequest, settings: ServerSettings) -> list[FeedbackRecord]:
    _check_count("items", len(request.items), settings.max_feedback_items, "max_feedback_items")
    return [_feedback_record(f"items[{i}]", item, settings) for i, item in enumerate(request.items)]


def _feedback_record(field: str, item: pb.FeedbackItem, settings: ServerSettings) -> FeedbackRecord:
    kind = item.WhichOneof("item")
    if kind is None:
        raise ValidationError(f"{field}: empty; set triplet, pair, labeled_pair or labeled_text")
    message = getattr(item, kind)
    field = f"{field}.{kind}"
    roles, distinct = _FEEDBACK_ROLES[kind]
    texts = {role: _text_ref(f"{field}.{role}", message, role, settings) for role in roles}
    if distinct and texts[distinct[0]] == texts[distinct[1]]:
        raise ValidationError(f"{field}: {distinct[0]} and {distinct[1]} are the same; they must differ")
    label: float | int | None = None
    if kind == "labeled_pair":
        which = message.WhichOneof("label")
        if which is None:
            raise ValidationError(f"{field}.label: missing; set score or class_label")
        label = getattr(message, which)
        if which == "score" and not math.isfinite(label):
            raise ValidationError(f"{field}.score: {label} is not finite")
    elif kind == "labeled_text":
        label = message.label
    return FeedbackRecord(kind, texts, label)


def _text_ref(field: str, message, role: str, settings: ServerSettings) -> TextRef:
    if not message.HasField(role):
        raise ValidationError(f"{field}: missing")
    ref = getattr(message, role)
    which = ref.WhichOneof("ref")
    if which == "text":
        if not ref.text.strip():
            raise ValidationError(
                f"{field}.text: empty or blank; 1..max_input_chars={settings.max_input_chars} characters"
            )
        _check_text(f"{field}.text", ref.text, settings)
        return TextRef(text=ref.text)
    if which == "document_id":
        _check_id(f"{field}.document_id", ref.document_id, settings)
        return TextRef(document_id=ref.document_id)
    raise ValidationError(f"{field}: set text or document_id")
