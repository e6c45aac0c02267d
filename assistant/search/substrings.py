"""Which clauses contain a string: a character-bigram inverted index over the normalized clause texts.

Refusal asks "does this word occur anywhere in the corpus, and in how many clauses?" for several words
of every question. A scan of the whole text costs milliseconds per word at 150,000 clauses and grows
with the corpus; the posting lists of a word's bigrams, intersected, name the few clauses to check.
The index is built with the generation (``substrings.npz``) and read at start.

Keys: a bigram ``ab`` is ``ord(a) << 21 | ord(b)``; a single character ``a`` (for one-character words,
such as a digit) is ``1 << 42 | ord(a)``. Postings are clause rows, ascending.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

_UNI = np.uint64(1 << 42)
_SHIFT = np.uint64(21)
# A packed pair is key << 21 | row: keys take 43 bits, so up to 2**21 (2 million) texts.
_ROW_BITS = 21
_ROW_SHIFT = np.uint64(_ROW_BITS)
_FREED = np.empty(0, dtype=np.uint64)  # what a text's keys become once packed
FILE = "substrings.npz"


class SubstringIndex:
    """Rows of ``texts`` that contain a string, exactly (postings narrow, a substring test confirms)."""

    def __init__(self, texts: Sequence[str], keys: np.ndarray, starts: np.ndarray, rows: np.ndarray):
        self.texts = texts
        self._keys, self._starts, self._rows = keys, starts, rows

    @classmethod
    def build(cls, texts: Sequence[str]) -> "SubstringIndex":
        """Index ``texts``. Each (key, row) pair is packed into one uint64 (key bits above, row bits
        below) and the array is sorted in place: one array of ~25 million pairs at 150,000 clauses,
        instead of keys, rows and a sort order side by side."""
        if len(texts) >= 1 << _ROW_BITS:
            raise ValueError(f"SubstringIndex holds at most {1 << _ROW_BITS} texts")
        per_text = []
        for text in texts:
            codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
            per_text.append(np.unique(np.concatenate([(codes[:-1] << _SHIFT) | codes[1:], codes | _UNI]))
                            if codes.size else codes)
        packed = np.empty(sum(k.size for k in per_text), dtype=np.uint64)
        at = 0
        for row, keys in enumerate(per_text):
            packed[at:at + keys.size] = (keys << _ROW_SHIFT) | np.uint64(row)
            at += keys.size
            per_text[row] = _FREED  # free as we go
        packed.sort()  # by key, then row: postings come out ascending
        keys = packed >> _ROW_SHIFT
        first = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]])) if keys.size else np.zeros(0, np.int64)
        unique = keys[first]
        del keys
        rows = (packed & np.uint64((1 << _ROW_BITS) - 1)).astype(np.int32)
        return cls(texts, unique, np.append(first, packed.size).astype(np.int64), rows)

    def save(self, directory: Path) -> None:
        np.savez(directory / FILE, keys=self._keys, starts=self._starts, rows=self._rows)

    @classmethod
    def load(cls, directory: Path, texts: Sequence[str]) -> "SubstringIndex | None":
        """The saved index of ``directory``, or None for a generation built before it existed."""
        path = directory / FILE
        if not path.is_file():
            return None
        with np.load(path) as data:
            return cls(texts, data["keys"], data["starts"], data["rows"])

    def _postings(self, key: int) -> np.ndarray:
        i = int(np.searchsorted(self._keys, np.uint64(key)))
        if i == self._keys.size or int(self._keys[i]) != key:
            return self._rows[:0]
        return self._rows[self._starts[i]:self._starts[i + 1]]

    def candidates(self, term: str) -> np.ndarray:
        """Rows that hold every bigram of ``term`` (a superset of the rows that contain it)."""
        if not term:
            return np.arange(len(self.texts))
        codes = [ord(ch) for ch in term]
        if len(codes) == 1:
            return self._postings(int(_UNI) | codes[0])
        lists = sorted((self._postings(a << 21 | b) for a, b in set(zip(codes, codes[1:]))), key=len)
        rows = lists[0]
        for other in lists[1:]:
            if rows.size == 0:
                break
            rows = np.intersect1d(rows, other, assume_unique=True)
        return rows

    def rows(self, term: str) -> list[int]:
        """Rows whose text contains ``term``, ascending."""
        rows = self.candidates(term)
        if len(term) <= 2:  # a bigram's postings are exact
            return rows.tolist()
        texts = self.texts
        return [r for r in rows.tolist() if term in texts[r]]

    def contains(self, term: str) -> bool:
        rows = self.candidates(term)
        if len(term) <= 2:
            return rows.size > 0
        texts = self.texts
        return any(term in texts[r] for r in rows.tolist())
