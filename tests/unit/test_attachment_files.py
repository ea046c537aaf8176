"""Attachment storage on disk: the bytes decide the type, the SHA-256 names the file, a file
is written whole or not at all, and an oversize upload is abandoned while it streams."""

from __future__ import annotations

import hashlib
import io
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from respite.adapters import files
from respite.adapters.files import FileRejected, safe_name, sniff, store

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01"


def _everything(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


@pytest.mark.parametrize(
    ("content", "ext", "content_type"),
    [(PDF, "pdf", "application/pdf"), (PNG, "png", "image/png"), (JPEG, "jpg", "image/jpeg")],
)
def test_an_accepted_file_is_stored_under_its_sha256_with_the_extension_of_its_bytes(
    tmp_path: Path, content: bytes, ext: str, content_type: str
) -> None:
    stored = store(io.BytesIO(content), tmp_path, "42", max_bytes=1000)
    sha = hashlib.sha256(content).hexdigest()
    assert stored.relative_path == f"42/{sha}.{ext}"
    assert (stored.sha256, stored.size_bytes, stored.content_type) == (
        sha,
        len(content),
        content_type,
    )
    path = tmp_path / stored.relative_path
    assert path.read_bytes() == content
    assert _everything(tmp_path) == [path]  # no temporary file left beside it
    # Private to the service's user: evidence is personal data.
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "42").stat().st_mode) == 0o700


@pytest.mark.parametrize(
    "content",
    [
        b"MZ\x90\x00\x03\x00\x00\x00\x04\x00",  # a Windows executable
        b"\x7fELF\x02\x01\x01\x00",  # a Linux executable
        b"<html><script>alert(1)</script>",  # HTML
        b"PK\x03\x04\x14\x00\x06\x00",  # a zip (or .docx)
        b"%PD",  # too short to be a PDF
        b"GIF89a\x01\x00",  # an image, but not one we take
    ],
)
def test_a_file_that_is_not_a_pdf_jpeg_or_png_by_its_bytes_is_refused_and_leaves_nothing(
    tmp_path: Path, content: bytes
) -> None:
    with pytest.raises(FileRejected) as refused:
        store(io.BytesIO(content), tmp_path, "7", max_bytes=1000)
    assert refused.value.reason == "type"
    assert _everything(tmp_path) == []


def test_the_size_limit_is_inclusive(tmp_path: Path) -> None:
    exact = PDF + b"x" * (500 - len(PDF))
    assert store(io.BytesIO(exact), tmp_path, "1", max_bytes=500).size_bytes == 500
    with pytest.raises(FileRejected) as refused:
        store(io.BytesIO(exact + b"x"), tmp_path, "2", max_bytes=500)
    assert refused.value.reason == "too_large"
    assert not list((tmp_path / "2").iterdir())


class EndlessPdf(io.RawIOBase):
    """A PDF that never ends: reading it all would never finish (or fill memory)."""

    def __init__(self) -> None:
        self.served = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        chunk = (PDF if self.served == 0 else b"") + b"0" * max(size, 1)
        self.served += len(chunk)
        return chunk


def test_an_oversize_upload_is_abandoned_while_it_streams(tmp_path: Path) -> None:
    stream = EndlessPdf()
    with pytest.raises(FileRejected):
        store(stream, tmp_path, "3", max_bytes=200_000)  # type: ignore[arg-type]
    assert stream.served <= 200_000 + 2 * files.CHUNK + len(PDF)
    assert _everything(tmp_path) == []


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileRejected) as refused:
        store(io.BytesIO(b""), tmp_path, "4", max_bytes=10)
    assert refused.value.reason == "empty"
    assert _everything(tmp_path) == []


class BrokenStream(io.RawIOBase):
    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        raise ConnectionResetError("the browser went away")


def test_a_transfer_that_breaks_off_leaves_no_partial_file(tmp_path: Path) -> None:
    with pytest.raises(ConnectionResetError):
        store(BrokenStream(), tmp_path, "5", max_bytes=10_000)  # type: ignore[arg-type]
    assert _everything(tmp_path) == []


def test_the_same_content_twice_is_one_file_and_discard_keeps_what_it_did_not_create(
    tmp_path: Path,
) -> None:
    first = store(io.BytesIO(PNG), tmp_path, "6", max_bytes=1000)
    second = store(io.BytesIO(PNG), tmp_path, "6", max_bytes=1000)
    assert (first.created, second.created) == (True, False)
    assert first.relative_path == second.relative_path
    files.discard(tmp_path, second)  # the first upload still needs it
    assert (tmp_path / first.relative_path).exists()
    files.discard(tmp_path, first)
    assert _everything(tmp_path) == []


@pytest.mark.parametrize("folder", ["..", "../x", "a/b", "", "x" * 65, "6\x00"])
def test_a_folder_name_cannot_leave_the_storage_root(tmp_path: Path, folder: str) -> None:
    with pytest.raises(ValueError, match="unsafe"):
        store(io.BytesIO(PDF), tmp_path / "root", folder, max_bytes=1000)
    assert not (tmp_path / "root").exists()


def test_sniff_reads_the_signature_not_the_name() -> None:
    kinds = [sniff(x) for x in (PDF, PNG, JPEG)]
    assert [k.extension if k else None for k in kinds] == ["pdf", "png", "jpg"]
    assert sniff(b"\x89PNX\r\n\x1a\n") is None


@pytest.mark.parametrize(
    ("original", "expected"),
    [
        ("bon.pdf", "bon.pdf"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\anna\\scan 1.png", "scan 1.png"),
        ("<b>x<b> bon?.pdf", "_b_x_b_ bon_.pdf"),
        ("<script>x</script>.pdf", "script_.pdf"),  # a "/" starts a new path part
        ("rekening\u202etxt.exe", "rekeningtxt.exe"),  # no right-to-left override tricks
        ("..", "attachment"),
        ("", "attachment"),
        (None, "attachment"),
        ("Überweisung März.pdf", "Überweisung März.pdf"),
    ],
)
def test_safe_name_examples(original: str | None, expected: str) -> None:
    assert safe_name(original) == expected


def test_a_long_name_keeps_its_extension() -> None:
    name = safe_name("a" * 500 + ".jpeg")
    assert len(name) == 200
    assert name.endswith("a.jpeg")


@given(st.text(max_size=400))
def test_safe_name_is_never_a_path_or_empty_and_fits_the_column(original: str) -> None:
    """For any input: no folder separators, no control or format characters, no leading
    dot (no hidden file, no ``..``), not empty, at most 200 characters."""
    name = safe_name(original)
    assert name
    assert len(name) <= 200
    assert "/" not in name
    assert "\\" not in name
    assert not name.startswith(".")
    assert all(ch.isprintable() for ch in name)
