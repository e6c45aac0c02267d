"""Admin actions behind the password: check the password, accept an uploaded document into ``corpus/``.

An upload is size-limited, its type is decided by its content (not its name), its file name is
reduced to a safe base name, and it is written only inside the corpus folder. A document the
indexer cannot read is removed again, so a bad upload never stays in the corpus.
"""

from __future__ import annotations

import hmac
import io
import logging
import os
import re
import tempfile
import threading
import time
import unicodedata
import zipfile
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..config import Settings
from ..corpus.readers import decode_bytes
from ..errors import CorpusFileError, UploadError

# What the indexer reads (corpus/readers.py); the text kinds are told apart by their suffix alone.
TEXT_SUFFIXES = (".txt", ".md", ".html", ".htm")
ALLOWED_SUFFIXES = (*TEXT_SUFFIXES, ".docx", ".pdf")


@dataclass(frozen=True)
class Upload:
    path: Path  # where the document was written, inside the corpus folder
    kind: str  # txt | md | html | htm | docx | pdf
    replaced: bool  # a document of the same name was overwritten


def password_ok(settings: Settings, given: str | None) -> bool:
    """Constant-time comparison; no admin password set means admin is off, so nothing matches."""
    if not settings.admin_password:
        return False
    return hmac.compare_digest((given or "").encode("utf-8"), settings.admin_password.encode("utf-8"))


# The window failed passwords are counted in; per client the settings' admin_max_failures are tolerated,
# from everyone together (a guesser spread over many addresses) ten times as many. A person mistyping
# stays far below either.
WINDOW_SECONDS = 300.0
ALL_CLIENTS = 10
_log = logging.getLogger("assistant.admin")


class PasswordGuard:
    """The admin password check with failed-attempt throttling: after too many failures in the window (from
    one client, or from all), every try is refused until the window has passed, the right password too, so
    guessing gains nothing; each failure and each refusal is logged."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic):
        self.settings = settings
        self.clock = clock
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._all: deque[float] = deque()
        self._lock = threading.Lock()

    def check(self, given: str | None, client: str = "") -> str:
        """"" when ``given`` is the password; else the Chinese message to show."""
        now = self.clock()
        with self._lock:
            mine = self._failures[client]
            for seen in (mine, self._all):
                while seen and now - seen[0] > WINDOW_SECONDS:
                    seen.popleft()
            limit = self.settings.admin_max_failures
            if len(mine) >= limit or len(self._all) >= ALL_CLIENTS * limit:
                wait = int(WINDOW_SECONDS - (now - (mine or self._all)[0])) + 1
                _log.warning("admin password: refused a try from %s after too many failures", client or "?")
                return f"密码错误次数过多，请 {wait} 秒后再试。"
            if password_ok(self.settings, given):
                return ""
            mine.append(now)
            self._all.append(now)
        _log.warning("admin password: wrong password from %s", client or "?")
        return "密码错误。"


def sniff(data: bytes, name: str) -> str:
    """The document type from the bytes; raises UploadError when it is none we accept or mismatches."""
    if data.startswith(b"%PDF-"):
        kind = "pdf"
    elif data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                names = set(z.namelist())
        except zipfile.BadZipFile:
            raise UploadError(f"“{name}”不是有效的 Word 文档（压缩包已损坏）") from None
        if "word/document.xml" not in names:
            raise UploadError(f"“{name}”不是 Word（.docx）文档")
        kind = "docx"
    else:
        try:
            decode_bytes(data, name)
        except CorpusFileError as exc:
            raise UploadError(f"“{name}”不是可读取的文本文件：{exc.reason}") from None
        kind = "txt"
    suffix = Path(name).suffix.lower()
    if kind == "txt" and suffix in TEXT_SUFFIXES:
        kind = suffix[1:]
    if suffix != f".{kind}":
        raise UploadError(f"“{name}”的扩展名与内容不符（内容是 .{kind} 文件）")
    return kind


MAX_NAME_BYTES = 200
_UNSAFE = re.compile(r"[^\w.\-（）()〔〕【】]+")


def safe_name(name: str) -> str:
    """A base name with no directories, no leading dots and no control or separator characters.

    Raises:
        UploadError: nothing usable is left, or the suffix is not one we accept.
    """
    base = unicodedata.normalize("NFC", name.replace("\\", "/").split("/")[-1]).strip()
    base = _UNSAFE.sub("_", base).lstrip(".")
    if not base or base in {".", ".."} or Path(base).suffix.lower() not in ALLOWED_SUFFIXES:
        raise UploadError(f"文件名“{name}”无效：只接受 {'、'.join(ALLOWED_SUFFIXES)} 文件")
    # Shorten the stem, never the suffix; file systems allow 255 bytes, and CJK takes 3 bytes a character.
    suffix = Path(base).suffix
    stem = base[: -len(suffix)]
    while len(stem) > 120 or len((stem + suffix).encode("utf-8")) > MAX_NAME_BYTES:
        stem = stem[:-1]
    if not stem.strip("_"):
        raise UploadError(f"文件名“{name}”无效：只接受 {'、'.join(ALLOWED_SUFFIXES)} 文件")
    return stem + suffix


def corpus_files(settings: Settings) -> list[str]:
    """The files of the corpus folder an admin may delete (uploads land there; the extra folders are read in
    place and never touched), by name."""
    folder = settings.corpus_dir
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir()
                  if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in ALLOWED_SUFFIXES)


def remove_file(settings: Settings, name: str) -> tuple[Path, bytes]:
    """Delete corpus file ``name``; returns (its path, its bytes), so a failed rebuild can put it back.

    Raises:
        UploadError: the name is not a file of the corpus folder.
    """
    if name not in corpus_files(settings):
        raise UploadError(f"语料目录中没有文件“{name}”")
    path = settings.corpus_dir / name
    data = path.read_bytes()
    path.unlink()
    return path, data


def accept_upload(settings: Settings, name: str, data: bytes) -> Upload:
    """Validate and write an uploaded document into the corpus folder.

    Raises:
        UploadError: too large, empty, wrong type, bad name, or a path outside the corpus.
    """
    limit = settings.upload_max_mb * 1024 * 1024
    if len(data) > limit:
        raise UploadError(f"文件过大（{len(data) / 1024 / 1024:.1f} MB），上限为 {settings.upload_max_mb} MB")
    if not data:
        raise UploadError("文件为空")
    base = safe_name(name)
    kind = sniff(data, base)
    corpus = settings.corpus_dir.resolve()
    target = corpus / base  # not resolved: a link of this name is replaced, not followed
    if target.parent != corpus or target.name != base:  # belt and braces: safe_name removed every separator
        raise UploadError(f"文件名“{name}”无效")
    replaced = target.exists() or target.is_symlink()
    # A fresh temporary file (O_EXCL, random name, hidden from the indexer): never a link planted in advance.
    fd, tmp_name = tempfile.mkstemp(prefix=".upload-", suffix=target.suffix, dir=corpus)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp_name, target)  # replaces a link of that name itself, never what it points to
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return Upload(target, kind, replaced)
