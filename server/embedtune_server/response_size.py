"""How many bytes a Search or BatchSearch response takes on the wire, known before it is built.

One request can ask for `max_client_batch_size` x `max_search_k` hits, and each hit
carries its document's text: repeated across queries that find the same documents,
that is far more than any client wants or the server should hold. A response is
refused past `max_response_bytes` before the documents are read: first against the
worst case the settings allow (no store access; most requests end here), and only
when that does not fit, against the sizes the store reports for the hits found.

The sizes are upper bounds of the protobuf encoding (every float counted, every
length prefix at its widest for the length it prefixes), so a response that passes
never exceeds the limit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from embedtune_server.settings import ServerSettings
from embedtune_server.store.documents import StoredSize
from embedtune_server.validation import SearchQuery, ValidationError

# A field's tag fits one byte for every field number below 16.
_TAG = 1
# `score`: tag and fixed32.
_SCORE = _TAG + 4
# `timings`: three uint64 fields at their widest varint, inside their own length prefix.
_TIMINGS = _TAG + 1 + 3 * (_TAG + 10)


def varint_size(value: int) -> int:
    """Bytes of `value` as a protobuf varint."""
    return max(1, (value.bit_length() + 6) // 7)


def _field(length: int) -> int:
    """A length-delimited field: tag, length prefix, content."""
    return _TAG + varint_size(length) + length


def hit_bytes(size: StoredSize, include_text: bool, include_metadata: bool) -> int:
    """Encoded bytes of one `Hit` inside its `SearchResponse`, length prefix included."""
    body = _field(size.id_bytes) + _SCORE
    if include_text:
        body += _field(size.text_bytes)
    if include_metadata and size.metadata_entries:
        # Each entry is a message of key and value; no length in it exceeds the document's total
        # plus the entry's own tags and prefixes.
        widest = varint_size(size.metadata_bytes + 16)
        body += size.metadata_bytes + size.metadata_entries * (3 * _TAG + 3 * widest)
    return _field(body)


def worst_hit(settings: ServerSettings) -> StoredSize:
    """The largest document the settings let the store hold (4 UTF-8 bytes per character)."""
    return StoredSize(
        id_bytes=settings.max_id_bytes,
        text_bytes=4 * settings.max_document_chars,
        metadata_bytes=settings.max_metadata_bytes,
        metadata_entries=settings.max_metadata_entries,
    )


def response_bytes(
    queries: Sequence[SearchQuery],
    hits: Sequence[Sequence[int]],
    sizes: Mapping[int, StoredSize] | StoredSize,
    model_version: str,
) -> int:
    """Encoded bytes of the BatchSearchResponse holding one SearchResponse per query.

    `hits[i]` are query i's vec_ids; `sizes` gives each one's size, or one size for all
    (a bound). A single Search's response is smaller by its outer framing.
    """
    version = _field(len(model_version.encode()))
    total = version
    for query, ids in zip(queries, hits, strict=True):
        body = version + _TIMINGS
        if isinstance(sizes, StoredSize):
            body += len(ids) * hit_bytes(sizes, query.include_text, query.include_metadata)
        else:
            for vec_id in ids:
                if vec_id in sizes:  # else deleted since the search: it will not be sent
                    body += hit_bytes(sizes[vec_id], query.include_text, query.include_metadata)
        total += _field(body)
    return total


def refuse_past_limit(queries: Sequence[SearchQuery], size: int, limit: int) -> None:
    """ValidationError naming the limit and what to change, when `size` passes it."""
    if size <= limit:
        return
    field = "queries" if len(queries) > 1 else "k"
    raise ValidationError(
        f"{field}: the response would take {size} bytes ({len(queries)} queries, k up to"
        f" {max(q.k for q in queries)}), over max_response_bytes={limit}; ask for fewer queries,"
        " a smaller k, or set include_text=false / include_metadata=false"
    )
