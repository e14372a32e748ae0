"""Text → token ids for the ONNX graphs, with the `tokenizers` library (no transformers, no torch).

Reads the same tokenizer.json and max_seq_length as the trainer's Transformer module,
so the ids — and therefore the embeddings — match what the model was trained with.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from tokenizers import Encoding, Tokenizer

if TYPE_CHECKING:
    from typing_extensions import Self

RIGHT = "right"
LEFT = "left"


class InputTooLongError(ValueError):
    """A text has more tokens than the model takes and the caller asked not to truncate."""

    def __init__(self, index: int, tokens: int, limit: int) -> None:
        super().__init__(
            f"inputs[{index}]: {tokens} tokens exceeds max_seq_length={limit} and truncate is false"
        )
        self.index = index
        self.tokens = tokens
        self.limit = limit


@dataclass(frozen=True)
class TokenizerConfig:
    max_seq_length: int
    do_lower_case: bool
    pad_token_id: int


class _TruncatingTokenizer:
    """tokenizer.json with truncation to the model's max_seq_length, from the right or the left.

    The subclasses say what one input is: a text, or a (query, text) pair.
    """

    def __init__(self, tokenizer: Tokenizer, config: TokenizerConfig) -> None:
        self.config = config
        self._untruncated = tokenizer
        self._by_direction = {}
        for direction in (RIGHT, LEFT):
            copy = Tokenizer.from_str(tokenizer.to_str())
            copy.no_padding()
            # longest_first: a pair loses tokens from its longer side first, as Hugging Face cuts it.
            copy.enable_truncation(
                max_length=config.max_seq_length, strategy="longest_first", direction=direction
            )
            self._by_direction[direction] = copy

    @classmethod
    def from_model_dir(cls, model_dir: Path, max_seq_length: int | None = None) -> Self:
        """The folder's tokenizer; `max_seq_length` overrides what its config files say."""
        model_dir = Path(model_dir)
        path = model_dir / "tokenizer.json"
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} is missing: the server needs a fast-tokenizer file in the model folder"
            )
        tokenizer = Tokenizer.from_file(str(path))
        tokenizer.no_truncation()
        tokenizer.no_padding()
        config = _read_config(model_dir, tokenizer)
        if max_seq_length is not None:
            config = dataclasses.replace(config, max_seq_length=max_seq_length)
        return cls(tokenizer, config)

    @property
    def max_seq_length(self) -> int:
        return self.config.max_seq_length

    @property
    def pad_token_id(self) -> int:
        return self.config.pad_token_id

    @property
    def vocab_size(self) -> int:
        return self._untruncated.get_vocab_size()

    def decode(self, token_ids: list[list[int]]) -> list[str]:
        """The text each id list spells, special tokens left out: what an input given as token
        ids is embedded as (re-tokenised, so ids the tokenizer would not produce are not kept)."""
        return self._untruncated.decode_batch(token_ids, skip_special_tokens=True)

    def _encodings(self, inputs: list, truncate: bool, direction: str) -> list[Encoding]:
        """One encoding per input (a text or a pair), special tokens included."""
        # The fast variant skips character offsets, which nothing here reads (same ids, ~20% less CPU).
        encodings = self._by_direction[direction].encode_batch_fast(inputs)
        if not truncate:
            for i, encoding in enumerate(encodings):
                if encoding.overflowing:
                    full = len(self._untruncated.encode_batch_fast([inputs[i]])[0].ids)
                    raise InputTooLongError(i, full, self.config.max_seq_length)
        return encodings

    def _lower(self, text: str) -> str:
        return text.lower() if self.config.do_lower_case else text


class TextTokenizer(_TruncatingTokenizer):
    """Encodes batches of text to int64 id arrays, truncated from the right or the left."""

    def encode(self, texts: Sequence[str], truncate: bool = True, direction: str = RIGHT) -> list[np.ndarray]:
        """One int64 id array per text, special tokens included."""
        encodings = self._encodings([self._lower(t) for t in texts], truncate, direction)
        return [np.asarray(e.ids, dtype=np.int64) for e in encodings]


@dataclass(frozen=True, slots=True)
class PairTokens:
    """One (query, text) pair's ids and token types (0 over the query's segment, 1 over the text's).

    Its length is its token count, which is all the batcher reads of an input.
    """

    ids: np.ndarray
    type_ids: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)


class PairTokenizer(_TruncatingTokenizer):
    """Encodes (query, text) pairs as one sequence, `[CLS] query [SEP] text [SEP]`, for a cross-encoder."""

    def encode(
        self, pairs: Sequence[tuple[str, str]], truncate: bool = True, direction: str = RIGHT
    ) -> list[PairTokens]:
        """One `PairTokens` per pair; a pair over max_seq_length loses tokens from its longer side."""
        inputs = [(self._lower(query), self._lower(text)) for query, text in pairs]
        return [
            PairTokens(np.asarray(e.ids, dtype=np.int64), np.asarray(e.type_ids, dtype=np.int64))
            for e in self._encodings(inputs, truncate, direction)
        ]


def _read_config(model_dir: Path, tokenizer: Tokenizer) -> TokenizerConfig:
    st_config = _read_json(model_dir / "sentence_bert_config.json")
    tok_config = _read_json(model_dir / "tokenizer_config.json")
    max_len = st_config.get("max_seq_length")
    if max_len is None:
        limits = [
            tok_config.get("model_max_length"),
            _read_json(model_dir / "config.json").get("max_position_embeddings"),
        ]
        max_len = min(x for x in limits if isinstance(x, int) and 0 < x < 1_000_000)
    pad = tok_config.get("pad_token", "[PAD]")
    pad = pad.get("content") if isinstance(pad, dict) else pad
    pad_id = tokenizer.token_to_id(pad) if pad else None
    return TokenizerConfig(
        max_seq_length=int(max_len),
        do_lower_case=bool(st_config.get("do_lower_case", False)),
        pad_token_id=int(pad_id or 0),
    )


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}
