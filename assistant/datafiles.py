"""Package data (``assistant/data/``): word lists, tables, thresholds and the prompt, read one way."""

from __future__ import annotations

from importlib import resources


def read_text(name: str) -> str:
    """The text of ``assistant/data/<name>`` (UTF-8). Raises FileNotFoundError when there is none."""
    return resources.files("assistant.data").joinpath(name).read_text(encoding="utf-8")
