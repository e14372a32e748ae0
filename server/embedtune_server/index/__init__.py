"""Vector indexes behind one narrow interface (`VectorIndex`), one backend per module."""

from embedtune_server.index.base import SearchHits, VectorIndex

__all__ = ["SearchHits", "VectorIndex"]
