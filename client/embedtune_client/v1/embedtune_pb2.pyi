from google.protobuf import descriptor_pb2 as _descriptor_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TruncationDirection(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRUNCATION_DIRECTION_UNSPECIFIED: _ClassVar[TruncationDirection]
    TRUNCATION_DIRECTION_RIGHT: _ClassVar[TruncationDirection]
    TRUNCATION_DIRECTION_LEFT: _ClassVar[TruncationDirection]

class JobKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_KIND_UNSPECIFIED: _ClassVar[JobKind]
    JOB_KIND_TRAIN: _ClassVar[JobKind]
    JOB_KIND_ACTIVATE: _ClassVar[JobKind]
    JOB_KIND_ADD_MODEL: _ClassVar[JobKind]

class JobState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_STATE_UNSPECIFIED: _ClassVar[JobState]
    JOB_STATE_QUEUED: _ClassVar[JobState]
    JOB_STATE_TRAINING: _ClassVar[JobState]
    JOB_STATE_EVALUATING: _ClassVar[JobState]
    JOB_STATE_EXPORTING: _ClassVar[JobState]
    JOB_STATE_REINDEXING: _ClassVar[JobState]
    JOB_STATE_ACTIVATED: _ClassVar[JobState]
    JOB_STATE_REJECTED: _ClassVar[JobState]
    JOB_STATE_FAILED: _ClassVar[JobState]
    JOB_STATE_CANCELLED: _ClassVar[JobState]
TRUNCATION_DIRECTION_UNSPECIFIED: TruncationDirection
TRUNCATION_DIRECTION_RIGHT: TruncationDirection
TRUNCATION_DIRECTION_LEFT: TruncationDirection
JOB_KIND_UNSPECIFIED: JobKind
JOB_KIND_TRAIN: JobKind
JOB_KIND_ACTIVATE: JobKind
JOB_KIND_ADD_MODEL: JobKind
JOB_STATE_UNSPECIFIED: JobState
JOB_STATE_QUEUED: JobState
JOB_STATE_TRAINING: JobState
JOB_STATE_EVALUATING: JobState
JOB_STATE_EXPORTING: JobState
JOB_STATE_REINDEXING: JobState
JOB_STATE_ACTIVATED: JobState
JOB_STATE_REJECTED: JobState
JOB_STATE_FAILED: JobState
JOB_STATE_CANCELLED: JobState
ADMIN_ONLY_FIELD_NUMBER: _ClassVar[int]
admin_only: _descriptor.FieldDescriptor

class EmbedRequest(_message.Message):
    __slots__ = ("inputs", "normalize", "truncate", "truncation_direction", "dimensions")
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    NORMALIZE_FIELD_NUMBER: _ClassVar[int]
    TRUNCATE_FIELD_NUMBER: _ClassVar[int]
    TRUNCATION_DIRECTION_FIELD_NUMBER: _ClassVar[int]
    DIMENSIONS_FIELD_NUMBER: _ClassVar[int]
    inputs: _containers.RepeatedScalarFieldContainer[str]
    normalize: bool
    truncate: bool
    truncation_direction: TruncationDirection
    dimensions: int
    def __init__(self, inputs: _Optional[_Iterable[str]] = ..., normalize: _Optional[bool] = ..., truncate: _Optional[bool] = ..., truncation_direction: _Optional[_Union[TruncationDirection, str]] = ..., dimensions: _Optional[int] = ...) -> None: ...

class Timings(_message.Message):
    __slots__ = ("queue_us", "tokenize_us", "inference_us")
    QUEUE_US_FIELD_NUMBER: _ClassVar[int]
    TOKENIZE_US_FIELD_NUMBER: _ClassVar[int]
    INFERENCE_US_FIELD_NUMBER: _ClassVar[int]
    queue_us: int
    tokenize_us: int
    inference_us: int
    def __init__(self, queue_us: _Optional[int] = ..., tokenize_us: _Optional[int] = ..., inference_us: _Optional[int] = ...) -> None: ...

class Embedding(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, values: _Optional[_Iterable[float]] = ...) -> None: ...

class EmbedResponse(_message.Message):
    __slots__ = ("embeddings", "model_version", "timings", "token_counts")
    EMBEDDINGS_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    TIMINGS_FIELD_NUMBER: _ClassVar[int]
    TOKEN_COUNTS_FIELD_NUMBER: _ClassVar[int]
    embeddings: _containers.RepeatedCompositeFieldContainer[Embedding]
    model_version: str
    timings: Timings
    token_counts: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, embeddings: _Optional[_Iterable[_Union[Embedding, _Mapping]]] = ..., model_version: _Optional[str] = ..., timings: _Optional[_Union[Timings, _Mapping]] = ..., token_counts: _Optional[_Iterable[int]] = ...) -> None: ...

class InfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Limits(_message.Message):
    __slots__ = ("max_batch_tokens", "max_batch_requests", "max_concurrent_requests", "max_client_batch_size", "max_input_chars", "max_search_k", "max_metadata_entries", "max_metadata_bytes", "max_feedback_items", "max_id_bytes", "max_document_chars", "max_response_bytes", "max_request_bytes", "max_rerank_candidates", "max_rerank_chars")
    MAX_BATCH_TOKENS_FIELD_NUMBER: _ClassVar[int]
    MAX_BATCH_REQUESTS_FIELD_NUMBER: _ClassVar[int]
    MAX_CONCURRENT_REQUESTS_FIELD_NUMBER: _ClassVar[int]
    MAX_CLIENT_BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    MAX_INPUT_CHARS_FIELD_NUMBER: _ClassVar[int]
    MAX_SEARCH_K_FIELD_NUMBER: _ClassVar[int]
    MAX_METADATA_ENTRIES_FIELD_NUMBER: _ClassVar[int]
    MAX_METADATA_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_FEEDBACK_ITEMS_FIELD_NUMBER: _ClassVar[int]
    MAX_ID_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_DOCUMENT_CHARS_FIELD_NUMBER: _ClassVar[int]
    MAX_RESPONSE_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_REQUEST_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_RERANK_CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    MAX_RERANK_CHARS_FIELD_NUMBER: _ClassVar[int]
    max_batch_tokens: int
    max_batch_requests: int
    max_concurrent_requests: int
    max_client_batch_size: int
    max_input_chars: int
    max_search_k: int
    max_metadata_entries: int
    max_metadata_bytes: int
    max_feedback_items: int
    max_id_bytes: int
    max_document_chars: int
    max_response_bytes: int
    max_request_bytes: int
    max_rerank_candidates: int
    max_rerank_chars: int
    def __init__(self, max_batch_tokens: _Optional[int] = ..., max_batch_requests: _Optional[int] = ..., max_concurrent_requests: _Optional[int] = ..., max_client_batch_size: _Optional[int] = ..., max_input_chars: _Optional[int] = ..., max_search_k: _Optional[int] = ..., max_metadata_entries: _Optional[int] = ..., max_metadata_bytes: _Optional[int] = ..., max_feedback_items: _Optional[int] = ..., max_id_bytes: _Optional[int] = ..., max_document_chars: _Optional[int] = ..., max_response_bytes: _Optional[int] = ..., max_request_bytes: _Optional[int] = ..., max_rerank_candidates: _Optional[int] = ..., max_rerank_chars: _Optional[int] = ...) -> None: ...

class InfoResponse(_message.Message):
    __slots__ = ("model_version", "model_name", "dimension", "max_seq_length", "normalized", "quantized", "limits", "index_size", "index_type", "server_version", "auth_required", "rss_bytes", "cross_encoder_version", "cross_encoder_name", "cross_encoder_quantized", "cross_encoder_max_seq_length")
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    MAX_SEQ_LENGTH_FIELD_NUMBER: _ClassVar[int]
    NORMALIZED_FIELD_NUMBER: _ClassVar[int]
    QUANTIZED_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    INDEX_SIZE_FIELD_NUMBER: _ClassVar[int]
    INDEX_TYPE_FIELD_NUMBER: _ClassVar[int]
    SERVER_VERSION_FIELD_NUMBER: _ClassVar[int]
    AUTH_REQUIRED_FIELD_NUMBER: _ClassVar[int]
    RSS_BYTES_FIELD_NUMBER: _ClassVar[int]
    CROSS_ENCODER_VERSION_FIELD_NUMBER: _ClassVar[int]
    CROSS_ENCODER_NAME_FIELD_NUMBER: _ClassVar[int]
    CROSS_ENCODER_QUANTIZED_FIELD_NUMBER: _ClassVar[int]
    CROSS_ENCODER_MAX_SEQ_LENGTH_FIELD_NUMBER: _ClassVar[int]
    model_version: str
    model_name: str
    dimension: int
    max_seq_length: int
    normalized: bool
    quantized: bool
    limits: Limits
    index_size: int
    index_type: str
    server_version: str
    auth_required: bool
    rss_bytes: int
    cross_encoder_version: str
    cross_encoder_name: str
    cross_encoder_quantized: bool
    cross_encoder_max_seq_length: int
    def __init__(self, model_version: _Optional[str] = ..., model_name: _Optional[str] = ..., dimension: _Optional[int] = ..., max_seq_length: _Optional[int] = ..., normalized: _Optional[bool] = ..., quantized: _Optional[bool] = ..., limits: _Optional[_Union[Limits, _Mapping]] = ..., index_size: _Optional[int] = ..., index_type: _Optional[str] = ..., server_version: _Optional[str] = ..., auth_required: _Optional[bool] = ..., rss_bytes: _Optional[int] = ..., cross_encoder_version: _Optional[str] = ..., cross_encoder_name: _Optional[str] = ..., cross_encoder_quantized: _Optional[bool] = ..., cross_encoder_max_seq_length: _Optional[int] = ...) -> None: ...

class RerankRequest(_message.Message):
    __slots__ = ("query", "candidates", "top_n", "return_text")
    QUERY_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    TOP_N_FIELD_NUMBER: _ClassVar[int]
    RETURN_TEXT_FIELD_NUMBER: _ClassVar[int]
    query: str
    candidates: _containers.RepeatedCompositeFieldContainer[TextRef]
    top_n: int
    return_text: bool
    def __init__(self, query: _Optional[str] = ..., candidates: _Optional[_Iterable[_Union[TextRef, _Mapping]]] = ..., top_n: _Optional[int] = ..., return_text: _Optional[bool] = ...) -> None: ...

class RerankResult(_message.Message):
    __slots__ = ("index", "id", "score", "text")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    index: int
    id: str
    score: float
    text: str
    def __init__(self, index: _Optional[int] = ..., id: _Optional[str] = ..., score: _Optional[float] = ..., text: _Optional[str] = ...) -> None: ...

class RerankResponse(_message.Message):
    __slots__ = ("results", "cross_encoder_version", "timings")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    CROSS_ENCODER_VERSION_FIELD_NUMBER: _ClassVar[int]
    TIMINGS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[RerankResult]
    cross_encoder_version: str
    timings: Timings
    def __init__(self, results: _Optional[_Iterable[_Union[RerankResult, _Mapping]]] = ..., cross_encoder_version: _Optional[str] = ..., timings: _Optional[_Union[Timings, _Mapping]] = ...) -> None: ...

class Document(_message.Message):
    __slots__ = ("id", "text", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    id: str
    text: str
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, id: _Optional[str] = ..., text: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class UpsertRequest(_message.Message):
    __slots__ = ("documents",)
    DOCUMENTS_FIELD_NUMBER: _ClassVar[int]
    documents: _containers.RepeatedCompositeFieldContainer[Document]
    def __init__(self, documents: _Optional[_Iterable[_Union[Document, _Mapping]]] = ...) -> None: ...

class UpsertResponse(_message.Message):
    __slots__ = ("upserted", "model_version")
    UPSERTED_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    upserted: int
    model_version: str
    def __init__(self, upserted: _Optional[int] = ..., model_version: _Optional[str] = ...) -> None: ...

class DeleteRequest(_message.Message):
    __slots__ = ("ids", "ignore_missing")
    IDS_FIELD_NUMBER: _ClassVar[int]
    IGNORE_MISSING_FIELD_NUMBER: _ClassVar[int]
    ids: _containers.RepeatedScalarFieldContainer[str]
    ignore_missing: bool
    def __init__(self, ids: _Optional[_Iterable[str]] = ..., ignore_missing: _Optional[bool] = ...) -> None: ...

class DeleteResponse(_message.Message):
    __slots__ = ("deleted",)
    DELETED_FIELD_NUMBER: _ClassVar[int]
    deleted: int
    def __init__(self, deleted: _Optional[int] = ...) -> None: ...

class GetRequest(_message.Message):
    __slots__ = ("ids",)
    IDS_FIELD_NUMBER: _ClassVar[int]
    ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, ids: _Optional[_Iterable[str]] = ...) -> None: ...

class GetResponse(_message.Message):
    __slots__ = ("documents",)
    DOCUMENTS_FIELD_NUMBER: _ClassVar[int]
    documents: _containers.RepeatedCompositeFieldContainer[Document]
    def __init__(self, documents: _Optional[_Iterable[_Union[Document, _Mapping]]] = ...) -> None: ...

class CountRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CountResponse(_message.Message):
    __slots__ = ("count",)
    COUNT_FIELD_NUMBER: _ClassVar[int]
    count: int
    def __init__(self, count: _Optional[int] = ...) -> None: ...

class SearchRequest(_message.Message):
    __slots__ = ("text", "vector", "k", "filter", "include_text", "include_metadata", "rerank_top_k")
    class FilterEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TEXT_FIELD_NUMBER: _ClassVar[int]
    VECTOR_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_TEXT_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_METADATA_FIELD_NUMBER: _ClassVar[int]
    RERANK_TOP_K_FIELD_NUMBER: _ClassVar[int]
    text: str
    vector: Embedding
    k: int
    filter: _containers.ScalarMap[str, str]
    include_text: bool
    include_metadata: bool
    rerank_top_k: int
    def __init__(self, text: _Optional[str] = ..., vector: _Optional[_Union[Embedding, _Mapping]] = ..., k: _Optional[int] = ..., filter: _Optional[_Mapping[str, str]] = ..., include_text: _Optional[bool] = ..., include_metadata: _Optional[bool] = ..., rerank_top_k: _Optional[int] = ...) -> None: ...

class Hit(_message.Message):
    __slots__ = ("id", "score", "text", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    id: str
    score: float
    text: str
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, id: _Optional[str] = ..., score: _Optional[float] = ..., text: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class SearchResponse(_message.Message):
    __slots__ = ("hits", "model_version", "timings")
    HITS_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    TIMINGS_FIELD_NUMBER: _ClassVar[int]
    hits: _containers.RepeatedCompositeFieldContainer[Hit]
    model_version: str
    timings: Timings
    def __init__(self, hits: _Optional[_Iterable[_Union[Hit, _Mapping]]] = ..., model_version: _Optional[str] = ..., timings: _Optional[_Union[Timings, _Mapping]] = ...) -> None: ...

class BatchSearchRequest(_message.Message):
    __slots__ = ("queries",)
    QUERIES_FIELD_NUMBER: _ClassVar[int]
    queries: _containers.RepeatedCompositeFieldContainer[SearchRequest]
    def __init__(self, queries: _Optional[_Iterable[_Union[SearchRequest, _Mapping]]] = ...) -> None: ...

class BatchSearchResponse(_message.Message):
    __slots__ = ("results", "model_version")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[SearchResponse]
    model_version: str
    def __init__(self, results: _Optional[_Iterable[_Union[SearchResponse, _Mapping]]] = ..., model_version: _Optional[str] = ...) -> None: ...

class TextRef(_message.Message):
    __slots__ = ("text", "document_id")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_ID_FIELD_NUMBER: _ClassVar[int]
    text: str
    document_id: str
    def __init__(self, text: _Optional[str] = ..., document_id: _Optional[str] = ...) -> None: ...

class Triplet(_message.Message):
    __slots__ = ("anchor", "positive", "negative")
    ANCHOR_FIELD_NUMBER: _ClassVar[int]
    POSITIVE_FIELD_NUMBER: _ClassVar[int]
    NEGATIVE_FIELD_NUMBER: _ClassVar[int]
    anchor: TextRef
    positive: TextRef
    negative: TextRef
    def __init__(self, anchor: _Optional[_Union[TextRef, _Mapping]] = ..., positive: _Optional[_Union[TextRef, _Mapping]] = ..., negative: _Optional[_Union[TextRef, _Mapping]] = ...) -> None: ...

class PositivePair(_message.Message):
    __slots__ = ("anchor", "positive")
    ANCHOR_FIELD_NUMBER: _ClassVar[int]
    POSITIVE_FIELD_NUMBER: _ClassVar[int]
    anchor: TextRef
    positive: TextRef
    def __init__(self, anchor: _Optional[_Union[TextRef, _Mapping]] = ..., positive: _Optional[_Union[TextRef, _Mapping]] = ...) -> None: ...

class LabeledPair(_message.Message):
    __slots__ = ("text1", "text2", "score", "class_label")
    TEXT1_FIELD_NUMBER: _ClassVar[int]
    TEXT2_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    CLASS_LABEL_FIELD_NUMBER: _ClassVar[int]
    text1: TextRef
    text2: TextRef
    score: float
    class_label: int
    def __init__(self, text1: _Optional[_Union[TextRef, _Mapping]] = ..., text2: _Optional[_Union[TextRef, _Mapping]] = ..., score: _Optional[float] = ..., class_label: _Optional[int] = ...) -> None: ...

class LabeledText(_message.Message):
    __slots__ = ("text", "label")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    text: TextRef
    label: int
    def __init__(self, text: _Optional[_Union[TextRef, _Mapping]] = ..., label: _Optional[int] = ...) -> None: ...

class FeedbackItem(_message.Message):
    __slots__ = ("triplet", "pair", "labeled_pair", "labeled_text")
    TRIPLET_FIELD_NUMBER: _ClassVar[int]
    PAIR_FIELD_NUMBER: _ClassVar[int]
    LABELED_PAIR_FIELD_NUMBER: _ClassVar[int]
    LABELED_TEXT_FIELD_NUMBER: _ClassVar[int]
    triplet: Triplet
    pair: PositivePair
    labeled_pair: LabeledPair
    labeled_text: LabeledText
    def __init__(self, triplet: _Optional[_Union[Triplet, _Mapping]] = ..., pair: _Optional[_Union[PositivePair, _Mapping]] = ..., labeled_pair: _Optional[_Union[LabeledPair, _Mapping]] = ..., labeled_text: _Optional[_Union[LabeledText, _Mapping]] = ...) -> None: ...

class SubmitFeedbackRequest(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[FeedbackItem]
    def __init__(self, items: _Optional[_Iterable[_Union[FeedbackItem, _Mapping]]] = ...) -> None: ...

class SubmitFeedbackResponse(_message.Message):
    __slots__ = ("ids",)
    IDS_FIELD_NUMBER: _ClassVar[int]
    ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, ids: _Optional[_Iterable[int]] = ...) -> None: ...

class TrainingOptions(_message.Message):
    __slots__ = ("losses", "epochs", "batch_size", "learning_rate", "min_feedback", "held_out_fraction", "gate_margin", "base_version", "seed", "max_seq_length")
    class LossesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    LOSSES_FIELD_NUMBER: _ClassVar[int]
    EPOCHS_FIELD_NUMBER: _ClassVar[int]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    LEARNING_RATE_FIELD_NUMBER: _ClassVar[int]
    MIN_FEEDBACK_FIELD_NUMBER: _ClassVar[int]
    HELD_OUT_FRACTION_FIELD_NUMBER: _ClassVar[int]
    GATE_MARGIN_FIELD_NUMBER: _ClassVar[int]
    BASE_VERSION_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    MAX_SEQ_LENGTH_FIELD_NUMBER: _ClassVar[int]
    losses: _containers.ScalarMap[str, str]
    epochs: float
    batch_size: int
    learning_rate: float
    min_feedback: int
    held_out_fraction: float
    gate_margin: float
    base_version: str
    seed: int
    max_seq_length: int
    def __init__(self, losses: _Optional[_Mapping[str, str]] = ..., epochs: _Optional[float] = ..., batch_size: _Optional[int] = ..., learning_rate: _Optional[float] = ..., min_feedback: _Optional[int] = ..., held_out_fraction: _Optional[float] = ..., gate_margin: _Optional[float] = ..., base_version: _Optional[str] = ..., seed: _Optional[int] = ..., max_seq_length: _Optional[int] = ...) -> None: ...

class StartTrainingRequest(_message.Message):
    __slots__ = ("options",)
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    options: TrainingOptions
    def __init__(self, options: _Optional[_Union[TrainingOptions, _Mapping]] = ...) -> None: ...

class JobProgress(_message.Message):
    __slots__ = ("done", "total", "unit", "eta_s")
    DONE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    ETA_S_FIELD_NUMBER: _ClassVar[int]
    done: int
    total: int
    unit: str
    eta_s: float
    def __init__(self, done: _Optional[int] = ..., total: _Optional[int] = ..., unit: _Optional[str] = ..., eta_s: _Optional[float] = ...) -> None: ...

class Gate(_message.Message):
    __slots__ = ("metric", "active_score", "new_score", "margin", "passed")
    METRIC_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_SCORE_FIELD_NUMBER: _ClassVar[int]
    NEW_SCORE_FIELD_NUMBER: _ClassVar[int]
    MARGIN_FIELD_NUMBER: _ClassVar[int]
    PASSED_FIELD_NUMBER: _ClassVar[int]
    metric: str
    active_score: float
    new_score: float
    margin: float
    passed: bool
    def __init__(self, metric: _Optional[str] = ..., active_score: _Optional[float] = ..., new_score: _Optional[float] = ..., margin: _Optional[float] = ..., passed: _Optional[bool] = ...) -> None: ...

class Job(_message.Message):
    __slots__ = ("id", "kind", "state", "progress", "options", "base_version", "version", "feedback_first_id", "feedback_last_id", "feedback_counts", "metrics_active", "metrics_new", "gate", "reason", "state_seconds", "created_at", "finished_at")
    class FeedbackCountsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class MetricsActiveEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    class MetricsNewEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    class StateSecondsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    BASE_VERSION_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    FEEDBACK_FIRST_ID_FIELD_NUMBER: _ClassVar[int]
    FEEDBACK_LAST_ID_FIELD_NUMBER: _ClassVar[int]
    FEEDBACK_COUNTS_FIELD_NUMBER: _ClassVar[int]
    METRICS_ACTIVE_FIELD_NUMBER: _ClassVar[int]
    METRICS_NEW_FIELD_NUMBER: _ClassVar[int]
    GATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    STATE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    id: int
    kind: JobKind
    state: JobState
    progress: JobProgress
    options: TrainingOptions
    base_version: str
    version: str
    feedback_first_id: int
    feedback_last_id: int
    feedback_counts: _containers.ScalarMap[str, int]
    metrics_active: _containers.ScalarMap[str, float]
    metrics_new: _containers.ScalarMap[str, float]
    gate: Gate
    reason: str
    state_seconds: _containers.ScalarMap[str, float]
    created_at: float
    finished_at: float
    def __init__(self, id: _Optional[int] = ..., kind: _Optional[_Union[JobKind, str]] = ..., state: _Optional[_Union[JobState, str]] = ..., progress: _Optional[_Union[JobProgress, _Mapping]] = ..., options: _Optional[_Union[TrainingOptions, _Mapping]] = ..., base_version: _Optional[str] = ..., version: _Optional[str] = ..., feedback_first_id: _Optional[int] = ..., feedback_last_id: _Optional[int] = ..., feedback_counts: _Optional[_Mapping[str, int]] = ..., metrics_active: _Optional[_Mapping[str, float]] = ..., metrics_new: _Optional[_Mapping[str, float]] = ..., gate: _Optional[_Union[Gate, _Mapping]] = ..., reason: _Optional[str] = ..., state_seconds: _Optional[_Mapping[str, float]] = ..., created_at: _Optional[float] = ..., finished_at: _Optional[float] = ...) -> None: ...

class GetJobRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: int
    def __init__(self, id: _Optional[int] = ...) -> None: ...

class ListJobsRequest(_message.Message):
    __slots__ = ("limit",)
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    limit: int
    def __init__(self, limit: _Optional[int] = ...) -> None: ...

class ListJobsResponse(_message.Message):
    __slots__ = ("jobs",)
    JOBS_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[Job]
    def __init__(self, jobs: _Optional[_Iterable[_Union[Job, _Mapping]]] = ...) -> None: ...

class ModelVersionInfo(_message.Message):
    __slots__ = ("version", "parent", "base_model", "created_at", "losses", "feedback_counts", "metrics", "active", "job_id", "status")
    class LossesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class FeedbackCountsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PARENT_FIELD_NUMBER: _ClassVar[int]
    BASE_MODEL_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    LOSSES_FIELD_NUMBER: _ClassVar[int]
    FEEDBACK_COUNTS_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    version: str
    parent: str
    base_model: str
    created_at: float
    losses: _containers.ScalarMap[str, str]
    feedback_counts: _containers.ScalarMap[str, int]
    metrics: _containers.ScalarMap[str, float]
    active: bool
    job_id: int
    status: str
    def __init__(self, version: _Optional[str] = ..., parent: _Optional[str] = ..., base_model: _Optional[str] = ..., created_at: _Optional[float] = ..., losses: _Optional[_Mapping[str, str]] = ..., feedback_counts: _Optional[_Mapping[str, int]] = ..., metrics: _Optional[_Mapping[str, float]] = ..., active: _Optional[bool] = ..., job_id: _Optional[int] = ..., status: _Optional[str] = ...) -> None: ...

class ListModelsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListModelsResponse(_message.Message):
    __slots__ = ("models",)
    MODELS_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[ModelVersionInfo]
    def __init__(self, models: _Optional[_Iterable[_Union[ModelVersionInfo, _Mapping]]] = ...) -> None: ...

class ActivateModelRequest(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: str
    def __init__(self, version: _Optional[str] = ...) -> None: ...

class AddModelRequest(_message.Message):
    __slots__ = ("source",)
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    source: str
    def __init__(self, source: _Optional[str] = ...) -> None: ...
