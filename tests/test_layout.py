"""The package layout: one folder per stage, and imports that point only downward.

corpus ← search ← answer ← web / evaluation ← cli and the package's own surface (assistant/__init__.py); the
shared modules at the top of the package (config, errors, models, …) import no stage at all, and web and evaluation do not import each other.
Read from the source with ``ast``, so a lazy import inside a function counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support import ROOT

PACKAGE = ROOT / "assistant"
STAGES = ("corpus", "search", "answer", "web", "evaluation")
# Rank of each stage; a module may import its own stage and lower ranks only.
# The package itself (assistant/__init__.py, the library's surface) sits on top with the CLI: it re-exports
# every stage, lazily.
RANKS = {"": 0, "corpus": 1, "search": 2, "answer": 3, "web": 4, "evaluation": 4, "cli": 5, "surface": 5}


def stage_of(module: str) -> str:
    """"assistant.search.index" → "search"; "assistant.cli" → "cli"; "assistant" → "surface"; shared modules → ""."""
    if module == "assistant":
        return "surface"
    part = (module.split(".") + [""])[1]
    return part if part in STAGES or part == "cli" else ""


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(source: str, module: str, is_package: bool = False) -> list[tuple[int, str]]:
    """(line, absolute module) of every import of the package in ``source`` (the text of ``module``)."""
    package = module if is_package else module.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            targets = [target] if node.module else [f"{target}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            continue
        out += [(node.lineno, t) for t in targets if t.startswith("assistant.")]
    return out


def violations(source: str, module: str, is_package: bool = False) -> list[str]:
    own = stage_of(module)
    bad = []
    for line, target in imports(source, module, is_package):
        theirs = stage_of(target)
        if RANKS[theirs] > RANKS[own] or (theirs != own and RANKS[theirs] == RANKS[own] and own):
            bad.append(f"{module}:{line} imports {target}")
    return bad


SOURCES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_point_only_downward(path):
    bad = violations(path.read_text(encoding="utf-8"), module_name(path), path.name == "__init__.py")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("module, source", [
    ("assistant.corpus.structure", "from ..answer.grounding import verify"),
    ("assistant.search.index", "def f():\n    from ..web import render"),
    ("assistant.web.chat", "from ..evaluation.report import esc"),
    ("assistant.models", "from .search.text import normalize"),
    ("assistant.answer.compose", "import assistant.cli"),
])
def test_an_upward_import_is_caught(module, source):
    assert violations(source, module)


def test_every_stage_is_a_folder_with_a_summary():
    for stage in STAGES:
        init = PACKAGE / stage / "__init__.py"
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert doc and len(doc.splitlines()[0]) > 20, f"{init} needs a docstring saying what the stage does"


def calls_to(name: str) -> list[str]:
    """"module:function" of every call of ``name`` in the package."""
    out = []
    for path in SOURCES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for func in (n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))):
            for node in ast.walk(func):
                if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == name:
                    out.append(f"{module_name(path)}:{func.name}")
    return sorted(set(out))


def test_one_wiring_point_loads_the_encoder_and_the_chat_model():
    """Assistant.from_settings is the only answer-side caller; the index builder loads its own encoder
    (in the building process and in each worker process), by name."""
    assert calls_to("chat_model") == ["assistant.answer.assistant:from_settings"]
    assert calls_to("get_encoders") == ["assistant.answer.assistant:from_settings",
                                        "assistant.search.build:_build_locked", "assistant.search.build:_init_worker"]
    # One encoder by name: per channel, and in a worker for the channel a batch belongs to.
    assert calls_to("get_encoder") == ["assistant.search.build:_embed_in_worker",
                                       "assistant.search.encoders:get_encoders"]
    assert calls_to("load") and "assistant.answer.assistant:from_settings" in calls_to("load")


def error_classes(source: str) -> list[str]:
    """The classes a module defines that derive from an ``…Error`` class or ``PolicyError``."""
    return [node.name for node in ast.walk(ast.parse(source)) if isinstance(node, ast.ClassDef)
            and any(isinstance(b, ast.Name) and b.id.endswith("Error") for b in node.bases)]


def test_every_error_class_lives_in_errors_py():
    """One home for what the library raises: an embedder catches PolicyError and finds every subclass in
    assistant/errors.py, with the message each carries."""
    elsewhere = {str(p.relative_to(ROOT)): names for p in sorted(PACKAGE.rglob("*.py"))
                 if p.name != "errors.py" and (names := error_classes(p.read_text(encoding="utf-8")))}
    assert elsewhere == {}
    assert {"ProfileError", "UploadError", "FloorsError", "QAFileError", "StardFileError"} <= set(
        error_classes((PACKAGE / "errors.py").read_text(encoding="utf-8")))


def test_an_error_class_outside_errors_py_is_caught():
    assert error_classes("class UploadError(PolicyError):\n    pass\n") == ["UploadError"]


def test_answering_loads_no_langchain():
    """LangChain takes about two seconds to import: only the adapters (``as_langchain``, ``as_chain``) load it."""
    import subprocess
    import sys

    probe = ("import sys, assistant.answer.assistant, assistant.cli; "
             "print(sorted(m for m in sys.modules if m.startswith('langchain')))")
    loaded = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]", loaded.stdout
