"""Files people send us (a dispute's evidence), kept on disk.

A file from the internet is hostile until checked. What it *is* comes from its first bytes
(the format's signature, its "magic number"), never from its name or the
content type the browser sent: a PNG renamed ``receipt.pdf`` is stored and served as a PNG,
and an ``.exe`` renamed ``receipt.pdf`` is refused. Only PDF, JPEG and PNG are accepted.

Layout: ``<root>/<folder>/<sha256>.<ext>`` (the folder is the case id). The name is the
content's SHA-256, so the same file sent twice is stored once and nothing a sender chooses
ever becomes part of a path; the original name, made safe, is kept only in the database.
A file is written to a temporary file in its final folder, flushed to disk and renamed into
place (atomic on POSIX), so a crash leaves either no file or the whole file. It is read in
chunks and abandoned as soon as it exceeds the limit, so a huge upload never fills memory.
Files and folders are private to the service's user (0600 / 0700).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "KINDS",
    "FileRejected",
    "StoredFile",
    "discard",
    "safe_name",
    "sniff",
    "store",
]

CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class Kind:
    extension: str
    content_type: str
    signature: bytes


# The signatures: PDF 1.0-2.0 (ISO 32000: "%PDF-"), PNG (ISO/IEC 15948: 8 bytes),
# JPEG (ITU T.81 SOI marker followed by the next marker's 0xFF).
KINDS: tuple[Kind, ...] = (
    Kind("pdf", "application/pdf", b"%PDF-"),
    Kind("png", "image/png", b"\x89PNG\r\n\x1a\n"),
    Kind("jpg", "image/jpeg", b"\xff\xd8\xff"),
)
HEAD = max(len(k.signature) for k in KINDS)


class FileRejected(Exception):
    """The file was not stored; ``reason`` is ``empty``, ``too_large`` or ``type``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class StoredFile:
    """A file in place. ``relative_path`` is relative to the storage root."""

    relative_path: str
    sha256: str
    size_bytes: int
    content_type: str
    extension: str
    created: bool  # False when the same content was already stored in that folder


def sniff(head: bytes) -> Kind | None:
    """The accepted kind whose signature ``head`` starts with, else None."""
    for kind in KINDS:
        if head.startswith(kind.signature):
            return kind
    return None


_UNSAFE = re.compile(r"[^\w .()+,-]+")


def safe_name(original: str | None, *, limit: int = 200) -> str:
    """A display name for the database: no folders, no control characters, at most
    ``limit`` characters (the extension kept), never empty.

    >>> safe_name("C:\\\\Users\\\\anna\\\\..\\\\bon <1>.pdf")
    'bon _1_.pdf'
    >>> safe_name("../../etc/passwd")
    'passwd'
    >>> safe_name("")
    'attachment'
    """
    name = unicodedata.normalize("NFKC", original or "")
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = _UNSAFE.sub("_", name).strip(" .")
    if not name:
        return "attachment"
    if len(name) > limit:
        stem, dot, ext = name.rpartition(".")
        ext = ext[:10] if dot and stem else ""
        name = name[: limit - len(ext) - (1 if ext else 0)].rstrip(" .") + (
            f".{ext}" if ext else ""
        )
    return name


def store(stream: BinaryIO, root: Path, folder: str, *, max_bytes: int) -> StoredFile:
    """Check and store the file read from ``stream`` under ``root/folder``.

    Raises :class:`FileRejected` (and leaves nothing behind) for an empty file, one larger
    than ``max_bytes`` or one that is not a PDF, JPEG or PNG by its content.
    """
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", folder):
        raise ValueError(f"unsafe storage folder {folder!r}")
    target_dir = root / folder
    target_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    head = b""
    fd, temp_name = tempfile.mkstemp(dir=target_dir, prefix=".upload-", suffix=".part")
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            while True:
                chunk = stream.read(CHUNK)
                if not chunk:
                    break
                size += len(chunk)
                if size > max_bytes:
                    raise FileRejected("too_large", f"the file is larger than {max_bytes} bytes")
                if len(head) < HEAD:
                    head = (head + chunk)[:HEAD]
                    if len(head) == HEAD and sniff(head) is None:
                        raise FileRejected("type", "the file is not a PDF, JPEG or PNG")
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if size == 0:
            raise FileRejected("empty", "the file is empty")
        kind = sniff(head)
        if kind is None:
            raise FileRejected("type", "the file is not a PDF, JPEG or PNG")
        sha = digest.hexdigest()
        final = target_dir / f"{sha}.{kind.extension}"
        created = not final.exists()
        if created:
            os.replace(temp, final)
            _sync_dir(target_dir)
        else:
            temp.unlink()
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        raise
    return StoredFile(
        relative_path=f"{folder}/{final.name}",
        sha256=sha,
        size_bytes=size,
        content_type=kind.content_type,
        extension=kind.extension,
        created=created,
    )


def discard(root: Path, stored: StoredFile) -> None:
    """Remove a file this request created (its database rows were rolled back)."""
    if stored.created:
        with contextlib.suppress(FileNotFoundError):
            (root / stored.relative_path).unlink()


def _sync_dir(folder: Path) -> None:
    # The rename is durable only once the folder's entry is on disk too.
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
