"""Package data (``assistant/data/``): word lists, tables, thresholds and the prompt, read one way."""

from __future__ import annotations

import tomllib
from importlib import resources


def read_text(name: str) -> str:
    return resources.files("assistant.data").joinpath(name).read_text(encoding="utf-8")


def read_toml(name: str) -> dict:
    return tomllib.loads(read_text(name))


def read_lines(name: str) -> list[str]:
    """Non-empty lines that are not ``#`` comments, stripped."""
    return [ln.strip() for ln in read_text(name).splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
