"""Text normalization and tokenization shared by indexing and querying.

Both sides of every comparison go through the same functions, so a traditional-script question
matches simplified clauses and full-width digits match half-width ones.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache

from ..lexicon import policy_dictionary, stopword_list

# Full-width ASCII letters/digits/% and the ideographic space map to their half-width forms.
# Punctuation is deliberately left alone: the structure parser and citations rely on （）、〔〕.
_FULLWIDTH = {
    **{code: code - 0xFEE0 for code in range(0xFF10, 0xFF1A)},  # ０-９
    **{code: code - 0xFEE0 for code in range(0xFF21, 0xFF3B)},  # Ａ-Ｚ
    **{code: code - 0xFEE0 for code in range(0xFF41, 0xFF5B)},  # ａ-ｚ
    0xFF05: ord("%"),
    0xFF0E: ord("."),
    0x3000: ord(" "),
}

_TOKEN_OK = re.compile(r"[\w+]", re.UNICODE)
_lock = threading.Lock()


@lru_cache(maxsize=1)
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


def to_halfwidth(text: str) -> str:
    """Map full-width digits, letters, % and spaces to half-width; keep everything else."""
    return text.translate(_FULLWIDTH)


_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """``text`` with lone surrogates (which no UTF-8 encoder accepts) replaced by U+FFFD.

    A JSON body or a form field can carry "\\ud800"; Python keeps it, and every later step that
    encodes (OpenCC, JSON responses, SQLite) would fail on it.
    """
    return _SURROGATE.sub("\ufffd", text) if text else text


def normalize(text: str) -> str:
    """Traditional → simplified Chinese, full-width → half-width alphanumerics."""
    if not text:
        return ""
    try:
        return _t2s().convert(to_halfwidth(text))
    except UnicodeEncodeError:  # a lone surrogate: same length after cleaning, so offsets still match
        return _t2s().convert(to_halfwidth(clean_text(text)))


# The stopwords and the jieba dictionary decide the BM25 tokens of the index, so they are loaded once per
# process (changing them needs a rebuild, not a reload); the answer-time vocabularies are in the Lexicon.
@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """The stopword list shipped as package data."""
    return frozenset(stopword_list())


@lru_cache(maxsize=1)
def _tokenizer():
    # A private Tokenizer keeps our dictionary out of jieba's global state (other code may use it).
    import jieba

    jieba.setLogLevel(60)  # silence "Building prefix dict" chatter on stderr
    tok = jieba.Tokenizer()
    tok.initialize()
    for word, freq, tag in policy_dictionary():
        tok.add_word(word, freq, tag)
    return tok


def words(text: str) -> list[str]:
    """``text`` normalized, lowercased and cut into words (jieba's precise mode with the policy dictionary:
    one cut, no sub-words), punctuation and spaces left out."""
    norm = normalize(text).lower()
    with _lock:
        cut = list(_tokenizer().cut(norm))
    return [w for w in (w.strip() for w in cut) if w and _TOKEN_OK.search(w)]


def tokenize(text: str, *, keep_stopwords: bool = False) -> list[str]:
    """Normalize and cut ``text`` into search tokens (jieba search mode, lowercased).

    Search mode also yields the sub-words of long dictionary words (普惠型小微企业贷款 → 小微, 贷款 …),
    so a question using part of a policy term still matches it under BM25.
    """
    norm = normalize(text).lower()
    with _lock:  # jieba's Tokenizer is not documented as thread-safe
        words = list(_tokenizer().cut_for_search(norm))
    stop = stopwords()
    out = []
    for w in words:
        w = w.strip()
        if not w or not _TOKEN_OK.search(w):
            continue
        if not keep_stopwords and w in stop:
            continue
        out.append(w)
    return out
