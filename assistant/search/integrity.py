"""Checksums of an index generation: what the build wrote is what a server reads, or it is not used.

A generation's own files (clause records, BM25, tokens, normalized texts, the substring index) are
hashed when written and checked on every open: a truncated copy or a flipped block otherwise shows as
a traceback at the first question, or worse, as a silently different answer. Chroma's embedded files
are not among them, since Chroma rewrites them whenever it opens a collection; the vectors themselves
are checked instead where they are read whole (:func:`vectors_digest`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterable

import numpy as np

# Entries of a generation folder that are not checksummed: the manifest holds the sums, and Chroma's
# embedded store changes on every open.
UNCHECKED = frozenset({"manifest.json", "chroma"})


def file_digests(gen_dir: Path) -> dict[str, str]:
    """sha256 of every file under ``gen_dir`` but :data:`UNCHECKED`, by path relative to it."""
    digests = {}
    for path in sorted(gen_dir.rglob("*")):
        relative = path.relative_to(gen_dir)
        if relative.parts[0] in UNCHECKED or not path.is_file():
            continue
        with open(path, "rb") as f:
            digests[relative.as_posix()] = hashlib.file_digest(f, "sha256").hexdigest()
    return digests


def damaged_files(gen_dir: Path, expected: dict[str, str]) -> list[str]:
    """The files of ``expected`` that are missing from ``gen_dir`` or differ from their sum.

    Raises:
        PermissionError: a file cannot be read (the caller words that differently from damage).
    """
    damaged = []
    for name, digest in expected.items():
        try:
            with open(gen_dir / name, "rb") as f:
                found = hashlib.file_digest(f, "sha256").hexdigest()
        except PermissionError:
            raise
        except OSError:  # missing, or a folder where a file was
            found = ""
        if found != digest:
            damaged.append(name)
    return damaged


def vectors_digest(ids: Iterable[str], vectors: np.ndarray) -> str:
    """sha256 of part vectors as float32, in part-id order (Chroma returns them in any order)."""
    ids = list(ids)
    order = sorted(range(len(ids)), key=ids.__getitem__)
    digest = hashlib.sha256()
    for i in order:
        digest.update(ids[i].encode("utf-8"))
        digest.update(np.ascontiguousarray(vectors[i], dtype=np.float32).tobytes())
    return digest.hexdigest()
