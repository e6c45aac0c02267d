"""The library surface: ``import assistant`` is light, paths may be text, and README's "use from Python" block runs."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest

from tests.support import ROOT

pytestmark = pytest.mark.integration  # builds an index


def readme_block() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("### Other programs: use from Python"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_block_runs_on_a_fresh_folder_and_answers(tmp_path, monkeypatch):
    shutil.copytree(ROOT / "corpus", tmp_path / "corpus")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("POLICY_INDEX_DIR", str(tmp_path / "elsewhere"))  # not read: from_env is off
    run = subprocess.run([sys.executable, "-c", readme_block()], cwd=tmp_path, capture_output=True, text=True,
                         env={"PATH": "/usr/bin:/bin", "OMP_WAIT_POLICY": "PASSIVE", "HOME": str(tmp_path),
                              "POLICY_INDEX_DIR": str(tmp_path / "elsewhere")}, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    lines = run.stdout.splitlines()
    assert "300万元" in lines[0]  # the first line answers
    assert any("第（六）条" in line and "|" in line for line in lines[1:])  # the clause it quotes
    claims = lines[-3:]  # what the owner can claim, each with whom to ask
    assert any("第（六）条" in line and "300万元" in line and line.endswith("州财政局") for line in claims), claims
    assert (tmp_path / "index").is_dir() and not (tmp_path / "elsewhere").exists()


def test_import_is_light_and_paths_may_be_text():
    probe = ("import sys, assistant; heavy = [m for m in ('numpy', 'chromadb', 'gradio', 'jieba') if m in sys.modules];"
             "s = assistant.Settings(corpus_dir='corpus', extra_corpus_dirs=['a'], index_dir='i');"
             "print(heavy, type(s.corpus_dir).__name__, type(s.extra_corpus_dirs[0]).__name__, type(s.index_dir).__name__)")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["[]", "PosixPath", "PosixPath", "PosixPath"]
    import assistant

    assert set(assistant.__all__) >= {"Assistant", "Settings", "Answer", "Citation", "Profile", "MatchResult",
                                      "PolicyError", "open_assistant"}
    assert all(getattr(assistant, name) is not None for name in assistant.__all__)
    assert (ROOT / "assistant" / "py.typed").is_file()
