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
FILE = "substrings.npz"


class SubstringIndex:
    """Rows of ``texts`` that contain a string, exactly (postings narrow, a substring test confirms)."""

    def __init__(self, texts: Sequence[str], keys: np.ndarray, starts: np.ndarray, rows: np.ndarray):
        self.texts = texts
        self._keys, self._starts, self._rows = keys, starts, rows

    @classmethod
    def build(cls, texts: Sequence[str]) -> "SubstringIndex":
        pairs_keys, pairs_rows = [], []
        for row, text in enumerate(texts):
            codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
            if codes.size == 0:
                continue
            keys = np.unique(np.concatenate([(codes[:-1] << _SHIFT) | codes[1:], codes | _UNI]))
            pairs_keys.append(keys)
            pairs_rows.append(np.full(keys.size, row, dtype=np.int32))
        if not pairs_keys:
            empty = np.zeros(0, dtype=np.uint64)
            return cls(texts, empty, np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int32))
        keys = np.concatenate(pairs_keys)
        rows = np.concatenate(pairs_rows)
        del pairs_keys, pairs_rows
        order = np.argsort(keys, kind="stable")  # stable: rows stay ascending within a key
        keys, rows = keys[order], rows[order]
        del order
        unique, starts = np.unique(keys, return_index=True)
        return cls(texts, unique, np.append(starts, keys.size).astype(np.int64), rows)

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
