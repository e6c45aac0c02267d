"""BM25 over jieba tokens (bm25s), saved beside the vector store in each index generation."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np


class BM25Index:
    """Scores every clause of the index for a tokenized query; row i is clause i of the index."""

    def __init__(self, retriever, size: int):
        self._retriever = retriever
        self.size = size

    @classmethod
    def build(cls, token_lists: Sequence[Sequence[str]]) -> "BM25Index":
        import bm25s

        retriever = bm25s.BM25()
        # An empty token list would make bm25s drop the row; a placeholder keeps rows aligned.
        retriever.index([tokens if tokens else ["\u2205"] for tokens in token_lists], show_progress=False)
        return cls(retriever, len(token_lists))

    def save(self, directory: Path) -> None:
        self._retriever.save(str(directory), show_progress=False)
        (directory / "size.txt").write_text(str(self.size), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> "BM25Index":
        import bm25s

        retriever = bm25s.BM25.load(str(directory), show_progress=False, verbosity=0)
        size = int((directory / "size.txt").read_text(encoding="utf-8"))
        return cls(retriever, size)

    def scores(self, tokens: Sequence[str]) -> np.ndarray:
        """BM25 score of every clause (zeros when no token is known)."""
        if not tokens or self.size == 0:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._retriever.get_scores(list(tokens)), dtype=np.float32)

    def known(self, tokens: Sequence[str]) -> list[str]:
        """The query tokens that occur in the indexed corpus (for "why was this found")."""
        vocab = self._retriever.vocab_dict
        return [t for t in tokens if t in vocab]
